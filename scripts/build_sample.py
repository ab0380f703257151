"""Rebuild the bundled sample under ``data/sample`` from the real files in ``../shared/data``.

Developers run this once when the sample changes; users never need it (the output is committed).
Every output keeps the source's values untouched; only the container changes (CSV -> zstd Parquet
for the Bybit klines, zip -> gzip for the LEAN files, a row filter for the time windows).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import sys
import zipfile
from pathlib import Path

import polars as pl

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
OUT = Path(__file__).resolve().parents[1] / "data" / "sample"


def _bybit(symbol: str, interval: str) -> Path:
    src = SHARED / "bybit" / "klines" / f"{symbol}_{interval}.csv"
    frame = pl.read_csv(src, try_parse_dates=False).with_columns(
        pl.col("timestamp").str.to_datetime("%Y-%m-%d %H:%M:%S%z", time_unit="ms", time_zone="UTC")
    )
    dest = OUT / "bybit" / f"{symbol}_{interval}.parquet"
    dest.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(dest, compression="zstd", compression_level=19, statistics=False)
    return dest


def _zip_member_to_gzip(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        (member,) = archive.namelist()
        payload = archive.read(member)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(dest, "wb", compresslevel=9, mtime=0) as handle:
        handle.write(payload)
    return dest


def _gzip_copy(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with src.open("rb") as raw, gzip.GzipFile(dest, "wb", compresslevel=9, mtime=0) as handle:
        shutil.copyfileobj(raw, handle)
    return dest


def main() -> int:
    """Write every sample file and print its size and sha256."""
    if not SHARED.is_dir():
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 2
    outputs = [
        _bybit("BTCUSDT", "1m"),
        _bybit("ETHUSDT", "1m"),
        _bybit("BTCUSDT", "5m"),
        _bybit("ETHUSDT", "5m"),
        _zip_member_to_gzip(SHARED / "fx" / "oanda_eurusd_hour.zip", OUT / "fx" / "oanda_eurusd_hour.csv.gz"),
        _gzip_copy(SHARED / "fx" / "gbpusd-m1-bid-2012.csv", OUT / "fx" / "gbpusd-m1-bid-2012.csv.gz"),
        _gzip_copy(SHARED / "fx" / "gbpusd-m1-ask-2012.csv", OUT / "fx" / "gbpusd-m1-ask-2012.csv.gz"),
        _zip_member_to_gzip(SHARED / "equity" / "spy_daily.zip", OUT / "equity" / "spy_daily.csv.gz"),
    ]
    venue = OUT.parent / "venues" / "bybit"
    venue.mkdir(parents=True, exist_ok=True)
    for name in (
        "http_get_instruments_linear.json",
        "http_get_instruments_spot.json",
        "http_get_fee_rate.json",
        "http_get_funding_history.json",
    ):
        shutil.copyfile(SHARED / "bybit" / "api" / name, venue / name)
        outputs.append(venue / name)
    total = 0
    for path in outputs:
        size = path.stat().st_size
        total += size
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        print(f"{path.relative_to(OUT.parent.parent)}\t{size}\t{digest}")
    print(f"total\t{total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
