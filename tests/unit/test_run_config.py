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


EMA = REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'starting_balances = ["10000 USDT"]',
            'starting_balances = ["10000 USD"]',
            r"venues\[0\]\.starting_balances = \['10000 USD'\]: a single-currency account",
        ),
        (
            'starting_balances = ["10000 USDT"]',
            'starting_balances = ["10000"]',
            r"venues\[0\]\.starting_balances\[0\] = '10000': looks like '10000 USDT'",
        ),
        (
            'starting_balances = ["10000 USDT"]',
            'starting_balances = ["ten USDT"]',
            r"the amount 'ten' is not a number",
        ),
        (
            'model = "maker_taker"',
            'model = "fixed"',
            r"venues\[0\]\.fees\.fixed_commission = None: model = 'fixed' needs",
        ),
        (
            'model = "maker_taker"',
            'model = "maker_taker"\nfixed_commission = "1 USD"',
            r"fixed_commission = '1 USD': is only read with model = 'fixed'",
        ),
        ('name = "BYBIT"', 'name = "BYBIT-EU"', r"venues\[0\]\.name = 'BYBIT-EU'"),
        (
            'instruments = ["BTCUSDT-LINEAR.BYBIT"]',
            'instruments = ["BTCUSDT-LINEAR.BINANCE"]',
            r"data\.instruments\[0\] = 'BTCUSDT-LINEAR.BINANCE': trades on BINANCE, which `venues` does not",
        ),
        (
            '# start = "2025-06-01"',
            'start = "2025-06-15"\nend = "2025-06-01"',
            r"data\.end = '2025-06-01': must be after start",
        ),
        ('# start = "2025-06-01"', 'start = "June first"', r"data\.start = 'June first': is not an ISO date"),
        ('name = "ema_cross_btcusdt_1m"', 'name = "my run"', r"run\.name = 'my run': names the run folder"),
        ("seed = 42", "seed = -1", r"run\.seed = -1"),
        (
            "equity_sample_minutes = 60",
            "equity_sample_minutes = 0",
            r"report\.equity_sample_minutes = 0: must be >= 1",
        ),
        (
            'path = "strategies.ema_cross:EMACross"',
            'path = "strategies.ema_cross:EMACrossConfig"',
            r"strategies\[0\]\.path = '.*:EMACrossConfig': is not a nautilus Strategy class",
        ),
        (
            'path = "strategies.ema_cross:EMACross"',
            'path = "strategies.ema_cross:Nope"',
            r"strategies\[0\]\.path.*has no 'Nope'",
        ),
        (
            'sizing = "configs/sizing.toml"',
            'sizing = "configs/sizing.toml"\n[desk.overrides.sizingg]\nx = 1',
            r"desk\.overrides\.sizingg = \{'x': 1\}: overrides name budgets, risk or sizing",
        ),
        (
            'sizing = "configs/sizing.toml"',
            'sizing = "configs/sizing.toml"\n[desk.overrides.sizing]\npair_cap_fraction = 2.0',
            r"\[desk\] configs/sizing.toml \(with the run config's desk overrides\): pair_cap_fraction = 2.0",
        ),
    ],
)
def test_bad_values_fail_at_load(tmp_path, old, new, message):
    source = EMA.read_text()
    assert old in source
    path = tmp_path / "bad.toml"
    path.write_text(source.replace(old, new, 1))
    with pytest.raises(ConfigError, match=message) as info:
        load_run_config(path)
    assert str(info.value).startswith(f"{path}: ")


def test_two_strategies_with_one_id_are_rejected(tmp_path):
    source = EMA.read_text()
    section = source[source.index("[[strategies]]") :]
    path = tmp_path / "twice.toml"
    path.write_text(source + "\n" + section)
    with pytest.raises(
        ConfigError, match=r"strategies\[1\]\.config\.order_id_tag = 'BTC1M': strategy id EMACross-BTC1M"
    ):
        load_run_config(path)


def test_a_strategy_on_an_instrument_the_run_does_not_load_is_rejected(tmp_path):
    source = EMA.read_text()
    old = 'instrument_id = "BTCUSDT-LINEAR.BYBIT"\nbar_type = "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"'
    assert old in source
    new = 'instrument_id = "ETHUSDT-LINEAR.BYBIT"\nbar_type = "ETHUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"'
    path = tmp_path / "eth.toml"
    path.write_text(source.replace(old, new))
    with pytest.raises(
        ConfigError, match=r"strategies\[0\]\.config\.instrument_id = 'ETHUSDT-LINEAR.BYBIT': not in"
    ):
        load_run_config(path)
