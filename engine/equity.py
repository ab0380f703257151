"""Sample mark-to-market equity on data time, for equity curves and daily returns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nautilus_trader.accounting.accounts.base import Account
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.portfolio.portfolio import Portfolio

from engine.clock import ClockSource, DataTimeAlerts
from engine.risk.market import USD_LIKE


def venue_equity(
    cache: Cache, portfolio: Portfolio, venue: Venue, pricing: Mapping[str, InstrumentId] | None = None
) -> float | None:
    """Return a venue account's equity in its base currency: balance plus unrealised P&L.

    A multi-currency cash account (spot, no base currency) is valued in USD instead: USD-like
    balances at par, every other balance at the latest bar close (or quote mid) of the instrument
    ``pricing`` names for that currency, e.g. ``{"ETH": ETHUSDT-SPOT.BYBIT}``.

    Returns None when the venue has no account yet, or when a balance cannot be valued.
    """
    account = cache.account_for_venue(venue)
    if account is None:
        return None
    currency = account.base_currency
    if currency is None:
        return _cash_account_usd(cache, account, pricing or {})
    balance = account.balance_total(currency)
    equity = balance.as_double() if balance is not None else 0.0
    for money in portfolio.unrealized_pnls(venue).values():
        if money.currency == currency:
            equity += money.as_double()
    return equity


def usd_pricing(instruments: Iterable[Instrument]) -> dict[str, InstrumentId]:
    """Map each base currency to an instrument quoting it in a USD-like currency (for cash accounts)."""
    pricing: dict[str, InstrumentId] = {}
    for instrument in instruments:
        base = getattr(instrument, "base_currency", None)
        if base is not None and instrument.quote_currency.code in USD_LIKE:
            pricing.setdefault(base.code, instrument.id)
    return pricing


def _cash_account_usd(cache: Cache, account: Account, pricing: Mapping[str, InstrumentId]) -> float | None:
    total = 0.0
    for code, money in account.balances_total().items():
        amount = money.as_double()
        if code.code in USD_LIKE or amount == 0.0:
            total += amount
            continue
        instrument_id = pricing.get(code.code)
        price = _last_price(cache, instrument_id) if instrument_id is not None else None
        if price is None:
            return None
        total += amount * price
    return total


def _last_price(cache: Cache, instrument_id: InstrumentId) -> float | None:
    quote = cache.quote_tick(instrument_id)
    if quote is not None:
        return (quote.bid_price.as_double() + quote.ask_price.as_double()) / 2.0
    newest = None
    for bar_type in cache.bar_types(instrument_id=instrument_id):
        bar = cache.bar(bar_type)
        if bar is not None and (newest is None or bar.ts_event > newest.ts_event):
            newest = bar
    return newest.close.as_double() if newest is not None else None


class EquitySamplerConfig(ActorConfig, frozen=True, kw_only=True):
    """Configure :class:`EquitySampler`: the venues to value, the interval and where data time comes from.

    ``clock`` is ``kernel`` in a backtest (its clock follows the data) and ``feed`` in a replay node,
    whose feed publishes its data time (:mod:`engine.clock`).
    """

    venues: tuple[str, ...]
    interval_minutes: int = 60
    clock: ClockSource = "kernel"


class EquitySampler(Actor):
    """Record each venue account's balance plus unrealised P&L at a fixed interval of data time.

    The samples fall where a backtest's timer would fire, in every mode, so the curve is identical in
    every rerun and in a replay of the same bars.
    """

    def __init__(self, config: EquitySamplerConfig) -> None:
        super().__init__(config)
        if config.interval_minutes < 1:
            raise ValueError(f"interval_minutes must be >= 1 (value: {config.interval_minutes})")
        self._venues = [Venue(name) for name in config.venues]
        self._interval_ns = config.interval_minutes * 60 * 1_000_000_000
        self._alerts = DataTimeAlerts(self, config.clock, self._schedule_from, self._interval_ns)
        self.samples: list[tuple[int, str, float]] = []
        self._pricing: dict[str, InstrumentId] = {}

    @property
    def data_time(self) -> int | None:
        """Return the latest data time the sampler has seen (None before the first)."""
        return self._alerts.now

    @property
    def feed_days(self) -> set[int]:
        """Return the UTC days a replay feed streamed data on (empty on the kernel clock)."""
        return self._alerts.days

    def on_start(self) -> None:
        """Start sampling on data time."""
        self._pricing = usd_pricing(self.cache.instruments())
        self._alerts.start()

    def on_stop(self) -> None:
        """Take a last sample at the end of the run (at the last data time)."""
        self._alerts.stop()
        now = self._alerts.now
        self.sample(now if now is not None else self.clock.timestamp_ns())

    def _schedule_from(self, ts_ns: int) -> None:
        self._alerts.at(ts_ns + self._interval_ns, self._on_due)

    def _on_due(self, ts_ns: int) -> None:
        self.sample(ts_ns)
        self._schedule_from(ts_ns)

    def sample(self, ts_ns: int) -> None:
        """Append one (ts, venue, equity) row per venue whose account exists."""
        for venue in self._venues:
            equity = venue_equity(self.cache, self.portfolio, venue, self._pricing)
            if equity is None:
                continue
            if self.samples and self.samples[-1][0] == ts_ns and self.samples[-1][1] == venue.value:
                self.samples[-1] = (ts_ns, venue.value, equity)
            else:
                self.samples.append((ts_ns, venue.value, equity))
