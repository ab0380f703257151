"""A corpus of broken configs, derived from the shipped ones: each fails at startup, never mid-run.

Every case edits one value of a shipped run config as a new user might and points ``data.catalog``
at a folder that does not exist, so an error about the data would mean the config was accepted.
The CLI must exit 2 with ``error: <file>: <field> = <value>: <problem>`` on stderr, no traceback
and no run folder. Most cases call ``engine.backtest.main`` in-process; a few run the real
``python -m engine.backtest`` (in parallel), including the two values nautilus' own parser would
abort the process on (a bar type with step 0, a trader id without a hyphen).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog.ingest import main as ingest_main
from engine.backtest import main as backtest_main
from research.validate import main as validate_main

REPO = Path(__file__).resolve().parents[2]
EMA = "configs/backtest/ema_cross_btcusdt_1m.toml"
PERP = "configs/backtest/perp_trend_btcusdt.toml"


@dataclass(frozen=True)
class Case:
    """One broken config: the shipped file, the edit, and what the error must name."""

    name: str
    base: str
    old: str
    new: str
    field: str
    value: str
    problem: str


CASES = [
    Case(
        "typo_strategy_field",
        EMA,
        "fast_period = 20",
        "fast_perod = 20",
        "strategies[0].config.fast_perod",
        "20",
        "unknown field `fast_perod` (did you mean `fast_period`?)",
    ),
    Case(
        "negative_balance",
        EMA,
        'starting_balances = ["10000 USDT"]',
        'starting_balances = ["-10000 USDT"]',
        "venues[0].starting_balances[0]",
        "'-10000 USDT'",
        "the amount must be a finite number > 0",
    ),
    Case(
        "zero_balance",
        EMA,
        'starting_balances = ["10000 USDT"]',
        'starting_balances = ["0 USDT"]',
        "venues[0].starting_balances[0]",
        "'0 USDT'",
        "the amount must be a finite number > 0",
    ),
    Case(
        "malformed_currency",
        EMA,
        'starting_balances = ["10000 USDT"]',
        'starting_balances = ["10000 usdt"]',
        "venues[0].starting_balances[0]",
        "'10000 usdt'",
        "the currency 'usdt' is malformed",
    ),
    Case(
        "negative_atr_multiple",
        EMA,
        "sl_atr = 2.0",
        "sl_atr = -2.0",
        "strategies[0].config.sl_atr",
        "-2.0",
        "must be a finite number > 0",
    ),
    Case(
        "fast_not_below_slow",
        EMA,
        "fast_period = 20",
        "fast_period = 60",
        "strategies[0].config.fast_period",
        "60",
        "must be below slow_period (60)",
    ),
    Case(
        "unknown_asset_class",
        EMA,
        "[report]",
        "[desk.overrides.budgets.alloc]\ncrypto_future = 1000.0\n\n[report]",
        "desk.overrides.budgets.alloc.crypto_future",
        "1000.0",
        "unknown asset class 'crypto_future' (known: crypto_spot, crypto_futures, forex, options)",
    ),
    Case(
        "unknown_asset_class_module",
        EMA,
        "[desk]",
        '[desk]\nasset_classes = ["engine.assets.crypto_futures", "engine.assets.equities"]',
        "desk.asset_classes",
        "['engine.assets.crypto_futures', 'engine.assets.equities']",
        "cannot import 'engine.assets.equities'",
    ),
    Case(
        "wrong_type",
        EMA,
        "slow_period = 60",
        'slow_period = "60"',
        "strategies[0].config.slow_period",
        "'60'",
        "Expected `int`, got `str`",
    ),
    Case(
        "missing_desk_file",
        EMA,
        'risk = "configs/risk.toml"',
        'risk = "configs/risk_missing.toml"',
        "desk.risk",
        "'configs/risk_missing.toml'",
        "no such file",
    ),
    Case(
        "missing_carry_file",
        PERP,
        'config = "configs/carry.toml"',
        'config = "configs/carry_missing.toml"',
        "carry.config",
        "'configs/carry_missing.toml'",
        "no such file",
    ),
    Case(
        "missing_sessions_file",
        EMA,
        'sessions_config = "configs/sessions_1m.toml"',
        'sessions_config = "configs/sessions_missing.toml"',
        "strategies[0].config.sessions_config",
        "'configs/sessions_missing.toml'",
        "configs/sessions_missing.toml: config file not found",
    ),
    Case(
        "unknown_venue_field",
        EMA,
        "default_leverage = 1.0",
        'default_leverage = 1.0\nstarting_balance = ["5000 USDT"]',
        "venues[0].starting_balance",
        "['5000 USDT']",
        "unknown field `starting_balance` (did you mean `starting_balances`?)",
    ),
    Case(
        "negative_latency",
        EMA,
        "base_ms = 0.0",
        "base_ms = -5.0",
        "venues[0].latency.base_ms",
        "-5.0",
        "must be a finite number >= 0",
    ),
    Case(
        "probability_above_one",
        EMA,
        "prob_slippage = 0.5",
        "prob_slippage = 1.5",
        "venues[0].fill_model.prob_slippage",
        "1.5",
        "must be a probability in [0, 1]",
    ),
    Case(
        "zero_leverage",
        EMA,
        "default_leverage = 1.0",
        "default_leverage = 0.0",
        "venues[0].default_leverage",
        "0.0",
        "must be a finite number > 0",
    ),
    Case(
        "unknown_session_name",
        EMA,
        "sl_atr = 2.0",
        'sl_atr = 2.0\nallowed_sessions = ["LONDON"]',
        "strategies[0].config.allowed_sessions",
        "['LONDON']",
        "unknown ['LONDON'] (known: ['ASIA', 'EU', 'US'])",
    ),
    Case(
        "nan_target",
        EMA,
        "tp_atr = 4.0",
        "tp_atr = nan",
        "strategies[0].config.tp_atr",
        "nan",
        "must be a finite number > 0",
    ),
    Case(
        "bar_type_step_zero",
        EMA,
        'bar_type = "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"',
        'bar_type = "BTCUSDT-LINEAR.BYBIT-0-MINUTE-LAST-EXTERNAL"',
        "strategies[0].config.bar_type",
        "'BTCUSDT-LINEAR.BYBIT-0-MINUTE-LAST-EXTERNAL'",
        "a bar type looks like",
    ),
    Case(
        "trader_id_without_hyphen",
        EMA,
        'trader_id = "BACKTEST-001"',
        'trader_id = "BACKTEST"',
        "run.trader_id",
        "'BACKTEST'",
        "a trader id looks like 'BACKTEST-001'",
    ),
]
BY_NAME = {case.name: case for case in CASES}
# Run through a real interpreter: the typo and the missing file as a user meets them, and the two
# values on which nautilus' parser would abort the process before any Python error is raised.
SUBPROCESS = ("typo_strategy_field", "negative_balance", "bar_type_step_zero", "trader_id_without_hyphen")


def _write(case: Case, folder: Path) -> Path:
    text = (REPO / case.base).read_text(encoding="utf-8")
    assert text.count(case.old) == 1, f"{case.name}: {case.old!r} must occur once in {case.base}"
    text = text.replace(case.old, case.new)
    catalog = 'catalog = "var/catalog"'
    assert catalog in text
    text = text.replace(catalog, f'catalog = "{folder / "no-catalog"}"')
    path = folder / f"{case.name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _check(stderr: str, path: Path, case: Case, out: Path) -> None:
    assert "Traceback" not in stderr
    assert "does not exist" not in stderr and "has no bars" not in stderr  # no data was read
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"error: {path}: {case.field} = {case.value}: "), lines[0]
    assert case.problem in lines[0]
    assert not out.exists()


@pytest.mark.parametrize("case", [c for c in CASES if c.name not in SUBPROCESS], ids=lambda c: c.name)
def test_broken_config_fails_at_startup(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    path = _write(case, tmp_path)
    out = tmp_path / "run"
    assert backtest_main(["--config", str(path), "--out", str(out)]) == 2
    _check(capsys.readouterr().err, path, case, out)


def test_broken_configs_through_the_cli(tmp_path: Path) -> None:
    runs = []
    for name in SUBPROCESS:
        case = BY_NAME[name]
        path = _write(case, tmp_path)
        out = tmp_path / f"run_{name}"
        command = [sys.executable, "-m", "engine.backtest", "--config", str(path), "--out", str(out)]
        process = subprocess.Popen(
            command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        runs.append((case, path, out, process))
    missing = tmp_path / "absent.toml"
    absent = subprocess.Popen(
        [sys.executable, "-m", "engine.backtest", "--config", str(missing)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for case, path, out, process in runs:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 2, (case.name, stderr)
        _check(stderr, path, case, out)
    _, stderr = absent.communicate(timeout=120)
    assert absent.returncode == 2
    assert "Traceback" not in stderr
    assert stderr.strip() == f"error: {missing}: config file not found"


def test_validation_config_with_a_typo_in_its_grid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    text = (REPO / "configs/validation/ema_cross_btcusdt_1m.toml").read_text(encoding="utf-8")
    old = "params = { fast_period = [10, 20], slow_period = [60, 120] }"
    assert old in text
    path = tmp_path / "grid.toml"
    path.write_text(text.replace(old, "params = { fast_perod = [10, 20], slow_period = [60, 120] }"))
    assert validate_main(["--config", str(path), "--output", str(tmp_path / "reports")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(f"error: {path}: search.params = {{'fast_perod': 10, 'slow_period': 60}}: ")
    assert f"{EMA}: strategies[0].config.fast_perod = 10: Object contains unknown field" in err
    assert not (tmp_path / "reports").exists()


def test_validation_config_whose_grid_crosses_the_periods(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    text = (REPO / "configs/validation/ema_cross_btcusdt_1m.toml").read_text(encoding="utf-8")
    old = "params = { fast_period = [10, 20], slow_period = [60, 120] }"
    path = tmp_path / "grid.toml"
    path.write_text(text.replace(old, "params = { fast_period = [10, 90], slow_period = [60, 120] }"))
    assert validate_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "strategies[0].config.fast_period = 90: must be below slow_period (60)" in err
    assert "search.params = {'fast_period': 90, 'slow_period': 60}" in err


def test_catalog_config_errors_exit_2_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    text = (REPO / "configs/catalog/sample.toml").read_text(encoding="utf-8")
    edits = {
        "typo": ("gap_report_bars = 1 ", "gap_reprot_bars = 1 ", "catalog.gap_reprot_bars = 1"),
        "margin": ("margin_init = 0.10", "margin_init = -0.10", "instruments[0].margin_init = '-0.1'"),
    }
    for name, (old, new, named) in edits.items():
        assert text.count(old) == 1, name
        path = tmp_path / f"{name}.toml"
        path.write_text(text.replace(old, new), encoding="utf-8")
        assert ingest_main(["--config", str(path), "--catalog", str(tmp_path / "catalog")]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert f"error: {path}: {named}: " in err
        assert not (tmp_path / "catalog").exists()
