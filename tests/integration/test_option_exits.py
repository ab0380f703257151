"""Option exits through the real engine: target, stop, time stop, expiry in and out of the money.

Each scenario buys one AAPL call with the long-premium strategy at a premium of 2.00 on session 1
(2014-06-03): its bracket targets +50% (3.00) and stops at -45% (1.10), sized by the desk at
1% of $10,000 over the $90 risked per contract: 1 contract.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from engine.options import EXERCISED_TAG, EXPIRED_TAG
from tests.scenarios.options import ContractTable, run_option_scenario

FLAT = (2.0, 2.0, 2.0, 2.0)
ENTRY_ROW = (0.45, 0.25, -0.05)  # delta, IV, theta per day: in the 0.35-0.55 band
BACK_MONTH = ContractTable(date(2014, 7, 19), "92", "C", {1: FLAT}, {1: (0.50, 0.26, -0.03)})  # IV term check


def _call(expiry: date, bars: dict, chain: dict | None = None) -> ContractTable:
    return ContractTable(expiry, "92", "C", bars, chain if chain is not None else {1: ENTRY_ROW})


def _rising(count: int, last: float | None = None) -> list[float]:
    closes = [90.0 + i for i in range(count)]
    if last is not None:
        closes[-1] = last
    return closes


def _closed(result) -> dict:
    positions = result.positions
    assert len(positions) == 1
    row = positions.iloc[0]
    fills = result.fills.sort_values("ts_event", kind="stable")
    assert fills["order_side"].tolist() == ["BUY", "SELL"]
    assert float(fills["last_qty"].iloc[0]) == 1
    return {
        "reason": row["exit_reason"],
        "entry": float(fills["last_px"].iloc[0]),
        "exit": float(fills["last_px"].iloc[1]),
        "pnl": result.desk.ledger_summary()["options"]["reward_points"],
    }


def test_target_sells_at_plus_50_percent_of_premium():
    contract = _call(date(2014, 6, 28), {1: FLAT, 2: (2.1, 3.2, 2.05, 3.1)})
    result, settled = run_option_scenario(_rising(4), [contract, BACK_MONTH])
    trade = _closed(result)
    assert trade["reason"] == "TP"
    assert (trade["entry"], trade["exit"]) == (2.0, 3.0)
    assert trade["pnl"] == pytest.approx(100.0 - 2.0)  # (3.00 - 2.00) x 100, $1 commission per fill
    assert settled == []


def test_stop_sells_at_minus_45_percent_of_premium():
    contract = _call(date(2014, 6, 28), {1: FLAT, 2: (1.9, 1.95, 1.0, 1.05)})
    result, _ = run_option_scenario(_rising(4), [contract, BACK_MONTH])
    trade = _closed(result)
    assert trade["reason"] == "SL"
    assert (trade["entry"], trade["exit"]) == (2.0, 1.1)
    assert trade["pnl"] == pytest.approx(-90.0 - 2.0)


def test_time_stop_closes_once_days_to_expiry_reach_entry_dte_over_7():
    # Entry 2014-06-03 with 25 days to the 06-28 expiry: the stop is due at 25/7 = 3.6 days, i.e. on
    # 2014-06-25 (session 17, 3 days left). Later chain rows sit outside the delta band (no re-entry).
    bars = {i: (2.0, 2.05, 1.95, 2.0) for i in range(1, 19)}
    bars[17] = (1.9, 1.95, 1.85, 1.9)
    chain = {i: (0.30, 0.25, -0.05) for i in range(2, 19)}
    chain[1] = ENTRY_ROW
    result, settled = run_option_scenario(_rising(19), [_call(date(2014, 6, 28), bars, chain), BACK_MONTH])
    trade = _closed(result)
    assert trade["reason"] == "TIME_STOP"
    assert trade["exit"] == 1.9  # the close of 2014-06-25's bar
    exit_ts = result.fills.sort_values("ts_event")["ts_event"].iloc[1]
    assert exit_ts == pd.Timestamp("2014-06-26 00:00", tz="America/New_York")  # 06-25's bar stamp
    assert settled == []


def test_in_the_money_expiry_settles_at_intrinsic_value_not_the_last_price():
    # The 06-14 (Saturday) expiry's last session is Friday 06-13 (session 9). The chain stops listing
    # the contract after the entry, so no time stop fires: the position reaches expiry. AAPL closes at
    # 94.50: the 92 call is exercised for 2.50, although its last bar closed at 2.55.
    bars = {i: (2.0, 2.3, 1.9, 2.2) for i in range(2, 9)}
    bars[1] = FLAT
    bars[9] = (2.45, 2.6, 2.4, 2.55)
    result, settled = run_option_scenario(
        _rising(10, last=94.5), [_call(date(2014, 6, 14), bars), BACK_MONTH]
    )
    trade = _closed(result)
    assert trade["reason"] == EXERCISED_TAG
    assert trade["exit"] == 2.5
    assert trade["pnl"] == pytest.approx(50.0 - 2.0)
    assert settled == [
        {
            "instrument_id": "AAPL140614C00092000.SMART",
            "ts": 1_402_718_400_000_000_000,  # 2014-06-14 00:00 New York: the contract's expiration
            "underlying_close": 94.5,
            "strike": 92.0,
            "price": 2.5,
            "quantity": 1.0,
            "tag": EXERCISED_TAG,
        }
    ]
    assert result.desk.refused_fills == 0
    # the bracket's stop and target were cancelled with the settlement: nothing is left working
    assert set(result.orders["status"]) == {"FILLED", "CANCELED"}


def test_out_of_the_money_expiry_settles_worthless_without_a_last_bar():
    # The contract stops trading after session 2 (no bar reaches its stop or its expiry) and AAPL
    # closes at 88 on the last session: the 92 call expires worthless, the whole premium is lost.
    closes = [90.0, 91.0, 90.0, 89.0, 89.0, 88.5, 88.0, 88.0, 88.0, 88.0]
    result, settled = run_option_scenario(closes, [_call(date(2014, 6, 14), {1: FLAT, 2: FLAT}), BACK_MONTH])
    trade = _closed(result)
    assert trade["reason"] == EXPIRED_TAG
    assert trade["exit"] == 0.0
    assert trade["pnl"] == pytest.approx(-200.0 - 2.0)
    assert [(s["underlying_close"], s["price"], s["tag"]) for s in settled] == [(88.0, 0.0, EXPIRED_TAG)]
    assert result.desk.refused_fills == 0
