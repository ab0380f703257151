"""A bad run config fails at load time with the file, the field and the value in the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.configs import ConfigError, load_run_config
from engine.importing import resolve

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "configs" / "backtest").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_shipped_examples_load(path):
    config = load_run_config(path)
    assert config.strategies and config.data.bar_types


def test_wrong_type_names_file_field_and_value(tmp_path):
    source = (REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml").read_text()
    path = tmp_path / "bad.toml"
    path.write_text(source.replace("seed = 42", 'seed = "forty-two"'))
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: run.seed = 'forty-two': Expected `int`")


def test_unknown_field_is_rejected(tmp_path):
    source = (REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml").read_text()
    path = tmp_path / "bad.toml"
    path.write_text(source.replace('mode = "backtest"', 'mode = "backtest"\nbudgtes = "x.toml"'))
    with pytest.raises(ConfigError, match=r"desk\.budgtes"):
        load_run_config(path)


def test_out_of_range_value_is_rejected(tmp_path):
    source = (REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml").read_text()
    path = tmp_path / "bad.toml"
    path.write_text(source.replace('mode = "backtest"', 'mode = "sandbox"'))
    with pytest.raises(ConfigError, match=r"desk\.mode = 'sandbox'"):
        load_run_config(path)


def test_missing_file_and_broken_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_run_config(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[run\nname=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_run_config(broken)


def test_bad_import_path_names_the_field():
    with pytest.raises(ConfigError, match=r"strategies\[0\]\.path.*nope"):
        resolve("strategies.nope:Nope", "strategies[0].path")
    with pytest.raises(ConfigError, match="must look like"):
        resolve("strategies.ema_cross.EMACross", "strategies[0].path")


def test_venue_without_base_currency_is_rejected(tmp_path):
    source = (REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml").read_text()
    path = tmp_path / "bad.toml"
    path.write_text(source.replace('base_currency = "USDT"\n', ""))
    with pytest.raises(ConfigError, match=r"venues\[0\]\.base_currency.*None"):
        load_run_config(path)
