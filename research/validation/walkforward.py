"""Walk-forward validation: parameters fitted on each training window, judged out of sample.

Windows (López de Prado, Advances in Financial Machine Learning, ch. 7 and 12, applied to time
windows): test windows follow each other from ``train_days`` after the data's start; each has a
training window before it (rolling: the last ``train_days``; anchored: everything from the start)
that ends ``purge_bars`` signal bars before the test window, so no training trade's outcome overlaps
the test data, and from which the ``embargo_bars`` after every earlier test window are cut.

Every window is a real nautilus backtest through :func:`engine.backtest.assemble`: the run config's
strategy class, venue, fees, slippage, latency and risk desk, on the catalog's bars sliced in memory.
The bars of ``warmup_bars`` before a window feed the indicators; the strategy trades from the
window's first bar (``trade_from_ns``). On each training window every point of the parameter grid
is backtested and the best by the objective (ties: the first in grid order) is run on the test
window. Windows run in the calling process (one worker), on the calling process plus spawned pool
workers, longest window first (each process reads the catalog once), or on a private loopback Ray;
every task is deterministic, so results do not depend on the executor or the worker count.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.greeks_data import GreeksData

from engine import metrics as metrics_lib
from engine.ambiguity import tally
from engine.backtest import MarketData, assemble, collect_backtest, load_market_data
from engine.configs import RunConfig, load_run_config
from research.validation.config import ValidationConfig, ValidationConfigError

NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Fold:
    """One walk-forward fold: training and test windows as UNIX ns, ``[start, end)``."""

    index: int
    train_start: int
    train_end: int
    test_start: int
    test_end: int
    excluded: tuple[tuple[int, int], ...] = ()  # embargoed spans inside the training window


def make_folds(
    data_start: int,
    data_end: int,
    bar_ns: int,
    *,
    train_days: float,
    test_days: float,
    step_days: float | None = None,
    mode: str = "rolling",
    purge_bars: int = 0,
    embargo_bars: int = 0,
) -> list[Fold]:
    """Cut ``[data_start, data_end)`` into walk-forward folds.

    Parameters
    ----------
    data_start, data_end : int
        The data's first bar and the end of its last bar (UNIX ns).
    bar_ns : int
        The signal bar's length in ns (purge and embargo are counted in bars).
    train_days, test_days, step_days : float
        Window lengths; ``step_days`` (default ``test_days``) moves the test window.
    mode : {"rolling", "anchored"}
        Rolling training windows keep ``train_days``; anchored ones start at ``data_start``.
    purge_bars, embargo_bars : int
        Bars between a training window's end and its test window's start; bars after each earlier
        test window kept out of later training windows.
    """
    train_ns = round(train_days * NS_PER_DAY)
    test_ns = round(test_days * NS_PER_DAY)
    step_ns = round((step_days or test_days) * NS_PER_DAY)
    purge_ns, embargo_ns = purge_bars * bar_ns, embargo_bars * bar_ns
    folds: list[Fold] = []
    test_start = data_start + train_ns
    while test_start + test_ns <= data_end:
        train_start = data_start if mode == "anchored" else test_start - train_ns
        train_end = test_start - purge_ns
        excluded = tuple(
            (max(train_start, f.test_end), min(train_end, f.test_end + embargo_ns))
            for f in folds
            if embargo_ns and f.test_end < train_end and f.test_end + embargo_ns > train_start
        )
        if train_end > train_start:
            folds.append(Fold(len(folds), train_start, train_end, test_start, test_start + test_ns, excluded))
        test_start += step_ns
    return folds


@dataclass
class WindowResult:
    """What one window's backtest produced: metrics, closed trades and the daily returns."""

    metrics: dict[str, Any]
    trades: list[dict[str, Any]]
    days: list[int]
    returns: list[float]
    equity: list[tuple[int, float]]
    bars: int
    seconds: float


@dataclass(frozen=True)
class WindowTask:
    """One backtest to run: a run config, a window, the parameters and the shocks to apply."""

    backtest: str
    start: int
    end: int
    warmup_bars: int
    params: tuple[tuple[str, Any], ...]
    seed: int
    fee_multiplier: float = 1.0
    latency_ms: float = 0.0
    slippage: bool = False
    excluded: tuple[tuple[int, int], ...] = ()
    catalog: str | None = None
    tag: str = ""


def with_catalog(config: RunConfig, catalog: str | None) -> RunConfig:
    """Return the run config reading from ``catalog`` (unchanged when None)."""
    if catalog is None:
        return config
    return msgspec.structs.replace(config, data=msgspec.structs.replace(config.data, catalog=catalog))


@functools.lru_cache(maxsize=4)
def market_data(backtest: str, catalog: str | None) -> tuple[RunConfig, MarketData, int]:
    """Return a run config, its market data and its signal bar length (read once per process)."""
    config = with_catalog(load_run_config(backtest), catalog)
    return config, load_market_data(config), signal_bar_ns(config)


def signal_bar_ns(config: RunConfig) -> int:
    """Return the length in ns of the run config's signal bar (its first bar type)."""
    signal = BarType.from_str(config.data.bar_types[0])
    return int(signal.spec.timedelta.total_seconds() * 1_000_000_000)


def _shocked(config: RunConfig, task: WindowTask) -> RunConfig:
    venues = []
    for venue in config.venues:
        latency = venue.latency
        if task.latency_ms:
            latency = msgspec.structs.replace(latency, base_ms=latency.base_ms + task.latency_ms)
        fill = venue.fill_model
        if task.slippage:
            fill = msgspec.structs.replace(fill, prob_slippage=1.0)
        fees = venue.fees
        if task.fee_multiplier != 1.0 and fees.model == "fixed" and fees.fixed_commission:
            amount, currency = fees.fixed_commission.split()
            fees = msgspec.structs.replace(
                fees, fixed_commission=f"{float(amount) * task.fee_multiplier:.8f} {currency}"
            )
        venues.append(msgspec.structs.replace(venue, latency=latency, fill_model=fill, fees=fees))
    return for_window(msgspec.structs.replace(config, venues=venues), task)


def for_window(config: RunConfig, task: WindowTask) -> RunConfig:
    """Return ``config`` running ``task``'s parameters and seed, trading from the window's start, quiet."""
    strategies = [
        msgspec.structs.replace(s, config={**s.config, **dict(task.params), "trade_from_ns": task.start})
        for s in config.strategies
    ]
    run = msgspec.structs.replace(config.run, seed=task.seed, log_level="OFF")
    report = msgspec.structs.replace(config.report, tearsheet=False)
    return msgspec.structs.replace(config, strategies=strategies, run=run, report=report)


def _scaled_fees(instrument: Any, multiplier: float) -> Any:
    """Return ``instrument`` with maker and taker fees scaled (the venue's maker/taker fee model)."""
    if multiplier == 1.0 or not hasattr(instrument, "taker_fee"):
        return instrument
    kind = type(instrument)
    raw = kind.to_dict(instrument)
    for key in ("maker_fee", "taker_fee"):
        raw[key] = str(float(raw[key]) * multiplier)
    return kind.from_dict(raw)


def run_window(task: WindowTask) -> WindowResult:
    """Backtest one window; trades open only inside ``[task.start, task.end)`` and outside exclusions.

    The window is collected with the engine's one set of result rules (:func:`engine.results.collect`),
    from the window's first bar on (the warm-up bars before it only feed the indicators).
    """
    started = time.perf_counter()
    base, data, bar_ns = market_data(task.backtest, task.catalog)
    config = _shocked(base, task)
    first = task.start - task.warmup_bars * bar_ns
    bars = [b for b in data.bars if first <= b.ts_event < task.end and not _excluded(b, task.excluded)]
    instruments = [_scaled_fees(i, task.fee_multiplier) for i in data.instruments]
    options = data.options
    if options is not None:  # option bars and chain snapshots are cut to the window like the bars
        options = replace(
            options,
            bars=[
                b for b in options.bars if first <= b.ts_event < task.end and not _excluded(b, task.excluded)
            ],
            greeks=[
                g
                for g in options.greeks
                if first <= g.ts_event < task.end and not _excluded(g, task.excluded)
            ],
        )
    window = MarketData(instruments, bars, funding=data.funding, options=options)
    assembled = assemble(config, window)
    assembled.engine.run()
    result = collect_backtest(assembled, since_ns=task.start)
    assembled.engine.dispose()
    return WindowResult(
        metrics=result.metrics,
        trades=[trade.as_dict() for trade in result.trades],
        days=[int(d) for d in result.days],
        returns=[float(r) for r in result.daily_returns],
        equity=[
            (int(ts), float(v))
            for ts, v in zip(result.equity["ts_ns"], result.equity["equity"], strict=True)
            if ts >= task.start
        ],
        bars=len(bars),
        seconds=time.perf_counter() - started,
    )


def _excluded(item: Bar | GreeksData, spans: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= item.ts_event < hi for lo, hi in spans)


# -- executors ------------------------------------------------------------------------------------


Runner = Callable[[Sequence[WindowTask]], list[WindowResult]]


def make_runner(kind: str, workers: int) -> tuple[Runner, Callable[[], None]]:
    """Return a function running window tasks in order of submission, and its shutdown."""
    if kind == "ray":
        # Ray on this machine only. Every Ray process (GCS, raylet, workers and the usage-stats head
        # that include_dashboard=False still starts) listens on 127.0.0.1: with
        # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 the node address is the loopback. That head's
        # cloud-metadata probe (169.254.169.254, metadata.google.internal) goes to a closed local port
        # through http_proxy, set for Ray's processes only. Token auth uses a random token held in
        # the environment, not one written to ~/.ray. Ray reads these RAY_* variables when first
        # imported and caches the token, so they are set before that import and kept for the
        # process. Workers start in the driver's working directory with its interpreter: they
        # import the repo's packages and read the same relative config paths.
        import logging
        import secrets
        import shutil
        import sys
        import tempfile

        saved = dict(os.environ)
        proxy_keys = ("http_proxy", "https_proxy", "no_proxy", "no_grpc_proxy")

        def restore(keys: Iterable[str]) -> None:
            for key in keys:
                if key in saved:
                    os.environ[key] = saved[key]
                else:
                    os.environ.pop(key, None)

        pre_imported = "ray" in sys.modules
        if not pre_imported:
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            os.environ.setdefault("RAY_AUTH_MODE", "token")
            os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
        try:
            import ray
        except ImportError as exc:
            restore(os.environ.keys() - saved.keys())
            raise ValidationConfigError(
                "executor.kind = 'ray' but Ray is not installed: `pip install -e .` installs the version "
                "pinned in pyproject.toml"
            ) from exc
        if ray.is_initialized():  # the caller's Ray (e.g. a cluster): used as it is, left running
            started: str | None = None
        else:
            if ray._private.ray_constants.ENABLE_RAY_CLUSTER:
                raise ValidationConfigError(
                    "executor.kind = 'ray': RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER was not 0 when ray was first "
                    "imported, so its processes would listen on every interface; set it to 0 before that"
                )
            started = tempfile.mkdtemp(prefix="ray-")
            os.environ.update(
                http_proxy="http://127.0.0.1:9",
                https_proxy="http://127.0.0.1:9",
                no_proxy="127.0.0.1,localhost,::1",
                no_grpc_proxy="127.0.0.1,localhost,::1",
            )
            try:
                ray.init(
                    address="local",
                    num_cpus=workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    _temp_dir=started,
                )
                addresses = {node["NodeManagerAddress"] for node in ray.nodes()}
                if addresses != {"127.0.0.1"}:
                    raise ValidationConfigError(f"executor.kind = 'ray': Ray bound to {sorted(addresses)}")
            except BaseException:
                ray.shutdown()
                shutil.rmtree(started, ignore_errors=True)
                raise
            finally:
                restore(proxy_keys)
        remote = ray.remote(num_cpus=1)(run_window)

        def run_ray(tasks: Sequence[WindowTask]) -> list[WindowResult]:
            return list(ray.get([remote.remote(task) for task in tasks]))  # ray.get keeps the order

        def shutdown_ray() -> None:
            if started is not None:
                ray.shutdown()
                shutil.rmtree(started, ignore_errors=True)

        return run_ray, shutdown_ray
    if workers == 1:
        return (lambda tasks: [run_window(task) for task in tasks]), (lambda: None)
    return _pool_runner(workers)


def _exit_fast() -> None:
    """Make this pool worker skip the interpreter's teardown when it exits (see ``_pool_runner``)."""
    atexit.register(os._exit, 0)


def _worker_ready() -> int:
    """Return the worker's pid: a no-op task whose unpickling imports this module and the engine."""
    return os.getpid()


def _task_cost(task: WindowTask) -> int:
    """Return a task's expected cost: its window's length less its excluded spans (ns)."""
    return task.end - task.start - sum(hi - lo for lo, hi in task.excluded)


def _pool_runner(workers: int) -> tuple[Runner, Callable[[], None]]:
    """Run tasks on the calling process and ``workers - 1`` spawned ones, longest window first.

    The spawned workers start at once (interpreter and imports) while the caller goes on, e.g.
    reading its data. Each batch is handed out in order of decreasing window length (ties keep the
    submission order): a feeder thread keeps one task queued per spawned worker, and the calling
    process, already warm, runs the next task itself until none is left. Results come back in
    submission order; every task is deterministic, so who ran it does not change them. A worker
    leaves through ``os._exit`` once its interpreter starts to exit: it holds nothing to flush
    (results went back over the pipe), and tearing down its cached bars took ~0.7 s that
    ``shutdown`` waited for.
    """
    spawned = workers - 1
    pool = ProcessPoolExecutor(max_workers=spawned, mp_context=get_context("spawn"), initializer=_exit_fast)
    for _ in range(spawned):
        pool.submit(_worker_ready)

    def run_pool(tasks: Sequence[WindowTask]) -> list[WindowResult]:
        order = deque(sorted(range(len(tasks)), key=lambda i: -_task_cost(tasks[i])))
        lock = threading.Lock()
        remote: list[tuple[int, Future[WindowResult]]] = []
        failure: list[BaseException] = []

        def take() -> int | None:
            with lock:
                return order.popleft() if order else None

        def feed() -> None:
            try:
                running: set[Future[WindowResult]] = set()
                while True:
                    while len(running) < spawned and (index := take()) is not None:
                        future = pool.submit(run_window, tasks[index])
                        remote.append((index, future))
                        running.add(future)
                    if not running:
                        return
                    _, running = wait(running, return_when=FIRST_COMPLETED)
            except BaseException as exc:  # e.g. a broken pool: raised once the caller has finished
                failure.append(exc)

        feeder = threading.Thread(target=feed, name="window-feeder", daemon=True)
        feeder.start()
        done: list[WindowResult | None] = [None] * len(tasks)
        try:
            while (index := take()) is not None:
                done[index] = run_window(tasks[index])
        finally:
            with lock:
                order.clear()
            feeder.join()
        for index, future in remote:
            done[index] = future.result()
        if failure and any(result is None for result in done):
            raise failure[0]
        return [result for result in done if result is not None]

    return run_pool, functools.partial(pool.shutdown, wait=True)


# -- the walk-forward ------------------------------------------------------------------------------


@dataclass
class FoldOutcome:
    """A fold's windows, the chosen parameters, and the train and test results."""

    fold: Fold
    params: dict[str, Any]
    train: dict[str, Any]
    test: WindowResult
    candidates: list[dict[str, Any]] = field(default_factory=list)


def parameter_grid(params: dict[str, list[Any]]) -> list[tuple[tuple[str, Any], ...]]:
    """Return every combination of the grid, in a fixed order (keys sorted, values as listed)."""
    keys = sorted(params)
    return [tuple(zip(keys, values, strict=True)) for values in itertools.product(*(params[k] for k in keys))]


def _score(metrics: dict[str, Any], objective: str) -> float:
    value = metrics.get(objective)
    return float(value) if value is not None and math.isfinite(float(value)) else -math.inf


def data_span(backtest: str, catalog: str | None = None) -> tuple[int, int, int]:
    """Return (first bar time, end of the last bar, bar length) of a run config's signal bars."""
    config, data, bar_ns = market_data(backtest, catalog)
    signal = BarType.from_str(config.data.bar_types[0])
    stamps = [b.ts_event for b in data.bars if b.bar_type == signal]
    if not stamps:
        raise ValidationConfigError(f"{backtest}: no bars of {signal} in the catalog")
    return min(stamps) - bar_ns, max(stamps), bar_ns


def walk_forward(
    config: ValidationConfig, run: Runner, *, catalog: str | None = None
) -> tuple[list[Fold], list[FoldOutcome]]:
    """Fit on every training window, test the chosen parameters out of sample; return the folds."""
    start, end, bar_ns = data_span(config.backtest, catalog)
    w = config.windows
    folds = make_folds(
        start,
        end,
        bar_ns,
        train_days=w.train_days,
        test_days=w.test_days,
        step_days=w.step_days,
        mode=w.mode,
        purge_bars=w.purge_bars,
        embargo_bars=w.embargo_bars,
    )
    if not folds:
        raise ValidationConfigError(
            f"windows: train {w.train_days} d + test {w.test_days} d do not fit in the data "
            f"({(end - start) / NS_PER_DAY:.1f} d)"
        )
    grid = parameter_grid(config.search.params)
    train_tasks = [
        WindowTask(
            config.backtest,
            f.train_start,
            f.train_end,
            w.warmup_bars,
            params,
            config.seed,
            excluded=f.excluded,
            catalog=catalog,
            tag=f"train-{f.index}",
        )
        for f in folds
        for params in grid
    ]
    train_results = run(train_tasks) if len(grid) > 1 else [None] * len(train_tasks)
    chosen: list[tuple[tuple[str, Any], ...]] = []
    candidates: list[list[dict[str, Any]]] = []
    for index, _ in enumerate(folds):
        block = train_results[index * len(grid) : (index + 1) * len(grid)]
        rows = [
            {"params": dict(p), "metrics": r.metrics if r is not None else {}}
            for p, r in zip(grid, block, strict=True)
        ]
        scores = [_score(row["metrics"], config.search.objective) for row in rows]
        best = int(np.argmax(scores)) if rows else 0
        chosen.append(grid[best])
        candidates.append(rows)
    test_tasks = [
        test_task(config, f, dict(params), catalog) for f, params in zip(folds, chosen, strict=True)
    ]
    tests = run(test_tasks)
    outcomes = [
        FoldOutcome(
            fold=f,
            params=dict(params),
            train=rows[grid.index(params)]["metrics"],
            test=result,
            candidates=rows,
        )
        for f, params, result, rows in zip(folds, chosen, tests, candidates, strict=True)
    ]
    return folds, outcomes


def test_task(
    config: ValidationConfig, fold: Fold, params: dict[str, Any], catalog: str | None = None, **shock: Any
) -> WindowTask:
    """Return the backtest of ``fold``'s test window with ``params`` (and shocks, e.g. ``latency_ms``)."""
    return WindowTask(
        config.backtest,
        fold.test_start,
        fold.test_end,
        config.windows.warmup_bars,
        tuple(sorted(params.items())),
        config.seed,
        catalog=catalog,
        tag=f"test-{fold.index}",
        **shock,
    )


def aggregate(windows: Iterable[WindowResult], periods_per_year: float) -> dict[str, Any]:
    """Return the metrics of several windows taken together (their trades and daily returns)."""
    windows = list(windows)
    trades = [t for w in windows for t in w.trades]
    returns = [r for w in windows for r in w.returns]
    fees = sum(t["fees"] for t in trades)
    return metrics_lib.compute_metrics(returns, [t["pnl"] for t in trades], fees, periods_per_year)


def fold_record(outcome: FoldOutcome) -> dict[str, Any]:
    """Return a fold as the report's JSON: windows (ISO and ns), parameters, train and test metrics."""
    fold = asdict(outcome.fold)
    spans = {key: value for key, value in fold.items() if key not in ("index", "excluded")}
    iso = {key: pd.Timestamp(value, unit="ns", tz="UTC").isoformat() for key, value in spans.items()}
    return {
        "index": outcome.fold.index,
        "windows": {**iso, "excluded": [list(span) for span in outcome.fold.excluded]},
        "windows_ns": spans,
        "params": outcome.params,
        "train": outcome.train,
        "test": outcome.test.metrics,
        # the fold's test trades whose exit bar touched both stop and target
        "both_levels_touched": tally(
            [t["both_levels_touched"] for t in outcome.test.trades], [t["pnl"] for t in outcome.test.trades]
        ).as_dict(),
        "test_bars": outcome.test.bars,
        "test_seconds": round(outcome.test.seconds, 3),
    }
