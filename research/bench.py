"""Benchmarks that measure our code side by side with a baseline in one process.

Usage::

    python -m research.bench engine [--config CONFIG] [--repeats N]
    python -m research.bench walkforward_overhead [--validation CONFIG] [--folds N] [--grid JSON]
    python -m research.bench parallel_speedup [--validation CONFIG] [--folds N] [--grid JSON]

``engine`` runs the EMA-cross strategy through our engine (risk desk with its SQLite journal,
equity sampler, strategy base class) and through a raw nautilus ``BacktestEngine`` with a plain
nautilus strategy holding the same signal logic and the same market-entry brackets, on the same
bars, and prints one JSON line: ``ours_bars_per_s``, ``baseline_bars_per_s``, ``ratio``
(ours / baseline). Each side is run ``repeats`` times, alternating, and the best run of each is kept.

``walkforward_overhead`` runs the walk-forward of a validation config
(:func:`research.validation.walkforward.walk_forward` with the in-process runner of
``make_runner("process", 1)``) and, as the baseline, every backtest it ran (each training window
of each grid point and each test window, same parameters, same window with its warm-up bars, same
seed) again as a standalone backtest through the ordinary path of ``python -m engine.backtest``:
load the run config (window as ``data.start`` / ``data.end``, parameters and ``trade_from_ns`` in
the strategy config), load the desk files, read that window's bars from the catalog, assemble, run,
and collect the results as ``engine.backtest.run_backtest`` does (fills, orders, positions, equity,
daily returns, metrics, fill fingerprint). The baseline does not write a run folder, a journal or a
tearsheet (the walk-forward writes none either), so it is the cheapest way a user could run each
fold on its own; it pays a catalog read per backtest where the walk-forward reads the catalog once
and slices the bars in memory, which is why the line also reports the baseline's load and run parts
and ``ratio_run_only`` (walk-forward time over the baseline's assemble, run and collect time
alone). The walk-forward's time includes its one catalog read (its cache is cleared first), the
fold cutting, the parameter choice and its per-window result extraction. Before timing, one
untimed backtest warms the process (lazy imports), and every timed side starts after a
``gc.collect()``. The line holds ``ratio`` (walk-forward seconds / sum of standalone seconds),
the parts, the number of backtests of each side and whether their closed trades are identical.
Both walk-forward lines end with ``load_before``, the 1-minute load average when the bench started:
other processes on the machine skew wall-clock ratios, a pool's speedup most.

``parallel_speedup`` runs the same walk-forward with ``make_runner("process", 1)`` (in process)
and ``make_runner("process", 2)`` (the calling process and one spawned worker, see
``research.validation.walkforward._pool_runner``) and reports ``speedup`` (1-worker seconds /
2-worker seconds). The 2-worker time runs from the runner's creation to its shutdown, so it pays
the spawned worker's start (interpreter, imports, its own catalog read), the pickling of tasks and
results and the pool's shutdown; both sides read the catalog in the main process (cache cleared
first). ``--workers`` measures another pool size. The line also says whether both runs chose the
same parameters and produced the same test results.

``--folds N`` cuts the data to the first ``train_days + N * test_days`` days (a copy of the run
config with ``data.end`` set), ``--train-days`` / ``--test-days`` change the windows and
``--grid`` replaces the searched grid (JSON, e.g. ``'{"fast_period": [10], "slow_period": [60]}'``),
so a smaller workload can be measured; the default is the validation config as shipped.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import AverageTrueRange, ExponentialMovingAverage
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId, TraderId
from nautilus_trader.trading.strategy import Strategy

from catalog.tomlconfig import read_toml
from engine.backtest import assemble, collect_backtest, load_desk, load_market_data
from engine.configs import ConfigError, RunConfig, load_run_config
from engine.risk import DeskConfig
from engine.simvenue import backtest_venue_kwargs
from research.validation.config import ValidationConfig, load_validation_config
from research.validation.walkforward import (
    NS_PER_DAY,
    FoldOutcome,
    Runner,
    WindowResult,
    WindowTask,
    data_span,
    for_window,
    make_runner,
    market_data,
    parameter_grid,
    signal_bar_ns,
    walk_forward,
    with_catalog,
)

DEFAULT_CONFIG = "configs/backtest/ema_cross_btcusdt_1m.toml"
DEFAULT_VALIDATION = "configs/validation/ema_cross_btcusdt_1m.toml"


class BaselineEMACrossConfig(StrategyConfig, frozen=True, kw_only=True):
    """Configure the baseline: the same parameters as ``strategies.ema_cross.EMACrossConfig``."""

    instrument_id: InstrumentId
    bar_type: BarType
    fast_period: int
    slow_period: int
    atr_period: int
    sl_atr: float
    tp_atr: float
    risk_fraction: float
    max_position_fraction: float


class BaselineEMACross(Strategy):
    """Hand-rolled nautilus strategy: same cross signal, same sizing formula, same brackets."""

    def __init__(self, config: BaselineEMACrossConfig) -> None:
        super().__init__(config)
        self.fast = ExponentialMovingAverage(config.fast_period)
        self.slow = ExponentialMovingAverage(config.slow_period)
        self.atr = AverageTrueRange(config.atr_period)
        self.previous: float | None = None
        self.cfg = config

    def on_start(self) -> None:
        """Register indicators and subscribe to bars."""
        self.instrument = self.cache.instrument(self.cfg.instrument_id)
        for indicator in (self.fast, self.slow, self.atr):
            self.register_indicator_for_bars(self.cfg.bar_type, indicator)
        self.subscribe_bars(self.cfg.bar_type)

    def on_bar(self, bar: Bar) -> None:
        """Enter on a fresh cross with an ATR bracket; reverse on an opposite cross."""
        if not (self.fast.initialized and self.slow.initialized and self.atr.initialized):
            return
        spread = self.fast.value - self.slow.value
        previous, self.previous = self.previous, spread
        atr = self.atr.value
        if previous is None or atr <= 0.0:
            return
        up, down = previous <= 0.0 < spread, previous >= 0.0 > spread
        if not (up or down):
            return
        side = OrderSide.BUY if up else OrderSide.SELL
        instrument_id = self.cfg.instrument_id
        net = self.portfolio.net_position(instrument_id)
        if (net > 0 and up) or (net < 0 and down):
            return
        if net != 0:
            self.cancel_all_orders(instrument_id)
            self.close_all_positions(instrument_id)
        close = bar.close.as_double()
        sign = 1.0 if up else -1.0
        stop, target = close - sign * self.cfg.sl_atr * atr, close + sign * self.cfg.tp_atr * atr
        account = self.cache.account_for_venue(instrument_id.venue)
        equity = account.balance_total(account.base_currency).as_double()
        qty = min(
            equity * self.cfg.risk_fraction / abs(close - stop),
            equity * self.cfg.max_position_fraction / close,
        )
        step = float(self.instrument.size_increment)
        qty = math.floor(qty / step + 1e-9) * step
        if qty < float(self.instrument.min_quantity):
            return
        self.submit_order_list(
            self.order_factory.bracket(
                instrument_id=instrument_id,
                order_side=side,
                quantity=self.instrument.make_qty(Decimal(repr(qty))),
                sl_trigger_price=self.instrument.make_price(stop),
                tp_price=self.instrument.make_price(target),
            )
        )


def _baseline_engine(
    config: RunConfig, desk: DeskConfig, data_instruments: list, bars: list[Bar]
) -> BacktestEngine:
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("BASELINE-001"),
            logging=LoggingConfig(log_level="ERROR", bypass_logging=True),
        )
    )
    for venue in config.venues:
        engine.add_venue(**backtest_venue_kwargs(config, venue))
    for instrument in data_instruments:
        engine.add_instrument(instrument)
    engine.add_data(bars, sort=True)
    engine.add_strategy(BaselineEMACross(BaselineEMACrossConfig(**baseline_params(config, desk))))
    return engine


def baseline_params(config: RunConfig, desk: DeskConfig) -> dict[str, Any]:
    """Return the baseline's config values for the run config's first strategy and the desk."""
    params = config.strategies[0].config
    return {
        "instrument_id": InstrumentId.from_str(params["instrument_id"]),
        "bar_type": BarType.from_str(params["bar_type"]),
        "fast_period": params.get("fast_period", 10),
        "slow_period": params.get("slow_period", 30),
        "atr_period": params.get("atr_period", 14),
        "sl_atr": params.get("sl_atr", 2.0),
        "tp_atr": params.get("tp_atr", 3.0),
        "risk_fraction": desk.asset_sizing("crypto_futures").risk_fraction,
        "max_position_fraction": desk.sizing.pair_cap_fraction,
    }


def _timed_run(engine: BacktestEngine) -> tuple[float, int]:
    # Each engine leaves tens of thousands of objects behind; collect them first so neither side
    # pays for the other's garbage inside its timed run.
    gc.collect()
    started = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - started
    fills = len(engine.trader.generate_fills_report())
    engine.dispose()
    return elapsed, fills


def bench_engine(config_path: str, repeats: int) -> dict[str, float | int | str]:
    """Measure our engine against the raw nautilus baseline on the same bars; return the figures."""
    config = load_run_config(config_path)
    desk = load_desk(config)
    data = load_market_data(config)
    ours_best = baseline_best = math.inf
    ours_fills = baseline_fills = 0
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(repeats):
            journal = Path(scratch) / f"journal-{index}.sqlite"
            ours_seconds, ours_fills = _timed_run(assemble(config, data, journal=journal).engine)
            baseline_seconds, baseline_fills = _timed_run(
                _baseline_engine(config, desk, data.instruments, data.bars)
            )
            ours_best = min(ours_best, ours_seconds)
            baseline_best = min(baseline_best, baseline_seconds)
    bars = len(data.bars)
    ours_rate, baseline_rate = bars / ours_best, bars / baseline_best
    return {
        "bench": "engine",
        "config": config_path,
        "bars": bars,
        "ours_bars_per_s": round(ours_rate, 1),
        "baseline_bars_per_s": round(baseline_rate, 1),
        "ratio": round(ours_rate / baseline_rate, 3),
        "ours_fills": ours_fills,
        "baseline_fills": baseline_fills,
        "repeats": repeats,
    }


# -- walk-forward benchmarks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """Shrink a validation config's walk-forward: fewer folds, other windows, another grid."""

    folds: int | None = None
    train_days: float | None = None
    test_days: float | None = None
    grid: dict[str, list[Any]] | None = None


@dataclass
class Standalone:
    """One standalone backtest of the baseline: its load and run times and its closed trades."""

    load_seconds: float
    run_seconds: float
    bars: int
    trades: list[tuple[int, int, float]]

    @property
    def seconds(self) -> float:
        """Return the backtest's whole time (load, assemble, run, collect)."""
        return self.load_seconds + self.run_seconds


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml(raw: dict[str, Any]) -> str:
    """Return a run config mapping as TOML (top-level tables and arrays of tables, inline below)."""
    lines: list[str] = []
    for name, section in raw.items():
        blocks = section if isinstance(section, list) else [section]
        for block in blocks:
            lines.append(f"[[{name}]]" if isinstance(section, list) else f"[{name}]")
            lines.extend(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in block.items())
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def workload(path: str, shrink: Workload, catalog: str | None = None) -> Iterator[ValidationConfig]:
    """Yield the validation config at ``path`` with ``shrink`` applied (a temporary run config copy).

    Parameters
    ----------
    path : str
        The validation config (TOML).
    shrink : Workload
        The changes; with ``folds`` the run config is copied with ``data.end`` set so that exactly
        ``train_days + folds * test_days`` days of data remain.
    catalog : str, optional
        The catalog the data is read from (default: the run config's).
    """
    config = load_validation_config(path)
    windows = config.windows
    if shrink.train_days is not None:
        windows = msgspec.structs.replace(windows, train_days=shrink.train_days)
    if shrink.test_days is not None:
        windows = msgspec.structs.replace(windows, test_days=shrink.test_days, step_days=None)
    config = msgspec.structs.replace(config, windows=windows)
    if shrink.grid is not None:
        config = msgspec.structs.replace(
            config, search=msgspec.structs.replace(config.search, params=shrink.grid)
        )
    if shrink.folds is None:
        yield config
        return
    first = data_span(config.backtest, catalog)[0]
    days = windows.train_days + shrink.folds * (windows.step_days or windows.test_days)
    raw = read_toml(config.backtest, ConfigError)
    raw["data"] = {**raw["data"], "end": _iso(first + round(days * NS_PER_DAY))}
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / Path(config.backtest).name
        copy.write_text(_toml(raw))
        load_run_config(copy)  # the copy must be a valid run config
        yield msgspec.structs.replace(config, backtest=str(copy))


def _iso(ns: int) -> str:
    return pd.Timestamp(ns, unit="ns", tz="UTC").isoformat()


def standalone_config(task: WindowTask) -> RunConfig:
    """Return the run config of ``task`` as a standalone backtest (window in ``data.start``/``end``).

    Raises
    ------
    ValueError
        If the task carries what a run config cannot express: excluded spans or cost shocks.
    """
    if task.excluded or task.fee_multiplier != 1.0 or task.latency_ms or task.slippage:
        raise ValueError(f"{task.tag}: excluded spans and shocks have no standalone equivalent")
    config = with_catalog(load_run_config(task.backtest), task.catalog)
    first = task.start - task.warmup_bars * signal_bar_ns(config)
    data = msgspec.structs.replace(config.data, start=_iso(first), end=_iso(task.end - 1))
    return for_window(msgspec.structs.replace(config, data=data), task)


def run_standalone(task: WindowTask) -> Standalone:
    """Backtest ``task``'s window on its own: load config, desk and bars, assemble, run, collect."""
    started = time.perf_counter()
    config = standalone_config(task)
    load_desk(config)
    data = load_market_data(config)
    loaded = time.perf_counter()
    assembled = assemble(config, data)
    assembled.engine.run()
    result = collect_backtest(assembled, since_ns=task.start)
    assembled.engine.dispose()
    finished = time.perf_counter()
    trades = [(t.ts_opened, t.ts_closed, t.pnl) for t in result.trades]
    return Standalone(loaded - started, finished - loaded, len(data.bars), trades)


def _window_trades(result: WindowResult) -> list[tuple[int, int, float]]:
    return [(t["ts_opened"], t["ts_closed"], t["pnl"]) for t in result.trades]


def _recording(run: Runner, log: list[tuple[WindowTask, WindowResult]]) -> Runner:
    def recorded(tasks: Sequence[WindowTask]) -> list[WindowResult]:
        done = run(tasks)
        log.extend(zip(tasks, done, strict=True))
        return done

    return recorded


def _timed_walk_forward(
    config: ValidationConfig, workers: int, catalog: str | None
) -> tuple[float, list[FoldOutcome], list[tuple[WindowTask, WindowResult]]]:
    """Run the walk-forward on ``workers`` from a cold data cache; return seconds, folds, backtests."""
    market_data.cache_clear()
    gc.collect()
    log: list[tuple[WindowTask, WindowResult]] = []
    started = time.perf_counter()
    run, shutdown = make_runner("process", workers)
    try:
        _, outcomes = walk_forward(config, _recording(run, log), catalog=catalog)
    finally:
        shutdown()
    return time.perf_counter() - started, outcomes, log


def _warm_up(config: ValidationConfig, catalog: str | None) -> None:
    """Run one short untimed backtest so neither side pays the process's first-run costs."""
    first = min(b.ts_event for b in market_data(config.backtest, catalog)[1].bars)
    run_standalone(
        WindowTask(config.backtest, first, first + NS_PER_DAY, 0, (), config.seed, catalog=catalog)
    )


def _shape(config: ValidationConfig, outcomes: list[FoldOutcome]) -> dict[str, Any]:
    grid = len(parameter_grid(config.search.params))
    return {"validation": config.strategy_id, "folds": len(outcomes), "grid_points": grid}


def bench_walkforward_overhead(
    path: str = DEFAULT_VALIDATION, shrink: Workload | None = None, catalog: str | None = None
) -> dict[str, Any]:
    """Measure the walk-forward (1 worker, in process) against its backtests run standalone."""
    load = os.getloadavg()[0]
    with workload(path, shrink or Workload(), catalog) as config:
        _warm_up(config, catalog)
        seconds, outcomes, log = _timed_walk_forward(config, 1, catalog)
        gc.collect()
        standalone = [run_standalone(task) for task, _ in log]
    same = len(standalone) == len(log) and all(
        s.trades == _window_trades(result) for s, (_, result) in zip(standalone, log, strict=True)
    )
    baseline = sum(s.seconds for s in standalone)
    run_only = sum(s.run_seconds for s in standalone)
    return {
        "bench": "walkforward_overhead",
        **_shape(config, outcomes),
        "tasks": len(log),
        "baseline_tasks": len(standalone),
        "bars": sum(result.bars for _, result in log),
        "baseline_bars": sum(s.bars for s in standalone),
        "walkforward_seconds": round(seconds, 3),
        "baseline_seconds": round(baseline, 3),
        "baseline_load_seconds": round(baseline - run_only, 3),
        "baseline_run_seconds": round(run_only, 3),
        "ratio": round(seconds / baseline, 3),
        "ratio_run_only": round(seconds / run_only, 3),
        "walkforward_trades": sum(len(result.trades) for _, result in log),
        "baseline_trades": sum(len(s.trades) for s in standalone),
        "same_trades": same,
        "load_before": round(load, 2),
    }


def _fingerprint(outcomes: list[FoldOutcome]) -> list[Any]:
    return [(o.params, o.train, o.test.metrics, o.test.trades, o.test.returns) for o in outcomes]


def bench_parallel_speedup(
    path: str = DEFAULT_VALIDATION,
    shrink: Workload | None = None,
    catalog: str | None = None,
    workers: int = 2,
) -> dict[str, Any]:
    """Measure the walk-forward on a ``workers`` process pool against the in-process runner."""
    load = os.getloadavg()[0]
    with workload(path, shrink or Workload(), catalog) as config:
        _warm_up(config, catalog)
        one, outcomes_one, log_one = _timed_walk_forward(config, 1, catalog)
        many, outcomes_many, log_many = _timed_walk_forward(config, workers, catalog)
    return {
        "bench": "parallel_speedup",
        **_shape(config, outcomes_one),
        "tasks": len(log_one),
        "workers": workers,
        "cpus": os.cpu_count(),
        "seconds_1": round(one, 3),
        f"seconds_{workers}": round(many, 3),
        "speedup": round(one / many, 3),
        "task_seconds": round(sum(result.seconds for _, result in log_one), 3),
        "tasks_parallel": len(log_many),
        "same_results": _fingerprint(outcomes_one) == _fingerprint(outcomes_many),
        "load_before": round(load, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the named benchmark and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m research.bench")
    parser.add_argument("which", choices=["engine", "walkforward_overhead", "parallel_speedup"])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="run config of the engine bench")
    parser.add_argument("--repeats", type=int, default=3, help="runs per side of the engine bench")
    parser.add_argument("--validation", default=DEFAULT_VALIDATION, help="validation config (walk-forward)")
    parser.add_argument("--folds", type=int, help="keep only the data of this many folds")
    parser.add_argument("--train-days", type=float, help="training window length")
    parser.add_argument("--test-days", type=float, help="test window length (and step)")
    parser.add_argument(
        "--grid", type=json.loads, help="searched grid as JSON, e.g. '{\"fast_period\": [10]}'"
    )
    parser.add_argument("--workers", type=int, default=2, help="pool size of parallel_speedup")
    parser.add_argument("--catalog", help="catalog to read (default: the run config's)")
    args = parser.parse_args(argv)
    if args.which == "engine":
        print(json.dumps(bench_engine(args.config, args.repeats)))
        return 0
    shrink = Workload(args.folds, args.train_days, args.test_days, args.grid)
    if args.which == "walkforward_overhead":
        print(json.dumps(bench_walkforward_overhead(args.validation, shrink, args.catalog)))
    else:
        print(json.dumps(bench_parallel_speedup(args.validation, shrink, args.catalog, args.workers)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
