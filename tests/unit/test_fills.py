"""The gap fill model and its bar tape build from nautilus importable configs, as a sandbox builds them."""

from __future__ import annotations

from pathlib import Path

import pytest
from nautilus_trader.backtest.config import BacktestVenueConfig, FillModelFactory
from nautilus_trader.backtest.models import FillModel
from nautilus_trader.common.config import ActorFactory

from engine.configs import ConfigError, load_run_config
from engine.fills import BarTape, GapFillModel, GapFillModelConfig, importable_configs

REPO = Path(__file__).resolve().parents[2]


def test_nautilus_factories_build_the_model_and_the_tape_from_the_importable_configs():
    fill_config, tape_config = importable_configs(
        prob_fill_on_limit=0.8, prob_slippage=0.5, random_seed=7, stop_gap_fill="open"
    )
    model = FillModelFactory.create(fill_config)
    tape = ActorFactory.create(tape_config)
    assert isinstance(model, GapFillModel) and isinstance(model, FillModel)
    assert (model.prob_fill_on_limit, model.prob_fill_on_stop, model.prob_slippage) == (0.8, 1.0, 0.5)
    assert model.stop_gap_fill == "open"
    assert isinstance(tape, BarTape)


def test_nautilus_venue_config_accepts_them():
    fill_config, tape_config = importable_configs(random_seed=42)
    venue = BacktestVenueConfig(
        name="BYBIT",
        oms_type="NETTING",
        account_type="MARGIN",
        starting_balances=["10000 USDT"],
        fill_model=fill_config,
        modules=[tape_config],
    )
    assert venue.fill_model == fill_config and venue.modules == [tape_config]


def test_the_trigger_rule_is_nautilus_own_fill():
    fill_config, _ = importable_configs(stop_gap_fill="trigger")
    assert FillModelFactory.create(fill_config).stop_gap_fill == "trigger"


def test_an_unknown_gap_rule_is_refused():
    with pytest.raises(ValueError, match="stop_gap_fill"):
        GapFillModel(stop_gap_fill="close")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="stop_gap_fill"):
        GapFillModelConfig.parse('{"stop_gap_fill": "close"}')


def test_a_bad_gap_rule_in_a_run_config_names_file_field_and_value(tmp_path):
    source = (REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml").read_text()
    path = tmp_path / "bad.toml"
    path.write_text(source.replace("prob_slippage = 0.5 ", 'stop_gap_fill = "close"\nprob_slippage = 0.5 '))
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    message = str(info.value)
    assert str(path) in message and "stop_gap_fill" in message and "close" in message
