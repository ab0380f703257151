"""Loading the catalog TOML: the sample config, and errors that name file, field and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.config import CatalogConfig, load_catalog_config
from catalog.errors import CatalogConfigError

REPO = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = REPO / "configs" / "catalog" / "sample.toml"

GOOD = """
[catalog]
path = "var/catalog"

[[instruments]]
kind = "crypto_perpetual"
symbol = "BTCUSDT"
tick_size = "0.1"
qty_step = "0.001"
maker_fee = 0.0001
taker_fee = 0.0006

[[sources]]
name = "btc"
path = "btc.csv"
instrument = "BTCUSDT-LINEAR.BYBIT"
bar_spec = "1-MINUTE-LAST"
columns = { timestamp = "timestamp", open = "open", high = "high", low = "low", close = "close" }
"""


def _load(tmp_path: Path, text: str) -> CatalogConfig:
    path = tmp_path / "cfg.toml"
    path.write_text(text, encoding="utf-8")
    return load_catalog_config(path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(CatalogConfigError) as info:
        _load(tmp_path, text)
    return str(info.value)


def test_sample_config_loads_with_every_bar_type() -> None:
    config = load_catalog_config(SAMPLE_CONFIG)
    assert config.catalog.path == "var/catalog"
    assert config.quarantine_path() == Path("var/quarantine")
    assert [s.id for s in config.instruments] == [
        "BTCUSDT-LINEAR.BYBIT",
        "ETHUSDT-LINEAR.BYBIT",
        "EUR/USD.IDEALPRO",
        "GBP/USD.IDEALPRO",
        "USD/JPY.IDEALPRO",
        "SPY.ARCA",
        "ETHUSDT-SPOT.BYBIT",
    ]
    assert [s.bar_type for s in config.sources] == [
        "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL",
        "ETHUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL",
        "BTCUSDT-LINEAR.BYBIT-5-MINUTE-LAST-EXTERNAL",
        "ETHUSDT-LINEAR.BYBIT-5-MINUTE-LAST-EXTERNAL",
        "EUR/USD.IDEALPRO-1-HOUR-BID-EXTERNAL",
        "EUR/USD.IDEALPRO-1-HOUR-ASK-EXTERNAL",
        "GBP/USD.IDEALPRO-1-MINUTE-BID-EXTERNAL",
        "GBP/USD.IDEALPRO-1-MINUTE-ASK-EXTERNAL",
        "USD/JPY.IDEALPRO-1-MINUTE-BID-EXTERNAL",
        "USD/JPY.IDEALPRO-1-MINUTE-ASK-EXTERNAL",
        "SPY.ARCA-1-DAY-LAST-EXTERNAL",
        "ETHUSDT-SPOT.BYBIT-5-MINUTE-LAST-EXTERNAL",
    ]
    assert config.sources[4].interval_ns == 3_600_000_000_000


def test_with_catalog_path_moves_the_quarantine_dir(tmp_path: Path) -> None:
    config = _load(tmp_path, GOOD).with_catalog_path(tmp_path / "cat")
    assert config.catalog_path() == tmp_path / "cat"
    assert config.quarantine_path() == tmp_path / "quarantine"


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogConfigError, match=r"nope\.toml: config file not found"):
        load_catalog_config(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'bar_spec = "1-MINUTE-LAST"',
            'bar_spec = "1-MINUT-LAST"',
            "sources[0].bar_spec = '1-MINUT-LAST': not a bar spec",
        ),
        (
            'bar_spec = "1-MINUTE-LAST"',
            'bar_spec = "1-MINUTE-LAST"\ntimestamp_is = "middle"',
            "sources[0].timestamp_is = 'middle': Invalid enum value 'middle'",
        ),
        (
            'bar_spec = "1-MINUTE-LAST"',
            'bar_spec = "1-MINUTE-LAST"\ntimezone = "Mars/Olympus"',
            "sources[0].timezone = 'Mars/Olympus': not an IANA time zone",
        ),
        (
            'bar_spec = "1-MINUTE-LAST"',
            'bar_spec = "1-MINUTE-LAST"\ntimestamp_format = "yyyyMMdd"',
            "sources[0].timestamp_format = 'yyyyMMdd': use one of",
        ),
        (
            'bar_spec = "1-MINUTE-LAST"',
            'bar_spec = "1-MINUTE-LAST"\ncolour = "red"',
            "sources[0].colour = 'red': Object contains unknown field `colour`",
        ),
        (
            'path = "btc.csv"\n',
            "",
            "sources[0].path = '<missing>': Object missing required field `path`",
        ),
        (
            'instrument = "BTCUSDT-LINEAR.BYBIT"',
            'instrument = "SOLUSDT-LINEAR.BYBIT"',
            "sources[0].instrument = 'SOLUSDT-LINEAR.BYBIT': not defined in [[instruments]]",
        ),
        (
            'path = "var/catalog"',
            'path = "var/catalog"\nmax_bad_fraction = "lots"',
            "catalog.max_bad_fraction = 'lots': Expected `float`, got `str`",
        ),
        (
            'path = "var/catalog"',
            'path = "var/catalog"\nmax_bad_fraction = 1.5',
            "catalog.max_bad_fraction = 1.5: must be in [0, 1]",
        ),
        (
            'tick_size = "0.1"',
            'tick_size = "zero point one"',
            "instruments[0].tick_size = 'zero point one': Invalid decimal string",
        ),
        (
            'kind = "crypto_perpetual"',
            'kind = "crypto_future"',
            "instruments[0].kind = 'crypto_future': Invalid enum value 'crypto_future'",
        ),
        (
            "columns = { timestamp = ",
            "has_header = false\ncolumns = { timestamp = ",
            "sources[0].columns.timestamp = 'timestamp': has_header = false needs 0-based column positions",
        ),
    ],
)
def test_bad_config_names_file_field_and_value(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    message = _error(tmp_path, GOOD.replace(old, new, 1))
    assert message.startswith(str(tmp_path / "cfg.toml") + ": ")
    assert expected in message


def test_not_toml(tmp_path: Path) -> None:
    assert "not valid TOML" in _error(tmp_path, "[catalog\npath=1")


def test_duplicate_bar_type_is_rejected(tmp_path: Path) -> None:
    source = GOOD[GOOD.index("[[sources]]") :]
    message = _error(tmp_path, GOOD + source.replace('name = "btc"', 'name = "btc2"'))
    assert (
        "sources[1].bar_spec = '1-MINUTE-LAST': bar type BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"
        in message
    )
