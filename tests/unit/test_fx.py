"""Pip arithmetic (engine.risk.fx) and the 24/5 FX calendar (engine.risk.calendar), on plain numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.risk.calendar import FX_BLACKOUT, MARKET_CLOSED, FxCalendar
from engine.risk.fx import (
    FxError,
    floor_to_lot,
    pip_size,
    pips_to_price,
    quantity_for_risk,
    usd_direction,
    usd_notional,
    usd_per_pip_per_unit,
    usd_risk_per_unit,
)


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp()) * 1_000_000_000


# -- pips ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pair", "pip"),
    [("EUR/USD", 0.0001), ("GBP/USD.IDEALPRO", 0.0001), ("USD/JPY.IDEALPRO", 0.01), ("USD/CHF", 0.0001)],
)
def test_pip_size_is_a_hundredth_of_a_yen_and_a_ten_thousandth_otherwise(pair, pip):
    assert pip_size(pair) == pytest.approx(pip)
    assert pips_to_price(pair, 25) == pytest.approx(25 * pip)


def test_usd_quoted_pip_is_worth_a_ten_thousandth_of_a_dollar_per_unit():
    assert usd_per_pip_per_unit("GBP/USD", 1.57) == pytest.approx(0.0001)
    assert usd_risk_per_unit("GBP/USD", 20, 1.57) == pytest.approx(0.002)


def test_jpy_quoted_pip_is_worth_pip_over_price_in_usd():
    assert usd_per_pip_per_unit("USD/JPY", 92.5) == pytest.approx(0.01 / 92.5)
    # 100,000 USD/JPY at 92.50: one pip = 1,000 JPY = 10.81 USD
    assert 100_000 * usd_per_pip_per_unit("USD/JPY", 92.5) == pytest.approx(10.8108, abs=1e-4)


def test_quantity_for_risk_is_floored_to_the_lot_step():
    # $40 risk, 20 pips on GBP/USD: 40 / 0.002 = 20,000 units
    assert quantity_for_risk("GBP/USD", 40.0, 20, 1.57) == pytest.approx(20_000)
    # $40 risk, 30 pips on USD/JPY at 92.50: 40 / (0.30 / 92.5) = 12,333.3 units; 12,000 in micro lots
    assert quantity_for_risk("USD/JPY", 40.0, 30, 92.5) == pytest.approx(12_333)
    assert quantity_for_risk("USD/JPY", 40.0, 30, 92.5, lot_step=1_000) == pytest.approx(12_000)
    risk = 12_333 * usd_risk_per_unit("USD/JPY", 30, 92.5)
    assert risk <= 40.0 and risk == pytest.approx(40.0, abs=0.01)


def test_a_size_below_the_minimum_order_is_zero_never_rounded_up():
    assert quantity_for_risk("EUR/USD", 40.0, 20, 1.10, min_units=25_000) == 0.0
    assert quantity_for_risk("EUR/USD", 0.1, 20, 1.10, lot_step=1_000) == 0.0
    assert floor_to_lot(1_999.999, 1_000) == pytest.approx(1_000)
    assert floor_to_lot(3_000.0, 1_000) == pytest.approx(3_000)


def test_usd_notional_and_direction():
    assert usd_notional("USD/JPY", 10_000, 92.5) == pytest.approx(10_000)
    assert usd_notional("EUR/USD", 10_000, 1.10) == pytest.approx(11_000)
    assert usd_direction("EUR/USD", 1) == -1  # long EUR/USD is short USD
    assert usd_direction("USD/JPY", -1) == -1  # short USD/JPY is short USD
    assert usd_direction("USD/JPY", 1) == 1
    assert usd_direction("EUR/GBP", 1) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: usd_per_pip_per_unit("EUR/GBP", 0.85),
        lambda: usd_per_pip_per_unit("EUR/USD", 0.0),
        lambda: usd_risk_per_unit("EUR/USD", -5, 1.1),
        lambda: pip_size("BTCUSDT-LINEAR.BYBIT"),
        lambda: floor_to_lot(10, 0),
    ],
)
def test_bad_inputs_fail_loudly(call):
    with pytest.raises(FxError):
        call()


# -- calendar --------------------------------------------------------------------------------------

CALENDAR = FxCalendar()


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2025-06-06T16:59:00-04:00", ""),  # Friday 16:59 NY is open (but inside the rollover blackout)
        ("2025-06-06T17:00:00-04:00", MARKET_CLOSED),  # Friday close
        ("2025-06-07T12:00:00-04:00", MARKET_CLOSED),  # Saturday
        ("2025-06-08T16:59:00-04:00", MARKET_CLOSED),  # Sunday before the open
        ("2025-06-08T17:00:00-04:00", FX_BLACKOUT),  # Sunday open: first hour blacked out
        ("2025-06-08T17:59:00-04:00", FX_BLACKOUT),
        ("2025-06-08T18:00:00-04:00", ""),
        ("2025-06-10T16:54:00-04:00", ""),  # Tuesday, before the rollover window
        ("2025-06-10T16:55:00-04:00", FX_BLACKOUT),
        ("2025-06-10T17:05:00-04:00", FX_BLACKOUT),
        ("2025-06-10T17:06:00-04:00", ""),
        ("2025-06-10T03:00:00-04:00", ""),
    ],
)
def test_entry_block_in_new_york_summer_time(moment, expected):
    ts = _ns(moment)
    if moment.startswith("2025-06-06T16:59"):
        assert CALENDAR.is_open(ts)
        assert CALENDAR.entry_block(ts) == FX_BLACKOUT
        return
    assert CALENDAR.entry_block(ts) == expected


def test_the_week_opens_at_22_utc_in_winter_and_21_utc_in_summer():
    # winter (EST, UTC-5): the GBP/USD and USD/JPY samples' first Sunday bar is 22:00 UTC
    assert not CALENDAR.is_open(_ns("2013-02-03T21:59:00+00:00"))
    assert CALENDAR.is_open(_ns("2013-02-03T22:00:00+00:00"))
    assert not CALENDAR.is_open(_ns("2013-02-01T22:00:00+00:00"))  # Friday 17:00 EST
    assert CALENDAR.is_open(_ns("2013-02-01T21:59:00+00:00"))
    # summer (EDT, UTC-4)
    assert CALENDAR.is_open(_ns("2025-06-08T21:00:00+00:00"))
    assert not CALENDAR.is_open(_ns("2025-06-08T20:59:00+00:00"))


def test_dst_change_weekend_keeps_the_new_york_wall_clock():
    # US clocks went forward on Sunday 2025-03-09 at 02:00: that evening's open is 21:00 UTC, not 22:00
    assert CALENDAR.is_open(_ns("2025-03-09T21:00:00+00:00"))
    opening, closing = CALENDAR.week_bounds(_ns("2025-03-08T12:00:00+00:00"))
    assert opening == _ns("2025-03-09T21:00:00+00:00")
    assert closing == _ns("2025-03-14T21:00:00+00:00")
    # the week before closed on Friday 2025-03-07 at 22:00 UTC (still EST)
    assert CALENDAR.week_bounds(_ns("2025-03-05T12:00:00+00:00"))[1] == _ns("2025-03-07T22:00:00+00:00")


def test_blackouts_are_configurable_and_can_be_off():
    calendar = FxCalendar(open_blackout_minutes=0, rollover_blackout_minutes=0)
    assert calendar.entry_block(_ns("2025-06-08T17:00:00-04:00")) == ""
    assert calendar.entry_block(_ns("2025-06-10T17:00:00-04:00")) == ""
    with pytest.raises(ValueError, match="HH:MM"):
        FxCalendar(rollover="5pm")
