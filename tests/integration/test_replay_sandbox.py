"""Pins of the nautilus 1.221 behaviour the replay sandbox works around or relies on.

Each test names what it pins; a failure after a nautilus upgrade says which workaround in
adapters/replay/sandbox.py to revisit (docs/replay.md lists them).
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from nautilus_trader.adapters.sandbox.config import SandboxExecutionClientConfig
from nautilus_trader.adapters.sandbox.factory import SandboxLiveExecClientFactory as StockFactory
from nautilus_trader.common.component import TestClock, is_matching_py
from nautilus_trader.common.factories import OrderFactory
from nautilus_trader.config import ImportableActorConfig, LoggingConfig, TradingNodeConfig
from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.engine import ExecutionEngine
from nautilus_trader.live.execution_engine import LiveExecutionEngine
from nautilus_trader.live.node import TradingNode
from nautilus_trader.live.node_builder import TradingNodeBuilder
from nautilus_trader.model.enums import OrderSide, OrderStatus
from nautilus_trader.model.events import OrderSubmitted
from nautilus_trader.model.identifiers import AccountId, InstrumentId, StrategyId, TraderId, Venue
from nautilus_trader.model.objects import Quantity

from adapters.replay.sandbox import (
    ReplaySandboxExecClientConfig,
    SandboxLiveExecClientFactory,
    deliver_events_synchronously,
)

BAR_TOPIC = "data.bars.BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"
TRADER = TraderId("REPLAY-001")


def _built(exec_clients: dict, factory: type = SandboxLiveExecClientFactory) -> Iterator[TradingNode]:
    loop = asyncio.new_event_loop()
    node = TradingNode(
        TradingNodeConfig(
            trader_id=TRADER, logging=LoggingConfig(log_level="ERROR"), exec_clients=exec_clients
        ),
        loop=loop,
    )
    for name in exec_clients:
        node.add_exec_client_factory(name, factory)
    try:
        node.build()
        yield node
    finally:
        node.dispose()


def _sandbox(venue: str = "BYBIT", **values) -> ReplaySandboxExecClientConfig:
    return ReplaySandboxExecClientConfig(
        venue=venue, starting_balances=["10000 USDT"], base_currency="USDT", **values
    )


def test_stock_sandbox_pattern_misses_bar_topics() -> None:
    # nautilus' SandboxExecutionClient.connect subscribes this pattern only (1.221).
    source = inspect.getsource(inspect.getmodule(StockFactory).SandboxExecutionClient.connect)
    assert 'f"data.*.{self.venue}.*"' in source
    assert not is_matching_py(BAR_TOPIC, "data.*.BYBIT.*")
    assert is_matching_py(BAR_TOPIC, "data.bars.*.BYBIT-*-EXTERNAL")


def test_node_builder_hands_the_portfolio_by_factory_name() -> None:
    source = inspect.getsource(TradingNodeBuilder.build_exec_clients)
    assert 'factory.__name__ == "SandboxLiveExecClientFactory"' in source
    assert SandboxLiveExecClientFactory.__name__ == "SandboxLiveExecClientFactory"


def test_stock_sandbox_cannot_take_leverages_but_ours_can() -> None:
    leverages = {"BTCUSDT-LINEAR.BYBIT": 5.0}
    stock = SandboxExecutionClientConfig(
        venue="BYBIT", starting_balances=["10000 USDT"], base_currency="USDT", leverages=leverages
    )
    with pytest.raises(TypeError, match="instrument_id"):
        next(_built({"BYBIT": stock}, StockFactory))
    for node in _built({"BYBIT": _sandbox(leverages=leverages)}):
        account = node.cache.account_for_venue(Venue("BYBIT"))
        assert account.leverage(InstrumentId.from_str("BTCUSDT-LINEAR.BYBIT")) == Decimal(5)


def test_a_module_that_is_not_a_simulation_module_is_refused() -> None:
    module = ImportableActorConfig(
        actor_path="tests.scenarios.replay:RecordBars",
        config_path="tests.scenarios.replay:RecordBarsConfig",
        config={},
    )
    with pytest.raises(
        TypeError, match=re.escape("module 'tests.scenarios.replay:RecordBars' is a RecordBars")
    ):
        next(_built({"BYBIT": _sandbox(modules=[module])}))


def _submitted(node: TradingNode, venue: str, strategy: str) -> tuple:
    factory = OrderFactory(trader_id=TRADER, strategy_id=StrategyId(strategy), clock=TestClock())
    order = factory.market(InstrumentId.from_str(f"X.{venue}"), OrderSide.BUY, Quantity.from_int(1))
    node.kernel.cache.add_order(order)
    event = OrderSubmitted(
        trader_id=TRADER,
        strategy_id=order.strategy_id,
        instrument_id=order.instrument_id,
        client_order_id=order.client_order_id,
        account_id=AccountId(f"{venue}-001"),
        event_id=UUID4(),
        ts_event=0,
        ts_init=0,
    )
    return order, event


def test_sandbox_events_skip_the_live_queue_and_others_keep_it() -> None:
    # The live engine only queues events (hence the router), and the base class processes them.
    assert LiveExecutionEngine.process is not ExecutionEngine.process
    for node in _built({"BYBIT": _sandbox()}):
        engine, msgbus, loop = node.kernel.exec_engine, node.kernel.msgbus, node.kernel.loop
        deliver_events_synchronously(engine, msgbus, [Venue("BYBIT")])
        ours, ours_event = _submitted(node, "BYBIT", "S-001")
        other, other_event = _submitted(node, "ELSEWHERE", "S-002")
        msgbus.send(endpoint="ExecEngine.process", msg=ours_event)
        msgbus.send(endpoint="ExecEngine.process", msg=other_event)
        assert ours.status == OrderStatus.SUBMITTED  # handled at once
        assert other.status == OrderStatus.INITIALIZED  # still on its way to the queue
        loop.run_until_complete(asyncio.sleep(0))  # the live enqueue is a call_soon_threadsafe
        assert engine.evt_qsize() == 1


def test_the_config_round_trips_as_json() -> None:
    config = _sandbox(leverages={"BTCUSDT-LINEAR.BYBIT": 3.0}, bar_adaptive_high_low_ordering=True)
    assert ReplaySandboxExecClientConfig.parse(config.json()) == config
