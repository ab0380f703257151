"""Measure the catalog replay against a BacktestEngine on the same bars and strategy, in one process.

Usage::

    python -m research.replay_bench [--config CONFIG] [--bars N] [--repeats R] [--profile FILE]
                                    [--stdlib-loop]

Both sides run ``research.bench:BaselineEMACross`` (market-entry brackets) with the run config's
venue (fill model seeded with ``run.seed``, fees, latency) on the config's bars from the catalog
(the first ``--bars`` of them if given): the backtest through a raw nautilus ``BacktestEngine``,
the replay through a ``TradingNode`` with ``adapters.replay`` (replay data client at
``speed="max"``, sandbox venue) via :func:`adapters.replay.runner.run_replay`. Each side runs
``repeats`` times, alternating, after a ``gc.collect()``; the best run of each is kept.

The line printed holds ``backtest_bars_per_s`` (``BacktestEngine.run`` alone),
``replay_bars_per_s`` (the replay client's streaming time alone, from its first datum to its last
settle; the node's build, start and stop are in ``replay_node_seconds``), ``ratio`` (replay /
backtest), ``fills_identical``, ``pacer_turns_per_datum``, ``event_loop`` (nautilus installs
uvloop outside pytest; ``--stdlib-loop`` measures asyncio's own loop, which the tests run on) and
``load_before``. ``--profile FILE`` also writes a cProfile of one more replay to FILE
(``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import math
import os
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
from nautilus_trader.backtest.config import (
    ImportableFeeModelConfig,
    ImportableFillModelConfig,
    ImportableLatencyModelConfig,
)
from nautilus_trader.config import ImportableStrategyConfig, LoggingConfig, TradingNodeConfig
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import TraderId

from adapters.replay.data import ReplayDataClientConfig
from adapters.replay.runner import (
    ReplayResult,
    replay_data_engine_config,
    replay_exec_engine_config,
    replay_risk_engine_config,
    run_replay,
)
from adapters.replay.sandbox import ReplaySandboxExecClientConfig
from engine.backtest import load_desk, load_market_data
from engine.configs import RunConfig, VenueSection, load_run_config
from research.bench import DEFAULT_CONFIG, _baseline_engine, baseline_params

NANOS_PER_MS = 1_000_000
Fill = tuple[str, str, str, str, str, int]


def sandbox_for(venue: VenueSection, seed: int) -> ReplaySandboxExecClientConfig:
    """Return the sandbox venue matching a run config's simulated venue (as the backtest builds it)."""
    fee_model = None
    if venue.fees.model == "fixed" and venue.fees.fixed_commission:
        fee_model = ImportableFeeModelConfig(
            fee_model_path="nautilus_trader.backtest.models:FixedFeeModel",
            config_path="nautilus_trader.backtest.config:FixedFeeModelConfig",
            config={"commission": venue.fees.fixed_commission},
        )
    latency = venue.latency
    latency_model = None
    if latency.base_ms or latency.insert_ms or latency.update_ms or latency.cancel_ms:
        latency_model = ImportableLatencyModelConfig(
            latency_model_path="nautilus_trader.backtest.models:LatencyModel",
            config_path="nautilus_trader.backtest.config:LatencyModelConfig",
            config={
                "base_latency_nanos": int(latency.base_ms * NANOS_PER_MS),
                "insert_latency_nanos": int(latency.insert_ms * NANOS_PER_MS),
                "update_latency_nanos": int(latency.update_ms * NANOS_PER_MS),
                "cancel_latency_nanos": int(latency.cancel_ms * NANOS_PER_MS),
            },
        )
    return ReplaySandboxExecClientConfig(
        venue=venue.name,
        oms_type=venue.oms_type,
        account_type=venue.account_type,
        base_currency=venue.base_currency,
        starting_balances=list(venue.starting_balances),
        default_leverage=Decimal(repr(venue.default_leverage)),
        bar_adaptive_high_low_ordering=venue.bar_adaptive_high_low_ordering,
        fill_model=ImportableFillModelConfig(
            fill_model_path="nautilus_trader.backtest.models:FillModel",
            config_path="nautilus_trader.backtest.config:FillModelConfig",
            config={
                "prob_fill_on_limit": venue.fill_model.prob_fill_on_limit,
                "prob_slippage": venue.fill_model.prob_slippage,
                "random_seed": seed,
            },
        ),
        fee_model=fee_model,
        latency_model=latency_model,
    )


def replay_node_config(config: RunConfig, params: dict[str, Any], start: str, end: str) -> TradingNodeConfig:
    """Return a bare replay node for the run config's bars, venues and the baseline strategy."""
    return TradingNodeConfig(
        trader_id=TraderId("REPLAY-001"),
        logging=LoggingConfig(log_level="ERROR"),
        data_engine=replay_data_engine_config(),
        exec_engine=replay_exec_engine_config(),
        risk_engine=replay_risk_engine_config(),
        data_clients={
            "REPLAY": ReplayDataClientConfig(
                catalog_path=config.data.catalog,
                instrument_ids=list(config.data.instruments),
                bar_types=list(config.data.bar_types),
                start=start,
                end=end,
            )
        },
        exec_clients={venue.name: sandbox_for(venue, config.run.seed) for venue in config.venues},
        strategies=[
            ImportableStrategyConfig(
                strategy_path="research.bench:BaselineEMACross",
                config_path="research.bench:BaselineEMACrossConfig",
                config={k: str(v) if k in ("instrument_id", "bar_type") else v for k, v in params.items()},
            )
        ],
        timeout_post_stop=0.05,
    )


def _fills(cache: Any) -> list[Fill]:
    found = [
        (str(e.order_side), str(e.order_type), str(e.last_qty), str(e.last_px), str(e.commission), e.ts_event)
        for order in cache.orders()
        for e in order.events
        if isinstance(e, OrderFilled)
    ]
    return sorted(found, key=lambda fill: fill[5])


def _replay(node_config: TradingNodeConfig) -> tuple[float, float, list[Fill], float]:
    """Run the replay once; return its streaming and node seconds, fills and pacer turns per datum."""
    gc.collect()
    began = time.perf_counter()
    result: ReplayResult[list[Fill]] = run_replay(node_config, collect=lambda node: _fills(node.cache))
    node_seconds = time.perf_counter() - began
    (progress,) = result.progress
    return (
        progress.stream_seconds,
        node_seconds,
        result.collected or [],
        result.pacer_turns / progress.streamed,
    )


def bench_replay(config_path: str, bars: int | None, repeats: int, profile: str | None) -> dict[str, Any]:
    """Run both sides ``repeats`` times, alternating; return the best figures of each."""
    load_before = os.getloadavg()[0]
    config = load_run_config(config_path)
    desk = load_desk(config)
    data = load_market_data(config)
    data.bars.sort(key=lambda bar: bar.ts_init)
    if bars is not None:
        data.bars = data.bars[:bars]
    start = pd.Timestamp(data.bars[0].ts_init, unit="ns", tz="UTC").isoformat()
    end = pd.Timestamp(data.bars[-1].ts_init, unit="ns", tz="UTC").isoformat()
    params = baseline_params(config, desk)
    node_config = replay_node_config(config, params, start, end)
    backtest_best = replay_best = node_best = math.inf
    backtest_fills: list[Fill] = []
    replay_fills: list[Fill] = []
    turns = 0.0
    for _ in range(repeats):
        engine = _baseline_engine(config, desk, data.instruments, data.bars)
        gc.collect()
        began = time.perf_counter()
        engine.run()
        backtest_best = min(backtest_best, time.perf_counter() - began)
        backtest_fills = _fills(engine.cache)
        engine.dispose()
        stream_seconds, node_seconds, replay_fills, turns = _replay(node_config)
        replay_best = min(replay_best, stream_seconds)
        node_best = min(node_best, node_seconds)
    if profile:
        profiler = cProfile.Profile()
        profiler.enable()
        _replay(node_config)
        profiler.disable()
        profiler.dump_stats(profile)
    count = len(data.bars)
    backtest_rate, replay_rate = count / backtest_best, count / replay_best
    return {
        "bench": "replay",
        "config": config_path,
        "bars": count,
        "backtest_bars_per_s": round(backtest_rate, 1),
        "replay_bars_per_s": round(replay_rate, 1),
        "ratio": round(replay_rate / backtest_rate, 3),
        "replay_node_seconds": round(node_best, 3),
        "fills": len(backtest_fills),
        "fills_identical": replay_fills == backtest_fills,
        "pacer_turns_per_datum": round(turns, 2),
        "repeats": repeats,
        "event_loop": type(asyncio.get_event_loop_policy()).__module__.split(".")[0],
        "load_before": round(load_before, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay benchmark and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m research.replay_bench")
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--bars", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", default=None)
    parser.add_argument(
        "--stdlib-loop", action="store_true", help="run on asyncio's own loop instead of uvloop"
    )
    args = parser.parse_args(argv)
    if args.stdlib_loop:
        # nautilus installs uvloop's policy when its kernel is imported (outside pytest).
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
    print(json.dumps(bench_replay(args.config, args.bars, args.repeats, args.profile)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
