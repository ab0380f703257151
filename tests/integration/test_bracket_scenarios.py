"""Scenario tables: scripted signals over small candle tables, run through the real engine.

The fill rules these tables pin (docs/backtest-fill-rules.md explains them):
- Entries are market orders filled at the signal bar's close; protective orders only act from the
  next bar on, so no bar can both open and close a trade.
- Every bar is replayed as open, high, low, close. When one bar touches both the stop and the
  target, the high trades first: a long takes its target, a short takes its stop.
- A stop-market whose bar opens beyond the trigger fills at that open (engine.fills), not at the
  better trigger price nautilus alone would give it (tests/integration/test_gap_fills.py).
- With bid/ask bars a buy fills on the ask and a sell on the bid of the signal bar's close, never on
  the previous bar's quote.
"""

from __future__ import annotations

import pytest

from tests.scenarios.kit import btcusdt_perpetual, btcusdt_spot, candles_to_bars, eurusd, run_scenario

FLAT = (100_000.0, 100_050.0, 99_950.0, 100_000.0)


def _exits(result):
    closed = result.positions[result.positions["ts_closed"].notna()]
    return list(zip(closed["exit_reason"], closed["avg_px_close"].astype(float), strict=True))


def test_target_hit_closes_long_at_take_profit():
    candles = [FLAT, (100_000, 100_400, 99_900, 100_300), (100_300, 101_200, 100_200, 101_100), FLAT]
    result = run_scenario(candles, {0: ["BUY", 99_000.0, 101_000.0]})
    entries = result.fills[result.fills["order_side"].astype(str) == "BUY"]
    assert float(entries["last_px"].iloc[0]) == pytest.approx(100_000.0)
    assert _exits(result) == [("TP", pytest.approx(101_000.0))]


def test_stop_hit_closes_long_at_stop():
    candles = [FLAT, (100_000, 100_200, 99_500, 99_600), (99_600, 99_700, 98_800, 98_900), FLAT]
    result = run_scenario(candles, {0: ["BUY", 99_000.0, 101_000.0]})
    assert _exits(result) == [("SL", pytest.approx(99_000.0))]


def test_short_target_and_stop_mirror_the_long_case():
    down = [FLAT, (100_000, 100_100, 98_900, 99_000), FLAT]
    up = [FLAT, (100_000, 101_100, 99_900, 101_000), FLAT]
    assert _exits(run_scenario(down, {0: ["SELL", 101_000.0, 99_000.0]})) == [("TP", pytest.approx(99_000.0))]
    assert _exits(run_scenario(up, {0: ["SELL", 101_000.0, 99_000.0]})) == [("SL", pytest.approx(101_000.0))]


@pytest.mark.parametrize("open_price", [99_400.0, 100_000.0, 100_600.0])
def test_both_levels_in_one_bar_high_first_long_takes_target(open_price):
    bar = (open_price, 101_500.0, 98_500.0, 100_000.0)
    result = run_scenario([FLAT, bar, FLAT], {0: ["BUY", 99_000.0, 101_000.0]})
    assert _exits(result) == [("TP", pytest.approx(101_000.0))]


@pytest.mark.parametrize("open_price", [99_400.0, 100_000.0, 100_600.0])
def test_both_levels_in_one_bar_high_first_short_takes_stop(open_price):
    bar = (open_price, 101_500.0, 98_500.0, 100_000.0)
    result = run_scenario([FLAT, bar, FLAT], {0: ["SELL", 101_000.0, 99_000.0]})
    assert _exits(result) == [("SL", pytest.approx(101_000.0))]


def test_bar_opening_beyond_the_stop_triggers_and_fills_at_the_open():
    candles = [FLAT, (98_000, 98_200, 97_800, 98_100), FLAT]
    result = run_scenario(candles, {0: ["BUY", 99_000.0, 101_000.0]})
    assert _exits(result) == [("SL", pytest.approx(98_000.0))]


def test_entry_bar_cannot_hit_its_own_protection():
    # the signal bar's own range spans both levels; only later bars may close the trade
    candles = [(100_000, 102_000, 98_000, 100_000), FLAT, FLAT]
    result = run_scenario(candles, {0: ["BUY", 99_000.0, 101_000.0]})
    assert _exits(result) == []
    open_positions = result.positions[result.positions["ts_closed"].isna()]
    assert len(open_positions) == 1


def test_opposite_signal_reverses_and_records_signal_exit():
    candles = [FLAT, FLAT, FLAT, FLAT]
    result = run_scenario(candles, {0: ["BUY", 99_000.0, 101_000.0], 2: ["SELL", 101_000.0, 99_000.0]})
    assert [reason for reason, _ in _exits(result)] == ["SIGNAL_EXIT"]
    sides = result.fills["order_side"].astype(str).tolist()
    assert sides == ["BUY", "SELL", "SELL"]


def test_every_entry_carries_stop_and_target_orders():
    candles = [FLAT, FLAT, (100_000, 101_100, 99_900, 101_000), FLAT]
    result = run_scenario(candles, {0: ["BUY", 99_000.0, 101_000.0]})
    tags = result.orders["tags"].astype(str).tolist()
    assert sum("ENTRY" in t for t in tags) == 1
    assert sum("SL" in t for t in tags) == 1
    assert sum("TP" in t for t in tags) == 1
    stop = result.orders[result.orders["tags"].astype(str).str.contains("SL")]
    assert stop["status"].astype(str).iloc[0] == "CANCELED"  # OUO: the target filled, the stop went


@pytest.mark.parametrize(
    ("signal", "reason"),
    [
        (["BUY", 101_000.0, 102_000.0], "sl_tp_wrong_side"),
        (["SELL", 99_000.0, 98_000.0], "sl_tp_wrong_side"),
        (["BUY", 80_000.0, 120_000.0], "sl_too_wide"),
    ],
)
def test_desk_denies_malformed_brackets(signal, reason):
    result = run_scenario([FLAT, FLAT], {0: signal})
    assert result.fills.empty
    assert result.denials == {reason: 1}


def test_size_too_small_after_clamps_is_skipped_not_rounded_up():
    # $10 fixed notional buys 0.0001 BTC, below the venue's 0.001 minimum
    result = run_scenario([FLAT, FLAT], {0: ["BUY", 99_000.0, 101_000.0]}, balance="500 USDT")
    assert result.fills.empty
    assert result.denials == {"below_venue_minimum": 1}


def test_risk_sizing_is_capped_by_the_pair_cap():
    # 0.5% of 100,000 at risk over a 1,000 stop would be 0.5 BTC; the 10% pair cap allows 0.1 BTC
    result = run_scenario([FLAT, FLAT], {0: ["BUY", 99_000.0, 101_000.0]})
    assert float(result.fills["last_qty"].iloc[0]) == pytest.approx(0.1)


def _fx_bars(bid_closes, spread=0.0002):
    instrument = eurusd()
    bid = [(c, c + 0.0005, c - 0.0005, c) for c in bid_closes]
    ask = [(o + spread, h + spread, low + spread, c + spread) for o, h, low, c in bid]
    bid_type, ask_type = "EUR/USD.IDEALPRO-1-MINUTE-BID-EXTERNAL", "EUR/USD.IDEALPRO-1-MINUTE-ASK-EXTERNAL"
    bars = candles_to_bars(instrument, bid, bid_type) + candles_to_bars(instrument, ask, ask_type)
    return instrument, sorted(bars, key=lambda bar: bar.ts_event), bid_type


@pytest.mark.parametrize(
    ("side", "stop", "target", "expected"),
    [
        ("BUY", 1.09, 1.11, 1.1012),  # ask close of the signal bar (bid close 1.1010 + spread)
        ("SELL", 1.11, 1.09, 1.1010),  # bid close of the signal bar
    ],
)
def test_fx_entry_fills_on_the_signal_bars_own_quote(side, stop, target, expected):
    instrument, bars, bid_type = _fx_bars([1.1000, 1.1010, 1.1010, 1.1010])
    result = run_scenario(
        [],
        {1: [side, stop, target]},
        instrument=instrument,
        bars=bars,
        signal_bar_type=bid_type,
        balance="100000 USD",
    )
    entry = result.fills[result.fills["order_side"].astype(str) == side]
    assert float(entry["last_px"].iloc[0]) == pytest.approx(expected)


@pytest.mark.parametrize(("instrument", "trigger"), [("perp", "MARK_PRICE"), ("spot", "DEFAULT")])
def test_perpetual_stops_trigger_on_the_mark_price_other_stops_on_the_venue_default(instrument, trigger):
    # configs/risk.toml [perps] sl_tp_trigger = "MARK_PRICE": Bybit triggers the stop on the mark price,
    # not on a wick of the last price. The simulated venue ignores the trigger type and triggers on its
    # bars (the sample has no mark price series), so the stop still fills at its level.
    symbol = btcusdt_perpetual() if instrument == "perp" else btcusdt_spot()
    candles = [FLAT, (100_000, 100_200, 99_500, 99_600), (99_600, 99_700, 98_800, 98_900), FLAT]
    bar_type = f"{symbol.id}-1-MINUTE-LAST-EXTERNAL"
    bars = candles_to_bars(symbol, candles, bar_type)
    result = run_scenario(
        [], {0: ["BUY", 99_000.0, 101_000.0]}, instrument=symbol, bars=bars, signal_bar_type=bar_type
    )
    stops = result.orders[result.orders["tags"].map(lambda tags: list(tags) == ["SL"])]
    assert stops["trigger_type"].astype(str).tolist() == [trigger]
    assert _exits(result) == [("SL", pytest.approx(99_000.0))]
