"""Fixtures shared by the integration tests."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from catalog.config import parse_catalog_config
from catalog.ingest import ingest

REPO = Path(__file__).resolve().parents[2]
REPLAY_SOURCES = ("bybit_btcusdt_1m", "oanda_eurusd_1h_bid", "oanda_eurusd_1h_ask")
REPLAY_INSTRUMENTS = {("crypto_perpetual", "BTCUSDT"), ("currency_pair", "EUR/USD")}


@pytest.fixture(scope="session")
def replay_catalog(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Ingest BTCUSDT 1m and EUR/USD 1h bid/ask of configs/catalog/sample.toml into a fresh catalog."""
    root = tmp_path_factory.mktemp("replay-sample")
    raw = tomllib.loads((REPO / "configs" / "catalog" / "sample.toml").read_text())
    raw["catalog"]["path"] = str(root / "catalog")
    raw["catalog"]["quarantine_dir"] = str(root / "quarantine")
    raw["sources"] = [s for s in raw["sources"] if s["name"] in REPLAY_SOURCES]
    raw["instruments"] = [i for i in raw["instruments"] if (i["kind"], i["symbol"]) in REPLAY_INSTRUMENTS]
    raw["funding"] = [f for f in raw.get("funding", []) if f["instrument"] == "BTCUSDT-LINEAR.BYBIT"]
    ingest(parse_catalog_config(raw, "sample.toml"))
    return str(root / "catalog")
