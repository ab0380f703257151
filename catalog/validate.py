"""Validate bars before anything is written: pure, vectorised polars, no I/O.

Row checks, in this order (a row may fail several; every failure is one quarantine line):

* timestamp missing or unparseable;
* a price or volume missing, not a number, NaN or infinite; a price not positive; volume negative;
* a price with more decimals than the instrument's price precision (prices are never rounded);
* ``high < max(open, close)``, ``low > min(open, close)``, ``high < low`` (only checked when all
  four prices are valid, so one bad value does not cascade).

Sequence checks run on the rows that pass the row checks, in file order: a timestamp equal to the
previous kept row's is a duplicate (the first one is kept), an earlier one goes backwards. Gaps
between consecutive kept rows longer than ``gap_report_bars`` intervals are reported, not failed.
Prices off the instrument's tick grid but within its precision are counted, not quarantined.

A kept row's volume with more decimals than the instrument's size precision is rounded to it, half
to even on the file's decimal text (``1.2345`` -> ``1.234``, ``1.2355`` -> ``1.236`` at precision
3), and counted (``rounded_volumes``), not quarantined: a venue's volume is an aggregate of many
trades, often reported finer than one order's size step, and the catalog's bars carry the
instrument's size precision. Half-even is unbiased over many rows; floor would shave every bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from types import MappingProxyType

import numpy as np
import polars as pl

PRICE_FIELDS = ("open", "high", "low", "close")
VALUE_FIELDS = (*PRICE_FIELDS, "volume")
_FIELD_ORDER = MappingProxyType({name: i for i, name in enumerate(("timestamp", *VALUE_FIELDS))})


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of validating one source.

    Attributes
    ----------
    source_name : str
        The configured source name.
    file : str
        The source file, as named in the messages.
    rows : int
        Rows checked (after the start/end window).
    kept : pl.DataFrame
        Good rows: ``row, ts_event, open, high, low, close, volume``, ascending ``ts_event``.
    quarantine : pl.DataFrame
        One line per failure: ``file, row, field, value, reason``.
    gaps : pl.DataFrame
        ``file, from_row, to_row, from_ts_event, to_ts_event, missing_bars``.
    off_tick_rows : int
        Kept rows with a price off the tick grid (within precision, so unchanged).
    off_tick_example : str or None
        One such row, as a message.
    rounded_volumes : int
        Kept rows whose volume had more decimals than the size precision and was rounded to it.
    rounded_volume_example : str or None
        One such row, as a message.
    """

    source_name: str
    file: str
    rows: int
    kept: pl.DataFrame
    quarantine: pl.DataFrame
    gaps: pl.DataFrame
    off_tick_rows: int = 0
    off_tick_example: str | None = None
    rounded_volumes: int = 0
    rounded_volume_example: str | None = None

    @property
    def bad_rows(self) -> int:
        """Return the number of distinct quarantined rows."""
        return int(self.quarantine.get_column("row").n_unique()) if self.quarantine.height else 0

    @property
    def bad_fraction(self) -> float:
        """Return quarantined rows / checked rows (0 for an empty source)."""
        return self.bad_rows / self.rows if self.rows else 0.0

    def messages(self, limit: int | None = None) -> list[str]:
        """Return quarantine lines as ``<file> row <n>: <field>=<value> <reason>``."""
        frame = self.quarantine if limit is None else self.quarantine.head(limit)
        return [
            f"{file} row {row}: {field}={value} {reason}"
            for file, row, field, value, reason in frame.iter_rows()
        ]


def validate_bars(
    frame: pl.DataFrame,
    source_name: str,
    interval_ns: int,
    *,
    file: str | None = None,
    gap_report_bars: int = 1,
    price_precision: int | None = None,
    size_precision: int | None = None,
    price_increment: float | None = None,
    timestamp_hint: str = "",
) -> ValidationResult:
    """Check bars row by row and in sequence, and split them into kept and quarantined rows.

    Parameters
    ----------
    frame : pl.DataFrame
        Normalised frame (see `catalog.readers`): ``row``, ``ts_raw``, ``ts_event`` (Int64 ns,
        null when unparseable), ``open..volume`` (Float64) and ``open_raw..volume_raw`` (String).
    source_name : str
        Name of the source, carried into the result.
    interval_ns : int
        Bar interval in nanoseconds.
    file : str, optional
        File name used in the quarantine lines; defaults to ``source_name``.
    gap_report_bars : int
        Report holes longer than this many intervals.
    price_precision, size_precision : int, optional
        Decimals the instrument keeps; prices with more decimals are quarantined, volumes with more
        decimals are rounded half to even (and counted).
    price_increment : float, optional
        Tick size; kept rows with a price off its grid are counted.
    timestamp_hint : str
        Appended to the "not a valid timestamp" reason (e.g. the configured format).

    Returns
    -------
    ValidationResult
    """
    name = file or source_name
    work = frame.with_columns(
        [
            pl.col(f"{field}_raw").cast(pl.String).str.strip_chars().alias(f"{field}_raw")
            for field in VALUE_FIELDS
        ]
    )
    problems = [_timestamp_problems(work, timestamp_hint)]
    problems += [_value_problems(work, field) for field in VALUE_FIELDS]
    if price_precision is not None:
        problems += [_precision_problems(work, field, price_precision, "price") for field in PRICE_FIELDS]
    problems.append(_ohlc_problems(work))
    row_level = pl.concat(problems, how="vertical")

    candidates = work.join(row_level.select("row").unique(), on="row", how="anti")
    sequence, kept = _sequence_problems(candidates)
    kept, rounded, rounded_example = _round_volumes(kept, size_precision, name)
    quarantine = (
        pl.concat([row_level, sequence], how="vertical")
        .with_columns(
            pl.col("field").replace_strict(dict(_FIELD_ORDER), return_dtype=pl.Int64).alias("_order")
        )
        .sort("row", "_order", "reason", maintain_order=True)
        .select(pl.lit(name).alias("file"), "row", "field", "value", "reason")
    )
    kept = kept.select("row", "ts_event", *VALUE_FIELDS)
    gaps = _gaps(kept, interval_ns, gap_report_bars, name)
    off_tick_rows, example = _off_tick(kept, price_increment, name)
    return ValidationResult(
        source_name=source_name,
        file=name,
        rows=frame.height,
        kept=kept,
        quarantine=quarantine,
        gaps=gaps,
        off_tick_rows=off_tick_rows,
        off_tick_example=example,
        rounded_volumes=rounded,
        rounded_volume_example=rounded_example,
    )


def _problem(
    frame: pl.DataFrame, condition: pl.Expr, field: str, value: pl.Expr, reason: pl.Expr
) -> pl.DataFrame:
    return frame.filter(condition).select(
        pl.col("row").cast(pl.Int64),
        pl.lit(field).alias("field"),
        value.fill_null("").cast(pl.String).alias("value"),
        reason.cast(pl.String).alias("reason"),
    )


def _timestamp_problems(frame: pl.DataFrame, hint: str) -> pl.DataFrame:
    raw = pl.col("ts_raw").cast(pl.String)
    missing = raw.is_null() | (raw.str.strip_chars() == "")
    suffix = f" ({hint})" if hint else ""
    reason = (
        pl.when(missing).then(pl.lit("is missing")).otherwise(pl.lit(f"is not a valid timestamp{suffix}"))
    )
    return _problem(frame, pl.col("ts_event").is_null(), "timestamp", raw, reason)


def _value_problems(frame: pl.DataFrame, field: str) -> pl.DataFrame:
    raw = pl.col(f"{field}_raw")
    value = pl.col(field)
    missing = raw.is_null() | (raw == "")
    reason = (
        pl.when(missing)
        .then(pl.lit("is missing"))
        .when(value.is_null())
        .then(pl.lit("is not a number"))
        .when(value.is_nan())
        .then(pl.lit("is NaN"))
        .when(value.is_infinite())
        .then(pl.lit("is infinite"))
    )
    sign_check = (value < 0, "is negative") if field == "volume" else (value <= 0, "is not positive")
    full = reason.when(sign_check[0]).then(pl.lit(sign_check[1])).otherwise(pl.lit(None, dtype=pl.String))
    return _problem(frame, full.is_not_null(), field, raw, full)


def _usable(field: str) -> pl.Expr:
    value = pl.col(field)
    return value.is_not_null() & value.is_finite() & (value > 0 if field != "volume" else value >= 0)


def _finer_than(field: str, precision: int) -> pl.Expr:
    """Return True where a usable value has more decimals than ``precision``."""
    value = pl.col(field)
    # Absolute tolerance far below one unit of the precision, plus float noise of large values.
    tolerance = 10.0 ** -(precision + 3) + value.abs() * 1e-13
    return _usable(field) & ((value.round(precision) - value).abs() > tolerance)


def _round_volumes(
    kept: pl.DataFrame, precision: int | None, name: str
) -> tuple[pl.DataFrame, int, str | None]:
    """Round volumes finer than the size precision half to even; return the frame, count and an example."""
    if precision is None or kept.height == 0:
        return kept, 0, None
    mask = kept.select(_finer_than("volume", precision)).to_series().to_numpy()
    positions = np.flatnonzero(mask)
    if positions.size == 0:
        return kept, 0, None
    step = Decimal(1).scaleb(-precision)
    volumes = kept.get_column("volume").to_numpy().copy()
    raws = kept.get_column("volume_raw").gather(positions).to_list()
    for position, raw in zip(positions, raws, strict=True):
        try:
            exact = Decimal(raw)
        except (InvalidOperation, TypeError):
            exact = Decimal(repr(float(volumes[position])))
        volumes[position] = float(exact.quantize(step, rounding=ROUND_HALF_EVEN))
    first = int(positions[0])
    example = (
        f"{name} row {kept.get_column('row')[first]}: volume={raws[0]} rounded to "
        f"{volumes[first]:.{precision}f} (size precision {precision}, half to even)"
    )
    return kept.with_columns(pl.Series("volume", volumes, dtype=pl.Float64)), int(positions.size), example


def _precision_problems(frame: pl.DataFrame, field: str, precision: int, kind: str) -> pl.DataFrame:
    value = pl.col(field)
    off = _finer_than(field, precision)
    scaled = value.round(precision + 6).cast(pl.String)
    text = f"has more decimals than {kind} precision {precision}"
    reason = (
        pl.when(scaled == pl.col(f"{field}_raw"))
        .then(pl.lit(text))
        .otherwise(pl.lit("(= ") + scaled + pl.lit(f") {text}"))
    )
    return _problem(frame, off, field, pl.col(f"{field}_raw"), reason)


def _ohlc_problems(frame: pl.DataFrame) -> pl.DataFrame:
    valid = frame.filter(pl.all_horizontal([_usable(f) for f in PRICE_FIELDS]))
    o, h, lo, c = (pl.col(f) for f in PRICE_FIELDS)
    max_raw = pl.when(o >= c).then(pl.col("open_raw")).otherwise(pl.col("close_raw"))
    min_raw = pl.when(o <= c).then(pl.col("open_raw")).otherwise(pl.col("close_raw"))
    return pl.concat(
        [
            _problem(
                valid,
                h < pl.max_horizontal(o, c),
                "high",
                pl.col("high_raw"),
                pl.lit("is below max(open, close)=") + max_raw,
            ),
            _problem(
                valid,
                lo > pl.min_horizontal(o, c),
                "low",
                pl.col("low_raw"),
                pl.lit("is above min(open, close)=") + min_raw,
            ),
            _problem(valid, h < lo, "high", pl.col("high_raw"), pl.lit("is below low=") + pl.col("low_raw")),
        ],
        how="vertical",
    )


def _sequence_problems(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    ts = pl.col("ts_event")
    prev_max = ts.cum_max().shift(1)
    is_new = prev_max.is_null() | (ts > prev_max)
    marked = frame.with_columns(
        is_new.alias("_new"),
        pl.when(is_new).then(pl.col("row")).forward_fill().shift(1).alias("_prev_row"),
        pl.when(is_new).then(pl.col("ts_raw")).forward_fill().shift(1).alias("_prev_raw"),
        prev_max.alias("_prev_max"),
    )
    duplicate = _problem(
        marked,
        ts == pl.col("_prev_max"),
        "timestamp",
        pl.col("ts_raw"),
        pl.lit("duplicates the timestamp of row ") + pl.col("_prev_row").cast(pl.String),
    )
    backwards = _problem(
        marked,
        ts < pl.col("_prev_max"),
        "timestamp",
        pl.col("ts_raw"),
        pl.format(
            "is earlier than {} of row {}, the previous kept row", pl.col("_prev_raw"), pl.col("_prev_row")
        ),
    )
    return pl.concat([duplicate, backwards], how="vertical"), marked.filter(pl.col("_new"))


def _iso(expr: pl.Expr) -> pl.Expr:
    return (
        pl.from_epoch(expr, time_unit="ns").dt.replace_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")
    )


def _gaps(kept: pl.DataFrame, interval_ns: int, gap_report_bars: int, name: str) -> pl.DataFrame:
    step = pl.col("ts_event").diff()
    found = kept.with_columns(
        step.alias("_step"),
        pl.col("row").shift(1).alias("from_row"),
        pl.col("ts_event").shift(1).alias("_from_ts"),
    ).filter(pl.col("_step") > gap_report_bars * interval_ns)
    return found.select(
        pl.lit(name).alias("file"),
        pl.col("from_row").cast(pl.Int64),
        pl.col("row").cast(pl.Int64).alias("to_row"),
        _iso(pl.col("_from_ts")).alias("from_ts_event"),
        _iso(pl.col("ts_event")).alias("to_ts_event"),
        (pl.col("_step") // interval_ns - 1).cast(pl.Int64).alias("missing_bars"),
    )


def _off_tick(kept: pl.DataFrame, price_increment: float | None, name: str) -> tuple[int, str | None]:
    if price_increment is None or kept.height == 0:
        return 0, None
    ratios = [(pl.col(f) / price_increment) for f in PRICE_FIELDS]
    off = pl.any_horizontal([(r - r.round(0)).abs() > 1e-6 for r in ratios])
    rows = kept.filter(off)
    if rows.height == 0:
        return 0, None
    first = rows.row(0, named=True)
    prices = ", ".join(f"{f}={round(first[f], 10)}" for f in PRICE_FIELDS)
    return rows.height, f"{name} row {first['row']}: {prices} not all on the tick grid {price_increment}"
