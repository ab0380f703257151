"""Long premium on equity options: buy a call in an up-trend, a put in a down-trend.

The trend comes from the underlying's daily bars (fast EMA above or below the slow EMA). Each
session the engine publishes the chain snapshot (nautilus ``GreeksData`` per contract); the strategy
picks one contract with :func:`select_contract` (delta 0.35-0.55, 7-30 days to expiry, IV term
structure sane), asks the risk desk for the size (premium cap, theta cap: the intent carries the
contract's theta per day) and sends a bracket: market entry, stop at -SL% and target at +TP% of the
premium. A time stop closes a position once its days to expiry fall to the entry's DTE/7 (at least
1 day); positions are flattened before configured corporate-action dates (the 2014-06-09 split).
What is left at expiry is settled at intrinsic value by the option venue (``docs/options.md``).
"""

from __future__ import annotations

import functools
import math
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from nautilus_trader.core.data import Data
from nautilus_trader.indicators.averages import ExponentialMovingAverage
from nautilus_trader.indicators.base import Indicator
from nautilus_trader.model.data import Bar, BarType, DataType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.greeks_data import GreeksData
from nautilus_trader.model.identifiers import InstrumentId

from catalog.tomlconfig import at_least, below, fail, non_negative, positive
from engine.options import CHAIN_CLIENT_ID, mid_bar_type
from engine.risk.market import snapshot_of_bar
from strategies.base import Signal, SignalStrategy, SignalStrategyConfig

TIME_STOP_TAG = "TIME_STOP"
CORP_ACTION_TAG = "CORP_ACTION_EXIT"
_NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
CHAIN_LEAD_NS = 1  # chains are stamped this long before the session's bars (catalog.options)


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One contract of a chain snapshot, in plain numbers (theta in price units per day)."""

    instrument_id: str
    is_call: bool
    strike: float
    expiry: int
    dte: int
    iv: float
    delta: float
    theta: float
    price: float


def chain_row(greeks: GreeksData) -> ChainRow:
    """Convert a nautilus ``GreeksData`` into a :class:`ChainRow`."""
    return ChainRow(
        instrument_id=str(greeks.instrument_id),
        is_call=bool(greeks.is_call),
        strike=float(greeks.strike),
        expiry=int(greeks.expiry),
        dte=int(greeks.expiry_in_days),
        iv=float(greeks.vol),
        delta=float(greeks.delta),
        theta=float(greeks.theta),
        price=float(greeks.price),
    )


def atm_iv(rows: Iterable[ChainRow], expiry: int, is_call: bool) -> float | None:
    """Return the IV of the contract of one expiry and right whose |delta| is closest to 0.5."""
    usable = [
        r for r in rows if r.expiry == expiry and r.is_call == is_call and r.iv > 0 and math.isfinite(r.iv)
    ]
    if not usable:
        return None
    best = min(usable, key=lambda r: (abs(abs(r.delta) - 0.5), r.instrument_id))
    return best.iv


def term_structure_ok(rows: Sequence[ChainRow], expiry: int, is_call: bool, max_inversion: float) -> bool:
    """Return True when the expiry's ATM IV exists and is not inverted beyond ``max_inversion``.

    The next later expiry with an ATM IV is the comparison; front IV above next IV x (1 +
    ``max_inversion``) is an inverted term structure (event risk, e.g. earnings): skip. A missing
    or zero IV on either expiry also fails.
    """
    front = atm_iv(rows, expiry, is_call)
    if front is None:
        return False
    for later in sorted({r.expiry for r in rows if r.expiry > expiry}):
        back = atm_iv(rows, later, is_call)
        if back is not None:
            return front <= back * (1.0 + max_inversion)
    return False


def select_contract(
    rows: Sequence[ChainRow],
    *,
    want_call: bool,
    delta_min: float = 0.35,
    delta_max: float = 0.55,
    dte_min: int = 7,
    dte_max: int = 30,
    target_delta: float = 0.45,
    max_iv_inversion: float = 0.10,
) -> ChainRow | None:
    """Pick the contract to buy from one chain snapshot, or None.

    Candidates have the wanted right, |delta| in [delta_min, delta_max], DTE in [dte_min, dte_max],
    a positive IV and price, and a sane IV term structure (:func:`term_structure_ok`). The tie-break
    is deterministic: |delta| closest to ``target_delta``, then the shorter DTE, then the id.
    """
    candidates = [
        r
        for r in rows
        if r.is_call == want_call
        and delta_min <= abs(r.delta) <= delta_max
        and dte_min <= r.dte <= dte_max
        and r.iv > 0
        and r.price > 0
    ]
    checked: dict[int, bool] = {}
    sane = []
    for row in candidates:
        if row.expiry not in checked:
            checked[row.expiry] = term_structure_ok(rows, row.expiry, want_call, max_iv_inversion)
        if checked[row.expiry]:
            sane.append(row)
    if not sane:
        return None
    return min(sane, key=lambda r: (abs(abs(r.delta) - target_delta), r.dte, r.instrument_id))


def exit_levels(premium: float, take_profit_pct: float, stop_loss_pct: float) -> tuple[float, float]:
    """Return (stop, target) prices for a long option bought at ``premium``."""
    return premium * (1.0 - stop_loss_pct), premium * (1.0 + take_profit_pct)


def time_stop_due(remaining_dte: int, entry_dte: int, divisor: float) -> bool:
    """Return True once the days to expiry fall to the entry's DTE / ``divisor`` (at least 1 day)."""
    return remaining_dte <= max(1.0, entry_dte / divisor)


class LongPremiumConfig(SignalStrategyConfig, frozen=True, kw_only=True):
    """Configure :class:`LongPremium` (``instrument_id``/``bar_type``: the underlying's daily bars).

    Parameters
    ----------
    fast_period, slow_period : int
        EMA periods of the trend on the underlying.
    delta_min, delta_max, target_delta : float
        Absolute delta band of the contract and the preferred delta.
    dte_min, dte_max : int
        Days-to-expiry band at entry.
    max_iv_inversion : float
        Largest accepted excess of the entry expiry's ATM IV over the next expiry's.
    take_profit_pct, stop_loss_pct : float
        Target and stop as a fraction of the premium paid.
    time_stop_dte_divisor : float
        Close when days to expiry <= entry DTE / this (seed: DTE/7).
    flatten_dates : list of str
        ISO session dates on which every option position is closed and nothing is opened.
    """

    fast_period: int = 10
    slow_period: int = 30
    delta_min: float = 0.35
    delta_max: float = 0.55
    target_delta: float = 0.45
    dte_min: int = 7
    dte_max: int = 30
    max_iv_inversion: float = 0.10
    take_profit_pct: float = 0.50
    stop_loss_pct: float = 0.45
    time_stop_dte_divisor: float = 7.0
    flatten_dates: list[str] = []

    def __post_init__(self) -> None:
        """Require a valid trend, delta and DTE band, exits that keep a positive stop, ISO dates."""
        super().__post_init__()
        at_least(self, 1, "fast_period", "slow_period")
        below(self, "fast_period", "slow_period")
        for name in ("delta_min", "target_delta", "delta_max"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                fail(name, value, "an absolute delta in (0, 1]")
        if not self.delta_min <= self.target_delta <= self.delta_max:
            fail(
                "target_delta",
                self.target_delta,
                f"must lie in [delta_min, delta_max] ([{self.delta_min!r}, {self.delta_max!r}])",
            )
        at_least(self, 0, "dte_min")
        if self.dte_max < self.dte_min:
            fail("dte_max", self.dte_max, f"must be >= dte_min ({self.dte_min!r})")
        non_negative(self, "max_iv_inversion")
        positive(self, "take_profit_pct")
        if not 0.0 < self.stop_loss_pct < 1.0:
            fail(
                "stop_loss_pct",
                self.stop_loss_pct,
                "a fraction of the premium in (0, 1): the stop stays above 0",
            )
        at_least(self, 1, "time_stop_dte_divisor")
        for index, text in enumerate(self.flatten_dates):
            try:
                datetime.fromisoformat(text)
            except ValueError:
                fail(f"flatten_dates[{index}]", text, "must be an ISO date, e.g. '2014-06-05'")


class LongPremium(SignalStrategy):
    """Buy one option contract per trend signal from the session's chain; manage its exits."""

    def __init__(self, config: LongPremiumConfig) -> None:
        super().__init__(config)
        self._cfg = config
        self._fast = ExponentialMovingAverage(config.fast_period)
        self._slow = ExponentialMovingAverage(config.slow_period)
        self._chain: list[ChainRow] = []
        self._chain_ts = -1
        self._entry_dte: dict[str, int] = {}
        self._subscribed: set[BarType] = set()
        self._waiting: dict[str, tuple[int, Callable[[], None]]] = {}
        self._flatten = {datetime.fromisoformat(d).date() for d in config.flatten_dates}

    def indicators(self) -> list[Indicator]:
        """Return the trend EMAs (updated from the underlying's bars)."""
        return [self._fast, self._slow]

    def signal(self, bar: Bar) -> Signal | None:
        """Return None: entries come from the chain snapshot, not from the underlying's bar."""
        return None

    def on_start(self) -> None:
        """Subscribe to the underlying's bars (base class) and to the chain snapshots."""
        super().on_start()
        self.subscribe_data(DataType(GreeksData), client_id=CHAIN_CLIENT_ID)

    def on_data(self, data: Data) -> None:
        """Collect one session's chain (stamped 1 ns before the session's bars)."""
        data = getattr(data, "data", data)
        if not isinstance(data, GreeksData):
            return
        if data.ts_event != self._chain_ts:
            self._chain = []
            self._chain_ts = data.ts_event
        row = chain_row(data)
        self._chain.append(row)
        bar_type = mid_bar_type(row.instrument_id)
        if bar_type not in self._subscribed:
            self._subscribed.add(bar_type)
            self.subscribe_bars(bar_type)

    def on_bar(self, bar: Bar) -> None:
        """Act on the session's chain at the underlying's bar; run actions waiting for a contract's bar."""
        if bar.bar_type == self._bar_type:
            super().on_bar(bar)
            if self._chain_ts == bar.ts_event - CHAIN_LEAD_NS:
                self._on_session(bar.ts_event)
            return
        waiting = self._waiting.pop(str(bar.bar_type.instrument_id), None)
        if waiting is not None and waiting[0] == bar.ts_event:
            waiting[1]()

    def _when_priced(self, instrument_id: str, ts: int, action: Callable[[], None]) -> None:
        """Run ``action`` once the venue holds the contract's bar of this session (never a stale price)."""
        bar = self.cache.bar(mid_bar_type(instrument_id))
        if bar is not None and bar.ts_event == ts:
            action()
        else:
            self._waiting[instrument_id] = (ts, action)

    def _on_session(self, ts: int) -> None:
        rows = self._chain
        # bars are stamped at the next local midnight after the session: step back one second
        session = datetime.fromtimestamp(ts // 1_000_000_000 - 1, tz=_NEW_YORK).date()
        flatten = session in self._flatten
        by_id = {r.instrument_id: r for r in rows}
        open_positions = list(self.cache.positions_open(strategy_id=self.id))
        for position in open_positions:
            instrument_id = str(position.instrument_id)
            row = by_id.get(instrument_id)
            entry_dte = self._entry_dte.get(instrument_id)
            tag = ""
            if flatten:
                tag = CORP_ACTION_TAG
            elif (
                row is not None
                and entry_dte is not None
                and time_stop_due(row.dte, entry_dte, self._cfg.time_stop_dte_divisor)
            ):
                tag = TIME_STOP_TAG
            if tag:
                target = position.instrument_id
                self._when_priced(instrument_id, ts, functools.partial(self._close, target, tag))
        if flatten or open_positions or self._waiting or self._has_open_orders():
            return
        if not (self._fast.initialized and self._slow.initialized):
            return
        if ts < self.trade_from_ns:  # a walk-forward window's warm-up sessions: no entry
            return
        if self._fast.value == self._slow.value:
            return
        cfg = self._cfg
        choice = select_contract(
            rows,
            want_call=self._fast.value > self._slow.value,
            delta_min=cfg.delta_min,
            delta_max=cfg.delta_max,
            dte_min=cfg.dte_min,
            dte_max=cfg.dte_max,
            target_delta=cfg.target_delta,
            max_iv_inversion=cfg.max_iv_inversion,
        )
        if choice is not None:
            self._when_priced(choice.instrument_id, ts, lambda: self._buy(choice, ts))

    def _has_open_orders(self) -> bool:
        return bool(self.cache.orders_open(strategy_id=self.id)) or bool(
            self.cache.orders_inflight(strategy_id=self.id)
        )

    def _close(self, instrument_id: InstrumentId, tag: str) -> None:
        self.cancel_all_orders(instrument_id)
        self.close_all_positions(instrument_id, tags=[tag])

    def _buy(self, row: ChainRow, ts: int) -> None:
        instrument = self.cache.instrument(InstrumentId.from_str(row.instrument_id))
        bar = self.cache.bar(mid_bar_type(row.instrument_id))
        if instrument is None or bar is None:
            return
        tick = float(instrument.price_increment)
        premium = row.price
        stop, target = exit_levels(premium, self._cfg.take_profit_pct, self._cfg.stop_loss_pct)
        decision = self.submit_entry(
            instrument,
            Signal(OrderSide.BUY, max(tick, round(stop / tick) * tick), round(target / tick) * tick),
            entry_price=premium,
            ts_event=ts,
            snapshot=snapshot_of_bar(bar),  # the contract's bar of this session: what the premium is
            theta_per_unit=abs(row.theta) * float(instrument.multiplier),
        )
        if decision.approved:
            self._entry_dte[row.instrument_id] = row.dte
