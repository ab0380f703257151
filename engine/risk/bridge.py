"""Wire the risk desk into a nautilus kernel: the desk bridge actor, built from an importable config.

:class:`DeskBridge` owns the run's risk desk and its journal. It is an ordinary nautilus actor, so a
backtest adds it with ``add_actor`` and a ``TradingNodeConfig`` lists it as an
``ImportableActorConfig`` (:mod:`engine.wiring` builds both from a run config). Once running it

- registers every instrument that reaches the cache with the desk (at start, and as a live node
  loads more), and funds percent allocations from the venue accounts;
- journals every order event, books fills into the ledgers only when market data backs them, and
  frees the budget of every entry order that ended without a fill (canceled, expired, rejected or
  denied), whichever strategy sent it;
- maps the global kill switch onto nautilus' ``TradingState.REDUCING`` (close-only);
- applies queued operator commands and re-reads the persisted kill switch on a timer (live nodes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorConfig
from nautilus_trader.common.events import TimeEvent
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import TradingState
from nautilus_trader.model.events import (
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
)
from nautilus_trader.model.identifiers import ClientOrderId, Venue
from nautilus_trader.model.instruments import Instrument

from engine.assets.registry import BUILTIN_ASSET_CLASSES, load_registry
from engine.checkpoint import Checkpointer, Resumption, read_checkpoint
from engine.clock import FEED_TIME_TOPIC, ClockSource, FeedTime
from engine.journal import FillRecord, Journal, OrderEventRow, RefusedFillRow
from engine.options import SETTLEMENT_TAGS
from engine.orders import ENTRY_TAG
from engine.risk.config import Mode, load_desk_config
from engine.risk.desk import RiskDesk
from engine.risk.ledger import LedgerError
from engine.risk.market import USD_LIKE, KernelBroker, KernelMarket, money_to_usd, terms_from_instrument

TERMINAL_ENTRY_EVENTS = (OrderCanceled, OrderExpired, OrderRejected, OrderDenied)


class DeskBridgeConfig(ActorConfig, frozen=True, kw_only=True):
    """Configure the desk a kernel runs with (the run config's ``[desk]`` section, made importable).

    Parameters
    ----------
    run_id : str
        The run every journal row is tagged with.
    mode : str
        ``backtest``, ``paper`` or ``live`` (how ledgers are funded, which losses trip the kill switch).
    budgets, risk, sizing : str
        The desk's three config files.
    overrides : dict
        Values merged over the three files (``{"risk": {"assets": {...}}}``).
    asset_classes : tuple of str
        Import paths of the asset class modules (``engine/assets``).
    journal : str, optional
        The SQLite journal (none: the run is not journaled).
    journal_fresh : bool
        Start the journal empty.
    bar_types : list of str
        The bar types the run streams (the desk's market view reads them).
    reference_instruments : list of str
        Instruments streamed as data only: no ledger, never traded.
    journal_each_event : bool, optional
        Journal each order event as it happens (default: outside backtests); a backtest journals its
        orders' event histories from the cache when it stops (the same rows, fewer callbacks).
    command_interval_ms : int
        Apply queued operator commands and re-read the kill switch this often (0: only at start).
    clock : {"kernel", "feed"}
        Where data time comes from (``feed``: a replay feed's published time, :mod:`engine.clock`).
    checkpoint_seconds : float
        With a journal and a feed clock, write a checkpoint this often (0: only when stopping).
    resume : bool
        Resume from the journal's checkpoint of this run, if it has one (:mod:`engine.checkpoint`).
    """

    run_id: str
    mode: Mode = "backtest"
    budgets: str = "configs/budgets.toml"
    risk: str = "configs/risk.toml"
    sizing: str = "configs/sizing.toml"
    overrides: dict[str, dict[str, Any]] = {}
    asset_classes: tuple[str, ...] = BUILTIN_ASSET_CLASSES
    journal: str | None = None
    journal_fresh: bool = False
    bar_types: list[str] = []
    reference_instruments: list[str] = []
    journal_each_event: bool | None = None
    command_interval_ms: int = 0
    clock: ClockSource = "kernel"
    checkpoint_seconds: float = 0.0
    resume: bool = False


class DeskBridge(Actor):
    """Own the run's risk desk; feed it the kernel's instruments, fills and order events."""

    def __init__(self, config: DeskBridgeConfig) -> None:
        super().__init__(config)
        self.assets = load_registry(tuple(config.asset_classes))
        desk_config = load_desk_config(
            config.budgets, config.risk, config.sizing, config.overrides, assets=self.assets
        )
        journal = (
            Journal(
                config.journal,
                run_id=config.run_id,
                mode=config.mode,
                fresh=config.journal_fresh,
                assets=self.assets.names,
            )
            if config.journal
            else None
        )
        self.market = KernelMarket([*config.bar_types])
        self._broker = KernelBroker()
        self.desk = RiskDesk(
            desk_config,
            mode=config.mode,
            market=self.market,
            broker=self._broker,
            journal=journal,
            defer_funding=True,
        )
        self._reference = set(config.reference_instruments)
        self._journal_each_event = (
            config.journal_each_event if config.journal_each_event is not None else config.mode != "backtest"
        )
        self._command_interval_ms = config.command_interval_ms
        self._set_trading_state: Callable[[TradingState], None] | None = None
        self.resume_error: str | None = None
        self._pending: list[tuple[OrderFilled, str]] = []
        self._watched: list[str] = []
        self._orders: dict[ClientOrderId, _OrderMeta] = {}
        self._clock_source = config.clock
        self._checkpoint_seconds = config.checkpoint_seconds
        self.checkpointer: Checkpointer | None = None
        self.resumption: Resumption | None = None
        if journal is not None and config.clock == "feed":
            checkpoint = read_checkpoint(journal) if config.resume else None
            if checkpoint is not None:
                self.desk.kill_switch.restore(checkpoint.start_kill_switch)
                self.resumption = Resumption(journal, checkpoint, self.desk.apply)
                self.resumption.begin()
            start = checkpoint.start_kill_switch if checkpoint is not None else self.desk.kill_switch.state()
            self.checkpointer = Checkpointer(journal, start)
        self.settlements: list[dict[str, Any]] = []
        self.evidence_ts: dict[str, int] = {}  # trade id -> time of the market data the fill traded against
        self.desk.add_close_only_listener(self._on_close_only)

    # -- wiring --------------------------------------------------------------------------------

    def bind_trading_state(self, set_trading_state: Callable[[TradingState], None]) -> None:
        """Attach the kernel RiskEngine's ``set_trading_state`` (global close-only is ``REDUCING``)."""
        self._set_trading_state = set_trading_state

    def on_start(self) -> None:
        """Read the cache, register instruments, fund the ledgers, subscribe to fills and order events."""
        self.market.attach(self.cache)
        self._broker.attach(self.cache)
        for instrument in self.cache.instruments():
            self._register(instrument)
        self.msgbus.subscribe(topic="data.instrument.*", handler=self._on_instrument)
        if not self.desk.book.funded:
            self.desk.fund(self._wallet_totals())
        self.msgbus.subscribe(topic="events.fills.*", handler=self._on_fill_event)
        self.msgbus.subscribe(topic="events.order.*", handler=self._on_order_event)
        if self.desk.close_only_all:
            self._apply_trading_state(TradingState.REDUCING)
        self._run_commands()
        if self._command_interval_ms > 0:
            self.clock.set_timer(
                "desk-commands", timedelta(milliseconds=self._command_interval_ms), callback=self._on_timer
            )
        if self._clock_source == "feed":
            self.msgbus.subscribe(topic=FEED_TIME_TOPIC, handler=self._on_feed_time)
            if self.checkpointer is not None and self._checkpoint_seconds > 0:
                self.clock.set_timer(
                    "desk-checkpoint",
                    timedelta(seconds=self._checkpoint_seconds),
                    callback=self._on_checkpoint,
                )

    def on_stop(self) -> None:
        """Settle fills still waiting for their market data; journal a backtest's order events.

        A node with a feed clock writes its last checkpoint.
        """
        self._settle_pending(None)
        self._run_commands()
        if self.checkpointer is not None:
            self.checkpointer.write()
        journal = self.desk.journal
        if journal is not None and not self._journal_each_event:
            records: list[OrderEventRow] = []
            for order in self.cache.orders():
                meta = self._meta_of_order(order)
                records.extend(self._order_event_row(event, meta) for event in order.events)
            records.sort(key=_by_time_then_order)
            journal.write_many(records)
        if journal is not None:
            journal.flush()

    def on_dispose(self) -> None:
        """Close the journal."""
        if self.desk.journal is not None:
            self.desk.journal.close()

    def _register(self, instrument: Instrument) -> None:
        instrument_id = str(instrument.id)
        if instrument_id in self._reference or self.desk.terms(instrument_id) is not None:
            return
        try:
            self.desk.register_instrument(terms_from_instrument(instrument, self.assets))
        except LedgerError as exc:  # e.g. a live venue's instrument no asset class trades
            self.log.debug(f"not tradable through the desk: {exc}")

    def _on_instrument(self, instrument: Instrument) -> None:
        if isinstance(instrument, Instrument):
            self._register(instrument)

    def _wallet_totals(self) -> dict[str, float]:
        """Sum the USD-like balances of each wallet's venue accounts (percent allocations' base)."""
        wallet_of_venue: dict[str, str] = {}
        for terms in self.desk.book.terms.values():
            wallet_of_venue.setdefault(terms.venue, self.assets[terms.asset].wallet)
        totals: dict[str, float] = {}
        for venue, wallet in wallet_of_venue.items():
            account = self.cache.account_for_venue(Venue(venue))
            if account is None:
                continue
            usd = sum(m.as_double() for c, m in account.balances_total().items() if c.code in USD_LIKE)
            totals[wallet] = totals.get(wallet, 0.0) + usd
        return totals

    # -- data time, checkpoints and resuming -----------------------------------------------------

    def _on_feed_time(self, message: FeedTime) -> None:
        resumption = self.resumption
        if resumption is not None and not resumption.done:
            if resumption.on_feed_time(message.ts, message.settled):
                self._end_resumption(resumption)
            else:
                return
        if message.settled and self.checkpointer is not None:
            self.checkpointer.settle(message.ts)

    def _end_resumption(self, resumption: Resumption) -> None:
        if resumption.divergences:
            first = resumption.divergences[0]
            reason = (
                f"cannot resume from the checkpoint: {len(resumption.divergences)} re-simulated fills differ "
                f"from the journal (the data or the config changed), first: {first}"
            )
            self.log.error(reason)
            self.resume_error = reason
            self.shutdown_system(reason)
            return
        self.log.info(f"resumed after the checkpoint at {resumption.checkpoint.ts}")

    def _on_checkpoint(self, event: TimeEvent) -> None:
        if self.checkpointer is not None:
            self.checkpointer.write()

    # -- operator commands and the kill switch -------------------------------------------------

    def _on_timer(self, event: TimeEvent) -> None:
        self._run_commands()
        self.desk.kill_switch.refresh()

    def _run_commands(self) -> None:
        if len(self.desk.commands):
            self.desk.apply_commands(self._data_time())

    def _data_time(self) -> int:
        """Return the latest data time the kernel has seen (commands are stamped with it)."""
        return max((bar.ts_event for bar in self._latest_bars()), default=self.clock.timestamp_ns())

    def _latest_bars(self) -> list[Bar]:
        latest = []
        for bar_type in self.cache.bar_types():
            bar = self.cache.bar(bar_type)
            if bar is not None:
                latest.append(bar)
        return latest

    def _on_close_only(self, asset: str | None, close_only: bool, close_profitable: bool) -> None:
        if asset is None:
            self._apply_trading_state(TradingState.REDUCING if close_only else TradingState.ACTIVE)

    def _apply_trading_state(self, state: TradingState) -> None:
        if self._set_trading_state is not None:
            self._set_trading_state(state)

    # -- order events --------------------------------------------------------------------------

    def _on_order_event(self, event: OrderEvent) -> None:
        if isinstance(event, TERMINAL_ENTRY_EVENTS):
            order = self.cache.order(event.client_order_id)
            if order is not None and order.tags and ENTRY_TAG in order.tags:
                self.desk.release(str(event.strategy_id), str(event.instrument_id))
        if not self._journal_each_event or self.desk.journal is None:
            return
        meta = self._orders.get(event.client_order_id)
        if meta is None:
            meta = self._order_meta(event)
            self._orders[event.client_order_id] = meta
        self.desk.recorder.emit(self._order_event_row(event, meta))

    @staticmethod
    def _order_event_row(event: OrderEvent, meta: _OrderMeta) -> OrderEventRow:
        return OrderEventRow(
            ts=event.ts_event,
            asset=meta.asset,
            strategy_id=meta.strategy_id,
            instrument_id=meta.instrument_id,
            client_order_id=meta.client_order_id,
            event=type(event).__name__,
            order_type=meta.order_type,
            side=meta.side,
            quantity=meta.quantity,
            price=meta.price,
            trigger_price=meta.trigger_price,
            tags=meta.tag,
            detail=_reason(event),
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
                asset=self.desk.book.asset_of(instrument_id),
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
                self.desk.book.asset_of(instrument_id),
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
            asset=self.desk.book.asset_of(instrument_id),
            tag=",".join(str(t) for t in order.tags or []),
            order_type=order.order_type.name,
            side=order.side.name,
            quantity=float(order.quantity),
            price=_optional_price(order, "price"),
            trigger_price=_optional_price(order, "trigger_price"),
        )

    # -- fills ---------------------------------------------------------------------------------

    def _on_fill_event(self, event: OrderFilled) -> None:
        order = self.cache.order(event.client_order_id)
        tag = ",".join(str(t) for t in order.tags) if order is not None and order.tags else ""
        if tag in SETTLEMENT_TAGS or self.market.has_data_for(event.instrument_id, event.ts_event):
            self._book_fill(event, tag)
        else:
            self._wait_for_data(event, tag)

    def _wait_for_data(self, event: OrderFilled, tag: str) -> None:
        """Hold a fill until the bar it traded against reaches the cache.

        A simulated venue matches resting orders on a bar before the data engine caches that bar, so
        the bridge listens to the instrument's bars ahead of the strategies (from the first such
        fill on) and books the fill when its bar is in, before any strategy sees that bar.
        """
        self._pending.append((event, tag))
        for bar_type in self.market.bar_types_of(str(event.instrument_id)):
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
                or self.market.has_data_for(event.instrument_id, event.ts_event)
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
        desk = self.desk
        price = event.last_px.as_double()
        if tag in SETTLEMENT_TAGS:
            snapshot, problem = self.market.settlement_snapshot(instrument, price)
        else:
            snapshot, problem = self.market.fill_snapshot(instrument, event.ts_event, price)
        terms = desk.terms(str(event.instrument_id))
        if problem and desk.mode != "live":
            desk.refused_fills += 1
            desk.recorder.emit(
                RefusedFillRow(
                    ts=event.ts_event,
                    asset=terms.asset if terms else "",
                    strategy_id=str(event.strategy_id),
                    venue=event.instrument_id.venue.value,
                    trade_id=str(event.trade_id),
                    instrument_id=str(event.instrument_id),
                    price=price,
                    reason=problem,
                )
            )
            if terms is not None and not desk.is_close_only(terms.asset):
                desk.kill(
                    terms.asset,
                    operator="risk",
                    reason=f"fill without matching market data: {problem}",
                    ts_ns=event.ts_event,
                )
            return
        if snapshot is not None:
            self.evidence_ts[str(event.trade_id)] = snapshot.ts_event
            desk.recorder.emit(snapshot)
            if tag in SETTLEMENT_TAGS:
                self.settlements.append(_settlement(instrument, snapshot.close, price, event, tag))
        commission = event.commission
        fee = money_to_usd(commission.as_double(), commission.currency.code, instrument, price)
        fill = FillRecord(
            ts=event.ts_event,
            strategy_id=str(event.strategy_id),
            snapshot_id=snapshot.snapshot_id if snapshot is not None else "",
            venue=event.instrument_id.venue.value,
            trade_id=str(event.trade_id),
            client_order_id=str(event.client_order_id),
            venue_order_id=str(event.venue_order_id),
            instrument_id=str(event.instrument_id),
            side=event.order_side.name,
            quantity=event.last_qty.as_double(),
            price=price,
            commission_usd=fee,
            liquidity=event.liquidity_side.name,
            order_tag=tag,
        )
        if self.resumption is not None and not self.resumption.done:
            self.resumption.verify(fill)
        desk.on_fill(fill)


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


def _settlement(
    instrument: Instrument, underlying_close: float | None, price: float, event: OrderFilled, tag: str
) -> dict[str, Any]:
    strike = getattr(instrument, "strike_price", None)
    return {
        "instrument_id": str(instrument.id),
        "ts": event.ts_event,
        "underlying_close": underlying_close,
        "strike": strike.as_double() if strike is not None else None,
        "price": price,
        "quantity": event.last_qty.as_double(),
        "tag": tag,
    }


def _reason(event: OrderEvent) -> str:
    reason = getattr(event, "reason", None)
    return str(reason) if reason else ""


def _by_time_then_order(record: OrderEventRow) -> tuple[int, str]:
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
