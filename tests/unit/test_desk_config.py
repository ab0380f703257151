"""The budgets, risk and sizing files: the shipped ones load, bad values fail naming file, field, value."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.risk import DeskConfigError, load_desk_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


def _write(tmp_path: Path, name: str, replace: tuple[str, str]) -> Path:
    path = tmp_path / f"{name}.toml"
    source = (CONFIGS / f"{name}.toml").read_text()
    assert replace[0] in source
    path.write_text(source.replace(*replace))
    return path


def _load(budgets=None, risk=None, sizing=None):
    return load_desk_config(
        budgets or CONFIGS / "budgets.toml", risk or CONFIGS / "risk.toml", sizing or CONFIGS / "sizing.toml"
    )


def test_shipped_files_load_with_the_seed_numbers():
    config = _load()
    assert config.budgets.alloc["crypto_futures"] == 1_500.0
    assert config.budgets.paper.auto_topup_threshold_usd == 10.0
    assert config.asset_risk("crypto_spot").allow_short is False
    assert config.asset_risk("crypto_futures").liq_buffer_pct == 0.20
    assert config.risk.kill_switch.consecutive_losses == 3
    assert [(r.profit_usd, r.multiplier) for r in config.sizing.ladder.rungs] == [
        (200.0, 1.2), (500.0, 1.5), (1_000.0, 2.0),
    ]  # fmt: skip
    assert config.asset_sizing("forex").percent_above_threshold == 0.0035
    backtest = _load(budgets=CONFIGS / "budgets_backtest.toml")
    assert backtest.budgets.alloc["forex"] == 10_000.0


def test_out_of_range_value_names_file_field_and_value(tmp_path):
    risk = _write(
        tmp_path, "risk", ("max_sl_pct = 0.15\nmax_concurrent = 5", "max_sl_pct = 1.5\nmax_concurrent = 5")
    )
    with pytest.raises(DeskConfigError, match=rf"{risk}: assets\.crypto_spot\.max_sl_pct = 1\.5: must be in"):
        _load(risk=risk)


def test_unknown_field_and_wrong_type_are_rejected(tmp_path):
    sizing = _write(tmp_path, "sizing", ("pair_cap_fraction = 0.10", "pair_cap_fracton = 0.10"))
    with pytest.raises(DeskConfigError, match="pair_cap_fracton"):
        _load(sizing=sizing)
    budgets = _write(tmp_path, "budgets", ("profit_rollover = true", 'profit_rollover = "yes"'))
    with pytest.raises(DeskConfigError, match=r"profit_rollover = 'yes'"):
        _load(budgets=budgets)


def test_percent_allocations_of_one_wallet_may_not_exceed_it(tmp_path):
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('alloc_mode = "percent"\n[alloc]\ncrypto_spot = 0.7\ncrypto_futures = 0.5\n')
    with pytest.raises(DeskConfigError, match=r"bybit wallet"):
        _load(budgets=budgets)


def test_risk_fraction_must_sit_in_its_band(tmp_path):
    sizing = _write(tmp_path, "sizing", ("risk_fraction = 0.004\n", "risk_fraction = 0.01\n"))
    with pytest.raises(DeskConfigError, match=r"assets\.forex\.risk_fraction = 0\.01: must lie in its band"):
        _load(sizing=sizing)


def test_ladder_rungs_must_increase(tmp_path):
    sizing = _write(tmp_path, "sizing", ("{ profit_usd = 500.0", "{ profit_usd = 100.0"))
    with pytest.raises(DeskConfigError, match=r"ladder\.rungs"):
        _load(sizing=sizing)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DeskConfigError, match="not found"):
        _load(risk=tmp_path / "absent.toml")


def _load_with(overrides):
    files = (CONFIGS / "budgets.toml", CONFIGS / "risk.toml", CONFIGS / "sizing.toml")
    return load_desk_config(*files, overrides)


def test_run_config_overrides_change_one_value_and_are_validated_like_the_file():
    config = _load_with({"risk": {"assets": {"options": {"max_premium_per_trade_usd": 500.0}}}})
    options = config.asset_risk("options")
    assert options.max_premium_per_trade_usd == 500.0
    assert options.theta_cap_usd_per_day == _load().asset_risk("options").theta_cap_usd_per_day
    where = r"risk\.toml \(with the run config's desk overrides\)"
    with pytest.raises(DeskConfigError, match=rf"{where}: assets\.crypto_spot\.max_sl_pct = 1\.5"):
        _load_with({"risk": {"assets": {"crypto_spot": {"max_sl_pct": 1.5}}}})
    with pytest.raises(DeskConfigError, match="unknown file 'rsik'"):
        _load_with({"rsik": {}})


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        (
            "sizing",
            "step_drawdown = 0.05",
            "step_drawdown = 0.0",
            r"drawdown\.step_drawdown = 0\.0: must be in \(0, 1\]",
        ),
        ("sizing", "floor = 0.0025", "floor = -0.01", r"drawdown\.floor = -0\.01"),
        (
            "sizing",
            "fixed_notional_usd = 10.0",
            "fixed_notional_usd = nan",
            r"fixed_notional_usd = nan: must be positive",
        ),
        (
            "budgets",
            "reallocation_step_usd = 100.0",
            "reallocation_step_usd = nan",
            r"reallocation_step_usd = nan",
        ),
    ],
)
def test_more_out_of_range_values_are_rejected(tmp_path, name, old, new, message):
    path = _write(tmp_path, name, (old, new))
    with pytest.raises(DeskConfigError, match=message) as info:
        _load(**{name: path})
    assert str(info.value).startswith(str(path))
