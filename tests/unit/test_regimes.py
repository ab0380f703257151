"""Regimes: hand-made series with a known regime, warm-up, the router, and vectorised == incremental."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from strategies.features.config import RegimeParams, SessionsConfig
from strategies.features.regimes import (
    Regime,
    RegimeClassifier,
    classify_regimes,
    regime_features,
    regime_label,
    regime_names,
    warmup_bars,
)
from strategies.features.router import REGIME_NOT_ALLOWED, EntryRouter

REPO = Path(__file__).resolve().parents[2]
SMALL = RegimeParams(adx_period=5, ema_period=10, bb_period=10, atr_period=5, percentile_window=40)
Series = tuple[np.ndarray, np.ndarray, np.ndarray]


def zigzag(n: int, amplitude: float, centre: float = 100.0) -> Series:
    """Closes alternating around ``centre``: no direction, width set by ``amplitude``."""
    close = centre + amplitude * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    return close + amplitude * 0.5, close - amplitude * 0.5, close


def trend(n: int, step: float, start: float = 100.0) -> Series:
    """Closes compounding by ``step`` per bar, with bars 0.1% either side of the close."""
    close = start * (1.0 + step) ** np.arange(1, n + 1)
    return close * 1.001, close * 0.999, close


def joined(*parts: Series) -> Series:
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))  # type: ignore[return-value]


def incremental(series: Series, params: RegimeParams) -> np.ndarray:
    classifier = RegimeClassifier(params)
    high, low, close = (x.tolist() for x in series)
    return np.array([classifier.update(h, lo, c) for h, lo, c in zip(high, low, close, strict=True)])


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (joined(zigzag(60, 0.3), trend(40, 0.002)), "TREND_UP"),
        (joined(zigzag(60, 0.3), trend(40, -0.002)), "TREND_DOWN"),
        (joined(zigzag(60, 1.0), zigzag(40, 0.02)), "RANGE"),
    ],
    ids=["trend_up", "trend_down", "range"],
)
def test_hand_made_series_end_in_their_regime(series, expected):
    flags = classify_regimes(*series, SMALL)
    assert regime_names(int(flags[-1])) - {"HIGH_VOL"} == {expected}
    assert all(regime_label(int(f)).endswith(expected) for f in flags[-5:])
    assert incremental(series, SMALL).tolist() == flags.tolist()


def test_a_volatility_burst_is_high_vol_and_quiet_bars_are_not():
    series = joined(zigzag(80, 0.05), zigzag(3, 2.0))
    flags = classify_regimes(*series, SMALL)
    assert all(int(f) & Regime.HIGH_VOL for f in flags[-3:])
    assert not any(int(f) & Regime.HIGH_VOL for f in flags[warmup_bars(SMALL) : 80])
    # HIGH_VOL sits on top of a primary label: here the burst's swings also read as a trend
    assert any(len(regime_names(int(f))) == 2 for f in flags[-3:])
    assert incremental(series, SMALL).tolist() == flags.tolist()


def test_warm_up_bars_are_unknown_only():
    series = trend(120, 0.002)
    flags = classify_regimes(*series, SMALL)
    start = warmup_bars(SMALL)
    assert set(flags[:start].tolist()) == {int(Regime.UNKNOWN)}
    assert int(flags[start]) != int(Regime.UNKNOWN)
    features = regime_features(*series, SMALL)
    assert all(np.isfinite(features[name][start]) for name in features)
    short = classify_regimes(*(x[:10] for x in series), SMALL)
    assert set(short.tolist()) == {int(Regime.UNKNOWN)}


def test_thresholds_are_parameters():
    series = joined(zigzag(60, 0.3), trend(40, 0.002))
    steep_only = RegimeParams(**{**_fields(SMALL), "trend_slope_min": 0.01, "range_slope_max": 0.005})
    assert regime_names(int(classify_regimes(*series, steep_only)[-1])) - {"HIGH_VOL"} == {"UNKNOWN"}


def _fields(params: RegimeParams) -> dict[str, object]:
    return {name: getattr(params, name) for name in params.__struct_fields__}


@pytest.mark.parametrize("file", ["BTCUSDT_5m.parquet", "ETHUSDT_5m.parquet"])
def test_vectorised_equals_incremental_on_real_sample_bars(file):
    bars = pl.read_parquet(REPO / "data" / "sample" / "bybit" / file)
    series = tuple(bars[column].to_numpy().astype(np.float64) for column in ("high", "low", "close"))
    params = RegimeParams()
    flags = classify_regimes(*series, params)
    assert flags.tolist() == incremental(series, params).tolist()  # type: ignore[arg-type]
    seen = {name for f in set(flags.tolist()) for name in regime_names(f)}
    assert seen == {"TREND_UP", "TREND_DOWN", "RANGE", "HIGH_VOL", "UNKNOWN"}


def test_router_regime_lists():
    series = joined(zigzag(60, 0.3), trend(40, 0.002))
    config = SessionsConfig(regimes=SMALL)
    trend_only = EntryRouter(config, allowed_regimes=["TREND_UP", "TREND_DOWN"])
    no_range = EntryRouter(config, disallowed_regimes=["RANGE", "UNKNOWN"])
    for router in (trend_only, no_range):
        assert router.tracks_regimes
        assert router.refusal(0) == REGIME_NOT_ALLOWED  # nothing fed yet: UNKNOWN
        for h, lo, c in zip(*(x.tolist() for x in series), strict=True):
            router.update(h, lo, c)
        assert "TREND_UP" in router.regime()
        assert router.refusal(0) == ""
    down = EntryRouter(config, allowed_regimes=["TREND_DOWN"])
    for h, lo, c in zip(*(x.tolist() for x in series), strict=True):
        down.update(h, lo, c)
    assert down.refusal(0) == REGIME_NOT_ALLOWED
    with pytest.raises(ValueError, match="disallowed_regimes"):
        EntryRouter(config, disallowed_regimes=["CHOP"])
