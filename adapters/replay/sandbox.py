"""A sandbox venue that fills like a backtest venue: nautilus 1.221's sandbox, configured and fixed.

:class:`ReplaySandboxExecutionClient` subclasses nautilus'
``adapters.sandbox.execution.SandboxExecutionClient``: a ``SimulatedExchange`` on its own test
clock inside a live node, moved by the market data published on the message bus. Out of the box
(1.221) it cannot reproduce a backtest; this subclass changes four things:

- Models: the exchange takes the fill, fee, latency and margin models, the simulation modules and
  ``bar_adaptive_high_low_ordering`` from :class:`ReplaySandboxExecClientConfig`, in the types a
  ``BacktestVenueConfig`` uses (the stock client hard-codes ``FillModel()``, maker/taker fees and
  zero latency, and passes ``leverages`` on with string keys the exchange cannot use).
- Bars: the stock client subscribes to ``data.*.{venue}.*``, but bar topics read
  ``data.bars.SYMBOL.VENUE-1-MINUTE-LAST-EXTERNAL`` (``.VENUE-``, not ``.VENUE.``), so it never
  sees a bar and rejects every order for want of a market. This client also listens on
  ``data.bars.*.{venue}-*-EXTERNAL`` (external bars only: internally aggregated bars come from
  data the exchange has already seen).
- Order of work, as in a ``BacktestEngine`` loop: each datum first moves the exchange's market
  (a subscription at priority 20, ahead of the portfolio and the strategies), then the strategies
  see it, then the exchange processes its due commands and simulation modules (a priority-0
  subscription made on the topic's first datum, so after the strategies' own). Commands reaching
  the client are processed at once at the exchange's time; with a latency model they are
  re-stamped with the exchange's time (the strategies' commands carry wall time) and wait their
  latency in the exchange's queue, as in a backtest.
- Events: :func:`deliver_events_synchronously` routes the exchange's order events straight into
  the execution engine (see its docstring); without it a bracket's reduce-only children are
  rejected because the entry's fill is still queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from decimal import Decimal

from nautilus_trader.adapters.sandbox.config import SandboxExecutionClientConfig
from nautilus_trader.adapters.sandbox.execution import SandboxExecutionClient
from nautilus_trader.backtest.config import (
    FeeModelFactory,
    FillModelFactory,
    ImportableFeeModelConfig,
    ImportableFillModelConfig,
    ImportableLatencyModelConfig,
    LatencyModelFactory,
    MarginModelConfig,
    MarginModelFactory,
)
from nautilus_trader.backtest.engine import SimulatedExchange
from nautilus_trader.backtest.execution_client import BacktestExecClient
from nautilus_trader.backtest.models import FillModel, LatencyModel, MakerTakerFeeModel
from nautilus_trader.backtest.modules import SimulationModule
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus, TestClock
from nautilus_trader.common.config import ActorFactory, ImportableActorConfig
from nautilus_trader.common.providers import InstrumentProvider
from nautilus_trader.core.data import Data
from nautilus_trader.execution.engine import ExecutionEngine
from nautilus_trader.execution.messages import (
    BatchCancelOrders,
    CancelAllOrders,
    CancelOrder,
    ModifyOrder,
    SubmitOrder,
    SubmitOrderList,
    TradingCommand,
)
from nautilus_trader.live.execution_client import LiveExecutionClient
from nautilus_trader.live.factories import LiveExecClientFactory
from nautilus_trader.model.data import (
    Bar,
    InstrumentClose,
    InstrumentStatus,
    OrderBookDelta,
    OrderBookDeltas,
    OrderBookDepth10,
    QuoteTick,
    TradeTick,
)
from nautilus_trader.model.enums import account_type_from_str, book_type_from_str, oms_type_from_str
from nautilus_trader.model.events import OrderEvent
from nautilus_trader.model.identifiers import ClientId, InstrumentId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Currency, Money
from nautilus_trader.portfolio.base import PortfolioFacade

# Ahead of the portfolio (10) and of actors and strategies (0), as the exchange is in a backtest.
MARKET_PRIORITY = 20
EXEC_ENGINE_PROCESS = "ExecEngine.process"


class ReplaySandboxExecClientConfig(SandboxExecutionClientConfig, frozen=True, kw_only=True):
    """Configure the sandbox venue like a ``BacktestVenueConfig``.

    Parameters
    ----------
    fill_model : ImportableFillModelConfig, optional
        Default ``FillModel(random_seed=0)`` (always fills limits, no slippage).
    fee_model : ImportableFeeModelConfig, optional
        Default maker/taker fees from the instruments.
    latency_model : ImportableLatencyModelConfig, optional
        Default none (commands reach the exchange at once).
    margin_model : MarginModelConfig, optional
        Default nautilus' ``leveraged`` model.
    modules : list[ImportableActorConfig], default []
        ``SimulationModule`` subclasses by import path and config (carry, expiries, ...).
    bar_adaptive_high_low_ordering : bool, default False
        As in ``BacktestVenueConfig``.
    """

    fill_model: ImportableFillModelConfig | None = None
    fee_model: ImportableFeeModelConfig | None = None
    latency_model: ImportableLatencyModelConfig | None = None
    margin_model: MarginModelConfig | None = None
    modules: list[ImportableActorConfig] = []
    bar_adaptive_high_low_ordering: bool = False


def _modules(configs: Iterable[ImportableActorConfig], venue: str) -> list[SimulationModule]:
    modules = []
    for config in configs:
        module = ActorFactory.create(config)
        if not isinstance(module, SimulationModule):
            raise TypeError(
                f"sandbox venue {venue}: module {config.actor_path!r} is a {type(module).__name__}, "
                "not a nautilus SimulationModule"
            )
        modules.append(module)
    return modules


def _fill_model(config: ImportableFillModelConfig | None) -> FillModel:
    """Build the fill model; by default nautilus' ``FillModel()`` seeded with 0.

    nautilus' ``FillModel`` seeds Python's process-wide ``random`` when it is built, and
    ``FillModel()`` without a seed reseeds it from OS entropy: built after a seeded venue's, it
    would make that venue's slippage draws irreproducible. A default that never draws
    (limits always fill, no slippage) is therefore seeded too.
    """
    if config is None:
        return FillModel(random_seed=0)
    return FillModelFactory.create(config)


def _restamped(command: TradingCommand, ts: int) -> TradingCommand:
    """Return ``command`` with ``ts_init`` = ``ts`` (the exchange's time), else unchanged."""
    if isinstance(command, SubmitOrder):
        return SubmitOrder(
            trader_id=command.trader_id,
            strategy_id=command.strategy_id,
            order=command.order,
            command_id=command.id,
            ts_init=ts,
            position_id=command.position_id,
            client_id=command.client_id,
            params=command.params,
        )
    if isinstance(command, SubmitOrderList):
        return SubmitOrderList(
            trader_id=command.trader_id,
            strategy_id=command.strategy_id,
            order_list=command.order_list,
            command_id=command.id,
            ts_init=ts,
            position_id=command.position_id,
            client_id=command.client_id,
            params=command.params,
        )
    if isinstance(command, ModifyOrder):
        return ModifyOrder(
            trader_id=command.trader_id,
            strategy_id=command.strategy_id,
            instrument_id=command.instrument_id,
            client_order_id=command.client_order_id,
            venue_order_id=command.venue_order_id,
            quantity=command.quantity,
            price=command.price,
            trigger_price=command.trigger_price,
            command_id=command.id,
            ts_init=ts,
            client_id=command.client_id,
            params=command.params,
        )
    if isinstance(command, CancelOrder):
        return CancelOrder(
            trader_id=command.trader_id,
            strategy_id=command.strategy_id,
            instrument_id=command.instrument_id,
            client_order_id=command.client_order_id,
            venue_order_id=command.venue_order_id,
            command_id=command.id,
            ts_init=ts,
            client_id=command.client_id,
            params=command.params,
        )
    if isinstance(command, CancelAllOrders):
        return CancelAllOrders(
            trader_id=command.trader_id,
            strategy_id=command.strategy_id,
            instrument_id=command.instrument_id,
            order_side=command.order_side,
            command_id=command.id,
            ts_init=ts,
            client_id=command.client_id,
            params=command.params,
        )
    if isinstance(command, BatchCancelOrders):
        return BatchCancelOrders(
            trader_id=command.trader_id,
            strategy_id=command.strategy_id,
            instrument_id=command.instrument_id,
            cancels=[_restamped(cancel, ts) for cancel in command.cancels],
            command_id=command.id,
            ts_init=ts,
            client_id=command.client_id,
            params=command.params,
        )
    return command


class ReplaySandboxExecutionClient(SandboxExecutionClient):
    """Run a backtest-configured ``SimulatedExchange`` inside a live node (see the module docstring).

    The stock initializer is skipped (it builds an exchange with fixed models and sends its
    account state); the same attributes are set here: ``test_clock``, ``exchange`` and the
    ``BacktestExecClient`` the stock methods delegate to.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        portfolio: PortfolioFacade,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
        config: ReplaySandboxExecClientConfig,
    ) -> None:
        venue = Venue(config.venue)
        oms_type = oms_type_from_str(config.oms_type)
        account_type = account_type_from_str(config.account_type)
        base_currency = Currency.from_str(config.base_currency) if config.base_currency else None
        self.test_clock = TestClock()
        LiveExecutionClient.__init__(
            self,
            loop=loop,
            client_id=ClientId(config.venue),
            venue=venue,
            oms_type=oms_type,
            account_type=account_type,
            base_currency=base_currency,
            instrument_provider=InstrumentProvider(),
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            config=None,
        )
        leverages = {InstrumentId.from_str(k): Decimal(repr(v)) for k, v in (config.leverages or {}).items()}
        self.latency_model: LatencyModel | None = (
            LatencyModelFactory.create(config.latency_model) if config.latency_model else None
        )
        self.exchange = SimulatedExchange(
            venue=venue,
            oms_type=oms_type,
            account_type=account_type,
            starting_balances=[Money.from_str(b) for b in config.starting_balances],
            base_currency=base_currency,
            default_leverage=Decimal(str(config.default_leverage)),
            leverages=leverages,
            modules=_modules(config.modules, config.venue),
            portfolio=portfolio,
            msgbus=self._msgbus,
            cache=cache,
            clock=self.test_clock,
            fill_model=_fill_model(config.fill_model),
            fee_model=FeeModelFactory.create(config.fee_model) if config.fee_model else MakerTakerFeeModel(),
            latency_model=self.latency_model,
            margin_model=MarginModelFactory.create(config.margin_model) if config.margin_model else None,
            book_type=book_type_from_str(config.book_type),
            frozen_account=config.frozen_account,
            reject_stop_orders=config.reject_stop_orders,
            support_gtd_orders=config.support_gtd_orders,
            support_contingent_orders=config.support_contingent_orders,
            use_position_ids=config.use_position_ids,
            use_random_ids=config.use_random_ids,
            use_reduce_only=config.use_reduce_only,
            use_message_queue=True,  # commands wait their latency; `_process_now` runs the due ones
            bar_execution=config.bar_execution,
            bar_adaptive_high_low_ordering=config.bar_adaptive_high_low_ordering,
            trade_execution=config.trade_execution,
        )
        self._client = BacktestExecClient(
            exchange=self.exchange,
            msgbus=msgbus,
            cache=cache,
            clock=self.test_clock,
            frozen_account=config.frozen_account,
        )
        self.exchange.register_client(self._client)
        self.exchange.initialize_account()
        self._after_subscribers: set[str] = set()

    # -- CONNECTION -------------------------------------------------------------------------------

    def connect(self) -> None:
        """Listen to the venue's market data and load the instruments the cache already holds."""
        self._log.info("Connecting...")
        venue = self.venue
        self._msgbus.subscribe(f"data.*.{venue}.*", self._on_venue_data, priority=MARKET_PRIORITY)
        self._msgbus.subscribe(f"data.bars.*.{venue}-*-EXTERNAL", self._on_bar, priority=MARKET_PRIORITY)
        self._msgbus.subscribe(
            f"data.venue.close_price.*.{venue}", self._on_venue_data, priority=MARKET_PRIORITY
        )
        for instrument in self._cache.instruments(venue=venue):
            self.exchange.add_instrument(instrument)
        self._client._set_connected(True)
        self._set_connected(True)
        self._log.info("Connected")

    # -- MARKET DATA ------------------------------------------------------------------------------

    def on_data(self, data: Data) -> None:
        """Move the exchange's market with ``data`` and process its due commands (stock entry point)."""
        self._move_market(data)
        self.exchange.process(data.ts_init)

    def _move_market(self, data: Data) -> bool:
        exchange = self.exchange
        if isinstance(data, QuoteTick):
            exchange.process_quote_tick(data)
        elif isinstance(data, TradeTick):
            exchange.process_trade_tick(data)
        elif isinstance(data, OrderBookDeltas):
            exchange.process_order_book_deltas(data)
        elif isinstance(data, OrderBookDelta):
            exchange.process_order_book_delta(data)
        elif isinstance(data, OrderBookDepth10):
            exchange.process_order_book_depth10(data)
        elif isinstance(data, InstrumentStatus):
            exchange.process_instrument_status(data)
        elif isinstance(data, InstrumentClose):
            exchange.process_instrument_close(data)
        elif isinstance(data, Instrument):
            exchange.update_instrument(data)
            return False  # a definition, not a market event: the clock stays where it is
        else:
            return False  # custom data and prices the exchange does not simulate
        return True

    def _on_venue_data(self, data: Data) -> None:
        if self._move_market(data):
            self._process_after_subscribers(data)

    def _on_bar(self, bar: Bar) -> None:
        if bar.bar_type.instrument_id.venue != self.venue:
            return  # a symbol whose own name holds ".{venue}-"
        self.exchange.process_bar(bar)
        self._process_after_subscribers(bar)

    def _process_after_subscribers(self, data: Data) -> None:
        topic = _topic(data)
        if topic in self._after_subscribers:
            return  # the priority-0 subscription below runs `_process_due` after the strategies
        # First datum on this topic: the strategies have subscribed by now, so a priority-0
        # subscription made now comes after theirs. This datum is already being delivered and
        # will not reach it: process at once.
        self._after_subscribers.add(topic)
        self._msgbus.subscribe(topic, self._process_due, priority=0)
        self.exchange.process(data.ts_init)

    def _process_due(self, data: Data) -> None:
        self.exchange.process(data.ts_init)

    # -- COMMANDS ---------------------------------------------------------------------------------

    def _at_exchange_time(self, command: TradingCommand) -> TradingCommand:
        if self.latency_model is None:
            return command
        return _restamped(command, self.test_clock.timestamp_ns())

    def _process_now(self) -> None:
        self.exchange.process(self.test_clock.timestamp_ns())

    def submit_order(self, command: SubmitOrder) -> None:
        """Submit an order to the exchange at its current time."""
        self._client.submit_order(self._at_exchange_time(command))
        self._process_now()

    def submit_order_list(self, command: SubmitOrderList) -> None:
        """Submit an order list (a bracket) to the exchange at its current time."""
        self._client.submit_order_list(self._at_exchange_time(command))
        self._process_now()

    def modify_order(self, command: ModifyOrder) -> None:
        """Modify an order at the exchange's current time."""
        self._client.modify_order(self._at_exchange_time(command))
        self._process_now()

    def cancel_order(self, command: CancelOrder) -> None:
        """Cancel an order at the exchange's current time."""
        self._client.cancel_order(self._at_exchange_time(command))
        self._process_now()

    def cancel_all_orders(self, command: CancelAllOrders) -> None:
        """Cancel all orders of an instrument (and side) at the exchange's current time."""
        self._client.cancel_all_orders(self._at_exchange_time(command))
        self._process_now()

    def batch_cancel_orders(self, command: BatchCancelOrders) -> None:
        """Cancel a batch of orders at the exchange's current time."""
        self._client.batch_cancel_orders(self._at_exchange_time(command))
        self._process_now()


def _topic(data: Data) -> str:
    """Return the message-bus topic the data engine publishes ``data`` on (1.221's formats)."""
    if isinstance(data, Bar):
        return f"data.bars.{data.bar_type}"
    instrument_id = data.instrument_id  # type: ignore[attr-defined]
    if isinstance(data, QuoteTick):
        return f"data.quotes.{instrument_id.venue}.{instrument_id.symbol}"
    if isinstance(data, TradeTick):
        return f"data.trades.{instrument_id.venue}.{instrument_id.symbol}"
    if isinstance(data, InstrumentStatus):
        return f"data.status.{instrument_id.venue}.{instrument_id.symbol}"
    if isinstance(data, InstrumentClose):
        return f"data.venue.close_price.{instrument_id}"
    if isinstance(data, OrderBookDepth10):
        return f"data.book.depth.{instrument_id.venue}.{instrument_id.symbol.topic()}"
    return f"data.book.deltas.{instrument_id.venue}.{instrument_id.symbol.topic()}"


class SandboxLiveExecClientFactory(LiveExecClientFactory):
    """Create :class:`ReplaySandboxExecutionClient` instances.

    The class keeps nautilus' name on purpose: ``TradingNodeBuilder`` (1.221) passes
    ``portfolio=`` only to a factory whose ``__name__`` is exactly ``SandboxLiveExecClientFactory``.
    """

    @staticmethod
    def create(  # type: ignore[override]
        loop: asyncio.AbstractEventLoop,
        name: str,
        config: ReplaySandboxExecClientConfig,
        portfolio: PortfolioFacade,
        msgbus: MessageBus,
        cache: Cache,
        clock: LiveClock,
    ) -> ReplaySandboxExecutionClient:
        """Return a sandbox execution client for ``config``."""
        return ReplaySandboxExecutionClient(
            loop=loop, portfolio=portfolio, msgbus=msgbus, cache=cache, clock=clock, config=config
        )


class SynchronousEvents:
    """Hand the sandbox venues' order events to the execution engine as they happen.

    A live ``ExecutionEngine.process`` only queues an event. When the exchange fills a bracket's
    entry and then checks its reduce-only children against the cached position, the fill is
    still in that queue: the children are rejected ("would have increased position"), and
    without reduce-only the OUO sibling survives and the position flips. A ``BacktestEngine``
    handles every event at once; this router does the same for the sandbox venues by calling the
    base class' public ``ExecutionEngine.process`` (no queue), and leaves every other venue's
    events on the live queue.

    The seam, all public in 1.221: the message-bus endpoint ``ExecEngine.process`` (which the
    matching engines send to), ``MessageBus.deregister``/``register``, and the cpdef
    ``ExecutionEngine.process`` called on the class, which runs the base implementation.
    ``tests/integration/test_replay_sandbox.py`` pins each of these.
    """

    def __init__(self, exec_engine: ExecutionEngine, venues: Iterable[Venue]) -> None:
        self._engine = exec_engine
        self._queued = exec_engine.process
        self._direct = ExecutionEngine.process
        self.venues = frozenset(venues)

    def __call__(self, event: OrderEvent) -> None:
        """Route one order event."""
        if event.instrument_id.venue in self.venues:
            self._direct(self._engine, event)
        else:
            self._queued(event)


def deliver_events_synchronously(
    exec_engine: ExecutionEngine, msgbus: MessageBus, venues: Iterable[Venue]
) -> SynchronousEvents:
    """Replace the ``ExecEngine.process`` endpoint with a :class:`SynchronousEvents` router.

    Call it once per node, after ``node.build()`` and before the node runs, with the venues of
    every sandbox client.
    """
    router = SynchronousEvents(exec_engine, venues)
    msgbus.deregister(endpoint=EXEC_ENGINE_PROCESS, handler=exec_engine.process)
    msgbus.register(endpoint=EXEC_ENGINE_PROCESS, handler=router)
    return router
