"""Run a live nautilus node from a run config: the offline replay, paper or live trading.

Usage::

    python -m engine.live --config configs/live/replay.toml [--speed max|N] [--out DIR] [--fresh]

The node is a nautilus ``TradingNode`` with the same engine wiring as a backtest (desk bridge,
journal, equity sampler, carry, the strategies bound to the desk: :mod:`engine.wiring`). What is
particular to a mode lives in its adapter, named by the run config's ``[node] adapter`` (the engine
never imports adapters): it gives the node its data and execution clients and runs it. The replay
adapter (``adapters.replay.node:ReplayAdapter``) streams the catalog into a sandbox venue built from
the run config's ``[[venues]]`` sections exactly as a backtest builds its simulated venues.

The node prints its progress while it runs (data streamed, data time, fills, equity per ledger),
stops gracefully on SIGINT/SIGTERM or at the end of the data, and writes a run folder like a
backtest's (``summary.json`` with the same keys, the journal, fills, equity). Its journal is kept
across restarts: a restarted replay resumes from its last checkpoint (:mod:`engine.checkpoint`);
``--fresh`` starts over.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec
import pandas as pd
from nautilus_trader.config import LoggingConfig, TradingNodeConfig
from nautilus_trader.live.node import TradingNode

from engine import runfolder
from engine.backtest import DataError, load_desk, load_market_data
from engine.checkpoint import peek_checkpoint
from engine.clock import ClockSource
from engine.configs import ConfigError, NodeSection, RunConfig, load_run_config
from engine.importing import resolve
from engine.results import NS_PER_DAY, RunResult
from engine.risk import DeskConfigError
from engine.wiring import Components, actor_configs, strategy_configs, wire


@dataclass
class NodeParts:
    """What an adapter gives a node: its clients and engine settings, as nautilus configs."""

    data_clients: dict[str, Any]
    exec_clients: dict[str, Any]
    engines: dict[str, Any] = field(default_factory=dict)  # data_engine, risk_engine, exec_engine


@dataclass
class NodeOutcome:
    """How a node's run ended and what was collected from it before it was disposed."""

    stopped_early: bool
    collected: Any
    data_streamed: int = 0


class NodeAdapter(Protocol):
    """Build and run the mode-specific part of a live node (see ``adapters.replay.node``)."""

    clock: ClockSource

    def parts(self, config: RunConfig, *, speed: str | float, catchup_until_ns: int | None) -> NodeParts:
        """Return the node's data and execution clients for ``config``."""

    def run(
        self,
        config: TradingNodeConfig,
        *,
        on_built: Callable[[TradingNode], None],
        collect: Callable[[TradingNode], Any],
        on_progress: Callable[[TradingNode], None],
        progress_seconds: float,
    ) -> NodeOutcome:
        """Build the node, run it to its end (or a signal), collect it and dispose of it."""


def load_adapter(section: NodeSection, origin: str) -> NodeAdapter:
    """Return the adapter the ``[node]`` section names, built with its options.

    Raises
    ------
    ConfigError
        If the path does not resolve or the options are refused (naming ``node.adapter`` or
        ``node.options``).
    """
    cls = resolve(section.adapter, "node.adapter")
    try:
        adapter: NodeAdapter = cls(section.options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{origin}: node.options = {section.options!r}: {exc}") from exc
    return adapter


def journal_path(config: RunConfig) -> Path:
    """Return the node's journal file (kept across restarts)."""
    assert config.node is not None
    if config.node.journal:
        return Path(config.node.journal)
    return Path(config.run.state_dir) / "nodes" / config.run.name / "journal.sqlite"


def run_node(
    config: RunConfig,
    out_dir: Path,
    *,
    speed: str | float | None = None,
    fresh: bool = False,
    origin: str = "run config",
    printer: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the config's node to its end and write its run folder; return the summary.

    Parameters
    ----------
    config : RunConfig
        A run config with a ``[node]`` section.
    out_dir : Path
        The run folder.
    speed : str or float, optional
        Overrides ``node.speed``.
    fresh : bool
        Delete the node's journal first (no resume).
    origin : str
        The config file, named in errors.
    printer : callable
        Where progress lines go.

    Raises
    ------
    ConfigError
        If the config has no ``[node]`` section or its adapter refuses it, or a resume failed.
    """
    section = config.node
    if section is None:
        raise ConfigError(f"{origin}: [node] is missing: engine.live needs a node section (configs/live/)")
    started = time.perf_counter()
    adapter = load_adapter(section, origin)
    load_desk(config)  # a bad desk file fails before any data is read
    journal = journal_path(config)
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{journal}{suffix}").unlink(missing_ok=True)
    mode = config.desk.mode
    checkpoint = peek_checkpoint(journal, config.run.name, mode)
    try:
        parts = adapter.parts(
            config,
            speed=speed if speed is not None else section.speed,
            catchup_until_ns=checkpoint.ts if checkpoint is not None else None,
        )
    except ValueError as exc:
        raise ConfigError(f"{origin}: node.adapter = {section.adapter!r}: {exc}") from exc
    node_config = TradingNodeConfig(
        trader_id=config.run.trader_id,
        logging=LoggingConfig(log_level=config.run.log_level if config.run.log_level != "OFF" else "ERROR"),
        data_clients=parts.data_clients,
        exec_clients=parts.exec_clients,
        actors=actor_configs(
            config,
            journal=str(journal),
            journal_fresh=False,
            clock=adapter.clock,
            command_interval_ms=section.command_interval_ms,
            checkpoint_seconds=section.checkpoint_seconds,
            resume=True,
        ),
        strategies=strategy_configs(config),
        timeout_post_stop=0.1,
        **parts.engines,
    )
    if checkpoint is not None:
        printer(f"{config.run.name}: resuming from the checkpoint at {_iso(checkpoint.ts)} ({journal})")
    wired: dict[str, Components] = {}

    def on_built(node: TradingNode) -> None:
        wired["components"] = wire(node.kernel)

    def collect_node(node: TradingNode) -> tuple[RunResult, str | None]:
        components = wired["components"]
        return _collect(node, components, config), components.bridge.resume_error

    outcome = adapter.run(
        node_config,
        on_built=on_built,
        collect=collect_node,
        on_progress=lambda node: printer(progress_line(config.run.name, node, wired["components"])),
        progress_seconds=section.progress_seconds,
    )
    if outcome.collected is None:
        raise ConfigError(f"{origin}: the node stopped before it started; see its log")
    result, resume_error = outcome.collected
    if resume_error:
        raise ConfigError(f"{origin}: {resume_error}; start over with --fresh")
    body = runfolder.write(
        result,
        config,
        out_dir,
        bars_processed=outcome.data_streamed,
        wall_seconds=time.perf_counter() - started,
        journal=journal,
    )
    if outcome.stopped_early:
        printer(f"{config.run.name}: stopped before the end of the data; run it again to resume")
    return body


def _collect(node: TradingNode, components: Components, config: RunConfig) -> RunResult:
    """Collect a node with the engine's one set of result rules (:func:`engine.runfolder.collect_run`)."""
    try:
        data = load_market_data(config)  # the bars a replay streamed: its both-levels count
        bars = [*data.bars, *(data.options.bars if data.options is not None else [])]
        bar_days: set[int] = {bar.ts_event // NS_PER_DAY for bar in data.bars}
    except DataError:
        bars, bar_days = [], components.sampler.feed_days  # a live feed: the days it streamed
    instruments = list(node.cache.instruments())
    return runfolder.collect_run(
        node.trader, components, config, instruments=instruments, bars=bars, bar_days=bar_days
    )


def progress_line(name: str, node: TradingNode, components: Components) -> str:
    """Return one progress line: data streamed, data time, fills and each traded ledger's equity."""
    desk = components.desk
    fills = sum(ledger.fills for ledger in desk.ledgers.values())
    now = components.sampler.data_time
    ledgers = ", ".join(
        f"{asset} {ledger.equity_usd(desk.book.marks(ledger)):.2f} (epoch {ledger.epoch})"
        for asset, ledger in desk.ledgers.items()
        if ledger.fills or asset in {terms.asset for terms in desk.book.terms.values()}
    )
    when = _iso(now) if now is not None else "-"
    return f"{name}: {node.kernel.data_engine.data_count} data, at {when}, {fills} fills, equity {ledgers}"


def _iso(ts_ns: int) -> str:
    return pd.Timestamp(ts_ns, unit="ns", tz="UTC").strftime("%Y-%m-%d %H:%M")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the live-node CLI; print where the report is. Return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m engine.live", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="run config with a [node] section (TOML)")
    parser.add_argument("--speed", help='replay speed: "max" or a factor on the wall clock (1 = real time)')
    parser.add_argument("--out", help="run folder (default: <state_dir>/runs/<run name>)")
    parser.add_argument("--fresh", action="store_true", help="start over: delete the node's journal first")
    args = parser.parse_args(argv)
    try:
        config = load_run_config(args.config)
        speed = _speed(args.speed, args.config, config) if args.speed is not None else None
        out_dir = Path(args.out) if args.out else Path(config.run.state_dir) / "runs" / config.run.name
        summary = run_node(config, out_dir, speed=speed, fresh=args.fresh, origin=args.config)
    except (ConfigError, DataError, DeskConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    runfolder.print_summary(summary, out_dir)
    return 0


def _speed(text: str, origin: str, config: RunConfig) -> str | float:
    """Return ``--speed`` as the node section would hold it (validated the same way)."""
    value: str | float = text if text == "max" else _number(text, origin)
    assert config.node is not None
    try:
        msgspec.structs.replace(config.node, speed=value)
    except ValueError as exc:
        raise ConfigError(f"{origin}: --speed {text!r}: {exc}") from exc
    return value


def _number(text: str, origin: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f'{origin}: --speed {text!r}: must be "max" or a positive number') from None


if __name__ == "__main__":
    raise SystemExit(main())
