"""Stress tests: seeded Monte Carlo, hand-computed drawdowns, cost shocks, slicing, perturbation rate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from research.validation.stress import (
    bootstrap_trades,
    cost_shock,
    cost_shock_scenarios,
    monte_carlo_reorder,
    perturbation_pass_rate,
    slice_labels,
    slice_trades,
    trade_path_drawdown,
    volatility_label,
)


def _pnls(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 20.0, size=n)


# -- Monte Carlo ----------------------------------------------------------------------------------


def test_trade_path_drawdown_matches_a_hand_computed_path():
    # equity 100 -> 110 -> 90 -> 95 -> 80: peak 110, trough 80, depth 30 / 110
    assert trade_path_drawdown([10.0, -20.0, 5.0, -15.0], 100.0) == pytest.approx(30.0 / 110.0)
    # a first-trade loss counts against the starting equity
    assert trade_path_drawdown([-25.0, 50.0], 100.0) == pytest.approx(0.25)
    assert trade_path_drawdown([5.0, 5.0], 100.0) == 0.0
    assert trade_path_drawdown([], 100.0) == 0.0
    assert trade_path_drawdown([-150.0, 10.0], 100.0) == 1.0  # ruin is capped at 100 %


@pytest.mark.parametrize("simulate", [monte_carlo_reorder, bootstrap_trades])
def test_same_seed_same_output_different_seed_different(simulate):
    pnls = _pnls()
    first = simulate(pnls, 1_000.0, 400, 7)
    assert simulate(pnls, 1_000.0, 400, 7) == first
    assert simulate(pnls, 1_000.0, 400, 8)["max_drawdown"] != first["max_drawdown"]
    json.dumps(first, allow_nan=False)


def test_reorder_keeps_final_equity_but_spreads_the_drawdown():
    pnls = _pnls()
    result = monte_carlo_reorder(pnls, 1_000.0, 500, 3)
    final = 1_000.0 + pnls.sum()
    assert result["final_equity"] == pytest.approx({"p5": final, "p50": final, "p95": final})
    dd = result["max_drawdown"]
    assert dd["p5"] < dd["p50"] < dd["p95"]
    # the observed order is one of the orders: its drawdown lies inside the simulated range
    assert 0.0 < dd["p5"] <= dd["p95"] < 1.0


def test_reorder_percentiles_of_a_two_trade_list_are_hand_computable():
    # (+10, -10): peak 110, trough 100 -> 10/110; (-10, +10): peak 100, trough 90 -> 0.10
    result = monte_carlo_reorder([10.0, -10.0], 100.0, 400, 11)
    assert result["max_drawdown"]["p5"] == pytest.approx(10.0 / 110.0)
    assert result["max_drawdown"]["p95"] == pytest.approx(0.10)
    assert result["trades"] == 2 and result["runs"] == 400 and result["method"] == "monte_carlo_reorder"


def test_bootstrap_percentiles_are_ordered_and_final_equity_varies():
    result = bootstrap_trades(_pnls(), 1_000.0, 500, 5)
    for key in ("max_drawdown", "final_equity"):
        q = result[key]
        assert q["p5"] <= q["p50"] <= q["p95"]
    assert result["final_equity"]["p5"] < result["final_equity"]["p95"]


def test_runs_split_into_chunks_stay_seeded_and_valid(monkeypatch):
    import research.validation.stress as stress

    pnls = _pnls(50)
    monkeypatch.setattr(stress, "_CELLS_PER_CHUNK", 50 * 7)  # 7 runs per chunk, the last one partial
    chunked = stress.monte_carlo_reorder(pnls, 1_000.0, 300, 9)
    assert stress.monte_carlo_reorder(pnls, 1_000.0, 300, 9) == chunked
    final = 1_000.0 + pnls.sum()
    assert chunked["final_equity"] == pytest.approx({"p5": final, "p50": final, "p95": final})
    assert chunked["max_drawdown"]["p5"] < chunked["max_drawdown"]["p95"]


def test_monte_carlo_rejects_bad_inputs():
    with pytest.raises(ValueError, match="finite"):
        monte_carlo_reorder([1.0, float("nan")], 100.0, 10, 1)
    with pytest.raises(ValueError, match="start_equity"):
        bootstrap_trades([1.0], 0.0, 10, 1)
    with pytest.raises(ValueError, match="runs"):
        monte_carlo_reorder([1.0], 100.0, 0, 1)


def test_no_trades_gives_flat_paths():
    result = bootstrap_trades([], 100.0, 5, 1)
    assert result["max_drawdown"] == {"p5": 0.0, "p50": 0.0, "p95": 0.0}
    assert result["final_equity"] == {"p5": 100.0, "p50": 100.0, "p95": 100.0}


# -- cost shocks ----------------------------------------------------------------------------------


def test_cost_shock_doubling_fees_lowers_expectancy_by_the_mean_fee():
    pnls = np.array([12.0, -4.0, 7.0, -9.0])
    fees = np.array([1.0, 0.5, 2.0, 0.5])
    notional = np.array([1_000.0, 500.0, 2_000.0, 800.0])
    doubled = cost_shock(pnls, fees, notional, fee_multiplier=2.0)
    np.testing.assert_allclose(doubled, pnls - fees)
    assert doubled.mean() == pytest.approx(pnls.mean() - fees.mean())
    tripled = cost_shock(pnls, fees, notional, fee_multiplier=3.0)
    np.testing.assert_allclose(tripled, pnls - 2.0 * fees)
    np.testing.assert_allclose(cost_shock(pnls, fees, notional), pnls)


def test_cost_shock_slippage_costs_notional_times_bps_on_entry_and_exit():
    shocked = cost_shock([10.0], [0.0], [2_000.0], slippage_bps=5.0)
    assert shocked[0] == pytest.approx(10.0 - 2 * 2_000.0 * 5.0 / 10_000.0)  # 2.0 of slippage


def test_cost_shock_rejects_mismatched_or_negative_inputs():
    with pytest.raises(ValueError, match="differ in length"):
        cost_shock([1.0, 2.0], [0.1], [10.0, 10.0])
    with pytest.raises(ValueError, match="slippage_bps"):
        cost_shock([1.0], [0.1], [10.0], slippage_bps=-1.0)


def test_cost_shock_scenarios_report_baseline_first_and_worse_after():
    pnls, fees, notional = [5.0, -2.0, 3.0], [1.0, 1.0, 1.0], [100.0, 100.0, 100.0]
    base, x2, x3, slipped = cost_shock_scenarios(pnls, fees, notional)
    assert base["expectancy"] == pytest.approx(2.0)
    assert x2["expectancy"] == pytest.approx(1.0)
    assert x3["expectancy"] == pytest.approx(0.0)
    assert slipped["expectancy"] < x2["expectancy"]
    json.dumps([base, x2, x3, slipped], allow_nan=False)


# -- slicing --------------------------------------------------------------------------------------


TRADES = [
    {"pnl": 10.0, "session": "ASIA", "regime": "RANGE"},
    {"pnl": -4.0, "session": "EU+US", "regime": "HIGH_VOL+TREND_UP"},
    {"pnl": 6.0, "session": "US", "regime": "TREND_UP"},
    {"pnl": -2.0, "session": "NONE", "regime": ""},
]


def test_slice_labels_split_journal_labels():
    assert slice_labels("EU+US") == ("EU", "US")
    assert slice_labels("HIGH_VOL+TREND_UP") == ("HIGH_VOL", "TREND_UP")
    assert slice_labels(["EU", "EU"]) == ("EU",)
    assert slice_labels("") == ("NONE",)
    assert slice_labels(None) == ("NONE",)


def test_slice_trades_counts_overlapping_labels_in_each_slice():
    sessions = slice_trades(TRADES, "session")
    assert list(sessions) == ["ASIA", "EU", "NONE", "US"]
    us = sessions["US"]
    assert us["trades"] == 2 and us["total_pnl"] == pytest.approx(2.0)
    assert us["expectancy"] == pytest.approx(1.0)
    assert us["profit_factor"] == pytest.approx(1.5)
    assert us["win_rate"] == pytest.approx(0.5)
    # only winners: profit factor is infinite, reported as None (JSON-safe)
    assert sessions["ASIA"]["profit_factor"] is None
    json.dumps(sessions, allow_nan=False)


def test_slice_trades_accepts_a_dataframe_and_a_callable_key():
    frame = pd.DataFrame(TRADES)
    assert slice_trades(frame, "regime") == slice_trades(TRADES, "regime")
    vol = slice_trades(TRADES, lambda t: volatility_label(t["regime"]))
    assert vol["HIGH_VOL"]["trades"] == 1
    assert vol["LOW_VOL"]["trades"] == 3


def test_slice_trades_rejects_non_finite_pnl():
    with pytest.raises(ValueError, match="finite"):
        slice_trades([{"pnl": float("inf"), "session": "EU"}], "session")


# -- perturbation ---------------------------------------------------------------------------------


def test_perturbation_pass_rate_counts_booleans_and_verdicts():
    assert perturbation_pass_rate([True, False, True, True]) == pytest.approx(0.75)
    assert perturbation_pass_rate(["pass", "fail", "fail", "pass", "pass"]) == pytest.approx(0.6)
    assert perturbation_pass_rate([]) is None
    with pytest.raises(ValueError):
        perturbation_pass_rate(["maybe"])
