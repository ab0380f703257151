"""Wire the risk desk into a nautilus kernel: prices from the cache, fills from the message bus.

The same bridge serves every mode (backtest engine, sandbox and live nodes): :class:`KernelMarket`
and :class:`KernelBroker` read the kernel's cache, and :class:`DeskBridge` is an actor that journals
every order event, books fills into the ledgers only when market data backs them, frees reservations
of entries that ended, and maps the global kill switch onto nautilus' ``TradingState.REDUCING``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import CurrencyType, PriceType, TradingState
from nautilus_trader.model.events import OrderEvent, OrderFilled, OrderInitialized
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId
from nautilus_trader.model.instruments import (
    CryptoFuture,
    CryptoOption,
    CryptoPerpetual,
    CurrencyPair,
    Instrument,
    OptionContract,
    OptionSpread,
)

from engine.journal import MarketSnapshot, OrderEventRecord
from engine.options import SETTLEMENT_TAGS, settlement_value, underlying_of
from engine.risk.config import AssetClass
from engine.risk.desk import FillRecord, RiskDesk
from engine.risk.ledger import InstrumentTerms, LedgerError

USD_LIKE = frozenset({"USD", "USDT", "USDC"})
QUOTE_FRESH_NS = 2_000_000_000  # seed 000: a paper fill's quote may be at most 2 s old
FILL_SLIP_TICKS = 2


def asset_class_of(instrument: Instrument) -> AssetClass:
    """Return the sub-ledger an instrument books into.

    Raises
    ------
    LedgerError
        For instrument classes no ledger trades (e.g. equities).
    """
    if isinstance(instrument, CryptoPerpetual | CryptoFuture):
        return "crypto_futures"
    if isinstance(instrument, OptionContract | OptionSpread | CryptoOption):
        return "options"
    if isinstance(instrument, CurrencyPair):
        crypto = CurrencyType.CRYPTO
        if (
            instrument.base_currency.currency_type == crypto
            or instrument.quote_currency.currency_type == crypto
        ):
            return "crypto_spot"
        return "forex"
    raise LedgerError(
        f"instrument {instrument.id} ({type(instrument).__name__}) has no sub-ledger: the desk trades "
        "crypto_spot, crypto_futures, forex and options"
    )


def terms_from_instrument(instrument: Instrument) -> InstrumentTerms:
    """Describe a nautilus instrument in the desk's plain numbers (USD conversions checked here).

    Raises
    ------
    LedgerError
        If neither the base nor the quote currency is USD-like (no conversion to the ledger's USD).
    """
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
        asset=asset_class_of(instrument),
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
    cache : Cache
        The kernel's cache.
    bar_types : iterable of str
        The bar types the run subscribes to (bid and ask bars of one instrument are combined).
    """

    def __init__(self, cache: Cache, bar_types: Iterable[str]) -> None:
        self._cache = cache
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

    def settlement_bar(self, option: OptionContract) -> Bar | None:
        """Return the underlying's latest bar at or before the option's expiration (its last session)."""
        for bar_type in self._types_by_id.get(underlying_of(option), ()):
            for bar in self._cache.bars(bar_type):  # newest first
                if bar.ts_event <= option.expiration_ns:
                    return bar
        return None

    def settlement_snapshot(self, instrument: Instrument, price: float) -> tuple[MarketSnapshot | None, str]:
        """Return the underlying bar an expiry settlement at ``price`` is worth, or None and why not.

        The price must be the contract's intrinsic value on the close of the underlying's bar of
        its last session (:func:`engine.options.settlement_value`).
        """
        if not isinstance(instrument, OptionContract):
            return None, f"{instrument.id} is not an option contract: nothing settles at expiry"
        bar = self.settlement_bar(instrument)
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

    def __init__(self, cache: Cache) -> None:
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


class DeskBridge(Actor):
    """Feed the kernel's order events to the desk and its journal; apply the kill switch to nautilus.

    Parameters
    ----------
    desk : RiskDesk
        The desk to feed.
    market : KernelMarket
        The cache reader that finds the market data behind every fill.
    set_trading_state : callable
        The kernel RiskEngine's ``set_trading_state`` (global close-only is ``REDUCING``).
    """

    def __init__(
        self, desk: RiskDesk, market: KernelMarket, set_trading_state: Callable[[TradingState], None]
    ) -> None:
        super().__init__(ActorConfig(component_id="RiskDeskBridge"))
        self._desk = desk
        self._market = market
        self._set_trading_state = set_trading_state
        self._pending: list[tuple[OrderFilled, str]] = []
        self._watched: list[str] = []
        self._orders: dict[ClientOrderId, _OrderMeta] = {}
        self._journal_each_event = desk.mode != "backtest"
        desk.add_close_only_listener(self._on_close_only)

    def on_start(self) -> None:
        """Subscribe to fills (and, outside backtests, to every order event); re-apply the kill switch.

        A backtest journals its orders' event histories from the cache when it stops (the same rows,
        without a Python callback per event); paper and live journal each event as it happens.
        """
        self.msgbus.subscribe(topic="events.fills.*", handler=self._on_fill_event)
        if self._journal_each_event:
            self.msgbus.subscribe(topic="events.order.*", handler=self._on_order_event)
        if self._desk.close_only_all:
            self._set_trading_state(TradingState.REDUCING)

    def on_stop(self) -> None:
        """Settle fills still waiting for their market data; journal a backtest's order events."""
        self._settle_pending(None)
        journal = self._desk.journal
        if journal is not None and not self._journal_each_event:
            records: list[OrderEventRecord] = []
            for order in self.cache.orders():
                meta = self._meta_of_order(order)
                records.extend(self._order_event_record(event, meta) for event in order.events)
            records.sort(key=_by_time_then_order)
            journal.record_order_events(records)

    def _on_close_only(self, asset: str | None, close_only: bool, close_profitable: bool) -> None:
        if asset is None:
            self._set_trading_state(TradingState.REDUCING if close_only else TradingState.ACTIVE)

    def _on_order_event(self, event: OrderEvent) -> None:
        meta = self._orders.get(event.client_order_id)
        if meta is None:
            meta = self._order_meta(event)
            self._orders[event.client_order_id] = meta
        journal = self._desk.journal
        if journal is not None:
            journal.record_order_events([self._order_event_record(event, meta)])

    def _on_fill_event(self, event: OrderFilled) -> None:
        order = self.cache.order(event.client_order_id)
        tag = ",".join(str(t) for t in order.tags) if order is not None and order.tags else ""
        if tag in SETTLEMENT_TAGS or self._market.has_data_for(event.instrument_id, event.ts_event):
            self._book_fill(event, tag)
        else:
            self._wait_for_data(event, tag)

    @staticmethod
    def _order_event_record(event: OrderEvent, meta: _OrderMeta) -> OrderEventRecord:
        return OrderEventRecord(
            meta.asset,
            meta.strategy_id,
            "",  # snapshot_id
            event.ts_event,
            meta.instrument_id,
            meta.client_order_id,
            type(event).__name__,
            meta.order_type,
            meta.side,
            meta.quantity,
            meta.price,
            meta.trigger_price,
            meta.tag,
            _reason(event),
        )

    def _order_meta(self, event: OrderEvent) -> _OrderMeta:
        """Read what the journal records of an order from its first event (or the cache)."""
        if isinstance(event, OrderInitialized):
            instrument_id = str(event.instrument_id)
            options = event.options
            return _OrderMeta(
                instrument_id=instrument_id,
                strategy_id=str(event.strategy_id),
                client_order_id=str(event.client_order_id),
                asset=self._asset_of(instrument_id),
                tag=",".join(str(t) for t in event.tags or []),
                order_type=event.order_type.name,
                side=event.side.name,
                quantity=float(event.quantity),
                price=_optional_float(options.get("price")),
                trigger_price=_optional_float(options.get("trigger_price")),
            )
        order = self.cache.order(event.client_order_id)
        if order is None:
            instrument_id = str(event.instrument_id)
            return _OrderMeta(
                instrument_id,
                str(event.strategy_id),
                str(event.client_order_id),
                self._asset_of(instrument_id),
                "",
                "",
                "",
                None,
                None,
                None,
            )
        return self._meta_of_order(order)

    def _meta_of_order(self, order: Any) -> _OrderMeta:
        instrument_id = str(order.instrument_id)
        return _OrderMeta(
            instrument_id=instrument_id,
            strategy_id=str(order.strategy_id),
            client_order_id=str(order.client_order_id),
            asset=self._asset_of(instrument_id),
            tag=",".join(str(t) for t in order.tags or []),
            order_type=order.order_type.name,
            side=order.side.name,
            quantity=float(order.quantity),
            price=_optional_price(order, "price"),
            trigger_price=_optional_price(order, "trigger_price"),
        )

    def _asset_of(self, instrument_id: str) -> str:
        terms = self._desk.terms(instrument_id)
        return terms.asset if terms is not None else ""

    def _wait_for_data(self, event: OrderFilled, tag: str) -> None:
        """Hold a fill until the bar it traded against reaches the cache.

        A simulated venue matches resting orders on a bar before the data engine caches that bar, so
        the bridge listens to the instrument's bars ahead of the strategies (from the first such
        fill on) and books the fill when its bar is in, before any strategy sees that bar.
        """
        self._pending.append((event, tag))
        for bar_type in self._market.bar_types_of(str(event.instrument_id)):
            topic = f"data.bars.{bar_type}"
            if topic not in self._watched:
                self._watched.append(topic)
                self.msgbus.subscribe(topic=topic, handler=self._on_watched_bar, priority=100)

    def _on_watched_bar(self, bar: Bar) -> None:
        if self._pending:
            self._settle_pending(bar.ts_event)

    def _settle_pending(self, ts_ns: int | None) -> None:
        """Book the waiting fills whose data is in (all of it, or time has moved past them)."""
        settled = []
        waiting = []
        for event, tag in self._pending:
            if (
                ts_ns is None
                or ts_ns > event.ts_event
                or self._market.has_data_for(event.instrument_id, event.ts_event)
            ):
                settled.append((event, tag))
            else:
                waiting.append((event, tag))
        self._pending = waiting
        for event, tag in settled:
            self._book_fill(event, tag)

    def _book_fill(self, event: OrderFilled, tag: str) -> None:
        """Book a fill into the desk if market data backs it; otherwise refuse it and stop the asset."""
        instrument = self.cache.instrument(event.instrument_id)
        if instrument is None:
            return
        price = event.last_px.as_double()
        if tag in SETTLEMENT_TAGS:
            snapshot, problem = self._market.settlement_snapshot(instrument, price)
        else:
            snapshot, problem = self._market.fill_snapshot(instrument, event.ts_event, price)
        journal = self._desk.journal
        terms = self._desk.terms(str(event.instrument_id))
        if problem and self._desk.mode != "live":
            self._desk.refused_fills += 1
            if journal is not None:
                journal.record_refused_fill(
                    ts=event.ts_event,
                    venue=event.instrument_id.venue.value,
                    trade_id=str(event.trade_id),
                    asset=terms.asset if terms else "",
                    strategy_id=str(event.strategy_id),
                    instrument_id=str(event.instrument_id),
                    price=price,
                    reason=problem,
                )
            if terms is not None and not self._desk.is_close_only(terms.asset):
                self._desk.kill(
                    terms.asset,
                    operator="risk",
                    reason=f"fill without matching market data: {problem}",
                    ts_ns=event.ts_event,
                )
            return
        if snapshot is not None and journal is not None:
            journal.record_snapshot(snapshot)
        commission = event.commission
        fee = money_to_usd(commission.as_double(), commission.currency.code, instrument, price)
        self._desk.on_fill(
            FillRecord(
                ts=event.ts_event,
                venue=event.instrument_id.venue.value,
                trade_id=str(event.trade_id),
                client_order_id=str(event.client_order_id),
                venue_order_id=str(event.venue_order_id),
                strategy_id=str(event.strategy_id),
                instrument_id=str(event.instrument_id),
                side=event.order_side.name,
                quantity=event.last_qty.as_double(),
                price=price,
                commission_usd=fee,
                liquidity=event.liquidity_side.name,
                order_tag=tag,
                snapshot_id=snapshot.snapshot_id if snapshot is not None else "",
            )
        )


@dataclass(frozen=True, slots=True)
class _OrderMeta:
    """What the journal records of an order with each of its events (read once from the cache)."""

    instrument_id: str
    strategy_id: str
    client_order_id: str
    asset: str
    tag: str
    order_type: str
    side: str
    quantity: float | None
    price: float | None
    trigger_price: float | None


def _reason(event: OrderEvent) -> str:
    reason = getattr(event, "reason", None)
    return str(reason) if reason else ""


def _by_time_then_order(record: OrderEventRecord) -> tuple[int, str]:
    return record.ts, record.client_order_id


def _optional_float(text: object) -> float | None:
    if text is None or text == "":
        return None
    value = float(str(text))
    return value if math.isfinite(value) else None


def _optional_price(order: Any, name: str) -> float | None:
    if order is None:
        return None
    value = getattr(order, name, None)
    if value is None:
        return None
    result = value.as_double()
    return result if math.isfinite(result) else None
