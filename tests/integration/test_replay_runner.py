"""The replay runner: graceful stop on SIGINT mid-run, clean disposal, and config checks."""

from __future__ import annotations

import re
import signal

import msgspec
import pytest
from nautilus_trader.config import LiveDataEngineConfig, LiveExecEngineConfig, LiveRiskEngineConfig

from adapters.replay.data import ReplayDataError
from adapters.replay.runner import ReplayConfigError, check_replay_config, run_replay
from tests.scenarios.replay import (
    BTC,
    StopAfterBars,
    StopAfterBarsConfig,
    actor,
    fills,
    replay_config,
    window,
)


def test_sigint_stops_the_replay_gracefully_and_disposes_the_node(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 2_000)
    stopper = actor(StopAfterBars, StopAfterBarsConfig, bar_type=BTC.signal_bars, count=500)
    config = replay_config(replay_catalog, BTC, start=start, end=end, actors=[stopper])
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    nodes = []

    def collect(node):
        nodes.append(node)
        return fills(node.cache)

    result = run_replay(config, collect=collect)

    assert result.stopped_early
    (progress,) = result.progress
    assert progress.stopped and not progress.finished
    assert 500 <= progress.streamed < 2_000  # stopped right after the signal, not at the end
    assert result.collected  # the fills up to the stop were collected before disposal
    (node,) = nodes
    assert node.trader.is_disposed
    assert node.kernel.loop.is_closed()
    assert (
        signal.getsignal(signal.SIGINT),
        signal.getsignal(signal.SIGTERM),
    ) == before  # nautilus' SIG_DFL undone


def test_a_message_on_the_stop_topic_stops_the_replay(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 1_000)
    stopper = actor(StopAfterBars, StopAfterBarsConfig, bar_type=BTC.signal_bars, count=100, how="topic")
    result = run_replay(replay_config(replay_catalog, BTC, start=start, end=end, actors=[stopper]))
    assert result.stopped_early
    assert 100 <= result.progress[0].streamed < 1_000


def test_an_exception_in_a_handler_stops_the_node_instead_of_the_process(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 1_000)
    buggy = actor(StopAfterBars, StopAfterBarsConfig, bar_type=BTC.signal_bars, count=100, how="raise")
    result = run_replay(replay_config(replay_catalog, BTC, start=start, end=end, actors=[buggy]))
    assert result.stopped_early  # the data engine shut the node down gracefully
    assert result.progress[0].streamed < 1_000


def test_a_node_config_with_live_checks_is_refused(replay_catalog: str) -> None:
    config = replay_config(replay_catalog, BTC)
    with pytest.raises(ReplayConfigError, match=r"exec_engine\.inflight_check_interval_ms is 2000"):
        check_replay_config(msgspec.structs.replace(config, exec_engine=LiveExecEngineConfig()))
    with pytest.raises(ReplayConfigError, match=r"risk_engine.max_order_submit_rate is '100/00:00:01'"):
        slow = LiveRiskEngineConfig(graceful_shutdown_on_exception=True)
        check_replay_config(msgspec.structs.replace(config, risk_engine=slow))
    with pytest.raises(ReplayConfigError, match=r"data_engine\.graceful_shutdown_on_exception is False"):
        check_replay_config(msgspec.structs.replace(config, data_engine=LiveDataEngineConfig()))
    twice = {"REPLAY": config.data_clients["REPLAY"], "REPLAY2": config.data_clients["REPLAY"]}
    with pytest.raises(ReplayConfigError, match="data_clients has 2 ReplayDataClientConfig entries"):
        check_replay_config(msgspec.structs.replace(config, data_clients=twice))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"catalog_path": "/nonexistent/catalog"}, "catalog_path '/nonexistent/catalog' is not a directory"),
        (
            {"bar_types": ["BTCUSDT-LINEAR.BYBIT-1-MINUTE-BID-EXTERNAL"]},
            "has no bars for BTCUSDT-LINEAR.BYBIT-1-MINUTE-BID",
        ),
        ({"instrument_ids": ["ETHUSDT-LINEAR.BYBIT"]}, "has no instrument ETHUSDT-LINEAR.BYBIT"),
        ({"bar_types": ["garbage"]}, "bar_types has an invalid bar type 'garbage'"),
        ({"speed": "fast"}, "speed 'fast' must be \"max\" or a positive number"),
        ({"speed": -2.0}, "speed -2.0 must be"),
        ({"start": "June 1st"}, "start 'June 1st' is not an ISO timestamp"),
        ({"resume_after_ns": 10, "catchup_until_ns": 5}, "catchup_until_ns 5 is before resume_after_ns 10"),
    ],
)
def test_bad_replay_settings_fail_the_build_with_the_field(
    replay_catalog: str, data: dict, message: str
) -> None:
    data = {"catalog_path": replay_catalog, **data}
    config = replay_config(data.pop("catalog_path"), BTC, **data)
    with pytest.raises(ReplayDataError, match=re.escape(message)):
        run_replay(config)
