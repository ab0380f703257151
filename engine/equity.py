"""Sample mark-to-market equity on the kernel clock, for equity curves and daily returns."""

from __future__ import annotations

from datetime import timedelta

from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.portfolio.portfolio import Portfolio


def venue_equity(cache: Cache, portfolio: Portfolio, venue: Venue) -> float | None:
    """Return a venue account's equity in its base currency: balance plus unrealised P&L.

    Returns None when the venue has no account yet or the account has no base currency.
    """
    account = cache.account_for_venue(venue)
    if account is None or account.base_currency is None:
        return None
    currency = account.base_currency
    balance = account.balance_total(currency)
    equity = balance.as_double() if balance is not None else 0.0
    for money in portfolio.unrealized_pnls(venue).values():
        if money.currency == currency:
            equity += money.as_double()
    return equity


class EquitySamplerConfig(ActorConfig, frozen=True, kw_only=True):
    """Configure :class:`EquitySampler`: the venues to value and the sampling interval."""

    venues: tuple[str, ...]
    interval_minutes: int = 60


class EquitySampler(Actor):
    """Record each venue account's balance plus unrealised P&L at a fixed interval.

    A timer on the kernel clock drives the samples, so no bar handler is added to the hot path and
    the curve is identical in every rerun.
    """

    def __init__(self, config: EquitySamplerConfig) -> None:
        super().__init__(config)
        self._venues = [Venue(name) for name in config.venues]
        self._interval = timedelta(minutes=config.interval_minutes)
        self.samples: list[tuple[int, str, float]] = []

    def on_start(self) -> None:
        """Start the sampling timer."""
        self.clock.set_timer("equity-sample", self._interval, callback=self._on_timer)

    def on_stop(self) -> None:
        """Take a last sample at the end of the run."""
        self.sample(self.clock.timestamp_ns())

    def _on_timer(self, event: TimeEvent) -> None:
        self.sample(event.ts_event)

    def sample(self, ts_ns: int) -> None:
        """Append one (ts, venue, equity) row per venue whose account exists."""
        for venue in self._venues:
            equity = venue_equity(self.cache, self.portfolio, venue)
            if equity is None:
                continue
            if self.samples and self.samples[-1][0] == ts_ns and self.samples[-1][1] == venue.value:
                self.samples[-1] = (ts_ns, venue.value, equity)
            else:
                self.samples.append((ts_ns, venue.value, equity))
