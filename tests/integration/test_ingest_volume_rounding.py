"""Real Bybit klines into an instrument whose size step is coarser than the file's volumes.

The bundled BTCUSDT 1-minute klines report volume to 0.001 BTC; an instrument defined with a 0.01
size step cannot hold that. The ingest rounds those volumes half to even, counts them in its summary
and writes every row; prices keep their strict check.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import polars as pl
import pytest
from nautilus_trader.model.data import BarType
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from catalog.ingest import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample" / "bybit" / "BTCUSDT_1m.parquet"
BAR_TYPE = "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"

CONFIG = """
[catalog]
path = "{catalog}"

[[instruments]]
kind = "crypto_perpetual"
symbol = "BTCUSDT"
tick_size = "{tick}"
qty_step = "0.01"                 # coarser than the klines' 0.001 BTC volumes
min_qty = "0.01"
max_qty = "1000"
min_notional = 5
maker_fee = 0.0002
taker_fee = 0.00055

[[sources]]
name = "btc_1m"
path = "{sample}"
instrument = "BTCUSDT-LINEAR.BYBIT"
bar_spec = "1-MINUTE-LAST"
timestamp_format = "native"
start = 2025-06-01T00:00:00Z
end = 2025-06-02T00:00:00Z
max_bad_fraction = {max_bad}
columns.timestamp = "timestamp"
columns.open = "open"
columns.high = "high"
columns.low = "low"
columns.close = "close"
columns.volume = "volume"
"""


def _write(tmp_path: Path, tick: str, max_bad: float = 0.01) -> Path:
    path = tmp_path / "coarse.toml"
    text = CONFIG.format(catalog=tmp_path / "catalog", sample=SAMPLE, tick=tick, max_bad=max_bad)
    path.write_text(text, encoding="utf-8")
    return path


def _day() -> pl.DataFrame:
    frame = pl.read_parquet(SAMPLE)
    start = pl.datetime(2025, 6, 1, time_zone="UTC")
    return frame.filter((pl.col("timestamp") >= start) & (pl.col("timestamp") < start.dt.offset_by("1d")))


def test_volumes_are_rounded_and_counted_not_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["--config", str(_write(tmp_path, tick="0.1"))]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    day = _day()
    step = Decimal("0.01")
    raws = [Decimal(repr(v)) for v in day.get_column("volume").to_list()]
    expected_rounded = sum(raw != raw.quantize(step) for raw in raws)
    assert expected_rounded > len(raws) // 2  # a real mismatch, on most rows
    assert summary["quarantined"] == {"btc_1m": 0}
    assert summary["rounded_volume"] == {"btc_1m": expected_rounded}
    assert summary["bars"] == {BAR_TYPE: len(raws)}
    assert "volumes finer than size precision 2, rounded half to even" in caplog.text

    bars = ParquetDataCatalog(str(tmp_path / "catalog")).bars(bar_types=[BAR_TYPE])
    assert [bar.volume.as_decimal() for bar in bars] == [raw.quantize(step, ROUND_HALF_EVEN) for raw in raws]
    assert {bar.volume.precision for bar in bars} == {2}
    assert [bar.close.as_decimal() for bar in bars] == [Decimal(repr(v)) for v in day.get_column("close")]
    assert BarType.from_str(BAR_TYPE) == bars[0].bar_type


def test_prices_finer_than_the_tick_precision_stay_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A whole-dollar tick (price precision 0): the klines' 0.1 prices may not be rounded.
    assert main(["--config", str(_write(tmp_path, tick="1"))]) == 3
    err = capsys.readouterr().err
    assert "has more decimals than price precision 0" in err
    assert "nothing was written" in err
    assert not (tmp_path / "catalog").exists()
