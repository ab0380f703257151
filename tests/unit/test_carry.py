"""Carry pieces without the engine: funding series, settlement and rollover times, configs, liquidation."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import msgspec
import pytest

from catalog.config import parse_catalog_config
from catalog.errors import CatalogConfigError, SourceError
from catalog.funding import (
    FundingSeries,
    FundingSpec,
    build_funding,
    load_funding,
    read_bybit_funding_history,
    write_funding,
)
from engine.assets.crypto_futures import liquidation_price
from engine.carry import (
    CarryConfig,
    FxSwap,
    check_carry_config,
    load_carry_config,
    next_rollover,
    next_settlement_ns,
    swap_amount,
)
from engine.configs import ConfigError, load_run_config
from engine.risk.config import DeskConfigError, desk_config_from_raw

REPO = Path(__file__).resolve().parents[2]
PAYLOAD = REPO / "data" / "venues" / "bybit" / "http_get_funding_history.json"
NS = 1_000_000_000


def _utc(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()) * NS


def test_recorded_bybit_payload_reads_oldest_first():
    rows = read_bybit_funding_history(PAYLOAD, "BTCUSDT")
    assert rows == [(_utc("2024-03-08T00:00:00"), 0.00015), (_utc("2024-03-08T08:00:00"), 0.0001)]
    with pytest.raises(SourceError, match="no funding rows for symbol 'ETHUSDT'"):
        read_bybit_funding_history(PAYLOAD, "ETHUSDT")


def test_recorded_series_does_not_cover_the_bundled_klines_and_never_looks_ahead():
    series = build_funding(FundingSpec(instrument="BTCUSDT-LINEAR.BYBIT", bybit_funding_history=str(PAYLOAD)))
    assert series.source == "recorded"
    assert not series.covers(_utc("2025-05-30T16:40:00"), _utc("2025-06-29T16:39:00"))
    assert series.rate_at(_utc("2024-03-08T08:00:00")) == pytest.approx(0.0001)
    assert series.rate_at(_utc("2024-03-08T16:00:00")) is None
    assert series.last_settled(_utc("2024-03-08T07:59:00")) == pytest.approx(0.00015)
    assert series.last_settled(_utc("2024-03-07T23:00:00")) is None


@pytest.mark.parametrize(
    "series",
    [
        FundingSeries.constant("BTCUSDT-LINEAR.BYBIT", 0.0001, 8, "stated"),
        FundingSeries("ETHUSDT-LINEAR.BYBIT", "recorded", 8, None, (1, 2), (0.0001, -0.0002), "file.json"),
    ],
)
def test_funding_series_round_trips_beside_the_catalog(tmp_path, series):
    path = write_funding(tmp_path, series)
    assert path == tmp_path / "funding" / f"{series.instrument_id}.parquet"
    assert load_funding(tmp_path, series.instrument_id) == series
    assert load_funding(tmp_path, "SOLUSDT-LINEAR.BYBIT") is None


def _catalog_raw() -> dict:
    return tomllib.loads((REPO / "configs" / "catalog" / "sample.toml").read_text())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"instrument": "BTCUSDT-LINEAR.BYBIT"}, "give exactly one of"),
        (
            {"instrument": "BTCUSDT-LINEAR.BYBIT", "constant_rate": 0.0, "bybit_funding_history": "x.json"},
            "give exactly one of",
        ),
        ({"instrument": "EUR/USD.IDEALPRO", "constant_rate": 0.0}, "not a crypto_perpetual"),
        ({"instrument": "BTCUSDT-LINEAR.BYBIT", "constant_rate": 0.5}, r"constant_rate = 0\.5"),
        ({"instrument": "BTCUSDT-LINEAR.BYBIT", "constant_rate": 0.0, "interval_hours": 0}, "interval_hours"),
    ],
)
def test_catalog_funding_entries_are_checked(entry, message):
    raw = _catalog_raw()
    raw["funding"] = [entry]
    with pytest.raises(CatalogConfigError, match=message) as info:
        parse_catalog_config(raw, "sample.toml")
    assert "sample.toml: funding[0]" in str(info.value)


def test_shipped_sample_states_constant_funding():
    config = parse_catalog_config(_catalog_raw(), "sample.toml")
    assert {(f.instrument, f.constant_rate) for f in config.funding} == {
        ("BTCUSDT-LINEAR.BYBIT", 0.0001),
        ("ETHUSDT-LINEAR.BYBIT", 0.0001),
    }


def test_settlements_fall_on_00_08_16_utc():
    assert next_settlement_ns(_utc("2025-06-01T00:01:00"), 8) == _utc("2025-06-01T08:00:00")
    assert next_settlement_ns(_utc("2025-06-01T08:00:00"), 8) == _utc("2025-06-01T16:00:00")
    assert next_settlement_ns(_utc("2025-06-01T23:59:00"), 8) == _utc("2025-06-02T00:00:00")


def test_rollover_is_17_new_york_on_business_days_across_daylight_saving():
    # summer (EDT, UTC-4): Friday 21:00 UTC, then Monday (the weekend has none)
    assert next_rollover(_utc("2025-06-06T12:00:00")) == (_utc("2025-06-06T21:00:00"), "friday")
    assert next_rollover(_utc("2025-06-06T21:00:00")) == (_utc("2025-06-09T21:00:00"), "monday")
    # winter (EST, UTC-5)
    assert next_rollover(_utc("2025-01-08T00:00:00")) == (_utc("2025-01-08T22:00:00"), "wednesday")


def test_swap_amounts_in_pips_and_annual_percent():
    pips = FxSwap(instrument="EUR/USD.IDEALPRO", unit="pips", long=-0.5, short=0.2)
    assert swap_amount(pips, 10_000, 1.1, 3) == pytest.approx(10_000 * -0.5 * 0.0001 * 3)
    assert swap_amount(pips, -10_000, 1.1, 1) == pytest.approx(10_000 * 0.2 * 0.0001)
    jpy = FxSwap(instrument="USD/JPY.IDEALPRO", unit="pips", long=1.0, short=-2.0)
    assert swap_amount(jpy, 1_000, 150.0, 1) == pytest.approx(1_000 * 0.01)
    annual = FxSwap(instrument="EUR/USD.IDEALPRO", unit="annual_pct", long=-3.65, short=1.0)
    assert swap_amount(annual, 10_000, 1.1, 1) == pytest.approx(-10_000 * 1.1 * 0.0001)


def test_shipped_carry_file_loads_with_no_invented_swaps():
    config = load_carry_config(REPO / "configs" / "carry.toml")
    assert config.fx.swaps == [] and config.fx.triple_weekday == "wednesday"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[fx]\ntimezone = "Mars/Base"\n', "fx.timezone = 'Mars/Base'"),
        ('[fx]\nrollover = "25:00"\n', "fx.rollover = '25:00'"),
        ('[fx]\ntriple_weekday = "sunday"\n', "sunday"),
        ('[[fx.swaps]]\ninstrument = "EUR/USD.IDEALPRO"\nunit = "bps"\nlong = 1.0\nshort = 1.0\n', "bps"),
        ("[funding]\nanchr = 1\n", "anchr"),
    ],
)
def test_carry_file_errors_name_file_field_and_value(tmp_path, text, message):
    path = tmp_path / "carry.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_carry_config(path)
    assert str(path) in str(info.value)


def test_duplicate_swap_is_rejected():
    swap = FxSwap(instrument="EUR/USD.IDEALPRO", unit="pips", long=0.0, short=0.0)
    config = msgspec.convert({"fx": {"swaps": [msgspec.to_builtins(swap)] * 2}}, CarryConfig)
    with pytest.raises(ConfigError, match=r"fx.swaps\[1\].instrument"):
        check_carry_config(config, "carry.toml")


def test_run_config_carry_section_is_typed(tmp_path):
    text = (REPO / "configs" / "backtest" / "perp_trend_btcusdt.toml").read_text()
    config = load_run_config(REPO / "configs" / "backtest" / "perp_trend_btcusdt.toml")
    assert config.carry is not None and config.carry.funding and not config.carry.fx_swaps
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("fx_swaps = false", 'fx_swaps = "no"'))
    with pytest.raises(ConfigError, match=r"carry.fx_swaps = 'no'"):
        load_run_config(bad)


def _risk(perps: dict) -> dict:
    return {"assets": {"crypto_futures": perps}}


@pytest.mark.parametrize(
    ("perps", "message"),
    [
        (
            {"leverage_caps": {"BTCUSDT-LINEAR.BYBIT": 500.0}},
            r"assets.crypto_futures.leverage_caps.BTCUSDT-LINEAR.BYBIT = 500.0",
        ),
        ({"leverage_caps": {"BTCUSDT-LINEAR.BYBIT": 0.0}}, "leverage_caps"),
        ({"funding_filter_rate": -0.001}, "assets.crypto_futures.funding_filter_rate = -0.001"),
        ({"margin_mode": "portfolio"}, "portfolio"),
        ({"sl_tp_trigger": "BID_ASK_PRICE"}, "BID_ASK_PRICE"),
    ],
)
def test_perps_rules_are_validated(perps, message):
    with pytest.raises(DeskConfigError, match=message) as info:
        desk_config_from_raw({}, _risk(perps), {}, origins=("budgets.toml", "risk.toml", "sizing.toml"))
    assert "risk.toml" in str(info.value)


def test_liquidation_price_of_a_linear_perpetual():
    # 2x with 0.5% maintenance: a long is liquidated 49.5% below entry, a short 49.5% above
    assert liquidation_price(100_000.0, 2.0, 0.005, is_long=True) == pytest.approx(50_500.0)
    assert liquidation_price(100_000.0, 2.0, 0.005, is_long=False) == pytest.approx(149_500.0)
    assert liquidation_price(100.0, 10.0, 0.05, is_long=True) == pytest.approx(95.0)
