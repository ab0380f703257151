"""Acceptance-style run of the bundled sample config into a temporary catalog."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from catalog.config import load_catalog_config
from catalog.ingest import IngestReport, ingest, main

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = REPO / "configs" / "catalog" / "sample.toml"

EXPECTED_BARS = {
    "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL": 43_200,
    "ETHUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL": 43_200,
    "BTCUSDT-LINEAR.BYBIT-5-MINUTE-LAST-EXTERNAL": 25_920,
    "ETHUSDT-LINEAR.BYBIT-5-MINUTE-LAST-EXTERNAL": 25_920,
    "EUR/USD.IDEALPRO-1-HOUR-BID-EXTERNAL": 74_439,
    "EUR/USD.IDEALPRO-1-HOUR-ASK-EXTERNAL": 74_439,
    "GBP/USD.IDEALPRO-1-MINUTE-BID-EXTERNAL": 30_117,
    "GBP/USD.IDEALPRO-1-MINUTE-ASK-EXTERNAL": 30_117,
    "USD/JPY.IDEALPRO-1-MINUTE-BID-EXTERNAL": 28_761,
    "USD/JPY.IDEALPRO-1-MINUTE-ASK-EXTERNAL": 28_761,
    # 5,849 rows; 43 have sub-cent highs/lows (e.g. 322.125) that tick 0.01 cannot hold.
    "SPY.ARCA-1-DAY-LAST-EXTERNAL": 5_806,
    "ETHUSDT-SPOT.BYBIT-5-MINUTE-LAST-EXTERNAL": 25_920,  # the perpetual's klines as a spot proxy
}
EXPECTED_QUARANTINED = {
    "bybit_btcusdt_1m": 0,
    "bybit_ethusdt_1m": 0,
    "bybit_btcusdt_5m": 0,
    "bybit_ethusdt_5m": 0,
    "oanda_eurusd_1h_bid": 0,
    "oanda_eurusd_1h_ask": 0,
    "fxcm_gbpusd_1m_bid": 0,
    "fxcm_gbpusd_1m_ask": 0,
    "fxcm_usdjpy_1m_bid": 0,
    "fxcm_usdjpy_1m_ask": 0,
    "lean_spy_1d": 43,
    "bybit_ethusdt_spot_5m_perp_proxy": 0,
}
EXPECTED_GAPS = {
    "bybit_btcusdt_1m": 0,
    "bybit_ethusdt_1m": 0,
    "bybit_btcusdt_5m": 0,
    "bybit_ethusdt_5m": 0,
    "oanda_eurusd_1h_bid": 12,  # holes over 52 hours: Christmas / New Year closures, a week in Dec 2016
    "oanda_eurusd_1h_ask": 12,
    "fxcm_gbpusd_1m_bid": 4,  # the four weekends of February 2012
    "fxcm_gbpusd_1m_ask": 4,
    "fxcm_usdjpy_1m_bid": 4,  # the four weekends of February 2013
    "fxcm_usdjpy_1m_ask": 4,
    "lean_spy_1d": 9,  # 9/11 closure, Sandy, and holes left by quarantined rows
    "bybit_ethusdt_spot_5m_perp_proxy": 0,
}


@dataclass(frozen=True)
class Run:
    report: IngestReport
    catalog_dir: Path
    digests: dict[str, str]


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp()) * 1_000_000_000


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    root = tmp_path_factory.mktemp("sample")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)  # the sample config uses repo-relative paths
        config = load_catalog_config(SAMPLE_CONFIG).with_catalog_path(root / "catalog")
        report = ingest(config)
    yield Run(report=report, catalog_dir=root / "catalog", digests=_digests(root))


def test_counts(run: Run) -> None:
    assert run.report.bars == EXPECTED_BARS
    assert run.report.quarantined == EXPECTED_QUARANTINED
    assert run.report.gaps == EXPECTED_GAPS
    assert run.report.instruments == [
        "BTCUSDT-LINEAR.BYBIT",
        "ETHUSDT-LINEAR.BYBIT",
        "EUR/USD.IDEALPRO",
        "GBP/USD.IDEALPRO",
        "USD/JPY.IDEALPRO",
        "SPY.ARCA",
        "ETHUSDT-SPOT.BYBIT",
    ]


def test_json_line(run: Run) -> None:
    line = run.report.to_json_line()
    assert "\n" not in line
    payload = json.loads(line)
    assert list(payload) == ["catalog", "instruments", "bars", "quarantined", "gaps", "rounded_volume"]
    assert payload["rounded_volume"] == dict.fromkeys(payload["quarantined"], 0)
    assert payload["catalog"] == str(run.catalog_dir.resolve())
    assert payload["bars"] == EXPECTED_BARS


def test_instruments_carry_the_payload_values(run: Run) -> None:
    catalog = ParquetDataCatalog(str(run.catalog_dir))
    by_id = {i.id.value: i for i in catalog.instruments()}
    btc = by_id["BTCUSDT-LINEAR.BYBIT"]
    assert btc.price_increment == Price.from_str("0.5")
    assert btc.size_increment == Quantity.from_str("0.001")
    assert btc.min_notional == Money(5, btc.quote_currency)
    assert btc.quote_currency.code == "USDT"
    assert btc.taker_fee == Decimal("0.0006")
    assert btc.maker_fee == Decimal("0.0001")
    assert by_id["ETHUSDT-LINEAR.BYBIT"].price_increment == Price.from_str("0.05")
    assert by_id["EUR/USD.IDEALPRO"].price_precision == 5
    assert by_id["SPY.ARCA"].price_increment == Price.from_str("0.01")


@pytest.mark.parametrize(
    ("bar_type", "first_open", "interval_ns", "first_open_price"),
    [
        ("BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL", "2025-05-30T16:39:00+00:00", 60 * 10**9, "104217.5"),
        ("ETHUSDT-LINEAR.BYBIT-5-MINUTE-LAST-EXTERNAL", "2025-04-03T17:05:00+00:00", 300 * 10**9, "1773.32"),
        ("EUR/USD.IDEALPRO-1-HOUR-BID-EXTERNAL", "2007-01-01T21:00:00+00:00", 3600 * 10**9, "1.31927"),
        ("EUR/USD.IDEALPRO-1-HOUR-ASK-EXTERNAL", "2007-01-01T21:00:00+00:00", 3600 * 10**9, "1.32027"),
        ("GBP/USD.IDEALPRO-1-MINUTE-ASK-EXTERNAL", "2012-02-01T00:00:00+00:00", 60 * 10**9, "1.57608"),
        # LEAN daily: 00:00 New York of the trading day, closed at the next New York midnight.
        ("SPY.ARCA-1-DAY-LAST-EXTERNAL", "1998-01-02T00:00:00-05:00", 86_400 * 10**9, "97.31"),
    ],
)
def test_bars_read_back_with_close_time_stamps(
    run: Run, bar_type: str, first_open: str, interval_ns: int, first_open_price: str
) -> None:
    bars = ParquetDataCatalog(str(run.catalog_dir)).bars(bar_types=[bar_type])
    assert len(bars) == EXPECTED_BARS[bar_type]
    assert bars[0].ts_event == _ns(first_open) + interval_ns
    assert bars[0].ts_init == bars[0].ts_event
    assert bars[0].open == Price.from_str(first_open_price)
    stamps = [b.ts_event for b in bars]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)


def test_reports_beside_the_catalog(run: Run) -> None:
    quarantine = run.catalog_dir.parent / "quarantine"
    spy = (quarantine / "lean_spy_1d.csv").read_text(encoding="utf-8").splitlines()
    assert spy[0] == "file,row,field,value,reason"
    assert len(spy) == 1 + 43
    assert spy[1].split(",") == [
        "data/sample/equity/spy_daily.csv.gz",
        "3943",
        "low",
        "1641350",
        "(= 164.135) has more decimals than price precision 2",
    ]
    assert not (quarantine / "bybit_btcusdt_1m.csv").exists()
    gaps = (quarantine / "fxcm_gbpusd_1m_bid.gaps.csv").read_text(encoding="utf-8").splitlines()
    assert gaps[0] == "file,from_row,to_row,from_ts_event,to_ts_event,missing_bars"
    assert len(gaps) == 1 + 4


def test_second_run_is_identical(
    run: Run, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    code = main(["--config", str(SAMPLE_CONFIG), "--catalog", str(run.catalog_dir)])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert json.loads(out[0]) == json.loads(run.report.to_json_line())
    assert _digests(run.catalog_dir.parent) == run.digests
    bars = ParquetDataCatalog(str(run.catalog_dir)).bars(
        bar_types=["BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"]
    )
    assert len(bars) == 43_200
