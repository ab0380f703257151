"""The one actor base class every strategy extends.

Subclasses express signals only: a side, a strength, a stop and a take-profit. The base class turns a
signal into a bracket (market or limit entry with a stop-market SL and a limit TP as nautilus
contingent orders), asks the engine's risk desk for the size, and owns all order bookkeeping. It does
no I/O and never reads the wall clock, so the same class runs unchanged in a backtest, in the
sandbox and live.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import pandas as pd
from nautilus_trader.config import StrategyConfig
from nautilus_trader.indicators.base import Indicator
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide, OrderType, PriceType, TimeInForce, TriggerType
from nautilus_trader.model.events import OrderDenied, OrderFilled, OrderRejected, PositionClosed
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.orders import OrderList, StopMarketOrder
from nautilus_trader.trading.strategy import Strategy

from catalog.tomlconfig import at_least, fail, non_negative
from engine.journal import MarketSnapshot
from engine.orders import (
    ENTRY_TAG,
    KILL_EXIT_TAG,
    PROTECTIVE_TAGS,
    SIGNAL_EXIT_TAG,
    STOP_LOSS_TAG,
    TAKE_PROFIT_TAG,
    TIME_EXIT_TAG,
    UNPROTECTED_EXIT_TAG,
)
from engine.risk import RiskDesk, SignalStrength, SizingDecision, TradeIntent
from engine.risk.market import snapshot_of_bar
from strategies.features.config import REGIME_NAMES, FeatureConfigError, SessionsConfig, load_sessions_config
from strategies.features.router import EntryRouter

__all__ = [
    "ENTRY_TAG",
    "KILL_EXIT_TAG",
    "PROTECTIVE_TAGS",
    "SIGNAL_EXIT_TAG",
    "STOP_LOSS_TAG",
    "TAKE_PROFIT_TAG",
    "TIME_EXIT_TAG",
    "UNPROTECTED_EXIT_TAG",
    "Signal",
    "SignalStrategy",
    "SignalStrategyConfig",
    "with_stop_trigger",
]


@dataclass(frozen=True, slots=True)
class Signal:
    """Express a trading idea: direction, conviction and the protective levels (absolute prices)."""

    side: OrderSide
    stop_price: float
    take_profit_price: float
    strength: SignalStrength = SignalStrength.NORMAL


class SignalStrategyConfig(StrategyConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Configure the bracket mechanics every strategy shares.

    Unknown fields are rejected and every value is range-checked in ``__post_init__`` (msgspec runs
    it on every parse and construction); a subclass adds its own rules by overriding
    ``__post_init__`` and calling ``super().__post_init__()`` first (``catalog.tomlconfig`` has the
    checks, raising ``FieldError`` with the field and the value).

    Parameters
    ----------
    instrument_id : InstrumentId
        The instrument to trade.
    bar_type : BarType
        The bars that drive the signal.
    entry_order_type : str
        ``"MARKET"`` or ``"LIMIT"`` (a limit entry rests ``limit_offset_ticks`` inside the close).
    limit_offset_ticks : int
        For limit entries, how many ticks better than the signal bar's close to rest the order.
    entry_expire_bars : int
        For limit entries, cancel an unfilled entry after this many bars (0 keeps it GTC).
    reverse_on_opposite : bool
        Flatten and reverse when an opposite signal arrives while a position is open.
    time_stop_bars : int
        Close a position at market (tag ``TIME_EXIT``) once it has been held for this many signal
        bars after its entry filled (0: no time stop).
    trailing_activation_r : float
        Start trailing the stop once the best close is this many initial risks (``R``, the entry's
        distance to its stop) in profit (0: no trailing).
    trailing_distance_r : float
        While trailing, keep the stop this many ``R`` behind the best close; it only ever tightens.
    allowed_sessions : list[str], optional
        Open entries only on signal bars (by ``ts_event``, UTC) inside one of these sessions, e.g.
        ``["ASIA", "EU"]`` (None: no restriction). Refusals are journaled as ``session_not_allowed``.
    allowed_regimes, disallowed_regimes : list[str], optional
        Open entries only when the signal bar's regime flags include one of ``allowed_regimes`` and
        none of ``disallowed_regimes`` (``TREND_UP``, ``TREND_DOWN``, ``RANGE``, ``HIGH_VOL``,
        ``UNKNOWN``; None: no restriction). Refusals are journaled as ``regime_not_allowed``.
        Exits, stops and targets are never routed (``docs/sessions-regimes.md``).
    trade_from_ns : int
        No entries from signals on bars stamped before this UNIX time in nanoseconds (0: none).
        Earlier bars still warm the indicators: a walk-forward test window starts trading at its
        first bar with indicators fed by the bars before it.
    sessions_config : str, optional
        A sessions/regimes TOML file (``configs/sessions.toml``), read and checked with the config
        and again when the strategy is built; None uses the same values built in.
    """

    instrument_id: InstrumentId
    bar_type: BarType
    entry_order_type: Literal["MARKET", "LIMIT"] = "MARKET"
    limit_offset_ticks: int = 0
    entry_expire_bars: int = 0
    reverse_on_opposite: bool = True
    time_stop_bars: int = 0
    trailing_activation_r: float = 0.0
    trailing_distance_r: float = 0.0
    allowed_sessions: list[str] | None = None
    allowed_regimes: list[str] | None = None
    disallowed_regimes: list[str] | None = None
    sessions_config: str | None = None
    trade_from_ns: int = 0

    def __post_init__(self) -> None:
        """Reject values no strategy can trade with (FieldError names the field and the value)."""
        if self.bar_type.instrument_id != self.instrument_id:
            fail("bar_type", str(self.bar_type), f"must be bars of instrument_id ({self.instrument_id})")
        at_least(self, 0, "limit_offset_ticks", "entry_expire_bars", "time_stop_bars", "trade_from_ns")
        non_negative(self, "trailing_activation_r", "trailing_distance_r")
        if (self.trailing_activation_r > 0) != (self.trailing_distance_r > 0):
            fail(
                "trailing_distance_r",
                self.trailing_distance_r,
                f"set both trailing_activation_r ({self.trailing_activation_r!r}) and "
                "trailing_distance_r above 0, or neither",
            )
        sessions = SessionsConfig()
        if self.sessions_config is not None:
            try:
                sessions = load_sessions_config(self.sessions_config)
            except FeatureConfigError as exc:
                fail("sessions_config", self.sessions_config, str(exc))
        for field, known in (
            ("allowed_sessions", tuple(sessions.sessions)),
            ("allowed_regimes", REGIME_NAMES),
            ("disallowed_regimes", REGIME_NAMES),
        ):
            values = getattr(self, field)
            unknown = sorted(set(values or ()) - set(known))
            if unknown:
                fail(field, values, f"unknown {unknown} (known: {list(known)})")


class SignalStrategy(Strategy):
    """Turn the signals of a subclass into risk-checked bracket orders.

    Subclasses implement :meth:`indicators` (registered for the signal bars) and :meth:`signal`
    (called on every bar once the indicators are warm).
    """

    def __init__(self, config: SignalStrategyConfig) -> None:
        super().__init__(config)
        self._instrument_id: InstrumentId = config.instrument_id
        self._bar_type: BarType = config.bar_type
        self._entry_order_type = OrderType.MARKET if config.entry_order_type == "MARKET" else OrderType.LIMIT
        self._limit_offset_ticks = config.limit_offset_ticks
        self._entry_expire_bars = config.entry_expire_bars
        self._reverse = config.reverse_on_opposite
        self._time_stop_bars = config.time_stop_bars
        self._trade_from_ns = config.trade_from_ns
        self._trail_activation = config.trailing_activation_r
        self._trail_distance = config.trailing_distance_r
        self._manages_position = config.time_stop_bars > 0 or config.trailing_activation_r > 0
        self._held: _HeldPosition | None = None
        self._stop_id: ClientOrderId | None = None
        self._entry_stop: float | None = None
        self._router = EntryRouter(
            load_sessions_config(config.sessions_config) if config.sessions_config else SessionsConfig(),
            allowed_sessions=config.allowed_sessions,
            allowed_regimes=config.allowed_regimes,
            disallowed_regimes=config.disallowed_regimes,
            origin=f"{type(config).__name__}",
        )
        self._regime_feed = self._router.update if self._router.tracks_regimes else None
        self._desk: RiskDesk | None = None
        self._instrument: Instrument | None = None
        self._warm_indicators: list[Indicator] = []
        self.last_decision: SizingDecision | None = None
        self._sibling_bar_type = _quote_sibling(config.bar_type)
        self._sibling_ts = -1
        self._pending: tuple[Signal, Bar] | None = None
        self._entry_id: ClientOrderId | None = None

    # -- wiring -------------------------------------------------------------------------------

    def bind_risk_desk(self, desk: RiskDesk) -> None:
        """Attach the engine's risk desk; every entry is sized and vetted by it."""
        self._desk = desk
        desk.add_close_only_listener(self._on_close_only)

    def indicators(self) -> list[Indicator]:
        """Return the indicators to update from the signal bars (override in subclasses)."""
        return []

    def signal(self, bar: Bar) -> Signal | None:
        """Return a signal for this bar, or None (override in subclasses)."""
        raise NotImplementedError

    # -- nautilus handlers --------------------------------------------------------------------

    def on_start(self) -> None:
        """Resolve the instrument, register indicators and subscribe to the signal bars."""
        if self._desk is None:
            raise RuntimeError(f"{self.id}: no risk desk bound; strategies must be assembled by the engine")
        self._instrument = self.cache.instrument(self._instrument_id)
        if self._instrument is None:
            raise RuntimeError(f"{self.id}: instrument {self._instrument_id} is not in the cache")
        self._warm_indicators = self.indicators()
        for indicator in self._warm_indicators:
            self.register_indicator_for_bars(self._bar_type, indicator)
        self.subscribe_bars(self._bar_type)
        if self._sibling_bar_type is not None:
            self.subscribe_bars(self._sibling_bar_type)

    def on_bar(self, bar: Bar) -> None:
        """Ask the subclass for a signal once warm, then act on it.

        With bid (or ask) signal bars the venue quotes only once the ask (or bid) bar of the same
        timestamp has arrived too; acting earlier would fill at the previous bar's quote, a
        lookahead. The signal is then held until the sibling bar is in.
        """
        if self._sibling_bar_type is not None and bar.bar_type == self._sibling_bar_type:
            self._sibling_ts = bar.ts_event
            pending, self._pending = self._pending, None
            if pending is not None and pending[1].ts_event == bar.ts_event:
                self._act(*pending)
            return
        if self._regime_feed is not None:
            self._regime_feed(bar.high.as_double(), bar.low.as_double(), bar.close.as_double())
        if self._held is not None and self._manage_position(bar):
            return
        for indicator in self._warm_indicators:
            if not indicator.initialized:
                return
        proposal = self.signal(bar)
        if proposal is None or bar.ts_event < self._trade_from_ns:
            return
        if self._sibling_bar_type is not None and self._sibling_ts != bar.ts_event:
            self._pending = (proposal, bar)
            return
        self._act(proposal, bar)

    def on_stop(self) -> None:
        """Leave open positions and their protective orders as they are (the engine reports them)."""

    def on_order_rejected(self, event: OrderRejected) -> None:
        """Flatten at market when the venue rejects a stop or target: no position stays unprotected."""
        self._guard_protection(event)

    def on_order_denied(self, event: OrderDenied) -> None:
        """Flatten at market when nautilus denies a stop or target of an open position."""
        self._guard_protection(event)

    def on_order_filled(self, event: OrderFilled) -> None:
        """Start tracking a position for the time stop and the trailing stop when its entry fills."""
        if not self._manages_position or self._entry_id is None or event.client_order_id != self._entry_id:
            return
        price = event.last_px.as_double()
        stop = self._entry_stop if self._entry_stop is not None else price
        long = event.order_side == OrderSide.BUY
        if self._held is None or self._held.long != long:
            self._held = _HeldPosition(long=long, entry=price, risk=abs(price - stop), best=price, bars=0)

    def on_position_closed(self, event: PositionClosed) -> None:
        """Stop tracking the closed position."""
        if event.instrument_id == self._instrument_id:
            self._held = None

    def _manage_position(self, bar: Bar) -> bool:
        """Apply the time stop and the trailing stop to the held position; return True if it closed."""
        held = self._held
        assert held is not None
        held.bars += 1
        if 0 < self._time_stop_bars <= held.bars:
            self._held = None
            self.cancel_all_orders(self._instrument_id)
            self.close_all_positions(self._instrument_id, tags=[TIME_EXIT_TAG])
            return True
        if self._trail_activation > 0.0 and held.risk > 0.0:
            close = bar.close.as_double()
            held.best = max(held.best, close) if held.long else min(held.best, close)
            gain = held.best - held.entry if held.long else held.entry - held.best
            if gain >= self._trail_activation * held.risk:
                offset = self._trail_distance * held.risk
                self._tighten_stop(held.best - offset if held.long else held.best + offset, held.long, close)
        return False

    def _tighten_stop(self, level: float, long: bool, close: float) -> None:
        if self._stop_id is None or self._instrument is None:
            return
        order = self.cache.order(self._stop_id)
        if order is None or not order.is_open or order.is_pending_update:
            return
        current = order.trigger_price.as_double()
        target = self._on_tick_grid(level)
        tick = float(self._instrument.price_increment)
        # a stop on the wrong side of the market would trigger at once: only move it while it stays out
        if (long and current + tick <= target < close) or (not long and close < target <= current - tick):
            self.modify_order(order, trigger_price=self._instrument.make_price(target))

    def _guard_protection(self, event: OrderRejected | OrderDenied) -> None:
        order = self.cache.order(event.client_order_id)
        if order is None or not order.tags or not PROTECTIVE_TAGS.intersection(order.tags):
            return
        if self._position_side() is None:
            return
        self.log.error(
            f"{order.tags} order {event.client_order_id} failed ({event.reason}); closing the position"
        )
        self.cancel_all_orders(self._instrument_id)
        self.close_all_positions(self._instrument_id, tags=[UNPROTECTED_EXIT_TAG])

    def _on_close_only(self, asset: str | None, close_only: bool, close_profitable: bool) -> None:
        """Close this strategy's position gracefully when a kill switch asks for profitable exits."""
        if not (close_only and close_profitable) or self._desk is None or not self.is_running:
            return
        terms = self._desk.terms(str(self._instrument_id))
        if terms is None or (asset is not None and terms.asset != asset):
            return
        for position in self.cache.positions_open(instrument_id=self._instrument_id, strategy_id=self.id):
            last = self.cache.bar(self._bar_type)
            if last is not None and position.unrealized_pnl(last.close).as_double() > 0:
                self.cancel_all_orders(self._instrument_id)
                self.close_position(position, tags=[KILL_EXIT_TAG])

    # -- order bookkeeping --------------------------------------------------------------------

    def _act(self, proposal: Signal, bar: Bar) -> None:
        instrument_id = self._instrument_id
        if self._has_order_in_flight():
            return
        if self._has_working_entry():
            return
        position_side = self._position_side()
        if position_side is proposal.side:
            return
        if position_side is not None:
            if not self._reverse:
                return
            self.cancel_all_orders(instrument_id)
            self.close_all_positions(instrument_id, tags=[SIGNAL_EXIT_TAG])
        self._enter(proposal, bar)

    def _has_order_in_flight(self) -> bool:
        # The unfiltered in-flight index is tiny; the cache's filtered query intersects the sets of
        # every order the instrument and the strategy ever had, which grows with the run.
        strategy_id, instrument_id = self.id, self._instrument_id
        return any(
            order.strategy_id == strategy_id and order.instrument_id == instrument_id
            for order in self.cache.orders_inflight()
        )

    def _has_working_entry(self) -> bool:
        if self._entry_id is None:
            return False
        order = self.cache.order(self._entry_id)
        if order is None or order.is_closed:
            self._entry_id = None
            return False
        return True

    def _position_side(self) -> OrderSide | None:
        net = self.portfolio.net_position(self._instrument_id)
        if net > 0:
            return OrderSide.BUY
        if net < 0:
            return OrderSide.SELL
        return None

    def _enter(self, proposal: Signal, bar: Bar) -> None:
        assert self._instrument is not None
        entry_price = self._limit_price(proposal.side, bar.close.as_double(), self._instrument)
        self.submit_entry(
            self._instrument,
            proposal,
            entry_price=entry_price,
            ts_event=bar.ts_event,
            snapshot=snapshot_of_bar(bar),
        )

    def submit_entry(
        self,
        instrument: Instrument,
        proposal: Signal,
        *,
        entry_price: float,
        ts_event: int,
        snapshot: MarketSnapshot | None,
        theta_per_unit: float | None = None,
    ) -> SizingDecision:
        """Send a bracket for ``proposal`` on ``instrument`` if the router and the risk desk allow it.

        The one entry path of every strategy: the entry router's session and regime refusal, the
        desk's sizing and guards (journaled with ``snapshot``, the market data the entry is priced
        from), the bracket (market or limit entry, stop-market SL with the instrument's trigger rule,
        limit TP), all tagged for the engine. ``theta_per_unit`` (USD per day per unit) is required
        for options. Return the desk's decision.
        """
        desk = self.desk
        intent = TradeIntent(
            strategy_id=str(self.id),
            instrument_id=str(instrument.id),
            side=proposal.side,
            entry_price=entry_price,
            stop_price=proposal.stop_price,
            take_profit_price=proposal.take_profit_price,
            strength=proposal.strength,
            ts_event=ts_event,
            snapshot=snapshot,
            theta_per_unit=theta_per_unit,
            session="+".join(sorted(self._router.sessions(ts_event))) or "NONE",
            regime=self._router.regime(),
        )
        refusal = self._router.refusal(ts_event)
        decision = desk.deny(intent, refusal) if refusal else desk.evaluate(intent)
        self.last_decision = decision
        if not decision.approved or decision.quantity is None:
            return decision
        is_limit = self._entry_order_type == OrderType.LIMIT
        expire_time = None
        time_in_force = TimeInForce.GTC
        if is_limit and self._entry_expire_bars > 0:
            # on data time: a replay node's strategy clock is the wall clock
            step = self._bar_type.spec.timedelta * self._entry_expire_bars
            expire_time = pd.Timestamp(ts_event, unit="ns", tz="UTC") + step
            time_in_force = TimeInForce.GTD
        bracket = self.order_factory.bracket(
            instrument_id=instrument.id,
            order_side=proposal.side,
            quantity=instrument.make_qty(Decimal(repr(decision.quantity))),
            entry_order_type=self._entry_order_type,
            entry_price=instrument.make_price(on_tick_grid(entry_price, instrument)) if is_limit else None,
            expire_time=expire_time,
            time_in_force=time_in_force,
            sl_trigger_price=instrument.make_price(on_tick_grid(proposal.stop_price, instrument)),
            tp_price=instrument.make_price(on_tick_grid(proposal.take_profit_price, instrument)),
            entry_tags=[ENTRY_TAG],
            sl_tags=[STOP_LOSS_TAG],
            tp_tags=[TAKE_PROFIT_TAG],
        )
        bracket = with_stop_trigger(bracket, TriggerType[desk.sl_tp_trigger(str(instrument.id))])
        self._entry_id = bracket.first.client_order_id
        self._entry_stop = proposal.stop_price
        self._stop_id = next(
            (order.client_order_id for order in bracket.orders if STOP_LOSS_TAG in (order.tags or [])), None
        )
        self.submit_order_list(bracket)
        return decision

    @property
    def desk(self) -> RiskDesk:
        """Return the risk desk the engine bound to this strategy."""
        if self._desk is None:
            raise RuntimeError(f"{self.id}: no risk desk bound; strategies must be assembled by the engine")
        return self._desk

    @property
    def trade_from_ns(self) -> int:
        """Return the first signal time that may open a trade (earlier bars only warm indicators)."""
        return self._trade_from_ns

    def _on_tick_grid(self, price: float) -> float:
        assert self._instrument is not None
        return on_tick_grid(price, self._instrument)

    def _limit_price(self, side: OrderSide, reference: float, instrument: Instrument) -> float:
        if self._entry_order_type != OrderType.LIMIT or self._limit_offset_ticks == 0:
            return reference
        offset = self._limit_offset_ticks * float(instrument.price_increment)
        return reference - offset if side == OrderSide.BUY else reference + offset


@dataclass(slots=True)
class _HeldPosition:
    """What the time stop and the trailing stop track of the open position."""

    long: bool
    entry: float
    risk: float
    best: float
    bars: int


def on_tick_grid(price: float, instrument: Instrument) -> float:
    """Round a price to the nearest multiple of the instrument's tick (venues reject others)."""
    tick = float(instrument.price_increment)
    return round(price / tick) * tick


def _quote_sibling(bar_type: BarType) -> BarType | None:
    """Return the ask bar type for a bid bar type (and vice versa); None for other price types."""
    price_type = bar_type.spec.price_type
    if price_type not in (PriceType.BID, PriceType.ASK):
        return None
    sibling = "ASK" if price_type == PriceType.BID else "BID"
    own = "BID" if sibling == "ASK" else "ASK"
    return BarType.from_str(str(bar_type).replace(f"-{own}-", f"-{sibling}-"))


def with_stop_trigger(bracket: OrderList, trigger: TriggerType) -> OrderList:
    """Return ``bracket`` with its stop-loss triggering on ``trigger`` (e.g. the perpetual's mark price).

    nautilus' ``OrderFactory.bracket`` builds a stop-market SL with ``TriggerType.DEFAULT`` whatever
    ``sl_trigger_type`` says, so the SL is rebuilt here with every other field unchanged.
    """
    if trigger == TriggerType.DEFAULT:
        return bracket
    orders = []
    for order in bracket.orders:
        if isinstance(order, StopMarketOrder) and STOP_LOSS_TAG in (order.tags or []):
            order = StopMarketOrder(
                trader_id=order.trader_id,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                client_order_id=order.client_order_id,
                order_side=order.side,
                quantity=order.quantity,
                trigger_price=order.trigger_price,
                trigger_type=trigger,
                init_id=order.init_id,
                ts_init=order.ts_init,
                time_in_force=order.time_in_force,
                expire_time_ns=order.expire_time_ns,
                reduce_only=order.is_reduce_only,
                quote_quantity=order.is_quote_quantity,
                emulation_trigger=order.emulation_trigger,
                trigger_instrument_id=order.trigger_instrument_id,
                contingency_type=order.contingency_type,
                order_list_id=order.order_list_id,
                linked_order_ids=order.linked_order_ids,
                parent_order_id=order.parent_order_id,
                exec_algorithm_id=order.exec_algorithm_id,
                exec_algorithm_params=order.exec_algorithm_params,
                exec_spawn_id=order.exec_spawn_id,
                tags=order.tags,
            )
        orders.append(order)
    return OrderList(bracket.id, orders)
