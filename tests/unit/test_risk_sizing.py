"""The seeds' worked sizing numbers and the ladder / throttle / clamp arithmetic."""

from __future__ import annotations

import pytest

from engine.risk.config import LadderRung
from engine.risk.sizing import (
    Clamp,
    apply_clamps,
    base_cap_usd,
    floor_to_step,
    ladder_multiplier,
    notional_cap_usd,
    percent_cap_usd,
    throttled_risk_fraction,
)

RUNGS = [LadderRung(profit_usd=200, multiplier=1.2), LadderRung(profit_usd=500, multiplier=1.5),
         LadderRung(profit_usd=1000, multiplier=2.0)]  # fmt: skip


def test_seed_000_forex_example_base_cap_at_7000():
    # B=7,000, r=0.5%, m=1.5 -> $52.5, below T=1,000 so BaseCap applies
    assert base_cap_usd(7_000, 0.005, 1.5) == pytest.approx(52.5)
    assert notional_cap_usd(7_000, 0.005, 0.0035, 1.5, 1_000) == (pytest.approx(52.5), "base_cap")


def test_seed_000_forex_example_at_50000():
    # B=50,000 -> BaseCap $375 (still < 1,000); PercentCap = max(1,000, 262.5) = 1,000
    assert base_cap_usd(50_000, 0.005, 1.5) == pytest.approx(375.0)
    assert percent_cap_usd(50_000, 0.0035, 1.5, 1_000) == pytest.approx(1_000.0)
    assert notional_cap_usd(50_000, 0.005, 0.0035, 1.5, 1_000) == (pytest.approx(375.0), "base_cap")


def test_seed_000_percent_cap_takes_over_above_threshold():
    # at B=150,000 BaseCap is 1,125 > T, so PercentCap = max(1,000, 787.5) = 1,000
    assert notional_cap_usd(150_000, 0.005, 0.0035, 1.5, 1_000) == (pytest.approx(1_000.0), "percent_cap")
    # and grows once B x q x m passes T
    assert notional_cap_usd(400_000, 0.005, 0.0035, 1.5, 1_000) == (pytest.approx(2_100.0), "percent_cap")


@pytest.mark.parametrize(
    ("pnl", "expected"),
    [
        (-50.0, 1.0),
        (0.0, 1.0),
        (199.99, 1.0),
        (200.0, 1.2),
        (499.0, 1.2),
        (500.0, 1.5),
        (1_000.0, 2.0),
        (9e9, 2.0),
    ],
)
def test_equity_ladder_on_seven_day_pnl(pnl, expected):
    assert ladder_multiplier(pnl, RUNGS, 0.5, 5.0) == pytest.approx(expected)


def test_ladder_is_clamped_and_negative_rungs_cut_risk():
    rungs = [LadderRung(profit_usd=-500, multiplier=0.25), LadderRung(profit_usd=-200, multiplier=0.8),
             LadderRung(profit_usd=200, multiplier=9.0)]  # fmt: skip
    assert ladder_multiplier(-250, rungs, 0.5, 5.0) == pytest.approx(0.8)
    assert ladder_multiplier(-600, rungs, 0.5, 5.0) == pytest.approx(0.5)  # 0.25 clamped up
    assert ladder_multiplier(300, rungs, 0.5, 5.0) == pytest.approx(5.0)  # 9.0 clamped down


@pytest.mark.parametrize(
    ("drawdown", "expected"),
    [(0.0, 0.0075), (0.049, 0.0075), (0.05, 0.005), (0.10, 0.0025), (0.30, 0.0025)],
)
def test_drawdown_throttle_quarter_point_per_five_percent_with_floor(drawdown, expected):
    value = throttled_risk_fraction(
        0.0075,
        drawdown,
        step_drawdown=0.05,
        risk_reduction=0.0025,
        floor=0.0025,
        band_min=0.0025,
        band_max=0.0075,
    )
    assert value == pytest.approx(expected)


def test_throttle_result_stays_inside_the_asset_band():
    # forex band 0.1%..0.4%: the 0.25% floor sits inside it; a base above the band is cut to its top
    kwargs = {
        "step_drawdown": 0.05,
        "risk_reduction": 0.0025,
        "floor": 0.0025,
        "band_min": 0.001,
        "band_max": 0.004,
    }
    assert throttled_risk_fraction(0.01, 0.0, **kwargs) == pytest.approx(0.004)
    assert throttled_risk_fraction(0.004, 0.2, **kwargs) == pytest.approx(0.0025)


def test_clamps_name_the_rule_that_bound_and_never_go_negative():
    assert apply_clamps(5_000.0, "risk", [Clamp("pair_cap", 1_000.0), Clamp("leverage_cap", 3_000.0)]) == (
        1_000.0,
        "pair_cap",
    )
    assert apply_clamps(500.0, "risk", [Clamp("pair_cap", 1_000.0)]) == (500.0, "risk")
    assert apply_clamps(500.0, "risk", [Clamp("ledger_budget", -20.0)]) == (0.0, "ledger_budget")


@pytest.mark.parametrize(
    ("quantity", "step", "expected"),
    [(0.12345, 0.001, 0.123), (0.0009999, 0.001, 0.0), (3.0, 0.5, 3.0), (0.3, 0.1, 0.3)],
)
def test_floor_to_step_never_rounds_up(quantity, step, expected):
    assert floor_to_step(quantity, step) == pytest.approx(expected)
    assert floor_to_step(quantity, step) <= quantity + 1e-12
