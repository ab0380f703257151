"""The validation manager says no without an edge and yes to a planted one, naming where it lives.

Both checks run the whole ``research.validate.validate`` (walk-forward parameter search, out-of-sample
backtests through the real engine, stress suite, gates from the shipped ``configs/gates.toml``) on
seeded synthetic 5-minute ETHUSDT perpetual bars written to a temporary catalog, with the real
instrument (its tick, lot and Bybit fees) from the sample catalog.

- No edge: i.i.d. log returns with the sample's 5-minute volatility. Whatever the parameter search
  picks on the training windows, nothing may be promoted, over several seeds and both example
  strategy families, and the refusal must come from the edge gates, not only from the trade count.
- Planted edge: calm stretches mean-revert (an Ornstein-Uhlenbeck deviation around a wandering level),
  short volatile trends interrupt them. The band-fading example strategy passes every gate, and its
  allowlist admits the range and refuses the volatile trends where the edge is negative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nautilus_trader.model.data import BarType

from research.validate import validate
from research.validation.config import (
    ExecutorSection,
    SearchSection,
    StressSection,
    ValidationConfig,
    WindowsSection,
)
from tests.scenarios import synthetic

REPO = Path(__file__).resolve().parents[2]
INSTRUMENT = "ETHUSDT-LINEAR.BYBIT"
BAR_TYPE = BarType.from_str("ETHUSDT-LINEAR.BYBIT-5-MINUTE-LAST-EXTERNAL")
BAR_NS = 300_000_000_000
BARS_PER_DAY = 288
ETH_5M_SIGMA = 0.0023  # std of the sample's 5-minute ETHUSDT log returns (data/sample/bybit)
MEAN_REVERSION = REPO / "configs" / "backtest" / "mean_reversion_ethusdt_5m.toml"
EDGE_GATES = {"expectancy", "profit_factor", "sharpe", "sortino", "calmar"}
NO_EDGE_SEEDS = (11, 12, 13)


def _ema_cross_5m(folder: Path) -> Path:
    """Return a run config of the EMA-cross example on the ETHUSDT 5-minute bars."""
    text = (REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml").read_text()
    text = text.replace("BTCUSDT", "ETHUSDT").replace("1-MINUTE", "5-MINUTE").replace("BTC1M", "ETH5M")
    # 5-minute bars: the regime classifier's default thresholds, not the 1-minute file's
    text = "\n".join(line for line in text.splitlines() if not line.startswith("sessions_config"))
    path = folder / "ema_cross_ethusdt_5m.toml"
    path.write_text(text)
    return path


def _catalog(folder: Path, sample_catalog: Path, log_path: np.ndarray) -> str:
    instrument = synthetic.sample_instrument(sample_catalog, INSTRUMENT)
    bars = synthetic.bars_from_path(log_path, 6, 2500.0, BAR_TYPE, instrument, BAR_NS)
    return str(synthetic.write_catalog(folder, instrument, bars))


def _config(
    backtest: Path, params: dict[str, list[Any]], *, days: float, perturbations: list[float]
) -> ValidationConfig:
    return ValidationConfig(
        strategy_id=f"{backtest.stem}-synthetic",
        backtest=str(backtest),
        asset_class="crypto_futures",
        gates=str(REPO / "configs" / "gates.toml"),
        seed=7,
        lookahead_check=False,
        windows=WindowsSection(train_days=days, test_days=days, purge_bars=24, warmup_bars=90),
        search=SearchSection(objective="sharpe", params=params),
        executor=ExecutorSection(kind="process", workers=1),
        stress=StressSection(monte_carlo_runs=500, fee_multipliers=[2.0], perturbations=perturbations),
    )


def _failed(report: dict[str, Any]) -> set[str]:
    return {g["name"] for g in report["gates"] if not g["passed"]}


@pytest.fixture(scope="module")
def ema_cross_5m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _ema_cross_5m(tmp_path_factory.mktemp("runconfig"))


@pytest.mark.parametrize("seed", NO_EDGE_SEEDS)
@pytest.mark.parametrize("family", ["mean_reversion", "ema_cross"])
def test_no_edge_no_promotion(family, seed, sample_catalog, ema_cross_5m, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)  # run configs name their desk files relative to the repository
    days = 60
    log_path = synthetic.random_walk(days * BARS_PER_DAY, ETH_5M_SIGMA, seed)
    catalog = _catalog(tmp_path / "catalog", sample_catalog, log_path)
    if family == "mean_reversion":
        backtest, params = MEAN_REVERSION, {"bb_k": [1.5, 2.0], "sl_atr": [1.5, 3.0]}
    else:
        backtest, params = ema_cross_5m, {"fast_period": [5, 10], "slow_period": [20, 40]}
    report = validate(_config(backtest, params, days=12.0, perturbations=[0.2]), catalog=catalog)

    assert report["verdict"] == "fail"
    assert len(report["folds"]) == 4
    # the search did pick something on every training window, and it did not carry out of sample
    assert all(fold["params"] for fold in report["folds"])
    assert _failed(report) & EDGE_GATES, f"only {_failed(report)} failed: the edge gates let noise through"
    assert report["aggregate"]["expectancy"] < 0  # after fees, noise loses


def test_planted_edge_passes_and_the_allowlist_names_its_regime(sample_catalog, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    days = 112
    log_path, segments = synthetic.planted_range_edge(
        days * BARS_PER_DAY,
        5,
        range_sigma=0.0014,
        trend_sigma=0.0025,
        range_bars=(800, 1600),
        trend_bars=(80, 160),
        half_life_bars=4.0,
        level_share=0.05,
    )
    assert sum(s.end - s.start for s in segments if s.kind == "trend") < 0.15 * days * BARS_PER_DAY
    catalog = _catalog(tmp_path / "catalog", sample_catalog, log_path)
    config = _config(MEAN_REVERSION, {"sl_atr": [1.5, 3.0, 5.0]}, days=14.0, perturbations=[0.1, 0.2])
    report = validate(config, catalog=catalog)

    failed = _failed(report)
    assert report["verdict"] == "pass", f"failed gates: {failed}"
    assert report["trades"] >= 500
    allowlist = report["allowlist"]
    assert "RANGE" in allowlist["allowed_regimes"], allowlist["notes"]
    assert not {"TREND_UP", "TREND_DOWN"} & set(allowlist["allowed_regimes"]), allowlist["notes"]
    assert {"TREND_UP", "TREND_DOWN", "HIGH_VOL"} <= set(allowlist["disallowed_regimes"]), allowlist["notes"]
