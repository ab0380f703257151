"""Forex on IDEALPRO through the real engine: pip stops, bid/ask sides, the 24/5 calendar, weekend gaps.

Candle tables of bid bars (the ask is bid + a fixed spread) run through the nautilus kernel, the
risk desk and the strategy base class (tests/scenarios/kit.py). The forex calendar is on in every
scenario here (the kit turns it off for the crypto tables, which start on a Sunday).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from nautilus_trader.model.data import Bar, BarType

from catalog.config import InstrumentSpec
from catalog.instruments import build_instrument
from engine.risk.fx import pip_size, quantity_for_risk, usd_risk_per_unit
from tests.scenarios.kit import BAR_TYPE, btcusdt_perpetual, candles_to_bars, run_scenario

MINUTE_NS = 60_000_000_000
CALENDAR_ON = {"risk": {"assets": {"forex": {"calendar": True}}}}
WIDE_PAIR_CAP = {"risk": {"assets": {"forex": {"calendar": True}}}, "sizing": {"pair_cap_fraction": 1.0}}


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp()) * 1_000_000_000


def _pair(symbol: str):
    return build_instrument(InstrumentSpec(kind="currency_pair", symbol=symbol))


def _bars(instrument, rows, spread, opens_ns):
    """Return bid bars from ``rows`` (o, h, l, c) and ask bars ``spread`` above, stamped at bar close."""
    symbol = instrument.id.value
    bid_type = BarType.from_str(f"{symbol}-1-MINUTE-BID-EXTERNAL")
    ask_type = BarType.from_str(f"{symbol}-1-MINUTE-ASK-EXTERNAL")
    bars = []
    for (o, h, low, c), opened in zip(rows, opens_ns, strict=True):
        ts = opened + MINUTE_NS
        for bar_type, shift in ((bid_type, 0.0), (ask_type, spread)):
            prices = [instrument.make_price(x + shift) for x in (o, h, low, c)]
            bars.append(Bar(bar_type, *prices, instrument.make_qty(1_000_000), ts, ts))
    bars.sort(key=lambda bar: bar.ts_event)
    return bars, str(bid_type)


def _minutes(start: str, count: int) -> list[int]:
    first = _ns(start)
    return [first + i * MINUTE_NS for i in range(count)]


def _run(instrument, rows, spread, opens, script, desk=CALENDAR_ON):
    bars, bid_type = _bars(instrument, rows, spread, opens)
    return run_scenario(
        [],
        script,
        instrument=instrument,
        bars=bars,
        signal_bar_type=bid_type,
        balance="100000 USD",
        desk=desk,
    )


def _exits(result):
    closed = result.positions[result.positions["ts_closed"].notna()]
    return list(zip(closed["exit_reason"], closed["avg_px_close"].astype(float), strict=True))


# -- pip stops sized by the desk -------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "price", "sl_pips"), [("GBP/USD", 1.5700, 100), ("USD/JPY", 92.500, 100)])
def test_a_stop_of_n_pips_sizes_to_the_planned_usd_risk(symbol, price, sl_pips):
    # 100,000 USD ledger x 0.4% forex risk fraction = 400 USD at the stop (pair cap widened so the
    # risk rule sets the size). GBP/USD: 400 / (100 x 0.0001) = 40,000 units; USD/JPY at 92.50:
    # 400 / (100 x 0.01 / 92.5) = 37,000 units (37,000 USD of notional).
    instrument = _pair(symbol)
    pip = pip_size(symbol)
    flat = (price, price + 5 * pip, price - 5 * pip, price)
    stop, target = price - sl_pips * pip, price + 2 * sl_pips * pip
    result = _run(
        instrument,
        [flat] * 4,
        2 * pip,
        _minutes("2025-06-04T12:00:00+00:00", 4),
        {1: ["BUY", stop, target]},
        desk=WIDE_PAIR_CAP,
    )
    entry = result.fills[result.fills["order_side"].astype(str) == "BUY"]
    quantity = float(entry["last_qty"].iloc[0])
    expected = quantity_for_risk(symbol, 400.0, sl_pips, price)
    assert quantity == pytest.approx(expected, abs=1.0)
    assert quantity == pytest.approx({"GBP/USD": 40_000, "USD/JPY": 37_000}[symbol], abs=1.0)
    assert quantity * usd_risk_per_unit(symbol, sl_pips, price) == pytest.approx(400.0, abs=0.05)
    assert result.desk.approvals == 1 and result.denials == {}


# -- bid/ask: buys on the ask, sells on the bid, stops on the side that closes --------------------


def test_usdjpy_buy_fills_on_the_ask_and_its_stop_triggers_on_the_bid():
    # bar 2's bid low (92.395) crosses the long's stop (92.400); its ask low (92.415) does not
    instrument = _pair("USD/JPY")
    rows = [(92.5, 92.52, 92.48, 92.5)] * 2 + [(92.5, 92.51, 92.395, 92.45), (92.45, 92.46, 92.44, 92.45)]
    result = _run(instrument, rows, 0.02, _minutes("2025-06-04T12:00:00+00:00", 4), {1: ["BUY", 92.4, 92.8]})
    entry = result.fills[result.fills["order_side"].astype(str) == "BUY"]
    assert float(entry["last_px"].iloc[0]) == pytest.approx(92.52)  # ask close, not the 92.51 mid
    assert _exits(result) == [("SL", pytest.approx(92.4))]


def test_usdjpy_sell_fills_on_the_bid_and_its_stop_triggers_on_the_ask():
    # bar 2's ask high (92.625) crosses the short's stop (92.620); its bid high (92.605) does not
    instrument = _pair("USD/JPY")
    rows = [(92.5, 92.52, 92.48, 92.5)] * 2 + [(92.5, 92.605, 92.49, 92.55), (92.55, 92.56, 92.54, 92.55)]
    result = _run(
        instrument, rows, 0.02, _minutes("2025-06-04T12:00:00+00:00", 4), {1: ["SELL", 92.62, 92.2]}
    )
    entry = result.fills[result.fills["order_side"].astype(str) == "SELL"]
    assert float(entry["last_px"].iloc[0]) == pytest.approx(92.5)  # bid close
    assert _exits(result) == [("SL", pytest.approx(92.62))]


def test_a_stop_the_bid_never_reaches_stays_open_although_the_mid_would_have_hit_it():
    instrument = _pair("GBP/USD")
    # bid low 1.5691 stays above the stop 1.5690 (the ask is 2 pips higher still)
    rows = [(1.57, 1.5705, 1.5695, 1.57)] * 2 + [(1.57, 1.5701, 1.5691, 1.5695)] * 2
    result = _run(
        instrument, rows, 0.0002, _minutes("2025-06-04T12:00:00+00:00", 4), {1: ["BUY", 1.569, 1.575]}
    )
    assert _exits(result) == []


# -- the 24/5 calendar -----------------------------------------------------------------------------


def test_entries_wait_out_the_rollover_the_weekend_and_the_first_hour_after_the_open():
    # Friday 2025-06-06 20:50-20:59 UTC bars (16:51-17:00 New York at their close), then Sunday
    # 2025-06-08 21:00-21:09 UTC (17:01-17:10 New York).
    instrument = _pair("EUR/USD")
    opens = _minutes("2025-06-06T20:50:00+00:00", 10) + _minutes("2025-06-08T21:00:00+00:00", 10)
    flat = (1.14, 1.1405, 1.1395, 1.14)
    script = {
        4: ["BUY", 1.13, 1.15],  # 16:55 NY: rollover blackout
        9: ["BUY", 1.13, 1.15],  # 17:00 Friday: market closed
        10: ["BUY", 1.13, 1.15],  # Sunday 17:01: first hour after the open
        19: ["BUY", 1.13, 1.15],  # Sunday 17:10: still the first hour
    }
    result = _run(instrument, [flat] * 20, 0.0002, opens, script)
    assert result.denials == {"fx_blackout": 3, "market_closed": 1}
    assert result.fills.empty


def test_crypto_entries_ignore_the_forex_calendar():
    # the kit's crypto tables start on Sunday 2025-06-01 00:00 UTC, when FX is closed
    bars = candles_to_bars(btcusdt_perpetual(), [(100_000, 100_050, 99_950, 100_000)] * 3, BAR_TYPE)
    result = run_scenario([], {1: ["BUY", 99_000.0, 101_000.0]}, bars=bars, desk=CALENDAR_ON)
    assert result.denials == {}
    assert len(result.fills) == 1


# -- the weekend gap -------------------------------------------------------------------------------


def test_a_weekend_gap_through_the_stop_fills_at_the_gapped_open():
    # long EUR/USD on Friday 16:53 NY, stop 1.1350; the week reopens on Sunday at 1.1300 (bid),
    # 50 pips through the stop. The stop-market triggers on the open and fills at it: the gap loss is
    # taken (engine.fills; docs/forex.md, docs/backtest-fill-rules.md).
    instrument = _pair("EUR/USD")
    opens = _minutes("2025-06-06T20:50:00+00:00", 4) + _minutes("2025-06-08T21:00:00+00:00", 3)
    friday = (1.14, 1.1405, 1.1395, 1.14)
    sunday = [(1.13, 1.1305, 1.1295, 1.13)] * 3
    result = _run(instrument, [friday] * 4 + sunday, 0.0002, opens, {2: ["BUY", 1.135, 1.15]})
    assert _exits(result) == [("SL", pytest.approx(1.13))]
    closed = result.positions[result.positions["ts_closed"].notna()]
    assert pd.Timestamp(closed["ts_closed"].iloc[0]) == pd.Timestamp("2025-06-08T21:01:00+00:00")
