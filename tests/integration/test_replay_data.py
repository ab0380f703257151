"""The replay data client: resume after a timestamp, and a catch-up phase announced on the bus."""

from __future__ import annotations

import msgspec
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.replay.data import ReplayCatchupDone, ReplayDataClientConfig
from adapters.replay.runner import run_replay
from tests.scenarios.replay import BTC, EURUSD, RecordBars, RecordBarsConfig, actor, replay_config, window


def _record(catalog: str, bar_types: list[str], **data) -> tuple[list, object]:
    recorder = actor(RecordBars, RecordBarsConfig, bar_types=bar_types)
    config = replay_config(catalog, None, bar_types=bar_types, actors=[recorder], **data)
    result = run_replay(config, collect=lambda node: list(node.trader.actors()[0].seen))
    return result.collected, result.progress[0]


def _bar_times(catalog: str, bar_type: str, start: str, end: str) -> list[int]:
    return [bar.ts_init for bar in ParquetDataCatalog(catalog).bars([bar_type], start=start, end=end)]


def test_resume_after_streams_exactly_the_later_bars(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 300)
    times = _bar_times(replay_catalog, BTC.signal_bars, start, end)
    seen, progress = _record(
        replay_catalog, [BTC.signal_bars], start=start, end=end, resume_after_ns=times[119]
    )
    assert seen == times[120:]
    assert (progress.streamed, progress.bars, progress.last_ts_ns) == (180, 180, times[-1])
    assert progress.finished


def test_catchup_is_announced_between_its_last_bar_and_the_next(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 300)
    times = _bar_times(replay_catalog, BTC.signal_bars, start, end)
    seen, progress = _record(
        replay_catalog,
        [BTC.signal_bars],
        start=start,
        end=end,
        speed=1.0,  # wall-clock pace after the catch-up: only the last bar is left by then
        catchup_until_ns=times[-2],
    )
    done = ReplayCatchupDone(client_id="REPLAY", until_ns=times[-2], last_ts_ns=times[-2], streamed=299)
    assert seen == [*times[:-1], done, times[-1]]
    assert progress.finished and not progress.catching_up


def test_resume_then_catch_up_rebuilds_from_a_restart_point(replay_catalog: str) -> None:
    start, end = window(replay_catalog, EURUSD.signal_bars, 50)
    bid = _bar_times(replay_catalog, EURUSD.signal_bars, start, end)
    seen, progress = _record(
        replay_catalog,
        list(EURUSD.bar_types),
        start=start,
        end=end,
        resume_after_ns=bid[9],
        catchup_until_ns=bid[29],
    )
    done = seen.index(next(item for item in seen if isinstance(item, ReplayCatchupDone)))
    assert seen[:done] == [ts for ts in bid[10:30] for _ in range(2)]  # bid and ask bars
    assert seen[done] == ReplayCatchupDone("REPLAY", until_ns=bid[29], last_ts_ns=bid[29], streamed=40)
    assert seen[done + 1 :] == [ts for ts in bid[30:] for _ in range(2)]
    assert progress.bars == 80


def test_an_empty_catchup_is_announced_before_the_first_bar(replay_catalog: str) -> None:
    start, end = window(replay_catalog, BTC.signal_bars, 20)
    times = _bar_times(replay_catalog, BTC.signal_bars, start, end)
    seen, _ = _record(replay_catalog, [BTC.signal_bars], start=start, end=end, catchup_until_ns=times[0] - 1)
    assert seen == [ReplayCatchupDone("REPLAY", until_ns=times[0] - 1, last_ts_ns=None, streamed=0), *times]


def test_the_config_round_trips_as_json(replay_catalog: str) -> None:
    config = ReplayDataClientConfig(
        catalog_path=replay_catalog,
        bar_types=[BTC.signal_bars],
        speed=2.5,
        resume_after_ns=1,
        catchup_until_ns=2,
    )
    assert ReplayDataClientConfig.parse(config.json()) == config
    assert msgspec.json.decode(config.json())["speed"] == 2.5
