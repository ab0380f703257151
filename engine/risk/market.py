"""Read the kernel's cache for the desk: marks, recent closes, fill evidence, buying power, terms.

The same readers serve every mode (backtest engine, sandbox and live nodes): :class:`KernelMarket`
finds the quote or bar behind every fill and the marks the ledgers are valued at, :class:`KernelBroker`
the venue account's buying power, :func:`terms_from_instrument` the plain numbers the desk sizes with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import PriceType
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument, OptionContract

from engine.assets.registry import AssetClassError, AssetRegistry
from engine.journal import MarketSnapshot
from engine.options import settlement_bar, settlement_value, underlying_of
from engine.risk.ledger import InstrumentTerms, LedgerError

USD_LIKE = frozenset({"USD", "USDT", "USDC"})
QUOTE_FRESH_NS = 2_000_000_000  # a paper fill's quote may be at most 2 s old (docs/risk-desk.md)
FILL_SLIP_TICKS = 2


def terms_from_instrument(instrument: Instrument, assets: AssetRegistry) -> InstrumentTerms:
    """Describe a nautilus instrument in the desk's plain numbers (USD conversions checked here).

    Raises
    ------
    LedgerError
        If no asset class takes the instrument, or neither its base nor its quote currency is
        USD-like (no conversion to the ledger's USD).
    """
    try:
        asset = assets.classify(instrument).name
    except AssetClassError as exc:
        raise LedgerError(str(exc)) from exc
    base = getattr(instrument, "base_currency", None)
    quote = instrument.quote_currency
    base_code = base.code if base is not None else ""
    base_is_usd = base_code in USD_LIKE and quote.code not in USD_LIKE
    if quote.code not in USD_LIKE and not base_is_usd:
        raise LedgerError(
            f"instrument {instrument.id}: quote currency {quote.code} has no USD conversion for the ledgers"
        )
    min_notional = instrument.min_notional.as_double() if instrument.min_notional is not None else 0.0
    maintenance = float(instrument.margin_maint) if instrument.margin_maint else None
    return InstrumentTerms(
        instrument_id=str(instrument.id),
        asset=asset,
        venue=instrument.id.venue.value,
        price_increment=float(instrument.price_increment),
        size_increment=float(instrument.size_increment),
        min_quantity=float(instrument.min_quantity) if instrument.min_quantity is not None else 0.0,
        min_notional_usd=min_notional,
        multiplier=float(instrument.multiplier),
        base_is_usd=base_is_usd,
        maintenance_margin_rate=maintenance,
        taker_fee=float(instrument.taker_fee),
    )


def money_to_usd(amount: float, currency: str, instrument: Instrument, price: float) -> float:
    """Convert a fee or P&L amount in ``currency`` into USD at ``price`` of ``instrument``."""
    if currency in USD_LIKE:
        return amount
    base = getattr(instrument, "base_currency", None)
    quote = instrument.quote_currency.code
    if base is not None and currency == base.code and quote in USD_LIKE:
        return amount * price
    if currency == quote and base is not None and base.code in USD_LIKE:
        return amount / price
    raise LedgerError(f"instrument {instrument.id}: cannot value {amount} {currency} in USD")


class KernelMarket:
    """Read marks, recent closes and fill-time snapshots from the kernel's cache.

    Parameters
    ----------
    bar_types : iterable of str
        The bar types the run subscribes to (bid and ask bars of one instrument are combined).
    cache : Cache, optional
        The kernel's cache (or :meth:`attach` it once the kernel has one).
    """

    def __init__(self, bar_types: Iterable[str], cache: Cache | None = None) -> None:
        self._cache: Cache = cache  # type: ignore[assignment]
        self._bar_types: dict[str, list[BarType]] = {}
        self._ids: dict[str, InstrumentId] = {}
        for text in bar_types:
            bar_type = BarType.from_str(text)
            self._bar_types.setdefault(str(bar_type.instrument_id), []).append(bar_type)
            self._ids[str(bar_type.instrument_id)] = bar_type.instrument_id
        self._intervals = {
            key: min(int(t.spec.timedelta.total_seconds()) * 1_000_000_000 for t in types)
            for key, types in self._bar_types.items()
        }
        # The fill path looks these up by nautilus id, without formatting the id as text each time.
        self._types_by_id = {self._ids[key]: tuple(types) for key, types in self._bar_types.items()}
        self._interval_by_id = {self._ids[key]: value for key, value in self._intervals.items()}
        self._bar_snapshots: dict[BarType, MarketSnapshot] = {}

    def attach(self, cache: Cache) -> None:
        """Read from ``cache`` (the kernel's, once it is built)."""
        self._cache = cache

    def _id(self, instrument_id: str) -> InstrumentId:
        identifier = self._ids.get(instrument_id)
        if identifier is None:
            identifier = self._ids[instrument_id] = InstrumentId.from_str(instrument_id)
        return identifier

    def mark(self, instrument_id: str) -> float | None:
        """Return the mid of the latest quote, else the latest bar close (bid/ask bars averaged)."""
        quote = self._cache.quote_tick(self._id(instrument_id))
        if quote is not None:
            return (quote.bid_price.as_double() + quote.ask_price.as_double()) / 2.0
        latest = self._latest_bars(instrument_id)
        if not latest:
            return None
        return sum(bar.close.as_double() for bar in latest) / len(latest)

    def side_mark(self, instrument_id: str, long: bool) -> float | None:
        """Return where a position would close: a long at the bid, a short at the ask.

        From the latest quote, else the latest bid or ask bar's close; with trade (LAST) bars only,
        :meth:`mark`.
        """
        quote = self._cache.quote_tick(self._id(instrument_id))
        if quote is not None:
            return (quote.bid_price if long else quote.ask_price).as_double()
        wanted = PriceType.BID if long else PriceType.ASK
        for bar in self._latest_bars(instrument_id):
            if bar.bar_type.spec.price_type == wanted:
                return bar.close.as_double()
        return self.mark(instrument_id)

    def closes(self, instrument_id: str, count: int) -> tuple[Sequence[int], Sequence[float]]:
        """Return up to ``count`` recent bar closes of the instrument's first bar type, oldest first."""
        types = self._bar_types.get(instrument_id)
        if not types:
            return [], []
        bars = self._cache.bars(types[0])[:count]
        bars.reverse()
        return [bar.ts_event for bar in bars], [bar.close.as_double() for bar in bars]

    def bar_snapshot(self, bar: Bar) -> MarketSnapshot:
        """Return :func:`snapshot_of_bar` of ``bar``, reusing the one already made for the same bar."""
        snapshot = self._bar_snapshots.get(bar.bar_type)
        if snapshot is None or snapshot.ts_event != bar.ts_event:
            snapshot = self._bar_snapshots[bar.bar_type] = snapshot_of_bar(bar)
        return snapshot

    def fill_snapshot(
        self, instrument: Instrument, ts_ns: int, price: float
    ) -> tuple[MarketSnapshot | None, str]:
        """Return the quote or bar a fill at ``price`` traded against, or None and why not.

        A quote must be at most 2 s old and the price within its bid/ask (± slippage ticks). A bar
        must be the latest one at the fill time; the price must lie on the path the market
        travelled since the previous bar's close (so a stop gapped through still matches).
        """
        slip = FILL_SLIP_TICKS * float(instrument.price_increment)
        identifier = instrument.id
        cache = self._cache
        quote = cache.quote_tick(identifier)
        if quote is not None and 0 <= ts_ns - quote.ts_event <= QUOTE_FRESH_NS:
            instrument_id = str(identifier)
            bid, ask = quote.bid_price.as_double(), quote.ask_price.as_double()
            snapshot = MarketSnapshot(
                snapshot_id=f"{instrument_id}-QUOTE@{quote.ts_event}",
                ts=quote.ts_event,
                instrument_id=instrument_id,
                kind="quote",
                source=f"{instrument_id}-QUOTE",
                ts_event=quote.ts_event,
                open=None,
                high=None,
                low=None,
                close=None,
                bid=bid,
                ask=ask,
            )
            if bid - slip <= price <= ask + slip:
                return snapshot, ""
            return snapshot, f"price {price} outside quote {bid}/{ask}"
        latest = [
            (bar_type, bar)
            for bar_type in self._types_by_id.get(identifier, ())
            if (bar := cache.bar(bar_type))
        ]
        if not latest:
            return None, "no market data for the instrument"
        newest = max(bar.ts_event for _, bar in latest)
        if newest > ts_ns + QUOTE_FRESH_NS:
            return None, f"latest bar at {newest} is after the fill at {ts_ns}"
        if ts_ns - newest > self._interval_by_id[identifier] + QUOTE_FRESH_NS:
            return None, f"latest bar at {newest} is too old for the fill at {ts_ns}"
        current: list[Bar] = []
        path: list[float] = []  # the current bars' lows and highs and the closes before them
        for bar_type, last in latest:
            if last.ts_event == newest:
                current.append(last)
                path.append(last.low.as_double())
                path.append(last.high.as_double())
                before = cache.bar(bar_type, index=1)
                if before is not None:
                    path.append(before.close.as_double())
            else:
                path.append(last.close.as_double())
        low, high = min(path), max(path)
        snapshot = self.bar_snapshot(current[0])
        if low - slip <= price <= high + slip:
            return snapshot, ""
        return snapshot, f"price {price} outside the traded range {low}..{high}"

    def settlement_snapshot(self, instrument: Instrument, price: float) -> tuple[MarketSnapshot | None, str]:
        """Return the underlying bar an expiry settlement at ``price`` is worth, or None and why not.

        The price must be the contract's intrinsic value on the close of the underlying's bar of
        its last session (:func:`engine.options.settlement_value`).
        """
        if not isinstance(instrument, OptionContract):
            return None, f"{instrument.id} is not an option contract: nothing settles at expiry"
        bar = settlement_bar(self._cache, instrument)
        if bar is None:
            return None, f"no bar of {underlying_of(instrument)} at or before the expiry"
        snapshot = self.bar_snapshot(bar)
        expected = settlement_value(instrument, bar.close.as_double())
        if abs(price - expected) > instrument.price_increment.as_double() / 2:
            return snapshot, f"settlement price {price} is not the intrinsic value {expected}"
        return snapshot, ""

    def has_data_for(self, instrument_id: str | InstrumentId, ts_ns: int) -> bool:
        """Return True when the cache holds the data a fill at ``ts_ns`` traded against.

        That is a quote at or after ``ts_ns``, or a bar at or after it for every bar type of the
        instrument (bid and ask bars of one timestamp arrive one after the other).
        """
        identifier = self._id(instrument_id) if isinstance(instrument_id, str) else instrument_id
        cache = self._cache
        quote = cache.quote_tick(identifier)
        if quote is not None and quote.ts_event >= ts_ns:
            return True
        types = self._types_by_id.get(identifier)
        if not types:
            return False
        for bar_type in types:
            bar = cache.bar(bar_type)
            if bar is None or bar.ts_event < ts_ns:
                return False
        return True

    def bar_types_of(self, instrument_id: str) -> list[BarType]:
        """Return the bar types the run streams for ``instrument_id``."""
        return list(self._bar_types.get(instrument_id, []))

    def _latest_bars(self, instrument_id: str) -> list[Bar]:
        latest = []
        for bar_type in self._bar_types.get(instrument_id, []):
            bar = self._cache.bar(bar_type)
            if bar is not None:
                latest.append(bar)
        if not latest:
            return []
        newest = max(bar.ts_event for bar in latest)
        return [bar for bar in latest if bar.ts_event == newest]


class KernelBroker:
    """Read the buying power of the venue account an instrument trades on from the kernel's cache."""

    def __init__(self, cache: Cache | None = None) -> None:
        self._cache: Cache = cache  # type: ignore[assignment]

    def attach(self, cache: Cache) -> None:
        """Read from ``cache`` (the kernel's, once it is built)."""
        self._cache = cache

    def buying_power_usd(self, instrument_id: str) -> float | None:
        """Return free balance x account leverage in USD, or None without an account or USD balance."""
        identifier = InstrumentId.from_str(instrument_id)
        account = self._cache.account_for_venue(identifier.venue)
        if account is None:
            return None
        currency = account.base_currency
        if currency is None or currency.code not in USD_LIKE:
            return None
        free = account.balance_free(currency)
        if free is None:
            return None
        leverage = 1.0
        if hasattr(account, "leverage"):
            leverage = float(account.leverage(identifier) or 1)
        return free.as_double() * leverage


def snapshot_of_bar(bar: Bar) -> MarketSnapshot:
    """Describe the bar a signal was computed on, for the journal."""
    return MarketSnapshot(
        snapshot_id=f"{bar.bar_type}@{bar.ts_event}",
        ts=bar.ts_event,
        instrument_id=str(bar.bar_type.instrument_id),
        kind="bar",
        source=str(bar.bar_type),
        ts_event=bar.ts_event,
        open=bar.open.as_double(),
        high=bar.high.as_double(),
        low=bar.low.as_double(),
        close=bar.close.as_double(),
        bid=None,
        ask=None,
    )
