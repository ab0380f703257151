"""Each strategy config owns its rules: unknown fields and impossible values fail when it is built."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from catalog.tomlconfig import FieldError
from strategies.ema_cross import EMACrossConfig
from strategies.long_premium import LongPremiumConfig
from strategies.mean_reversion import MeanReversionConfig

BTC = {"instrument_id": "BTCUSDT-LINEAR.BYBIT", "bar_type": "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"}
AAPL = {"instrument_id": "AAPL.SMART", "bar_type": "AAPL.SMART-1-DAY-LAST-EXTERNAL"}


def _parse(cls: type, values: dict[str, Any]) -> Any:
    return cls.parse(msgspec.json.encode(values))


def _problem(cls: type, values: dict[str, Any]) -> FieldError:
    with pytest.raises(msgspec.ValidationError) as info:
        _parse(cls, values)
    cause = info.value.__cause__
    assert isinstance(cause, FieldError), info.value
    return cause


@pytest.mark.parametrize(
    ("cls", "base", "edit", "field", "problem"),
    [
        (EMACrossConfig, BTC, {"fast_period": 0}, "fast_period", "must be >= 1"),
        (
            EMACrossConfig,
            BTC,
            {"fast_period": 30, "slow_period": 30},
            "fast_period",
            "must be below slow_period",
        ),
        (EMACrossConfig, BTC, {"sl_atr": -2.0}, "sl_atr", "> 0"),
        (EMACrossConfig, BTC, {"tp_atr": 0.0}, "tp_atr", "> 0"),
        (EMACrossConfig, BTC, {"strong_spread_atr": -0.1}, "strong_spread_atr", ">= 0"),
        (EMACrossConfig, BTC, {"time_stop_bars": -1}, "time_stop_bars", ">= 0"),
        (EMACrossConfig, BTC, {"trailing_activation_r": 1.0}, "trailing_distance_r", "or neither"),
        (EMACrossConfig, BTC, {"allowed_regimes": ["TRENDING"]}, "allowed_regimes", "unknown ['TRENDING']"),
        (
            EMACrossConfig,
            BTC,
            {"bar_type": "ETHUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"},
            "bar_type",
            "must be bars of instrument_id",
        ),
        (MeanReversionConfig, BTC, {"bb_period": 1}, "bb_period", ">= 2"),
        (MeanReversionConfig, BTC, {"bb_k": 0.0}, "bb_k", "> 0"),
        (MeanReversionConfig, BTC, {"rsi_oversold": 70.0, "rsi_overbought": 30.0}, "rsi_oversold", "below"),
        (MeanReversionConfig, BTC, {"rsi_overbought": 120.0}, "rsi_overbought", "0-100"),
        (MeanReversionConfig, BTC, {"min_target_atr": -1.0}, "min_target_atr", ">= 0"),
        (LongPremiumConfig, AAPL, {"fast_period": 40}, "fast_period", "below slow_period"),
        (LongPremiumConfig, AAPL, {"delta_max": 1.5}, "delta_max", "(0, 1]"),
        (LongPremiumConfig, AAPL, {"target_delta": 0.9}, "target_delta", "[delta_min, delta_max]"),
        (LongPremiumConfig, AAPL, {"dte_max": 5}, "dte_max", ">= dte_min"),
        (LongPremiumConfig, AAPL, {"stop_loss_pct": 1.0}, "stop_loss_pct", "(0, 1)"),
        (LongPremiumConfig, AAPL, {"time_stop_dte_divisor": 0.5}, "time_stop_dte_divisor", ">= 1"),
        (LongPremiumConfig, AAPL, {"flatten_dates": ["June 5"]}, "flatten_dates[0]", "ISO date"),
    ],
)
def test_out_of_range_values_name_the_field(cls, base, edit, field, problem) -> None:
    error = _problem(cls, {**base, **edit})
    assert error.field == field
    assert problem in error.problem


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field `fast_perod`"):
        _parse(EMACrossConfig, {**BTC, "fast_perod": 20})


def test_rules_hold_for_direct_construction_too() -> None:
    config = _parse(EMACrossConfig, BTC)
    with pytest.raises(FieldError, match=r"sl_atr = -1\.0"):
        msgspec.structs.replace(config, sl_atr=-1.0)


def test_defaults_are_valid() -> None:
    for cls, base in ((EMACrossConfig, BTC), (MeanReversionConfig, BTC), (LongPremiumConfig, AAPL)):
        assert _parse(cls, base).validate()


def test_a_missing_sessions_file_is_a_config_error() -> None:
    error = _problem(EMACrossConfig, {**BTC, "sessions_config": "configs/no_sessions.toml"})
    assert error.field == "sessions_config"
    assert "configs/no_sessions.toml: config file not found" in error.problem
