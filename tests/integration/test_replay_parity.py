"""A TradingNode replaying the catalog into the sandbox fills exactly as a BacktestEngine does.

Both sides run the same plain nautilus EMA-cross strategy (market entries with a stop-market and a
limit target as a bracket) on the same bars of the bundled sample, with the same fill model (seeded
slippage on BTCUSDT), fees and latency. See docs/replay.md.
"""

from __future__ import annotations

import pytest
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.replay.runner import run_replay
from tests.scenarios.replay import BTC, EURUSD, backtest_fills, fills, replay_config, window, with_quotes


def _replayed(config):
    result = run_replay(config, collect=lambda node: fills(node.cache))
    assert not result.stopped_early
    assert [p.finished for p in result.progress] == [True]
    return result


def test_btcusdt_brackets_fill_identically(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 2_000)
    expected = backtest_fills(replay_catalog, BTC, start, end)
    result = _replayed(replay_config(replay_catalog, BTC, start=start, end=end))
    assert result.progress[0].bars == 2_000
    assert len(expected) >= 50  # entries, stops and targets
    assert {f.order_type for f in expected} == {"MARKET", "STOP_MARKET", "LIMIT"}
    assert result.collected == expected


def test_fills_are_stamped_with_bar_time(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 300)
    bar_times = {
        bar.ts_event
        for bar in ParquetDataCatalog(replay_catalog).bars([BTC.signal_bars], start=start, end=end)
    }
    result = _replayed(replay_config(replay_catalog, BTC, start=start, end=end))
    assert result.collected
    assert {f.ts_event for f in result.collected} <= bar_times  # data time, not the node's wall clock


@pytest.mark.parametrize("latency_ns", [1_000_000, 90_000_000_000])
def test_latency_delays_fills_as_in_a_backtest(replay_catalog: str, latency_ns: int) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 1_000)
    expected = backtest_fills(replay_catalog, BTC, start, end, latency_ns=latency_ns)
    without_latency = backtest_fills(replay_catalog, BTC, start, end)
    assert expected != without_latency  # the latency moves the entries to later bars
    result = _replayed(replay_config(replay_catalog, BTC, start=start, end=end, latency_ns=latency_ns))
    assert result.collected == expected


def test_fx_bid_ask_bars_fill_identically(replay_catalog: str) -> None:
    start, end = window(replay_catalog, EURUSD.signal_bars, 2_000)
    expected = backtest_fills(replay_catalog, EURUSD, start, end)
    result = _replayed(replay_config(replay_catalog, EURUSD, start=start, end=end))
    assert result.progress[0].bars == 4_000  # bid and ask
    assert len(expected) >= 50
    # Buys pay the ask and sells get the bid: the replay pairs the two bar types as a backtest does.
    assert result.collected == expected


def test_quote_ticks_stream_before_bars_and_fill_identically(replay_catalog: str, tmp_path) -> None:
    start, end = window(replay_catalog, EURUSD.signal_bars, 1_000)
    quoted = str(tmp_path / "catalog")
    with_quotes(replay_catalog, quoted, EURUSD, start, end)
    expected = backtest_fills(quoted, EURUSD, start, end, quotes=True)
    result = _replayed(replay_config(quoted, EURUSD, start=start, end=end))
    assert (result.progress[0].quotes, result.progress[0].bars) == (1_000, 2_000)
    assert len(expected) >= 20
    assert result.collected == expected


def test_a_rerun_is_identical(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 500)
    config = replay_config(replay_catalog, BTC, start=start, end=end)
    assert _replayed(config).collected == _replayed(config).collected


def test_a_wall_clock_pace_fills_as_max_speed(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 500)
    fast = _replayed(replay_config(replay_catalog, BTC, start=start, end=end))
    # 500 minutes of data at x1,000,000: the schedule's waits, a fraction of a second in all.
    paced = _replayed(replay_config(replay_catalog, BTC, start=start, end=end, speed=1_000_000.0))
    assert paced.collected == fast.collected


@pytest.mark.slow
def test_the_whole_btcusdt_sample_fills_identically(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 43_200)
    expected = backtest_fills(replay_catalog, BTC, start, end)
    result = _replayed(replay_config(replay_catalog, BTC, start=start, end=end))
    assert result.progress[0].bars == 43_200
    assert len(expected) > 1_500
    assert result.collected == expected
