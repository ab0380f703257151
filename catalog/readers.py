"""Read a configured source file into the normalised frame that `catalog.validate` checks.

The normalised frame has one row per data row of the file, in file order:

``row``
    1-based data row number; the header line is not counted, so in a CSV with a header row N is
    on line N + 1, in a header-less CSV row N is line N, in Parquet it is the N-th record.
``ts_raw`` and ``ts_event``
    The timestamp as written in the file (text) and the bar close in UTC nanoseconds (null when
    the text does not parse).
``open|high|low|close|volume`` and ``<field>_raw``
    The value as a float (prices divided by ``price_divisor``; null when not a number) and as
    written in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Literal
from zoneinfo import ZoneInfo

import polars as pl

from catalog.config import SourceSpec
from catalog.errors import SourceError

PRICE_FIELDS = ("open", "high", "low", "close")
VALUE_FIELDS = (*PRICE_FIELDS, "volume")

_ISO_AWARE = ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M%z")
_ISO_NAIVE = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d")
_EPOCH_UNITS: Mapping[str, Literal["s", "ms", "us", "ns"]] = MappingProxyType(
    {"epoch_s": "s", "epoch_ms": "ms", "epoch_us": "us", "epoch_ns": "ns"}
)


def read_source(source: SourceSpec) -> pl.DataFrame:
    """Read a source file and return its normalised frame (see the module docstring).

    Parameters
    ----------
    source : SourceSpec
        The configured source.

    Returns
    -------
    pl.DataFrame

    Raises
    ------
    SourceError
        If the file is missing or unreadable, or a configured column is not in it.
    """
    path = Path(source.path)
    if not path.is_file():
        raise SourceError(f"{path}: source file not found (source {source.name!r}, cwd {Path.cwd()})")
    table = _read_table(path, source)
    names = {field: _resolve_column(path, source, table, field) for field in ("timestamp", *VALUE_FIELDS)}
    frame = table.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"),
        *[
            _as_text(table, column).alias(f"{field}_raw" if field != "timestamp" else "ts_raw")
            for field, column in names.items()
            if column is not None
        ],
    )
    if names["volume"] is None:
        frame = frame.with_columns(pl.lit("0").alias("volume_raw"))
    ts_file = parse_timestamps(
        table.get_column(names["timestamp"] or ""), source.timestamp_format, source.timezone
    ).alias("ts_file")
    frame = frame.with_columns(ts_file)
    frame = frame.with_columns(
        _to_event_time(frame, source).alias("ts_event"),
        *[
            (
                pl.col(f"{field}_raw").str.strip_chars().cast(pl.Float64, strict=False) / source.price_divisor
            ).alias(field)
            for field in PRICE_FIELDS
        ],
        pl.col("volume_raw").str.strip_chars().cast(pl.Float64, strict=False).alias("volume"),
    )
    return _apply_window(frame, source).drop("ts_file")


def _read_table(path: Path, source: SourceSpec) -> pl.DataFrame:
    is_parquet = source.file_format == "parquet" or (
        source.file_format == "auto" and path.suffix.lower() in {".parquet", ".pq"}
    )
    try:
        if is_parquet:
            return pl.read_parquet(path)
        return pl.read_csv(
            path,
            has_header=source.has_header,
            infer_schema=False,
            truncate_ragged_lines=True,
            raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        kind = "Parquet" if is_parquet else "CSV"
        raise SourceError(f"{path}: cannot read as {kind} (source {source.name!r}): {exc}") from exc


def _resolve_column(path: Path, source: SourceSpec, table: pl.DataFrame, field: str) -> str | None:
    wanted = getattr(source.columns, field)
    if wanted is None:
        return None
    if isinstance(wanted, int):
        if wanted >= table.width:
            raise SourceError(
                f"{path}: column position {wanted} for field {field!r} not found; "
                f"the file has {table.width} columns (source {source.name!r})"
            )
        return table.columns[wanted]
    if wanted not in table.columns:
        raise SourceError(
            f"{path}: column {wanted!r} for field {field!r} not found; "
            f"the file has columns {table.columns} (source {source.name!r})"
        )
    return wanted


def _as_text(table: pl.DataFrame, column: str) -> pl.Expr:
    dtype = table.schema[column]
    if isinstance(dtype, pl.Datetime):
        return pl.col(column).dt.to_string(
            "%Y-%m-%d %H:%M:%S%.f%:z" if dtype.time_zone else "%Y-%m-%d %H:%M:%S%.f"
        )
    return pl.col(column).cast(pl.String)


def parse_timestamps(values: pl.Series, timestamp_format: str, timezone: str) -> pl.Series:
    """Parse timestamps into UTC epoch nanoseconds; unparseable values become null.

    Parameters
    ----------
    values : pl.Series
        Text, integer or datetime values as read from the file.
    timestamp_format : str
        ``iso``, ``native``, ``epoch_s|ms|us|ns`` or a strptime pattern.
    timezone : str
        IANA zone of naive timestamps; local times that do not exist or are ambiguous (DST
        transitions) become null.

    Returns
    -------
    pl.Series
        Int64 nanoseconds since the Unix epoch, UTC.
    """
    if isinstance(values.dtype, pl.Datetime | pl.Date):
        parsed = values.cast(
            pl.Datetime("ns", values.dtype.time_zone if isinstance(values.dtype, pl.Datetime) else None)
        )
        return _to_epoch_ns(parsed, timezone)
    if timestamp_format in _EPOCH_UNITS:
        numbers = values.cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
        return _to_epoch_ns(pl.from_epoch(numbers, time_unit=_EPOCH_UNITS[timestamp_format]), "UTC")
    text = values.cast(pl.String).str.strip_chars()
    if timestamp_format in ("iso", "native"):
        text = text.str.replace("T", " ", literal=True).str.replace(r"Z$", "+00:00")
        candidates = [
            _to_epoch_ns(text.str.to_datetime(f, strict=False, time_unit="ns"), timezone) for f in _ISO_AWARE
        ]
        candidates += [
            _to_epoch_ns(text.str.to_datetime(f, strict=False, time_unit="ns"), timezone) for f in _ISO_NAIVE
        ]
        return pl.select(pl.coalesce(candidates)).to_series()
    return _to_epoch_ns(text.str.to_datetime(timestamp_format, strict=False, time_unit="ns"), timezone)


def _to_epoch_ns(parsed: pl.Series, timezone: str) -> pl.Series:
    dtype = parsed.dtype
    assert isinstance(dtype, pl.Datetime)
    if dtype.time_zone is None:
        parsed = parsed.dt.replace_time_zone(timezone, ambiguous="null", non_existent="null")
    return parsed.dt.epoch("ns").cast(pl.Int64)


def _to_event_time(frame: pl.DataFrame, source: SourceSpec) -> pl.Expr:
    if source.timestamp_is == "close":
        return pl.col("ts_file")
    # Shift open stamps by one interval in the source's zone, so a daily bar ends at the next local
    # midnight even across a DST change.
    local = pl.from_epoch(pl.col("ts_file"), time_unit="ns").dt.replace_time_zone("UTC")
    local = local.dt.convert_time_zone(source.timezone).dt.offset_by(source.interval_offset)
    return local.dt.epoch("ns").cast(pl.Int64)


def _apply_window(frame: pl.DataFrame, source: SourceSpec) -> pl.DataFrame:
    keep = pl.lit(True)
    if source.start is not None:
        keep = keep & (
            pl.col("ts_file").is_null() | (pl.col("ts_file") >= _bound_ns(source.start, source.timezone))
        )
    if source.end is not None:
        keep = keep & (
            pl.col("ts_file").is_null() | (pl.col("ts_file") < _bound_ns(source.end, source.timezone))
        )
    return frame.filter(keep)


def _bound_ns(moment: datetime, timezone: str) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000
