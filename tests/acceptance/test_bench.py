"""The benchmarks compare like with like: both sides do the same work (same fills, trades, results)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from research.bench import bench_engine, main

REPO = Path(__file__).resolve().parents[2]


def test_engine_bench_runs_both_sides_on_the_same_work(sample_catalog, tmp_path):
    source = (REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml").read_text()
    config = tmp_path / "bench.toml"
    config.write_text(source.replace('catalog = "var/catalog"', f'catalog = "{sample_catalog}"'))
    figures = bench_engine(str(config), repeats=1)
    assert figures["bars"] == 43_200
    assert figures["ours_fills"] == figures["baseline_fills"] > 0
    assert figures["ratio"] > 0 and figures["ours_bars_per_s"] > 0 and figures["baseline_bars_per_s"] > 0


TINY = [
    "--validation",
    str(REPO / "configs" / "validation" / "ema_cross_btcusdt_1m.toml"),
    "--train-days",
    "2",
    "--test-days",
    "1",
    "--grid",
    '{"fast_period": [10, 20], "slow_period": [60]}',
]


def _bench_line(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_walkforward_overhead_baseline_reruns_every_backtest(sample_catalog, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    figures = _bench_line(
        capsys, ["walkforward_overhead", *TINY, "--folds", "1", "--catalog", str(sample_catalog)]
    )
    assert set(figures) == {
        "bench",
        "validation",
        "folds",
        "grid_points",
        "tasks",
        "baseline_tasks",
        "bars",
        "baseline_bars",
        "walkforward_seconds",
        "baseline_seconds",
        "baseline_load_seconds",
        "baseline_run_seconds",
        "ratio",
        "ratio_run_only",
        "walkforward_trades",
        "baseline_trades",
        "same_trades",
        "load_before",
    }
    assert figures["bench"] == "walkforward_overhead"
    assert (figures["folds"], figures["grid_points"]) == (1, 2)
    assert figures["tasks"] == figures["baseline_tasks"] == 3  # two training backtests and one test
    assert figures["bars"] == figures["baseline_bars"] > 0  # the same windows, warm-up included
    assert figures["walkforward_trades"] == figures["baseline_trades"] > 0
    assert figures["same_trades"] is True
    assert figures["baseline_seconds"] == pytest.approx(
        figures["baseline_load_seconds"] + figures["baseline_run_seconds"], abs=0.002
    )
    assert figures["ratio"] > 0 and figures["ratio_run_only"] > 0


def test_parallel_speedup_runs_the_same_walk_forward_on_both_sides(sample_catalog, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    figures = _bench_line(
        capsys, ["parallel_speedup", *TINY, "--folds", "2", "--catalog", str(sample_catalog)]
    )
    assert set(figures) == {
        "bench",
        "validation",
        "folds",
        "grid_points",
        "tasks",
        "workers",
        "cpus",
        "seconds_1",
        "seconds_2",
        "speedup",
        "task_seconds",
        "tasks_parallel",
        "same_results",
        "load_before",
    }
    assert figures["bench"] == "parallel_speedup" and figures["workers"] == 2
    assert figures["folds"] == 2 and figures["tasks"] == figures["tasks_parallel"] == 2 * 2 + 2
    assert figures["same_results"] is True
    assert figures["speedup"] > 0 and figures["seconds_1"] > 0 and figures["seconds_2"] > 0
