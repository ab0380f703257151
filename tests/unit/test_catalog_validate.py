"""One test per defect class, on corrupted copies of the first 500 rows of the real BTCUSDT 1m sample."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import polars as pl
import pytest

from catalog.config import ColumnMap, SourceSpec
from catalog.readers import read_source
from catalog.validate import ValidationResult, validate_bars

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample" / "bybit" / "BTCUSDT_1m.parquet"
ROWS = 500
MINUTE_NS = 60_000_000_000
TS_HINT = "timestamp_format='iso', timezone='UTC'"


def _bybit_lines(rows: int = ROWS) -> list[list[str]]:
    """Return the header and the first rows of the real sample as Bybit kline CSV fields."""
    frame = pl.read_parquet(SAMPLE).head(rows)
    frame = frame.with_columns(pl.col("timestamp").dt.to_string("%Y-%m-%d %H:%M:%S%:z"))
    text = frame.write_csv()
    return [line.split(",") for line in text.strip().split("\n")]


def _write(tmp_path: Path, lines: list[list[str]]) -> Path:
    path = tmp_path / "btcusdt_1m_corrupt.csv"
    path.write_text("\n".join(",".join(fields) for fields in lines) + "\n", encoding="utf-8")
    return path


def _source(path: Path) -> SourceSpec:
    return SourceSpec(
        name="corrupt",
        path=str(path),
        instrument="BTCUSDT-LINEAR.BYBIT",
        bar_spec="1-MINUTE-LAST",
        columns=ColumnMap("timestamp", "open", "high", "low", "close", "volume"),
        timestamp_format="iso",
    )


def _validate(path: Path, gap_report_bars: int = 1) -> ValidationResult:
    source = _source(path)
    return validate_bars(
        read_source(source),
        source.name,
        source.interval_ns,
        file=str(path),
        gap_report_bars=gap_report_bars,
        price_precision=1,
        size_precision=3,
        price_increment=0.5,
        timestamp_hint=TS_HINT,
    )


def _rows(result: ValidationResult) -> list[tuple[int, str, str, str]]:
    return [(r, f, v, why) for _, r, f, v, why in result.quarantine.iter_rows()]


def _col(name: str) -> int:
    return ["timestamp", "open", "high", "low", "close", "volume"].index(name)


@pytest.fixture
def lines() -> list[list[str]]:
    return _bybit_lines()


def test_clean_copy_keeps_every_row(tmp_path: Path, lines: list[list[str]]) -> None:
    result = _validate(_write(tmp_path, lines))
    assert result.rows == ROWS
    assert result.kept.height == ROWS
    assert result.quarantine.height == 0
    assert result.gaps.height == 0
    first_open_ns = pl.Series([lines[1][0]]).str.to_datetime("%Y-%m-%d %H:%M:%S%z").dt.epoch("ns")[0]
    assert result.kept["ts_event"][0] == first_open_ns + MINUTE_NS


def test_nan_is_quarantined(tmp_path: Path, lines: list[list[str]]) -> None:
    lines[10][_col("high")] = "NaN"
    lines[11][_col("volume")] = "nan"
    path = _write(tmp_path, lines)
    result = _validate(path)
    assert _rows(result) == [(10, "high", "NaN", "is NaN"), (11, "volume", "nan", "is NaN")]
    assert result.messages()[0] == f"{path} row 10: high=NaN is NaN"
    assert result.kept.height == ROWS - 2
    assert 10 not in result.kept["row"].to_list()


def test_inf_is_quarantined(tmp_path: Path, lines: list[list[str]]) -> None:
    lines[20][_col("low")] = "inf"
    lines[21][_col("close")] = "-inf"
    path = _write(tmp_path, lines)
    result = _validate(path)
    assert _rows(result) == [(20, "low", "inf", "is infinite"), (21, "close", "-inf", "is infinite")]
    assert result.messages()[1] == f"{path} row 21: close=-inf is infinite"


def test_non_positive_price_and_negative_volume(tmp_path: Path, lines: list[list[str]]) -> None:
    lines[30][_col("open")] = "0"
    lines[31][_col("close")] = "-5.0"
    lines[32][_col("volume")] = "-1.5"
    path = _write(tmp_path, lines)
    result = _validate(path)
    assert _rows(result) == [
        (30, "open", "0", "is not positive"),
        (31, "close", "-5.0", "is not positive"),
        (32, "volume", "-1.5", "is negative"),
    ]
    assert result.messages()[0] == f"{path} row 30: open=0 is not positive"


def test_missing_and_non_numeric_values(tmp_path: Path, lines: list[list[str]]) -> None:
    lines[33][_col("volume")] = ""
    lines[34][_col("open")] = "abc"
    result = _validate(_write(tmp_path, lines))
    assert _rows(result) == [(33, "volume", "", "is missing"), (34, "open", "abc", "is not a number")]


def test_high_below_max_open_close(tmp_path: Path, lines: list[list[str]]) -> None:
    row = lines[40]
    o, c = float(row[_col("open")]), float(row[_col("close")])
    assert o != c
    bigger = row[_col("open")] if o > c else row[_col("close")]
    smaller = row[_col("close")] if o > c else row[_col("open")]
    row[_col("high")] = smaller  # still >= low, so only this defect fires
    path = _write(tmp_path, lines)
    result = _validate(path)
    assert _rows(result) == [(40, "high", smaller, f"is below max(open, close)={bigger}")]
    assert result.messages() == [f"{path} row 40: high={smaller} is below max(open, close)={bigger}"]


def test_low_above_min_open_close(tmp_path: Path, lines: list[list[str]]) -> None:
    row = lines[41]
    o, c = float(row[_col("open")]), float(row[_col("close")])
    assert o != c
    bigger = row[_col("open")] if o > c else row[_col("close")]
    smaller = row[_col("close")] if o > c else row[_col("open")]
    row[_col("low")] = bigger  # still <= high
    path = _write(tmp_path, lines)
    result = _validate(path)
    assert _rows(result) == [(41, "low", bigger, f"is above min(open, close)={smaller}")]
    assert result.messages() == [f"{path} row 41: low={bigger} is above min(open, close)={smaller}"]


def test_high_below_low(tmp_path: Path, lines: list[list[str]]) -> None:
    row = lines[42]
    high, low = row[_col("high")], row[_col("low")]
    row[_col("high")], row[_col("low")] = low, high
    result = _validate(_write(tmp_path, lines))
    reasons = {(r, f, why) for r, f, _, why in _rows(result)}
    assert (42, "high", f"is below low={high}") in reasons
    assert {r for r, _, _ in reasons} == {42}


def test_too_many_decimals_for_the_price_precision(tmp_path: Path, lines: list[list[str]]) -> None:
    lines[43][_col("close")] = lines[43][_col("close")] + "5"
    value = lines[43][_col("close")]
    result = _validate(_write(tmp_path, lines))
    assert _rows(result) == [(43, "close", value, "has more decimals than price precision 1")]


def test_duplicate_timestamp(tmp_path: Path, lines: list[list[str]]) -> None:
    lines[50][0] = lines[49][0]
    path = _write(tmp_path, lines)
    result = _validate(path)
    assert _rows(result) == [(50, "timestamp", lines[49][0], "duplicates the timestamp of row 49")]
    assert result.messages() == [
        f"{path} row 50: timestamp={lines[49][0]} duplicates the timestamp of row 49"
    ]
    # Row 50's own minute is now missing: a one-bar hole between rows 49 and 51.
    assert result.gaps.select("from_row", "to_row", "missing_bars").rows() == [(49, 51, 1)]


def test_backwards_timestamp(tmp_path: Path, lines: list[list[str]]) -> None:
    lines[60][0] = lines[55][0]
    result = _validate(_write(tmp_path, lines))
    assert _rows(result) == [
        (60, "timestamp", lines[55][0], f"is earlier than {lines[59][0]} of row 59, the previous kept row")
    ]


def test_unparseable_timestamp(tmp_path: Path, lines: list[list[str]]) -> None:
    lines[70][0] = "2025-13-45 25:00:00+00:00"
    lines[71][0] = ""
    path = _write(tmp_path, lines)
    result = _validate(path)
    assert _rows(result) == [
        (70, "timestamp", "2025-13-45 25:00:00+00:00", f"is not a valid timestamp ({TS_HINT})"),
        (71, "timestamp", "", "is missing"),
    ]
    assert result.messages()[0] == (
        f"{path} row 70: timestamp=2025-13-45 25:00:00+00:00 is not a valid timestamp ({TS_HINT})"
    )


def test_gap_report(tmp_path: Path, lines: list[list[str]]) -> None:
    del lines[100:105]  # data rows 100..104: five missing minutes between new rows 99 and 100
    path = _write(tmp_path, lines)
    result = _validate(path, gap_report_bars=1)
    assert result.quarantine.height == 0
    assert result.gaps.select("from_row", "to_row", "missing_bars").rows() == [(99, 100, 5)]
    gap = result.gaps.row(0, named=True)
    assert gap["file"] == str(path)
    assert gap["from_ts_event"].endswith("Z")
    assert _validate(path, gap_report_bars=5).gaps.height == 1  # a 6-interval step exceeds 5
    assert _validate(path, gap_report_bars=6).gaps.height == 0


def test_a_clean_month_of_real_minutes_keeps_every_row() -> None:
    frame = pl.read_parquet(SAMPLE)
    normalised = frame.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("row"),
        pl.col("timestamp").cast(pl.String).alias("ts_raw"),
        (pl.col("timestamp").dt.epoch("ns") + MINUTE_NS).alias("ts_event"),
        *[pl.col(f) for f in ("open", "high", "low", "close", "volume")],
        *[pl.col(f).cast(pl.String).alias(f"{f}_raw") for f in ("open", "high", "low", "close", "volume")],
    )
    result = validate_bars(
        normalised, "btc", MINUTE_NS, price_precision=1, size_precision=3, price_increment=0.5
    )
    assert result.kept.height == 43_200
    assert result.quarantine.height == 0


def test_volume_finer_than_the_size_precision_is_rounded_half_to_even(
    tmp_path: Path, lines: list[list[str]]
) -> None:
    # Real rows: Bybit BTCUSDT volumes carry 3 decimals; an instrument with size precision 2 (a
    # 0.01 size step) cannot hold them. Two rows are set on exact ties to pin the rounding rule.
    lines[1][_col("volume")] = "0.125"
    lines[2][_col("volume")] = "0.135"
    source = _source(_write(tmp_path, lines))
    result = validate_bars(
        read_source(source),
        source.name,
        source.interval_ns,
        file="btc.csv",
        price_precision=1,
        size_precision=2,
    )
    raws = [Decimal(fields[_col("volume")]) for fields in lines[1:]]
    step = Decimal("0.01")
    assert result.quarantine.height == 0
    assert result.kept.height == ROWS
    volumes = result.kept.get_column("volume").to_list()
    assert volumes == [float(raw.quantize(step, rounding=ROUND_HALF_EVEN)) for raw in raws]
    assert volumes[:2] == [0.12, 0.14]
    assert result.rounded_volumes == sum(raw != raw.quantize(step) for raw in raws)
    assert result.rounded_volumes > ROWS // 2
    assert result.rounded_volume_example == (
        "btc.csv row 1: volume=0.125 rounded to 0.12 (size precision 2, half to even)"
    )
    prices = result.kept.select("open", "high", "low", "close").rows()
    assert prices == [
        tuple(float(fields[_col(f)]) for f in ("open", "high", "low", "close")) for fields in lines[1:]
    ]


def test_a_price_finer_than_the_price_precision_is_still_quarantined_not_rounded(
    tmp_path: Path, lines: list[list[str]]
) -> None:
    lines[10][_col("high")] = lines[10][_col("high")] + "4"  # e.g. 104402.74 at price precision 1
    lines[11][_col("volume")] = "12.3456"
    result = _validate(_write(tmp_path, lines))
    assert [(row, field) for row, field, _, _ in _rows(result)] == [(10, "high")]
    assert result.rounded_volumes == 1
    assert 10 not in result.kept.get_column("row").to_list()
