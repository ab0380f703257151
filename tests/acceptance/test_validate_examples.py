"""research.validate on every shipped example config: complete, honest reports on reduced grids.

Each example's own ``configs/validation/<name>.toml`` runs on the bundled sample with one grid
point (no training search), two short test windows and a reduced stress suite, so the whole file
stays fast; the full configs run through ``python -m research.validate``. Also: the report labels
trades with the strategy's own router settings, and a strategy that never trades gets a complete
report that fails every gate needing trades.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
import pytest
from nautilus_trader.model.data import BarType

from catalog.options import ingest_options, load_options_config
from engine.configs import load_run_config
from research.validate import label_trades, router_settings, validate, write_report
from research.validation.config import ValidationConfig, ValidationConfigError, load_validation_config
from research.validation.gates import load_gates
from research.validation.walkforward import (
    NS_PER_DAY,
    Fold,
    FoldOutcome,
    WindowResult,
    data_span,
    market_data,
)
from strategies.features.config import SessionsConfig, load_sessions_config
from strategies.features.regimes import classify_regimes, regime_label

REPO = Path(__file__).resolve().parents[2]
VALIDATION = REPO / "configs" / "validation"
# example -> (asset class, test days of the reduced run, annualisation basis)
EXAMPLES = {
    "mean_reversion_ethusdt_5m": ("crypto_futures", 3.0, "crypto_futures"),
    "mean_reversion_ethusdt_spot_5m": ("crypto_spot", 3.0, "crypto_spot"),
    "ema_cross_eurusd_1h": ("forex", 45.0, "forex"),
    "perp_trend_btcusdt": ("crypto_futures", 2.0, "crypto_futures"),
}
CORE = ["oos_trades", "expectancy", "profit_factor", "sharpe", "sortino", "calmar", "max_drawdown", "cvar_5"]
NEED_TRADES = {"oos_trades", "expectancy", "profit_factor", "sharpe", "sortino", "calmar"}


@pytest.fixture(autouse=True)
def _in_repo() -> Iterator[None]:
    cwd = Path.cwd()
    os.chdir(REPO)  # run configs name their files relative to the repo root
    try:
        yield
    finally:
        os.chdir(cwd)


def _reduced(config: ValidationConfig, test_days: float, catalog: Path, folds: int = 2) -> ValidationConfig:
    """Return ``config`` with one grid point, ``folds`` test windows at the data's end, a small stress."""
    start, end, _ = data_span(config.backtest, str(catalog))
    span = (end - start) / NS_PER_DAY
    first = {name: values[:1] for name, values in sorted(config.search.params.items())[:1]}
    return msgspec.structs.replace(
        config,
        lookahead_check=False,
        search=msgspec.structs.replace(config.search, params=first),
        windows=msgspec.structs.replace(
            config.windows, train_days=span - folds * test_days - 0.5, test_days=test_days
        ),
        stress=msgspec.structs.replace(
            config.stress, fee_multipliers=[2.0], perturbations=[0.2], monte_carlo_runs=100
        ),
        executor=msgspec.structs.replace(config.executor, workers=1),
    )


def _check_complete(report: dict[str, Any], folder: Path, periods: int) -> dict[str, Any]:
    """Assert the report holds every section and writes all its files; return the saved JSON."""
    assert {
        "strategy_id", "folds", "aggregate", "stress", "gates", "verdict", "allowlist", "labels",
        "oos_daily_returns", "annualisation",
    } <= set(report)  # fmt: skip
    assert (
        report["aggregate"]["trades"] == report["trades"] == sum(f["test"]["trades"] for f in report["folds"])
    )
    touched = report["both_levels_touched"]  # exit bars that touched both stop and target
    assert touched["closed_trades"] == report["trades"]
    assert touched["count"] == sum(f["both_levels_touched"]["count"] for f in report["folds"])
    names = [g["name"] for g in report["gates"]]
    assert names[: len(CORE)] == CORE and "perturbation_pass_rate" in names
    assert report["verdict"] == ("pass" if all(g["passed"] for g in report["gates"]) else "fail")
    assert set(report["stress"]["slices"]) == {"session", "regime", "volatility"}
    paths = write_report(report, folder, periods)
    saved = json.loads(Path(paths["json"]).read_text())
    html = Path(paths["html"]).read_text()
    assert saved["verdict"] == report["verdict"] and "Trade bootstrap" in html
    assert "touched both their stop and their target" in html
    if report["oos_daily_returns"]["returns"]:
        assert Path(paths["tearsheet"]).is_file()
    return saved


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_validation_report_is_complete_and_honest(name, sample_catalog, tmp_path):
    asset, test_days, basis = EXAMPLES[name]
    shipped = load_validation_config(VALIDATION / f"{name}.toml")
    assert shipped.asset_class == asset and shipped.backtest == f"configs/backtest/{name}.toml"
    assert (
        len(shipped.search.params) >= 2 and shipped.windows.purge_bars > 0 and shipped.windows.warmup_bars > 0
    )
    report = validate(_reduced(shipped, test_days, sample_catalog), catalog=str(sample_catalog))
    saved = _check_complete(report, tmp_path / name, int(report["annualisation"]["periods_per_year"]))
    assert len(report["folds"]) == 2 and report["annualisation"]["basis"] == basis
    assert report["trades"] > 0 and report["verdict"] == "fail"  # none of the examples has an edge here
    # the asset class's own thresholds are applied (configs/gates.toml)
    limits = load_gates(shipped.gates).thresholds(asset)
    sharpe = next(g for g in report["gates"] if g["name"] == "sharpe")
    assert sharpe["threshold"] == limits.min_sharpe
    if asset == "forex":  # FX is closed on Saturdays: no return is counted for a day without bars
        days = pd.to_datetime(report["oos_daily_returns"]["days"], unit="ns", utc=True)
        assert len(days) > 0 and "Saturday" not in set(days.day_name())
    labels = saved["labels"]  # no sessions_config in these run configs: the router's defaults
    assert labels["sessions_config"] is None and labels["regimes"]["trend_slope_min"] == 0.0002


def test_a_strategy_that_never_trades_gets_a_complete_failing_report(sample_catalog, tmp_path):
    # EMAs of 500 and 1000 five-minute bars never warm up in one-day windows without warm-up bars
    config = _reduced(load_validation_config(VALIDATION / "perp_trend_btcusdt.toml"), 1.0, sample_catalog)
    config = msgspec.structs.replace(
        config,
        search=msgspec.structs.replace(config.search, params={"fast_period": [500], "slow_period": [1000]}),
        windows=msgspec.structs.replace(config.windows, warmup_bars=0),
    )
    report = validate(config, catalog=str(sample_catalog))
    saved = _check_complete(report, tmp_path / "never", 365)
    assert [f["test"]["trades"] for f in report["folds"]] == [0, 0] and report["trades"] == 0
    failed = {g["name"]: g for g in report["gates"] if not g["passed"]}
    assert set(failed) >= NEED_TRADES and report["verdict"] == "fail"
    # a resampled empty trade list proves nothing: its drawdown is undefined and its gates fail
    assert failed["monte_carlo_reorder_drawdown_p95"]["value"] is None
    assert failed["bootstrap_trades_drawdown_p95"]["value"] is None
    assert saved["stress"]["monte_carlo_reorder"]["trades"] == 0
    assert saved["allowlist"]["allowed_sessions"] == [] and saved["allowlist"]["allowed_regimes"] == []


def test_router_settings_are_the_strategy_sessions_config(tmp_path):
    one_minute = load_run_config("configs/backtest/ema_cross_btcusdt_1m.toml")
    settings, path = router_settings(one_minute)
    assert path == "configs/sessions_1m.toml" and settings == load_sessions_config(path)
    assert settings.sessions == SessionsConfig().sessions  # same sessions, 1-minute regime slopes
    assert settings.regimes.trend_slope_min < SessionsConfig().regimes.trend_slope_min
    assert router_settings(load_run_config("configs/backtest/perp_trend_btcusdt.toml")) == (
        SessionsConfig(),
        None,
    )
    two = msgspec.structs.replace(
        one_minute,
        strategies=[
            one_minute.strategies[0],
            msgspec.structs.replace(
                one_minute.strategies[0], config={**one_minute.strategies[0].config, "sessions_config": None}
            ),
        ],
    )
    with pytest.raises(ValidationConfigError, match="different files"):
        router_settings(two)


def test_trades_are_labelled_with_the_strategy_router_settings(sample_catalog):
    config = load_validation_config(VALIDATION / "ema_cross_btcusdt_1m.toml")
    run_config, data, _ = market_data(config.backtest, str(sample_catalog))
    signal = BarType.from_str(run_config.data.bar_types[0])
    bars = [b for b in data.bars if b.bar_type == signal]
    picks = list(range(1000, len(bars), 997))
    trades = [
        {"ts_opened": bars[i].ts_event, "pnl": 1.0, "fees": 0.1, "notional": 100.0, "instrument_id": "x"}
        for i in picks
    ]
    result = WindowResult({}, trades, [], [], [], len(bars), 0.0)
    outcome = FoldOutcome(Fold(0, 0, 1, 1, 2), {}, {}, result)
    settings, _ = router_settings(run_config)
    labelled = label_trades(config, [outcome], str(sample_catalog), settings)
    highs, lows, closes = (
        np.array([getattr(b, k).as_double() for b in bars]) for k in ("high", "low", "close")
    )
    expected = classify_regimes(highs, lows, closes, settings.regimes)
    assert [t["regime"] for t in labelled] == [regime_label(int(expected[i])) for i in picks]
    defaults = classify_regimes(highs, lows, closes)
    unknown = sum(t["regime"] == "UNKNOWN" for t in labelled)
    assert unknown < sum(regime_label(int(defaults[i])) == "UNKNOWN" for i in picks)


@pytest.mark.slow
def test_options_example_validation_fails_on_too_few_trades(sample_catalog, tmp_path):
    cwd_config = load_options_config("configs/catalog/options.toml")
    ingest_options(cwd_config.with_catalog_path(sample_catalog))
    shipped = load_validation_config(VALIDATION / "long_premium_aapl_2014.toml")
    assert shipped.asset_class == "options" and shipped.windows.purge_bars == 26
    report = validate(_reduced(shipped, 14.0, sample_catalog), catalog=str(sample_catalog))
    _check_complete(report, tmp_path / "options", 252)
    # 2014-05-30 .. 06-13 holds the one long-premium trade (06-10); 06-13 .. 06-27 none
    assert [f["test"]["trades"] for f in report["folds"]] == [1, 0] and report["verdict"] == "fail"
    assert not next(g for g in report["gates"] if g["name"] == "oos_trades")["passed"]
    base, _, slipped = report["stress"]["cost_shocks"]
    # slippage on the premium paid (price x 100 shares per contract), not on the quoted price alone
    assert base["total_pnl"] - slipped["total_pnl"] > 0.1
