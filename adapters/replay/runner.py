"""Run a ``TradingNode`` over a catalog replay to its end, on an event loop we own.

:func:`run_replay` builds the node from a ``TradingNodeConfig`` whose data clients include
:class:`~adapters.replay.data.ReplayDataClientConfig` entries (their factories are registered
here) and whose execution clients may include
:class:`~adapters.replay.sandbox.ReplaySandboxExecClientConfig` entries. After ``node.build()``
it wires the replay (:func:`wire_replay`):

- the sandbox venues' order events go straight to the execution engine
  (:func:`~adapters.replay.sandbox.deliver_events_synchronously`);
- a :class:`~adapters.replay.pacing.QueuePacer` on the kernel's engine queues and a stop flag
  (:class:`~adapters.replay.data.ReplayControl`) are handed to every replay client through its
  message-bus start endpoint, once the trader runs;
- ``replay.finished`` is watched: when every replay client has finished, or on SIGINT/SIGTERM,
  or when any component publishes on ``STOP_TOPIC`` (``replay.stop``), the replay is told to
  stop after its current datum, the node is stopped gracefully (``node.stop_async``), and the
  node is disposed outside the loop (``dispose()`` inside ``asyncio.run`` fails with "Event loop
  stopped before Future completed").

Clocks: a live node's clock is wall time. Strategies' and actors' timers (``clock.set_timer``,
time alerts, an equity sampler on a timer, time-based stops) therefore fire on wall time and do
not follow bar time in a replay; at ``speed="max"`` a day of bars passes in seconds. Drive such
logic from the data (bar timestamps) instead. Only the sandbox exchange runs on data time.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from nautilus_trader.common.component import MessageBus
from nautilus_trader.config import (
    ImportableConfig,
    LiveDataEngineConfig,
    LiveExecEngineConfig,
    LiveRiskEngineConfig,
    TradingNodeConfig,
)
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.identifiers import Venue

from adapters.replay.data import (
    FINISHED_TOPIC,
    START_ENDPOINT_PREFIX,
    ReplayControl,
    ReplayDataClientConfig,
    ReplayDataClientFactory,
    ReplayFinished,
    ReplayProgress,
)
from adapters.replay.pacing import QueuePacer
from adapters.replay.sandbox import (
    ReplaySandboxExecClientConfig,
    SandboxLiveExecClientFactory,
    SynchronousEvents,
    deliver_events_synchronously,
)

T = TypeVar("T")
Outcome = Literal["started", "stopped before the start", "failed"]

STOP_TOPIC = "replay.stop"  # publish anything here to stop the replay gracefully
SHUTDOWN_TOPIC = "commands.system.shutdown"  # nautilus' ShutdownSystem (graceful_shutdown_on_exception)

# High enough never to throttle a replay at full speed (nautilus' default is 100/s).
REPLAY_ORDER_RATE = "100000/00:00:01"
_TRADER_POLL_SECONDS = 0.01
_FINAL_REPORT_SECONDS = 5.0  # a safety bound on streams reporting after a stop


class ReplayConfigError(ValueError):
    """Raise when a node config would make a replay wrong (the message names the field)."""


def replay_data_engine_config(**overrides: Any) -> LiveDataEngineConfig:
    """Return a ``LiveDataEngineConfig`` that shuts the node down on a handler's exception."""
    values: dict[str, Any] = {"graceful_shutdown_on_exception": True}
    values.update(overrides)
    return LiveDataEngineConfig(**values)


def replay_exec_engine_config(**overrides: Any) -> LiveExecEngineConfig:
    """Return a ``LiveExecEngineConfig`` fit for a replay (no venue checks against wall time)."""
    values: dict[str, Any] = {
        "reconciliation": False,
        "inflight_check_interval_ms": 0,
        "open_check_interval_secs": None,
        "graceful_shutdown_on_exception": True,
    }
    values.update(overrides)
    return LiveExecEngineConfig(**values)


def replay_risk_engine_config(**overrides: Any) -> LiveRiskEngineConfig:
    """Return a ``LiveRiskEngineConfig`` whose order rate limits never throttle a replay."""
    values: dict[str, Any] = {
        "max_order_submit_rate": REPLAY_ORDER_RATE,
        "max_order_modify_rate": REPLAY_ORDER_RATE,
        "graceful_shutdown_on_exception": True,
    }
    values.update(overrides)
    return LiveRiskEngineConfig(**values)


def check_replay_config(config: TradingNodeConfig) -> None:
    """Raise :class:`ReplayConfigError` if ``config`` would break a replay.

    The live execution engine compares the orders' venue timestamps (data time) with wall time:
    its in-flight check would query the sandbox (which reports nothing) and resolve waiting
    orders as failed, and its open-order check would cancel orders the sandbox does not report.
    The risk engine's default order rate (100/s of wall time) would hold orders back while the
    data move on. And without ``graceful_shutdown_on_exception`` a live engine ends the process
    with ``os._exit(1)`` when a handler raises (a strategy's ``on_bar`` exception reaches the data
    engine's queue): the replay would never report.
    """
    replays = [c for c in _client_configs(config.data_clients) if isinstance(c, ReplayDataClientConfig)]
    if not replays:
        raise ReplayConfigError("data_clients has no ReplayDataClientConfig: nothing to replay")
    if len(replays) > 1:
        raise ReplayConfigError(
            f"data_clients has {len(replays)} ReplayDataClientConfig entries: use one listing every bar "
            "type (two streams would interleave on wall time and data time would run backwards)"
        )
    exec_engine = config.exec_engine
    if exec_engine.inflight_check_interval_ms:
        raise ReplayConfigError(
            f"exec_engine.inflight_check_interval_ms is {exec_engine.inflight_check_interval_ms}: "
            "set 0 for a replay (see adapters.replay.runner.replay_exec_engine_config)"
        )
    if exec_engine.open_check_interval_secs:
        raise ReplayConfigError(
            f"exec_engine.open_check_interval_secs is {exec_engine.open_check_interval_secs}: "
            "set None for a replay (the sandbox reports no open orders)"
        )
    for name in ("data_engine", "risk_engine", "exec_engine"):
        if not getattr(config, name).graceful_shutdown_on_exception:
            raise ReplayConfigError(
                f"{name}.graceful_shutdown_on_exception is False: an exception in a handler would end "
                f"the process with os._exit(1) (see replay_{name}_config)"
            )
    if any(c.speed == "max" for c in replays):
        for field in ("max_order_submit_rate", "max_order_modify_rate"):
            value = getattr(config.risk_engine, field)
            if _rate_per_second(value) < 10_000:
                raise ReplayConfigError(
                    f"risk_engine.{field} is {value!r}: too low for speed='max' "
                    f"(use {REPLAY_ORDER_RATE!r}, see replay_risk_engine_config)"
                )


def _client_configs(clients: Mapping[str, Any]) -> list[Any]:
    """Return the client configs of a node config, ``ImportableConfig`` entries created."""
    return [c.create() if isinstance(c, ImportableConfig) else c for c in clients.values()]


def _rate_per_second(rate: str) -> float:
    count, _, interval = rate.partition("/")
    hours, minutes, seconds = (float(part) for part in interval.split(":"))
    return float(count) / max(hours * 3600 + minutes * 60 + seconds, 1e-9)


class ReplayRunError(RuntimeError):
    """Raise when a replay node does not start (the node's log says why)."""


@dataclass
class ReplayWiring:
    """Hold what :func:`wire_replay` attached to a built node."""

    control: ReplayControl
    pacer: QueuePacer
    start_endpoints: list[str]
    events: SynchronousEvents | None
    finished: dict[str, ReplayProgress]
    all_finished: asyncio.Event

    def start(self, msgbus: MessageBus) -> None:
        """Start every replay client's stream (call once the trader is running)."""
        for endpoint in self.start_endpoints:
            msgbus.send(endpoint=endpoint, msg=self.control)

    def progress(self) -> tuple[ReplayProgress, ...]:
        """Return the final progress of every replay client that reported one, in endpoint order."""
        ids = (endpoint.removeprefix(START_ENDPOINT_PREFIX) for endpoint in self.start_endpoints)
        return tuple(self.finished[i] for i in ids if i in self.finished)


def wire_replay(node: TradingNode, config: TradingNodeConfig, quiet_turns: int = 1) -> ReplayWiring:
    """Attach the replay's pacer, finish hook and synchronous sandbox events to a built node.

    ``config`` is the node's config (its sandbox clients name the venues whose events become
    synchronous). :func:`run_replay` calls this; call it yourself only to run the node otherwise.
    """
    kernel = node.kernel
    msgbus = kernel.msgbus
    venues = [
        Venue(c.venue)
        for c in _client_configs(config.exec_clients)
        if isinstance(c, ReplaySandboxExecClientConfig)
    ]
    events = deliver_events_synchronously(kernel.exec_engine, msgbus, venues) if venues else None
    pacer = QueuePacer.for_kernel(kernel, quiet_turns=quiet_turns)
    endpoints = sorted(e for e in msgbus.endpoints() if e.startswith(START_ENDPOINT_PREFIX))
    if not endpoints:
        raise ReplayConfigError(
            "the built node has no replay data client (was its factory registered? run_replay does it)"
        )
    finished: dict[str, ReplayProgress] = {}
    all_finished = asyncio.Event()

    def on_finished(message: ReplayFinished) -> None:
        finished[message.progress.client_id] = message.progress
        if len(finished) >= len(endpoints):
            all_finished.set()

    msgbus.subscribe(topic=FINISHED_TOPIC, handler=on_finished)
    return ReplayWiring(
        control=ReplayControl(pacer),
        pacer=pacer,
        start_endpoints=endpoints,
        events=events,
        finished=finished,
        all_finished=all_finished,
    )


@dataclass(frozen=True)
class ReplayResult(Generic[T]):
    """Say how a replay ended and hold what ``collect`` took from the node before disposal."""

    progress: tuple[ReplayProgress, ...]
    stopped_early: bool
    collected: T | None
    pacer_turns: int = 0  # loop turns the pacer yielded (a measurement, not a result)


def run_replay(
    config: TradingNodeConfig,
    *,
    collect: Callable[[TradingNode], T] | None = None,
    on_built: Callable[[TradingNode], None] | None = None,
    factories: Mapping[str, type] | None = None,
    quiet_turns: int = 1,
    handle_signals: bool = True,
    on_progress: Callable[[TradingNode], None] | None = None,
    progress_seconds: float = 5.0,
) -> ReplayResult[T]:
    """Build, run, stop and dispose a replay node; return how it ended.

    Parameters
    ----------
    config : TradingNodeConfig
        The node config; see :func:`check_replay_config` for what it must not contain.
    collect : callable, optional
        Called with the stopped node before it is disposed (e.g. to read its fills report).
    on_built : callable, optional
        Called with the built node before it runs (to add actors or subscriptions).
    factories : mapping, optional
        Extra client factories by config name (data or execution), for non-replay clients.
    quiet_turns : int, default 1
        Passed to :class:`~adapters.replay.pacing.QueuePacer`.
    handle_signals : bool, default True
        Stop gracefully on SIGINT/SIGTERM (the node's own handlers are replaced while it runs).
    on_progress : callable, optional
        Called with the running node every ``progress_seconds`` (wall time) and once at the end.
    progress_seconds : float, default 5.0
        How often ``on_progress`` is called.

    Raises
    ------
    ReplayConfigError
        If ``config`` would break a replay.
    ReplayRunError
        If the trader did not start within the node's connection and portfolio timeouts.
    """
    check_replay_config(config)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        node = TradingNode(config=config, loop=loop)  # sets SIGINT to SIG_DFL and loop handlers
        try:
            _register_factories(node, config, factories or {})
            node.build()
            if on_built is not None:
                on_built(node)
            wiring = wire_replay(node, config, quiet_turns=quiet_turns)
            reporter = _Reporter(node, on_progress, progress_seconds) if on_progress is not None else None
            outcome = loop.run_until_complete(_supervise(node, config, wiring, handle_signals, reporter))
            collected = collect(node) if collect is not None and outcome == "started" else None
        finally:
            node.dispose()  # outside the loop: it stops or closes the loop itself
    finally:
        if not loop.is_closed():
            loop.close()
        asyncio.set_event_loop(None)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if outcome == "failed":
        raise ReplayRunError(
            "the replay node's trader did not start (connection or portfolio timeout); see the node's log"
        )
    progress = wiring.progress()
    return ReplayResult(
        progress=progress,
        stopped_early=outcome == "stopped before the start" or any(p.stopped for p in progress),
        collected=collected,
        pacer_turns=wiring.pacer.turns,
    )


def _register_factories(node: TradingNode, config: TradingNodeConfig, extra: Mapping[str, type]) -> None:
    for key, data_config in config.data_clients.items():
        if isinstance(data_config, ReplayDataClientConfig):
            node.add_data_client_factory(key.partition("-")[0], ReplayDataClientFactory)
    for key, exec_config in config.exec_clients.items():
        if isinstance(exec_config, ReplaySandboxExecClientConfig):
            node.add_exec_client_factory(key.partition("-")[0], SandboxLiveExecClientFactory)
    for name, factory in extra.items():
        if name in config.data_clients:
            node.add_data_client_factory(name, factory)
        else:
            node.add_exec_client_factory(name, factory)


@dataclass
class _Reporter:
    """Call the progress callback every ``seconds`` of wall time while the replay runs."""

    node: TradingNode
    callback: Callable[[TradingNode], None]
    seconds: float

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            self.callback(self.node)


async def _supervise(
    node: TradingNode,
    config: TradingNodeConfig,
    wiring: ReplayWiring,
    handle_signals: bool,
    reporter: _Reporter | None = None,
) -> Outcome:
    """Run the node, start the replay once the trader runs, stop the node at the end."""
    loop = asyncio.get_running_loop()
    run_task = loop.create_task(node.run_async(), name="replay_node_run")
    stop = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        node.kernel.logger.warning(f"Received {sig.name}, stopping the replay")
        stop.set()

    if handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
    node.kernel.msgbus.subscribe(topic=STOP_TOPIC, handler=lambda _: stop.set())
    # an engine that caught an exception asks the kernel to shut down: stop streaming at once
    node.kernel.msgbus.subscribe(topic=SHUTDOWN_TOPIC, handler=lambda _: stop.set())
    # A kernel that fails to start logs it and leaves `run_async` waiting on its queues.
    start_deadline = loop.time() + (
        config.timeout_connection + config.timeout_reconciliation + config.timeout_portfolio + 5.0
    )
    outcome: Outcome = "failed"
    try:
        while not (node.trader.is_running or run_task.done() or stop.is_set()):
            if loop.time() > start_deadline:
                break
            await asyncio.sleep(_TRADER_POLL_SECONDS)
        if stop.is_set():
            outcome = "stopped before the start"
        elif node.trader.is_running:
            wiring.start(node.kernel.msgbus)
            outcome = "started"
            reporting = loop.create_task(reporter.run()) if reporter is not None else None
            waiters = {loop.create_task(wiring.all_finished.wait()), loop.create_task(stop.wait())}
            await asyncio.wait({*waiters, run_task}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if reporting is not None:
                reporting.cancel()
                reporter.callback(node)  # type: ignore[union-attr]
        wiring.control.request_stop()
        if outcome == "started" and not run_task.done():
            # Every stream sees the stop flag after its current datum and reports its progress.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wiring.all_finished.wait(), _FINAL_REPORT_SECONDS)
        if not run_task.done():
            await node.stop_async()
            await run_task
    finally:
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    return outcome
