"""Risk desk scenarios: candle tables through the real engine, each guard denying exactly when it should.

BTCUSDT perpetual at 100,000 with a 10,000 USDT wallet (the futures ledger gets the whole of it): the
10% pair cap sizes every entry at 0.01 BTC, so a stop 1,000 away risks $10 and a stop-out loses
$10 plus about $1.20 of taker fees.
"""

from __future__ import annotations

import pytest

from tests.scenarios.kit import btcusdt_spot, candles_to_bars, run_scenario

FLAT = (100_000.0, 100_050.0, 99_950.0, 100_000.0)
STOP_OUT = (100_000.0, 100_000.0, 98_900.0, 99_000.0)  # trades through a long's 99,000 stop
TO_TARGET = (100_000.0, 101_100.0, 99_900.0, 101_000.0)  # trades through a long's 101,000 target
LONG = ["BUY", 99_000.0, 101_000.0]
WALLET = "10000 USDT"
MINUTES_PER_DAY = 1_440


def _exits(result):
    closed = result.positions[result.positions["ts_closed"].notna()]
    return list(zip(closed["exit_reason"], closed["avg_px_close"].astype(float), strict=True))


def test_daily_loss_cap_blocks_entries_until_the_next_utc_day():
    candles = [FLAT, STOP_OUT, FLAT, FLAT] + [FLAT] * MINUTES_PER_DAY
    script = {0: LONG, 3: LONG, MINUTES_PER_DAY: LONG}
    risk = {"cooldown_seconds": 0, "assets": {"crypto_futures": {"daily_loss_cap_pct": 0.001}}}  # $10 a day
    result = run_scenario(candles, script, balance=WALLET, desk={"risk": risk})
    assert result.denials == {"daily_loss_cap": 1}
    entries = result.fills[result.fills["order_side"].astype(str) == "BUY"]
    assert len(entries) == 2  # the first trade and the next day's


def test_cooldown_after_a_per_trade_breach_then_trading_resumes():
    # the stop-out loses $10 before fees; with the breach multiple at 0.9 that is a risk event
    # and the ledger cools down for 15 minutes
    candles = [FLAT, STOP_OUT] + [FLAT] * 25
    script = {0: LONG, 5: LONG, 20: LONG}
    risk = {"per_trade_breach_multiple": 0.9, "cooldown_seconds": 900}
    result = run_scenario(candles, script, balance=WALLET, desk={"risk": risk})
    assert result.denials == {"cooldown": 1}
    assert len(result.fills[result.fills["order_side"].astype(str) == "BUY"]) == 2


def test_global_kill_switch_is_close_only_and_protective_exits_still_fill():
    candles = [FLAT, FLAT, TO_TARGET, FLAT, FLAT]
    script = {0: LONG, 1: ["KILL", "all"], 3: LONG}
    result = run_scenario(candles, script, balance=WALLET)
    assert _exits(result) == [("TP", pytest.approx(101_000.0))]
    assert result.denials == {"close_only": 1}
    assert result.trading_state == "REDUCING"


def test_asset_kill_switch_lets_a_reversal_close_but_not_reopen():
    candles = [FLAT, FLAT, FLAT, FLAT]
    script = {0: LONG, 1: ["KILL", "crypto_futures"], 2: ["SELL", 101_000.0, 99_000.0]}
    result = run_scenario(candles, script, balance=WALLET)
    assert [reason for reason, _ in _exits(result)] == ["SIGNAL_EXIT"]
    assert result.positions["ts_closed"].notna().all()
    assert result.denials == {"close_only": 1}
    assert result.trading_state == "ACTIVE"  # one asset only: nautilus keeps trading the others


def test_kill_switch_can_close_profitable_positions_gracefully():
    candles = [FLAT, (100_000.0, 100_600.0, 99_950.0, 100_500.0), FLAT, FLAT]
    script = {0: ["BUY", 99_000.0, 102_000.0], 1: ["KILL", "all", True]}
    result = run_scenario(candles, script, balance=WALLET)
    assert [reason for reason, _ in _exits(result)] == ["KILL_EXIT"]


def test_restart_keeps_close_only_until_an_operator_resumes(tmp_path):
    journal = tmp_path / "journal.sqlite"
    first = run_scenario([FLAT, FLAT], {0: ["KILL", "all"]}, balance=WALLET, journal_path=journal)
    assert first.trading_state == "REDUCING"
    first.journal.close()

    rebooted = run_scenario(
        [FLAT, FLAT, FLAT], {0: LONG}, balance=WALLET, journal_path=journal, fresh_journal=False
    )
    assert rebooted.denials == {"close_only": 1}
    assert rebooted.trading_state == "REDUCING"  # re-applied at boot; nautilus itself boots ACTIVE
    rebooted.journal.close()

    resumed = run_scenario(
        [FLAT, FLAT, FLAT],
        {0: ["RESUME", "all"], 1: LONG},
        balance=WALLET,
        journal_path=journal,
        fresh_journal=False,
    )
    assert resumed.denials == {}
    assert len(resumed.fills) == 1
    actions = [row["action"] for row in resumed.journal.rows("operator_actions") if row["operator"] == "test"]
    assert actions == ["kill", "resume"]
    resumed.journal.close()


def test_consecutive_losses_trip_the_kill_switch_for_that_asset(tmp_path):
    candles = [FLAT, STOP_OUT, FLAT] * 3 + [FLAT, FLAT]
    script = {0: LONG, 3: LONG, 6: LONG, 9: LONG}
    risk = {
        "cooldown_seconds": 0,
        "per_trade_breach_multiple": 10.0,
        "kill_switch": {"consecutive_losses": 3, "modes": ["backtest"]},
    }
    result = run_scenario(
        candles, script, balance=WALLET, desk={"risk": risk}, journal_path=tmp_path / "j.sqlite"
    )
    assert [reason for reason, _ in _exits(result)] == ["SL", "SL", "SL"]
    assert result.denials == {"close_only": 1}
    assert result.desk.close_only_assets == {"crypto_futures"}
    trips = [r for r in result.journal.rows("operator_actions") if r["action"] == "kill"]
    assert [r["operator"] for r in trips] == ["auto"]
    result.journal.close()


def test_losses_outside_the_kill_switch_modes_do_not_trip_it():
    candles = [FLAT, STOP_OUT, FLAT] * 3 + [FLAT, FLAT]
    script = {0: LONG, 3: LONG, 6: LONG, 9: LONG}
    risk = {"cooldown_seconds": 0, "per_trade_breach_multiple": 10.0}  # default modes: live only
    result = run_scenario(candles, script, balance=WALLET, desk={"risk": risk})
    assert result.denials == {}
    assert len(result.fills[result.fills["order_side"].astype(str) == "BUY"]) == 4


def test_paper_top_up_starts_epoch_two_and_keeps_counters(tmp_path):
    # paper ledgers start at $1,000; the threshold is raised to $999 so one $1.12 loss crosses it
    candles = [FLAT, STOP_OUT, FLAT, FLAT, TO_TARGET, FLAT]
    script = {0: LONG, 3: LONG}
    budgets = {"paper": {"auto_topup_threshold_usd": 999.0}}
    result = run_scenario(
        candles, script, desk={"budgets": budgets}, mode="paper", journal_path=tmp_path / "j.sqlite"
    )
    ledger = result.desk.ledgers["crypto_futures"]
    assert ledger.epoch == 2
    assert ledger.trades == 2  # the counter survived the top-up
    assert ledger.topups_usd == pytest.approx(1_000.0)
    epochs = result.journal.rows("epochs")
    assert [(row["asset"], row["epoch"]) for row in epochs] == [("crypto_futures", 2)]
    assert [row["epoch"] for row in result.journal.rows("closes")] == [1, 2]
    assert [row["exit_reason"] for row in result.journal.rows("closes")] == ["SL", "TP"]
    result.journal.close()


def test_perpetual_stop_must_keep_the_liquidation_buffer():
    # at 10x with the instrument's 5% maintenance margin, liquidation is 5% away: the stop may use 80% of it
    risk = {"assets": {"crypto_futures": {"leverage_cap": 10.0}}}
    too_close = run_scenario(
        [FLAT, FLAT], {0: ["BUY", 95_500.0, 110_000.0]}, balance=WALLET, desk={"risk": risk}
    )
    assert too_close.denials == {"liq_buffer": 1}
    inside = run_scenario(
        [FLAT, FLAT], {0: ["BUY", 96_500.0, 110_000.0]}, balance=WALLET, desk={"risk": risk}
    )
    assert inside.denials == {}


def test_no_short_on_spot_but_a_long_may_still_be_closed():
    spot = btcusdt_spot()
    bar_type = f"{spot.id}-1-MINUTE-LAST-EXTERNAL"
    bars = candles_to_bars(spot, [FLAT, FLAT, FLAT, FLAT], bar_type)
    short = run_scenario([], {0: ["SELL", 101_000.0, 99_000.0]}, instrument=spot, bars=bars,
                         signal_bar_type=bar_type, balance=WALLET)  # fmt: skip
    assert short.denials == {"no_short": 1}
    assert short.fills.empty
    exit_then_deny = run_scenario(
        [],
        {0: LONG, 2: ["SELL", 101_000.0, 99_000.0]},
        instrument=spot,
        bars=bars,
        signal_bar_type=bar_type,
        balance=WALLET,
    )
    assert [reason for reason, _ in _exits(exit_then_deny)] == ["SIGNAL_EXIT"]
    assert exit_then_deny.denials == {"no_short": 1}
