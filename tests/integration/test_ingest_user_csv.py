"""A user brings a Bybit-format kline CSV and defines instruments by config alone."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from nautilus_trader.model.instruments import CryptoPerpetual, CurrencyPair
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from catalog.ingest import main

REPO = Path(__file__).resolve().parents[2]
VENUE = REPO / "data" / "venues" / "bybit"
SAMPLE = REPO / "data" / "sample" / "bybit" / "BTCUSDT_1m.parquet"

CONFIG = """
[catalog]
path = "{catalog}"

[[instruments]]
kind = "crypto_spot"
symbol = "BTCUSDT"
bybit_instruments_info = "{venue}/http_get_instruments_spot.json"
bybit_fee_rate = "{venue}/http_get_fee_rate.json"

[[instruments]]
kind = "crypto_perpetual"          # not in the recorded instruments payload: defined inline
symbol = "SOLUSDT"
bybit_fee_rate = "{venue}/http_get_fee_rate.json"
tick_size = "0.1"
qty_step = "0.001"
min_qty = "0.001"
max_qty = "10000"
min_notional = 5

[[sources]]
name = "user_btcusdt_spot_1m"
path = "{csv}"
instrument = "BTCUSDT-SPOT.BYBIT"
bar_spec = "1-MINUTE-LAST"
timestamp_format = "iso"
timestamp_is = "open"
columns.timestamp = "timestamp"
columns.open = "open"
columns.high = "high"
columns.low = "low"
columns.close = "close"
columns.volume = "volume"
"""


@pytest.fixture
def user_csv(tmp_path: Path) -> Path:
    """Export the bundled BTCUSDT 1m sample in Bybit's kline CSV format."""
    frame = pl.read_parquet(SAMPLE).with_columns(pl.col("timestamp").dt.to_string("%Y-%m-%d %H:%M:%S%:z"))
    path = tmp_path / "export" / "klines_1m.csv"
    path.parent.mkdir()
    frame.write_csv(path)
    return path


def test_user_csv_and_inline_instruments(
    tmp_path: Path, user_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert user_csv.read_text(encoding="utf-8").splitlines()[:2] == [
        "timestamp,open,high,low,close,volume",
        "2025-05-30 16:39:00+00:00,104217.5,104402.7,104200.0,104337.8,477.605",
    ]
    catalog_dir = tmp_path / "var" / "catalog"
    config = tmp_path / "user.toml"
    config.write_text(CONFIG.format(catalog=catalog_dir, venue=VENUE, csv=user_csv), encoding="utf-8")

    assert main(["--config", str(config)]) == 0
    summary = json.loads(capsys.readouterr().out.strip())
    assert summary["instruments"] == ["BTCUSDT-SPOT.BYBIT", "SOLUSDT-LINEAR.BYBIT"]
    assert summary["bars"] == {"BTCUSDT-SPOT.BYBIT-1-MINUTE-LAST-EXTERNAL": 43_200}
    assert summary["quarantined"] == {"user_btcusdt_spot_1m": 0}
    assert summary["gaps"] == {"user_btcusdt_spot_1m": 0}

    catalog = ParquetDataCatalog(str(catalog_dir))
    by_id = {i.id.value: i for i in catalog.instruments()}
    spot = by_id["BTCUSDT-SPOT.BYBIT"]
    assert isinstance(spot, CurrencyPair)
    assert spot.price_increment == Price.from_str("0.1")
    assert spot.size_increment == Quantity.from_str("0.0001")
    assert spot.min_notional == Money(10, spot.quote_currency)
    sol = by_id["SOLUSDT-LINEAR.BYBIT"]
    assert isinstance(sol, CryptoPerpetual)
    assert sol.base_currency.code == "SOL"
    assert sol.settlement_currency.code == "USDT"
    assert sol.price_increment == Price.from_str("0.1")
    assert sol.size_increment == Quantity.from_str("0.001")
    assert sol.min_notional == Money(5, sol.quote_currency)
    assert sol.maker_fee == Decimal("0.00025")
    assert sol.taker_fee == Decimal("0.00075")

    bars = catalog.bars(bar_types=["BTCUSDT-SPOT.BYBIT-1-MINUTE-LAST-EXTERNAL"])
    assert len(bars) == 43_200
    first_open_ns = 1_748_623_140_000_000_000  # 2025-05-30 16:39:00 UTC
    assert bars[0].ts_event == first_open_ns + 60_000_000_000
    assert bars[0].close == Price.from_str("104337.8")
    assert bars[0].volume == Quantity.from_str("477.605")
    spot_bars = catalog.bars(bar_types=["BTCUSDT-SPOT.BYBIT-1-MINUTE-LAST-EXTERNAL"])
    assert spot_bars[-1].ts_event == bars[-1].ts_event
    assert spot_bars[0].volume.precision == spot.size_precision
