"""CLI behaviour on bad data and bad config, on corrupted copies of the real BTCUSDT 1m sample."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from catalog.ingest import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample" / "bybit" / "BTCUSDT_1m.parquet"
VENUE = REPO / "data" / "venues" / "bybit"

CONFIG = """
[catalog]
path = "{root}/catalog"
max_bad_fraction = 0.01

[[instruments]]
kind = "crypto_perpetual"
symbol = "BTCUSDT"
bybit_instruments_info = "{venue}/http_get_instruments_linear.json"
bybit_fee_rate = "{venue}/http_get_fee_rate.json"

[[instruments]]
kind = "crypto_perpetual"
symbol = "ETHUSDT"
bybit_instruments_info = "{venue}/http_get_instruments_linear.json"
bybit_fee_rate = "{venue}/http_get_fee_rate.json"

[[sources]]
name = "good_eth"
path = "{good}"
instrument = "ETHUSDT-LINEAR.BYBIT"
bar_spec = "1-MINUTE-LAST"
columns.timestamp = "timestamp"
columns.open = "open"
columns.high = "high"
columns.low = "low"
columns.close = "close"
columns.volume = "volume"

[[sources]]
name = "btc"
path = "{btc}"
instrument = "BTCUSDT-LINEAR.BYBIT"
bar_spec = "1-MINUTE-LAST"
columns.timestamp = "timestamp"
columns.open = "open"
columns.high = "high"
columns.low = "low"
columns.close = "close"
columns.volume = "{volume}"
"""


def _lines(parquet: Path, rows: int = 500) -> list[list[str]]:
    frame = pl.read_parquet(parquet).head(rows)
    frame = frame.with_columns(pl.col("timestamp").dt.to_string("%Y-%m-%d %H:%M:%S%:z"))
    return [line.split(",") for line in frame.write_csv().strip().split("\n")]


def _write(path: Path, lines: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(fields) for fields in lines) + "\n", encoding="utf-8")
    return path


def _setup(tmp_path: Path, btc_lines: list[list[str]], volume: str = "volume") -> Path:
    good = _write(tmp_path / "eth.csv", _lines(SAMPLE.with_name("ETHUSDT_1m.parquet")))
    btc = _write(tmp_path / "btc.csv", btc_lines)
    config = tmp_path / "ingest.toml"
    config.write_text(
        CONFIG.format(root=tmp_path, venue=VENUE, good=good, btc=btc, volume=volume), encoding="utf-8"
    )
    return config


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_quarantine_file_holds_exact_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(SAMPLE)
    lines[7][2] = "NaN"  # high
    lines[9][0] = lines[8][0]  # duplicate timestamp
    config = _setup(tmp_path, lines)
    assert main(["--config", str(config)]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["quarantined"] == {"good_eth": 0, "btc": 2}
    assert summary["bars"]["BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"] == 498
    assert summary["gaps"] == {"good_eth": 0, "btc": 2}  # the minutes of rows 7 and 9 are missing now
    btc = tmp_path / "btc.csv"
    assert (tmp_path / "quarantine" / "btc.csv").read_text(encoding="utf-8").splitlines() == [
        "file,row,field,value,reason",
        f"{btc},7,high,NaN,is NaN",
        f"{btc},9,timestamp,{lines[8][0]},duplicates the timestamp of row 8",
    ]
    gaps = (tmp_path / "quarantine" / "btc.gaps.csv").read_text(encoding="utf-8").splitlines()
    assert [g.split(",")[1:3] + g.split(",")[-1:] for g in gaps[1:]] == [["6", "8", "1"], ["8", "10", "1"]]


def test_too_many_bad_rows_exits_3_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(SAMPLE)
    clean = _setup(tmp_path, lines)
    assert main(["--config", str(clean)]) == 0
    capsys.readouterr()
    before = _digests(tmp_path / "catalog")

    for row in range(100, 106):  # 6 of 500 rows = 1.2% > 1%
        lines[row][3] = "-1"  # low
    lines[17][2] = "99.5"  # high
    config = _setup(tmp_path, lines)
    assert main(["--config", str(config)]) == 3
    captured = capsys.readouterr()
    assert captured.out == ""
    btc = tmp_path / "btc.csv"
    assert f"{btc}: 7 of 500 rows (1.40%) failed validation, above max_bad_fraction=0.01" in captured.err
    assert "nothing was written" in captured.err
    expected_max = max(float(lines[17][1]), float(lines[17][4]))
    assert f"{btc} row 17: high=99.5 is below max(open, close)={expected_max}" in captured.err
    assert f"{btc} row 100: low=-1 is not positive" in captured.err
    assert _digests(tmp_path / "catalog") == before
    assert not (tmp_path / "quarantine" / "btc.csv").exists()


def test_nothing_is_written_on_a_fresh_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(SAMPLE)
    for row in range(1, 21):
        lines[row][0] = "not a time"
    assert main(["--config", str(_setup(tmp_path, lines))]) == 3
    assert "row 1: timestamp=not a time is not a valid timestamp" in capsys.readouterr().err
    assert not (tmp_path / "catalog").exists()
    assert not (tmp_path / "quarantine").exists()


def test_missing_column_names_file_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _setup(tmp_path, _lines(SAMPLE), volume="vol")
    assert main(["--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'btc.csv'}: column 'vol' for field 'volume' not found" in err
    assert "'timestamp', 'open', 'high', 'low', 'close', 'volume'" in err
    assert not (tmp_path / "catalog").exists()


def test_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _setup(tmp_path, _lines(SAMPLE))
    (tmp_path / "btc.csv").unlink()
    assert main(["--config", str(config)]) == 2
    assert f"{tmp_path / 'btc.csv'}: source file not found (source 'btc'" in capsys.readouterr().err


def test_bad_config_value_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _setup(tmp_path, _lines(SAMPLE))
    config.write_text(config.read_text().replace("max_bad_fraction = 0.01", "max_bad_fraction = -0.5"))
    assert main(["--config", str(config)]) == 2
    assert f"{config}: catalog.max_bad_fraction = -0.5: must be in [0, 1]" in capsys.readouterr().err
