"""Reading sources: timestamp formats, time zones, open-to-close shift and the start/end window."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from catalog.config import ColumnMap, SourceSpec
from catalog.readers import parse_timestamps, read_source

REPO = Path(__file__).resolve().parents[2]
GBP_BID = REPO / "data" / "sample" / "fx" / "gbpusd-m1-bid-2012.csv.gz"
SPY = REPO / "data" / "sample" / "equity" / "spy_daily.csv.gz"


def _ns(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * 1_000_000_000


def test_timestamp_formats() -> None:
    ms = pl.Series(["1748623140000", "oops"])
    assert parse_timestamps(ms, "epoch_ms", "UTC").to_list() == [_ns(2025, 5, 30, 16, 39), None]
    iso = pl.Series(["2025-05-30 16:39:00+00:00", "2025-05-30T18:39:00+02:00", "2025-05-30T16:39:00Z"])
    assert parse_timestamps(iso, "iso", "UTC").to_list() == [_ns(2025, 5, 30, 16, 39)] * 3
    lean = pl.Series(["20070101 21:00", "2007-01-01 21:00"])
    assert parse_timestamps(lean, "%Y%m%d %H:%M", "UTC").to_list() == [_ns(2007, 1, 1, 21), None]


def test_naive_times_in_a_zone_and_dst_gaps() -> None:
    values = pl.Series(["2021-03-14 01:30:00", "2021-03-14 02:30:00", "2021-03-14 03:30:00"])
    # 02:30 does not exist in New York that night: it becomes null and is quarantined later.
    assert parse_timestamps(values, "iso", "America/New_York").to_list() == [
        _ns(2021, 3, 14, 6, 30),
        None,
        _ns(2021, 3, 14, 7, 30),
    ]


def test_daily_open_stamps_close_at_the_next_local_midnight() -> None:
    source = SourceSpec(
        name="spy",
        path=str(SPY),
        instrument="SPY.ARCA",
        bar_spec="1-DAY-LAST",
        columns=ColumnMap(0, 1, 2, 3, 4, 5),
        has_header=False,
        timestamp_format="%Y%m%d %H:%M",
        timezone="America/New_York",
        price_divisor=10_000,
        start=datetime(2021, 3, 12),
        end=datetime(2021, 3, 16),
    )
    frame = read_source(source)
    # Fri 12 Mar 2021 (EST) closes at Sat 00:00 EST; Mon 15 Mar (EDT, after the switch) at Tue 00:00 EDT.
    assert frame["ts_raw"].to_list() == ["20210312 00:00", "20210315 00:00"]
    assert frame["ts_event"].to_list() == [_ns(2021, 3, 13, 5), _ns(2021, 3, 16, 4)]
    assert frame["open_raw"][0] == "3920900"
    assert abs(frame["open"][0] - 392.09) < 1e-9


def test_window_keeps_file_row_numbers_and_fills_missing_volume() -> None:
    source = SourceSpec(
        name="gbp",
        path=str(GBP_BID),
        instrument="GBP/USD.IDEALPRO",
        bar_spec="1-MINUTE-BID",
        columns=ColumnMap("timestamp", "open", "high", "low", "close"),
        start=datetime(2012, 2, 1, 0, 10, tzinfo=UTC),
        end=datetime(2012, 2, 1, 0, 13, tzinfo=UTC),
    )
    frame = read_source(source)
    assert frame["row"].to_list() == [11, 12, 13]
    assert frame["ts_event"].to_list() == [_ns(2012, 2, 1, 0, m) for m in (11, 12, 13)]
    assert frame["volume"].to_list() == [0.0, 0.0, 0.0]
