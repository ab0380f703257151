"""Rebuild the bundled sample under ``data/sample`` from a local copy of its source data sets.

Usage: ``python scripts/build_sample.py SOURCE_DIR``, where ``SOURCE_DIR`` holds the source files in
the layout ``data/sample/PROVENANCE.md`` lists (``bybit/klines/``, ``fx/``, ``equity/``,
``options/``). Developers run this once when the sample changes; users never need it (the output
is committed).
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

SHARED = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("source-data")  # the source data sets
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


def _gzip_text(text: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(dest, "wb", compresslevel=9, mtime=0) as handle:
        handle.write(text.encode())
    return dest


def _aapl_options() -> list[Path]:
    """Select the AAPL option sample: chains 2014-06-02..16, their 06-06/06-09 quotes, AAPL daily.

    Chains: every row of every 2014 chain file, prefixed with the chain date, for contracts with
    0-45 days to expiry and a strike within 15% of that day's underlying close (the underlying row
    is kept as is). Quotes: the quote row of each kept contract (by right, strike, expiry). Equity:
    the AAPL daily rows 2013-07-01..2014-12-31. Values are copied as text, never changed.
    """
    import csv
    from datetime import date

    def day(text: str) -> date:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))

    lines = [
        "date,expiry,strike,right,open,high,low,close,volume,open_interest,"
        "implied_volatility,delta,gamma,vega,theta,rho"
    ]
    keys: set[tuple[str, str, str]] = set()
    for path in sorted((SHARED / "options" / "aapl_universes").glob("2014*.csv")):
        rows = list(csv.reader(path.read_text().splitlines()))
        spot = float(rows[1][6])
        lines.append(f"{path.stem}," + ",".join(rows[1]))
        for row in rows[2:]:
            if 0 <= (day(row[0]) - day(path.stem)).days <= 45 and 0.85 * spot <= float(row[1]) <= 1.15 * spot:
                lines.append(f"{path.stem}," + ",".join(row))
                keys.add(("call" if row[2] == "C" else "put", str(round(float(row[1]) * 10000)), row[0]))
    quotes = [
        "right,strike_x10000,expiry,time,bid_open,bid_high,bid_low,bid_close,bid_size,"
        "ask_open,ask_high,ask_low,ask_close,ask_size"
    ]
    with zipfile.ZipFile(SHARED / "options" / "aapl_2014_quote_american.zip") as archive:
        for name in sorted(archive.namelist()):
            right, strike, expiry = name.removesuffix(".csv").split("_")[-3:]
            if (right, strike, expiry) in keys:
                for row in archive.read(name).decode().splitlines():
                    if row.strip():
                        quotes.append(f"{right},{strike},{expiry},{row.strip()}")
    with zipfile.ZipFile(SHARED / "equity" / "aapl_daily.zip") as archive:
        (member,) = archive.namelist()
        equity = [r for r in archive.read(member).decode().splitlines() if "20130701" <= r[:8] <= "20141231"]
    return [
        _gzip_text("\n".join(lines) + "\n", OUT / "options" / "aapl_chains_20140602_20140616.csv.gz"),
        _gzip_text("\n".join(quotes) + "\n", OUT / "options" / "aapl_quotes_20140606_20140609.csv.gz"),
        _gzip_text("\n".join(equity) + "\n", OUT / "equity" / "aapl_daily_2013h2_2014.csv.gz"),
    ]


def main() -> int:
    """Write every sample file and print its size and sha256."""
    if not SHARED.is_dir():
        print(
            f"usage: python scripts/build_sample.py SOURCE_DIR (not a directory: {SHARED})", file=sys.stderr
        )
        return 2
    outputs = [
        _bybit("BTCUSDT", "1m"),
        _bybit("ETHUSDT", "1m"),
        _bybit("BTCUSDT", "5m"),
        _bybit("ETHUSDT", "5m"),
        _zip_member_to_gzip(SHARED / "fx" / "oanda_eurusd_hour.zip", OUT / "fx" / "oanda_eurusd_hour.csv.gz"),
        _gzip_copy(SHARED / "fx" / "gbpusd-m1-bid-2012.csv", OUT / "fx" / "gbpusd-m1-bid-2012.csv.gz"),
        _gzip_copy(SHARED / "fx" / "gbpusd-m1-ask-2012.csv", OUT / "fx" / "gbpusd-m1-ask-2012.csv.gz"),
        _gzip_copy(SHARED / "fx" / "usdjpy-m1-bid-2013.csv", OUT / "fx" / "usdjpy-m1-bid-2013.csv.gz"),
        _gzip_copy(SHARED / "fx" / "usdjpy-m1-ask-2013.csv", OUT / "fx" / "usdjpy-m1-ask-2013.csv.gz"),
        _zip_member_to_gzip(SHARED / "equity" / "spy_daily.zip", OUT / "equity" / "spy_daily.csv.gz"),
    ]
    outputs.extend(_aapl_options())
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
