"""The both-levels count: trades whose exit bar touched both their stop and their target."""

from __future__ import annotations

import pandas as pd
import pytest
from nautilus_trader.model.data import Bar, BarType

from engine.ambiguity import BothLevelsTouched, exit_bar_touched_both, tally
from engine.results import closed_trade_pnls
from tests.scenarios.kit import btcusdt_perpetual, eurusd

T1, T2, T3 = 1_000_000_000_000, 2_000_000_000_000, 3_000_000_000_000


def _bar(instrument, bar_type: str, ts: int, high: float, low: float) -> Bar:
    p = instrument.make_price
    return Bar(BarType.from_str(bar_type), p(low), p(high), p(low), p(high), instrument.make_qty(1), ts, ts)


def _tables(trades):
    """Return positions and orders tables for (entry id, side, ts_closed, stop, target, pnl) rows."""
    positions, orders = [], []
    for entry, side, ts, stop, target, pnl in trades:
        positions.append(
            {
                "instrument_id": "BTCUSDT-LINEAR.BYBIT",
                "opening_order_id": entry,
                "entry": side,
                "ts_closed": pd.Timestamp(ts, unit="ns", tz="UTC"),
                "realized_pnl": f"{pnl} USDT",
            }
        )
        base = {"order_list_id": f"OL-{entry}", "trigger_price": None, "price": None}
        orders.append({**base, "client_order_id": entry, "parent_order_id": None, "tags": ["ENTRY"]})
        if stop is not None:
            orders.append(
                {**base, "client_order_id": f"{entry}-SL", "parent_order_id": entry, "tags": ["SL"]}
                | {"trigger_price": stop}
            )
        orders.append(
            {**base, "client_order_id": f"{entry}-TP", "parent_order_id": entry, "tags": ["TP"]}
            | {"price": target}
        )
    return pd.DataFrame(positions), pd.DataFrame(orders)


LAST = "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"


def test_long_and_short_exit_bars_are_checked_against_their_own_levels():
    btc = btcusdt_perpetual()
    positions, orders = _tables(
        [
            ("O-1", "BUY", T1, 99_000.0, 101_000.0, 10.0),  # bar spans both levels
            ("O-2", "BUY", T2, 99_000.0, 101_000.0, -5.0),  # bar reaches the stop only
            ("O-3", "SELL", T3, 101_000.0, 99_000.0, -7.0),  # bar spans both levels
        ]
    )
    bars = [
        _bar(btc, LAST, T1, 101_500.0, 98_500.0),
        _bar(btc, LAST, T2, 100_500.0, 98_500.0),
        _bar(btc, LAST, T3, 101_000.0, 99_000.0),  # touching counts: high == stop, low == target
    ]
    assert exit_bar_touched_both(positions, orders, bars) == [True, False, True]
    counted = tally(exit_bar_touched_both(positions, orders, bars), closed_trade_pnls(positions))
    assert counted == BothLevelsTouched(2, 3, 3.0)
    assert counted.as_dict() == {"count": 2, "closed_trades": 3, "share": pytest.approx(0.666667), "pnl": 3.0}


def test_flags_follow_close_time_and_a_trade_without_both_orders_or_bar_is_not_counted():
    btc = btcusdt_perpetual()
    positions, orders = _tables(
        [
            ("O-2", "BUY", T2, None, 101_000.0, 1.0),  # no stop order
            ("O-1", "BUY", T1, 99_000.0, 101_000.0, 1.0),  # listed second, closed first
            ("O-3", "BUY", T3, 99_000.0, 101_000.0, 1.0),  # no bar at its close
        ]
    )
    bars = [_bar(btc, LAST, ts, 102_000.0, 98_000.0) for ts in (T1, T2)]
    assert exit_bar_touched_both(positions, orders, bars) == [True, False, False]


def test_bid_ask_bars_a_long_is_read_on_the_bid_a_short_on_the_ask():
    pair = eurusd()
    bid, ask = "EUR/USD.IDEALPRO-1-MINUTE-BID-EXTERNAL", "EUR/USD.IDEALPRO-1-MINUTE-ASK-EXTERNAL"
    positions, orders = _tables(
        [("L", "BUY", T1, 1.0990, 1.1010, 1.0), ("S", "SELL", T2, 1.1010, 1.0990, 1.0)]
    )
    positions["instrument_id"] = "EUR/USD.IDEALPRO"
    bars = [
        _bar(pair, bid, T1, 1.1010, 1.0990),  # the long's sells: both levels on the bid
        _bar(pair, ask, T1, 1.1012, 1.0992),
        _bar(pair, bid, T2, 1.1008, 1.0988),  # the short's buys: the ask reaches 1.1010 and 1.0990
        _bar(pair, ask, T2, 1.1010, 1.0990),
    ]
    assert exit_bar_touched_both(positions, orders, bars) == [True, True]
    bars[0] = _bar(pair, bid, T1, 1.1009, 1.0990)  # the bid misses the target by a tick
    assert exit_bar_touched_both(positions, orders, bars) == [False, True]


def test_the_shortest_bar_of_an_instrument_is_its_exit_bar():
    btc = btcusdt_perpetual()
    positions, orders = _tables([("O-1", "BUY", T1, 99_000.0, 101_000.0, 1.0)])
    five = "BTCUSDT-LINEAR.BYBIT-5-MINUTE-LAST-EXTERNAL"
    bars = [_bar(btc, five, T1, 102_000.0, 98_000.0), _bar(btc, LAST, T1, 100_500.0, 99_500.0)]
    assert exit_bar_touched_both(positions, orders, bars) == [False]


def test_tables_read_back_from_parquet_count_the_same():
    btc = btcusdt_perpetual()
    positions, orders = _tables([("O-1", "BUY", T1, 99_000.0, 101_000.0, 1.0)])
    orders["tags"] = orders["tags"].map(str)  # engine.results.write_table stringifies lists
    bars = [_bar(btc, LAST, T1, 102_000.0, 98_000.0)]
    assert exit_bar_touched_both(positions, orders, bars) == [True]


def test_no_closed_trades_gives_no_share():
    assert tally([], []).as_dict() == {"count": 0, "closed_trades": 0, "share": None, "pnl": 0.0}
    assert exit_bar_touched_both(pd.DataFrame(), pd.DataFrame(), []) == []
