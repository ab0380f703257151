"""Scenario tables for the base class' position management: the time stop and the trailing stop.

Entries are market orders filled at the signal bar's close (see test_bracket_scenarios.py); the
time stop counts signal bars after the entry filled and closes at the close of the bar that reaches
the limit; the trailing stop moves the stop-market SL behind the best close once the trade is far
enough in profit, never loosens it, and never places it on the wrong side of the market.
"""

from __future__ import annotations

import pytest

from tests.scenarios.kit import run_scenario

FLAT = (100_000.0, 100_050.0, 99_950.0, 100_000.0)


def _exits(result):
    closed = result.positions[result.positions["ts_closed"].notna()]
    return list(zip(closed["exit_reason"], closed["avg_px_close"].astype(float), strict=True))


def _stop_triggers(result):
    stops = result.orders[result.orders["tags"].map(lambda tags: "SL" in (tags or []))]
    return [float(price) for price in stops["trigger_price"]]


def test_time_stop_closes_after_the_configured_bars():
    drift = [
        (100_000.0 + step, 100_100.0 + step, 99_900.0 + step, 100_010.0 + step) for step in range(0, 60, 10)
    ]
    result = run_scenario(
        [FLAT, *drift], {0: ["BUY", 99_000.0, 102_000.0]}, strategy_options={"time_stop_bars": 3}
    )
    # entry at bar 0's close; bars 1, 2, 3 are held; bar 3 closes the trade at market, at its close
    assert _exits(result) == [("TIME_EXIT", pytest.approx(100_030.0))]
    assert len(result.positions) == 1


def test_time_stop_off_by_default_keeps_the_position():
    drift = [(100_000.0, 100_100.0, 99_900.0, 100_010.0)] * 6
    result = run_scenario([FLAT, *drift], {0: ["BUY", 99_000.0, 102_000.0]})
    assert _exits(result) == []


def test_trailing_stop_locks_in_profit_on_a_long():
    # risk R = 1,000; trailing starts at +1R and keeps the stop 0.5R behind the best close
    up = [
        (100_000.0, 100_600.0, 99_950.0, 100_500.0),  # +0.5R: not active yet
        (100_500.0, 101_300.0, 100_450.0, 101_200.0),  # +1.2R: stop to 100,700
        (101_200.0, 101_700.0, 101_150.0, 101_600.0),  # +1.6R: stop to 101,100
        (101_600.0, 101_650.0, 101_000.0, 101_050.0),  # falls through 101,100: stopped there
        FLAT,
    ]
    result = run_scenario(
        [FLAT, *up],
        {0: ["BUY", 99_000.0, 105_000.0]},
        strategy_options={"trailing_activation_r": 1.0, "trailing_distance_r": 0.5},
    )
    assert _exits(result) == [("SL", pytest.approx(101_100.0))]
    assert _stop_triggers(result) == [pytest.approx(101_100.0)]


def test_trailing_stop_on_a_short_mirrors_and_never_loosens():
    down = [
        (100_000.0, 100_050.0, 98_700.0, 98_800.0),  # +1.2R: stop to 99,300
        (98_800.0, 99_250.0, 98_750.0, 99_200.0),  # best close unchanged: the stop stays at 99,300
        (99_200.0, 99_400.0, 99_100.0, 99_350.0),  # through 99,300: stopped there
        FLAT,
    ]
    result = run_scenario(
        [FLAT, *down],
        {0: ["SELL", 101_000.0, 95_000.0]},
        strategy_options={"trailing_activation_r": 1.0, "trailing_distance_r": 0.5},
    )
    assert _exits(result) == [("SL", pytest.approx(99_300.0))]


def test_position_management_config_errors_name_the_field():
    with pytest.raises(Exception, match="time_stop_bars"):
        run_scenario([FLAT, FLAT], {}, strategy_options={"time_stop_bars": -1})
    with pytest.raises(Exception, match="trailing"):
        run_scenario([FLAT, FLAT], {}, strategy_options={"trailing_activation_r": 1.0})
