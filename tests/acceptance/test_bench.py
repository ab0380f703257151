"""The engine benchmark compares like with like: both sides produce the same fills on the same bars."""

from __future__ import annotations

from pathlib import Path

from research.bench import bench_engine

REPO = Path(__file__).resolve().parents[2]


def test_engine_bench_runs_both_sides_on_the_same_work(sample_catalog, tmp_path):
    source = (REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml").read_text()
    config = tmp_path / "bench.toml"
    config.write_text(source.replace('catalog = "var/catalog"', f'catalog = "{sample_catalog}"'))
    figures = bench_engine(str(config), repeats=1)
    assert figures["bars"] == 43_200
    assert figures["ours_fills"] == figures["baseline_fills"] > 0
    assert figures["ratio"] > 0 and figures["ours_bars_per_s"] > 0 and figures["baseline_bars_per_s"] > 0
