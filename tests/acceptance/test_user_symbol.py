"""A user's own Bybit kline CSV ingests and backtests by writing config files only.

No kline file of a third Bybit symbol exists in the shared data, so the user's file here is the
bundled BTCUSDT 1m sample written out in Bybit's exact CSV format and declared as the Bybit *spot*
instrument BTCUSDT-SPOT.BYBIT (defined from the recorded spot instruments-info payload). Both commands
run as subprocesses, exactly as a user would call them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[2]

INGEST = """
[catalog]
path = "{root}/catalog"
quarantine_dir = "{root}/quarantine"

[[instruments]]
kind = "crypto_spot"
symbol = "BTCUSDT"
bybit_instruments_info = "data/venues/bybit/http_get_instruments_spot.json"
bybit_fee_rate = "data/venues/bybit/http_get_fee_rate.json"

[[sources]]
name = "my_btcusdt_spot_1m"
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

BACKTEST = """
[run]
name = "my_symbol"
log_level = "OFF"

[data]
catalog = "{root}/catalog"
bar_types = ["BTCUSDT-SPOT.BYBIT-1-MINUTE-LAST-EXTERNAL"]

[[venues]]
name = "BYBIT"
base_currency = "USDT"
starting_balances = ["10000 USDT"]

[report]
tearsheet = false

[[strategies]]
path = "strategies.mean_reversion:MeanReversion"
config_path = "strategies.mean_reversion:MeanReversionConfig"
config = {{ instrument_id = "BTCUSDT-SPOT.BYBIT", bar_type = "BTCUSDT-SPOT.BYBIT-1-MINUTE-LAST-EXTERNAL" }}
"""


def test_user_csv_ingests_and_backtests_from_config_files_only(tmp_path):
    csv = tmp_path / "BTCUSDT_spot_1m.csv"
    sample = pl.read_parquet(REPO / "data" / "sample" / "bybit" / "BTCUSDT_1m.parquet")
    sample.with_columns(pl.col("timestamp").dt.to_string("%Y-%m-%d %H:%M:%S%:z")).write_csv(csv)
    assert (
        csv.read_text().splitlines()[1]
        == "2025-05-30 16:39:00+00:00,104217.5,104402.7,104200.0,104337.8,477.605"
    )
    (tmp_path / "ingest.toml").write_text(INGEST.format(root=tmp_path, csv=csv))
    (tmp_path / "backtest.toml").write_text(BACKTEST.format(root=tmp_path))

    ingest = subprocess.run(
        [sys.executable, "-m", "catalog.ingest", "--config", str(tmp_path / "ingest.toml")],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(ingest.stdout.strip().splitlines()[-1])["bars"] == {
        "BTCUSDT-SPOT.BYBIT-1-MINUTE-LAST-EXTERNAL": 43_200
    }

    out = tmp_path / "run"
    backtest = subprocess.run(
        [sys.executable, "-m", "engine.backtest", "--config", str(tmp_path / "backtest.toml"), "--out", out],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "my_symbol:" in backtest.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bars_processed"] == 43_200
    assert summary["metrics"]["trades"] > 0
