"""Gapped stops fill at the bar's open, through the real engine (docs/backtest-fill-rules.md).

Candle tables run through the nautilus kernel, the risk desk and the strategy base class
(tests/scenarios/kit.py). Each gap scenario also runs with ``stop_gap_fill = "trigger"`` (nautilus'
own fill at the trigger price), so the tables show exactly which fill moved and by how much.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache
from typing import Any

import pandas as pd
import pytest
from nautilus_trader.model.data import Bar, BarType

from catalog.config import parse_catalog_config
from catalog.instruments import build_instrument
from tests.scenarios.kit import MINUTE_NS, REPO, START_NS, run_scenario

FLAT = (100_000.0, 100_050.0, 99_950.0, 100_000.0)
CALENDAR_ON = {"risk": {"assets": {"forex": {"calendar": True}}}}
TRIGGER = {"prob_slippage": 0.0, "stop_gap_fill": "trigger"}


@cache
def _sample_instrument(instrument_id: str) -> Any:
    """Build an instrument exactly as configs/catalog/sample.toml defines it for the sample catalog."""
    path = REPO / "configs" / "catalog" / "sample.toml"
    config = parse_catalog_config(tomllib.loads(path.read_text()), str(path))
    for spec in config.instruments:
        instrument = build_instrument(spec)
        if str(instrument.id) == instrument_id:
            return instrument
    raise KeyError(instrument_id)


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp()) * 1_000_000_000


def _fx_bars(instrument, rows, opens_ns, spread=0.0002, volume=1_000_000):
    """Return bid bars from ``rows`` (o, h, l, c) and ask bars ``spread`` above, stamped at bar close."""
    symbol = instrument.id.value
    bid_type = BarType.from_str(f"{symbol}-1-MINUTE-BID-EXTERNAL")
    ask_type = BarType.from_str(f"{symbol}-1-MINUTE-ASK-EXTERNAL")
    bars = []
    for (o, h, low, c), opened in zip(rows, opens_ns, strict=True):
        ts = opened + MINUTE_NS
        for bar_type, shift in ((bid_type, 0.0), (ask_type, spread)):
            prices = [instrument.make_price(x + shift) for x in (o, h, low, c)]
            bars.append(Bar(bar_type, *prices, instrument.make_qty(volume), ts, ts))
    bars.sort(key=lambda bar: bar.ts_event)
    return bars, str(bid_type)


def _minutes(start: str, count: int) -> list[int]:
    first = _ns(start)
    return [first + i * MINUTE_NS for i in range(count)]


def _fx_run(rows, opens, script, fill_model=None, volume=1_000_000):
    instrument = _sample_instrument("EUR/USD.IDEALPRO")
    bars, bid_type = _fx_bars(instrument, rows, opens, volume=volume)
    return run_scenario(
        [],
        script,
        instrument=instrument,
        bars=bars,
        signal_bar_type=bid_type,
        balance="100000 USD",
        desk=CALENDAR_ON,
        fill_model=fill_model,
    )


def _exits(result):
    closed = result.positions[result.positions["ts_closed"].notna()]
    return list(zip(closed["exit_reason"], closed["avg_px_close"].astype(float), strict=True))


def _fills(result, order_type):
    rows = result.fills[result.fills["order_type"].astype(str) == order_type]
    return list(zip(rows["last_qty"].astype(float), rows["last_px"].astype(float), strict=True))


def _pnl(result) -> float:
    closed = result.positions[result.positions["ts_closed"].notna()]
    return sum(float(str(value).split()[0]) for value in closed["realized_pnl"])


# -- the FX weekend gap ----------------------------------------------------------------------------

FRIDAY = (1.14, 1.1405, 1.1395, 1.14)
SUNDAY = (1.13, 1.1305, 1.1295, 1.13)  # the bid reopens 50 pips under the long's 1.1350 stop
WEEKEND = _minutes("2025-06-06T20:50:00+00:00", 4) + _minutes("2025-06-08T21:00:00+00:00", 3)


def test_a_weekend_gap_through_a_longs_stop_fills_at_the_weeks_open_bid():
    # long EUR/USD (the sample catalog's definition) on Friday 16:53 New York, stop 1.1350; the week
    # reopens on Sunday 17:00 New York (21:00 UTC) with the bid at 1.1300. The long's stop is a sell
    # stop triggered on the bid: it fills at the bid's open, 50 pips through its trigger.
    script = {2: ["BUY", 1.135, 1.15]}
    result = _fx_run([FRIDAY] * 4 + [SUNDAY] * 3, WEEKEND, script)
    assert _exits(result) == [("SL", pytest.approx(1.13))]
    closed = result.positions[result.positions["ts_closed"].notna()]
    assert pd.Timestamp(closed["ts_closed"].iloc[0]) == pd.Timestamp("2025-06-08T21:01:00+00:00")
    # nautilus alone fills the same stop at its trigger: the gap loss (50 pips on the position) is missing
    stock = _fx_run([FRIDAY] * 4 + [SUNDAY] * 3, WEEKEND, script, fill_model=TRIGGER)
    assert _exits(stock) == [("SL", pytest.approx(1.135))]
    (quantity, _), *_ = _fills(result, "STOP_MARKET")
    assert quantity > 0
    units = float(closed["peak_qty"].iloc[0])
    assert _pnl(stock) - _pnl(result) == pytest.approx(units * 0.005, abs=0.02)


def test_a_weekend_gap_through_a_shorts_stop_fills_at_the_weeks_open_ask():
    # short EUR/USD on Friday, stop 1.1450 (a buy stop, triggered on the ask); the week reopens with the
    # bid at 1.1500 and the ask 2 pips above it: the stop fills at the ask's open, 1.1502
    script = {2: ["SELL", 1.145, 1.13]}
    rows = [FRIDAY] * 4 + [(1.15, 1.1505, 1.1495, 1.15)] * 3
    assert _exits(_fx_run(rows, WEEKEND, script)) == [("SL", pytest.approx(1.1502))]
    assert _exits(_fx_run(rows, WEEKEND, script, fill_model=TRIGGER)) == [("SL", pytest.approx(1.145))]


def test_a_gapped_stop_larger_than_the_top_of_book_fills_the_rest_one_tick_worse_as_nautilus_does():
    # bars with a volume of 4 units give a top of book of 1 unit (nautilus: volume / 4): the stop fills
    # 1 unit at the gapped open and the rest one tick (0.00001) under it, as nautilus fills any order
    # larger than its L1 book (at the trigger price and one tick under it without the gap rule)
    script = {2: ["BUY", 1.135, 1.15]}
    result = _fx_run([FRIDAY] * 4 + [SUNDAY] * 3, WEEKEND, script, volume=4)
    stock = _fx_run([FRIDAY] * 4 + [SUNDAY] * 3, WEEKEND, script, fill_model=TRIGGER, volume=4)
    (top, at_open), (rest, worse) = _fills(result, "STOP_MARKET")
    assert top == 1.0 and rest > 1.0
    assert (at_open, worse) == (pytest.approx(1.13), pytest.approx(1.12999))
    assert [(q, p) for q, p in _fills(stock, "STOP_MARKET")] == [
        (1.0, pytest.approx(1.135)),
        (rest, pytest.approx(1.13499)),
    ]


def test_an_fx_stop_reached_during_the_bar_still_fills_at_its_trigger():
    # the bid opens above the stop and trades through it during the bar: no gap, the trigger price stands
    rows = [FRIDAY] * 4 + [(1.1380, 1.1385, 1.1320, 1.1330)]
    result = _fx_run(rows, _minutes("2025-06-05T12:00:00+00:00", 5), {2: ["BUY", 1.135, 1.15]})
    assert _exits(result) == [("SL", pytest.approx(1.135))]


# -- crypto LAST bars ------------------------------------------------------------------------------


def test_a_gap_through_a_shorts_stop_on_last_bars_fills_at_the_open():
    # short BTCUSDT at 100,000, stop 101,000; the next bar opens at 102,000 (a wick between bars):
    # the buy stop fills at 102,000, not at 101,000
    candles = [FLAT, (102_000, 102_200, 101_800, 102_100), FLAT]
    script = {0: ["SELL", 101_000.0, 99_000.0]}
    assert _exits(run_scenario(candles, script)) == [("SL", pytest.approx(102_000.0))]
    assert _exits(run_scenario(candles, script, fill_model=TRIGGER)) == [("SL", pytest.approx(101_000.0))]


def test_a_gap_through_a_longs_stop_on_last_bars_fills_at_the_open():
    candles = [FLAT, (98_000, 98_200, 97_800, 98_100), FLAT]
    result = run_scenario(candles, {0: ["BUY", 99_000.0, 101_000.0]})
    assert _exits(result) == [("SL", pytest.approx(98_000.0))]


@pytest.mark.parametrize(
    ("side", "stop", "target", "bar"),
    [
        ("BUY", 99_000.0, 101_000.0, (100_000, 100_200, 98_800, 98_900)),  # trades down through the stop
        ("SELL", 101_000.0, 99_000.0, (100_000, 101_200, 99_800, 101_100)),  # trades up through the stop
        ("BUY", 99_000.0, 101_000.0, (99_000, 99_200, 98_800, 98_900)),  # opens exactly at the stop
    ],
)
def test_a_stop_reached_during_the_bar_still_fills_at_its_trigger(side, stop, target, bar):
    result = run_scenario([FLAT, bar, FLAT], {0: [side, stop, target]})
    assert _exits(result) == [("SL", pytest.approx(stop))]


@pytest.mark.parametrize(
    ("side", "stop", "target", "bar"),
    [
        ("BUY", 99_000.0, 101_000.0, (102_000, 102_200, 101_800, 102_100)),
        ("SELL", 101_000.0, 99_000.0, (98_000, 98_200, 97_800, 98_100)),
    ],
)
def test_a_gap_through_the_take_profit_fills_at_the_limit_price_not_the_better_open(side, stop, target, bar):
    # nautilus fills a resting limit the market gapped through at its limit price (as a maker), never at
    # the better open; the gap rule only touches stop-market orders, so targets are unchanged
    result = run_scenario([FLAT, bar, FLAT], {0: [side, stop, target]})
    assert _exits(result) == [("TP", pytest.approx(target))]
    assert _exits(run_scenario([FLAT, bar, FLAT], {0: [side, stop, target]}, fill_model=TRIGGER)) == [
        ("TP", pytest.approx(target))
    ]


# -- slippage and the seeded fill model ------------------------------------------------------------


@pytest.mark.parametrize(
    ("bar", "exit_price"),
    [
        ((98_000, 98_200, 97_800, 98_100), 97_999.5),  # gapped: one tick (0.5) under the open
        ((100_000, 100_200, 98_800, 98_900), 98_999.5),  # intrabar: one tick under the trigger
    ],
)
def test_slippage_still_applies_to_stop_fills(bar, exit_price):
    result = run_scenario(
        [FLAT, bar, FLAT], {0: ["BUY", 99_000.0, 101_000.0]}, fill_model={"prob_slippage": 1.0}
    )
    assert _fills(result, "MARKET") == [(pytest.approx(0.1), pytest.approx(100_000.5))]  # the entry slips too
    assert _exits(result) == [("SL", pytest.approx(exit_price))]


def test_slippage_applies_to_a_take_profit_fill_too():
    # nautilus slips every fill on an L1 book with probability prob_slippage, limit fills included
    bar = (100_000, 101_200, 99_900, 101_100)
    result = run_scenario(
        [FLAT, bar, FLAT], {0: ["BUY", 99_000.0, 101_000.0]}, fill_model={"prob_slippage": 1.0}
    )
    assert _exits(result) == [("TP", pytest.approx(100_999.5))]


# several trades, the last one stopped out through a gap, with half the fills slipping (seeded)
SEQUENCE = [
    FLAT,
    (100_000, 101_200, 99_900, 101_100),  # trade 1: long takes its target
    FLAT,
    (100_000, 100_100, 98_800, 98_900),  # trade 2: short takes its target during the bar
    FLAT,
    (100_000, 101_300, 99_900, 101_200),  # trade 3: short stopped during the bar (no gap)
    FLAT,
    (100_000, 100_100, 99_500, 99_600),
    (97_500, 97_700, 97_300, 97_600),  # trade 4: long gapped through its stop (97,500 < 99,000)
    FLAT,
]
GAP_BAR_CLOSE = START_NS + 9 * MINUTE_NS  # the kit stamps bar i at its close, START + (i + 1) minutes
SEQUENCE_SCRIPT = {
    0: ["BUY", 99_000.0, 101_000.0],
    2: ["SELL", 101_000.0, 99_000.0],
    4: ["SELL", 101_000.0, 99_000.0],
    6: ["BUY", 99_000.0, 101_000.0],
}


def test_with_seeded_slippage_only_the_gapped_stop_moves_and_by_exactly_the_gap():
    seeded = {"prob_slippage": 0.5}
    gapped = run_scenario(SEQUENCE, SEQUENCE_SCRIPT, fill_model=seeded)
    stock = run_scenario(SEQUENCE, SEQUENCE_SCRIPT, fill_model={**seeded, "stop_gap_fill": "trigger"})
    assert [reason for reason, _ in _exits(gapped)] == ["TP", "TP", "SL", "SL"]
    assert len(gapped.fills) == len(stock.fills) == 8
    slipped = 0
    for (_, ours), (_, theirs) in zip(gapped.fills.iterrows(), stock.fills.iterrows(), strict=True):
        for column in ("client_order_id", "order_side", "order_type", "last_qty", "ts_event"):
            assert ours[column] == theirs[column]
        moved = float(theirs["last_px"]) - float(ours["last_px"])
        if pd.Timestamp(ours["ts_event"]).value == GAP_BAR_CLOSE:
            assert moved == pytest.approx(99_000.0 - 97_500.0)  # the gap; the slip draw is the same
        else:
            assert moved == 0.0
        slipped += float(ours["last_px"]) % 1_000 != 0  # a slipped fill is off the round level
    assert 0 < slipped < len(gapped.fills)  # prob_slippage = 0.5 slipped some fills, not all


def test_without_a_gap_the_fills_are_identical_to_nautilus_own():
    seeded = {"prob_slippage": 0.5}
    no_gap = SEQUENCE[:7]
    ours = run_scenario(no_gap, SEQUENCE_SCRIPT, fill_model=seeded)
    theirs = run_scenario(no_gap, SEQUENCE_SCRIPT, fill_model={**seeded, "stop_gap_fill": "trigger"})
    columns = ["client_order_id", "order_side", "order_type", "last_qty", "last_px", "ts_event"]
    pd.testing.assert_frame_equal(ours.fills[columns], theirs.fills[columns])


def test_a_gap_loss_beyond_the_planned_risk_is_now_a_risk_event_for_the_desk():
    # the gapped stop loses 2,500 per BTC against 1,000 planned (2.5x, beyond configs/risk.toml's
    # per_trade_breach_multiple of 1.5): the desk's cooldown refuses the next entry. At the trigger
    # price the loss is the planned one and the desk never sees the gap.
    candles = [FLAT, (100_000, 100_100, 99_500, 99_600), (97_500, 97_700, 97_300, 97_600), FLAT, FLAT]
    script = {0: ["BUY", 99_000.0, 101_000.0], 3: ["BUY", 99_000.0, 101_000.0]}
    assert run_scenario(candles, script).denials == {"cooldown": 1}
    assert run_scenario(candles, script, fill_model=TRIGGER).denials == {}
