"""Promotion gates: the shipped file loads with the seed numbers, thresholds, None fails, allowlist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from research.validation.gates import (
    AllowlistRules,
    GatesConfigError,
    build_allowlist,
    evaluate_gates,
    load_gates,
    verdict,
)
from research.validation.stress import slice_trades

REPO = Path(__file__).resolve().parents[2]
GATES = REPO / "configs" / "gates.toml"


def _write(tmp_path: Path, old: str, new: str) -> Path:
    source = GATES.read_text()
    assert old in source
    path = tmp_path / "gates.toml"
    path.write_text(source.replace(old, new, 1))
    return path


def _aggregate(**overrides):
    aggregate = {
        "total_return": 0.4,
        "sharpe": 2.5,
        "sortino": 3.5,
        "calmar": 2.0,
        "max_drawdown": -0.08,
        "cvar_5": -0.02,
        "profit_factor": 1.8,
        "win_rate": 0.55,
        "expectancy": 0.4,
        "trades": 800,
        "fees": 120.0,
    }
    aggregate.update(overrides)
    return aggregate


def _stress(reorder_p95=0.10, bootstrap_p95=0.11, pass_rate=0.8):
    def mc(p95):
        return {"max_drawdown": {"p5": 0.03, "p50": 0.06, "p95": p95}}

    return {
        "monte_carlo_reorder": mc(reorder_p95),
        "bootstrap_trades": mc(bootstrap_p95),
        "perturbation_pass_rate": pass_rate,
    }


def _by_name(results):
    return {result.name: result for result in results}


@pytest.fixture(scope="module")
def config():
    return load_gates(GATES)


# -- loading --------------------------------------------------------------------------------------


def test_shipped_file_loads_with_the_seed_numbers(config):
    kpis = {
        asset: (t.min_sharpe, t.min_sortino, t.min_calmar, t.max_drawdown)
        for asset in ("crypto_spot", "crypto_futures", "options", "forex")
        for t in [config.thresholds(asset)]
    }
    assert kpis == {
        "crypto_spot": (2.0, 3.0, 1.2, 0.15),
        "crypto_futures": (1.8, 2.5, 1.2, 0.15),
        "options": (1.5, 2.0, 1.2, 0.12),
        "forex": (2.0, 3.0, 1.5, 0.12),
    }
    spot = config.thresholds("crypto_spot")
    assert spot.min_oos_trades == 500
    assert spot.min_profit_factor == 1.5
    assert spot.min_expectancy == 0.0
    assert spot.min_cvar_5 == -0.03
    assert spot.min_perturbation_pass_rate == 0.6
    assert spot.monte_carlo == ("monte_carlo_reorder", "bootstrap_trades")
    assert config.allowlist == AllowlistRules(min_trades=30, min_expectancy=0.0, min_profit_factor=1.2)


def test_an_asset_may_override_a_common_gate(tmp_path):
    path = _write(
        tmp_path,
        "max_drawdown = 0.12 # KPI table, Options: <= 12 %",
        "max_drawdown = 0.12\nmin_oos_trades = 200",
    )
    config = load_gates(path)
    assert config.thresholds("options").min_oos_trades == 200
    assert config.thresholds("forex").min_oos_trades == 500


SPOT_DD = "max_drawdown = 0.15 # KPI table, Spot: <= 15 %"
MC = 'monte_carlo = ["monte_carlo_reorder", "bootstrap_trades"]'
PASS_RATE = "min_perturbation_pass_rate"


@pytest.mark.parametrize(
    ("old", "new", "field", "value"),
    [
        (SPOT_DD, "max_drawdown = 1.5", "assets.crypto_spot.max_drawdown", "1.5"),
        ("min_sharpe = 1.8 ", "min_sharpe = -1.0 ", "assets.crypto_futures.min_sharpe", "-1.0"),
        ("min_cvar_5 = -0.03", "min_cvar_5 = 0.03", "common.min_cvar_5", "0.03"),
        (f"{PASS_RATE} = 0.6", f"{PASS_RATE} = 1.2", f"common.{PASS_RATE}", "1.2"),
        ("min_oos_trades = 500", "min_oos_trades = 0", "common.min_oos_trades", "0"),
        ("min_oos_trades = 500", 'min_oos_trades = "500"', "common.min_oos_trades", "'500'"),
        (MC, "monte_carlo = []", "common.monte_carlo", "[]"),
        (MC, 'monte_carlo = ["reorder"]', "common.monte_carlo[0]", "'reorder'"),
        ("min_trades = 30", "min_trades = 0", "allowlist.min_trades", "0"),
        ("min_profit_factor = 1.2", "min_profit_factor = 0.9", "allowlist.min_profit_factor", "0.9"),
        ("min_calmar = 1.5", "min_calmar = 1.5\nmin_kalmar = 2.0", "assets.forex.min_kalmar", "2.0"),
    ],
)  # fmt: skip
def test_bad_values_fail_naming_file_field_and_value(tmp_path, old, new, field, value):
    path = _write(tmp_path, old, new)
    with pytest.raises(GatesConfigError) as excinfo:
        load_gates(path)
    message = str(excinfo.value)
    assert str(path) in message
    assert f"{field} = " in message
    assert value in message


def test_a_missing_asset_table_fails(tmp_path):
    source = GATES.read_text()
    cut = source.index("[assets.options]")
    path = tmp_path / "gates.toml"
    path.write_text(source[:cut] + source[source.index("# Session / regime allowlist") :])
    with pytest.raises(GatesConfigError, match=r"assets\.options"):
        load_gates(path)


def test_missing_file_fails_naming_it(tmp_path):
    with pytest.raises(GatesConfigError, match="not found"):
        load_gates(tmp_path / "nope.toml")


# -- gates ----------------------------------------------------------------------------------------


def test_a_good_candidate_passes_every_gate(config):
    results = evaluate_gates(config, "crypto_spot", _aggregate(), _stress())
    assert [r.name for r in results] == [
        "oos_trades",
        "expectancy",
        "profit_factor",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown",
        "cvar_5",
        "monte_carlo_reorder_drawdown_p95",
        "bootstrap_trades_drawdown_p95",
        "perturbation_pass_rate",
    ]
    assert all(r.passed for r in results)
    assert verdict(results) == "pass"
    json.dumps([r.as_dict() for r in results], allow_nan=False)


def test_metrics_exactly_at_threshold_pass_except_expectancy(config):
    at = _aggregate(
        trades=500, profit_factor=1.5, sharpe=2.0, sortino=3.0, calmar=1.2, max_drawdown=-0.15, cvar_5=-0.03
    )
    results = _by_name(evaluate_gates(config, "crypto_spot", at, _stress(0.15, 0.15, 0.6)))
    for name in (
        "oos_trades",
        "profit_factor",
        "sharpe",
        "sortino",
        "calmar",
        "max_drawdown",
        "cvar_5",
        "monte_carlo_reorder_drawdown_p95",
        "bootstrap_trades_drawdown_p95",
        "perturbation_pass_rate",
    ):
        assert results[name].passed, name
    zero = _by_name(evaluate_gates(config, "crypto_spot", _aggregate(expectancy=0.0), _stress()))
    assert not zero["expectancy"].passed  # "Expectancy > 0 after fees" is strict
    assert zero["expectancy"].comparison == ">"


def test_just_beyond_threshold_fails(config):
    results = _by_name(
        evaluate_gates(
            config,
            "forex",
            _aggregate(trades=499, sharpe=1.999, max_drawdown=-0.1201, cvar_5=-0.0301, profit_factor=1.49),
            _stress(reorder_p95=0.1201, pass_rate=0.59),
        )
    )
    for name in (
        "oos_trades",
        "sharpe",
        "max_drawdown",
        "cvar_5",
        "profit_factor",
        "monte_carlo_reorder_drawdown_p95",
        "perturbation_pass_rate",
    ):
        assert not results[name].passed, name
    assert results["max_drawdown"].value == pytest.approx(0.1201)  # reported as a positive depth
    assert results["max_drawdown"].threshold == 0.12
    assert results["bootstrap_trades_drawdown_p95"].passed


@pytest.mark.parametrize("missing", ["sharpe", "calmar", "profit_factor", "cvar_5", "max_drawdown", "trades"])
def test_a_none_or_missing_metric_fails_its_gate(config, missing):
    name = "oos_trades" if missing == "trades" else missing
    with_none = _by_name(evaluate_gates(config, "crypto_spot", _aggregate(**{missing: None}), _stress()))
    assert not with_none[name].passed and with_none[name].value is None
    without = _aggregate()
    del without[missing]
    results = evaluate_gates(config, "crypto_spot", without, _stress())
    assert not _by_name(results)[name].passed
    assert verdict(results) == "fail"


def test_nan_and_missing_stress_fail(config):
    results = _by_name(evaluate_gates(config, "options", _aggregate(sharpe=float("nan")), {}))
    assert not results["sharpe"].passed and results["sharpe"].value is None
    assert not results["monte_carlo_reorder_drawdown_p95"].passed
    assert not results["bootstrap_trades_drawdown_p95"].passed
    assert not results["perturbation_pass_rate"].passed


def test_verdict_needs_every_gate_and_at_least_one(config):
    results = evaluate_gates(config, "crypto_futures", _aggregate(), _stress(pass_rate=0.5))
    assert verdict(results) == "fail"
    assert verdict([]) == "fail"


def test_evaluate_rejects_unknown_asset_and_positive_drawdown(config):
    with pytest.raises(ValueError, match="unknown asset class"):
        evaluate_gates(config, "equities", _aggregate(), _stress())
    with pytest.raises(ValueError, match="negative fraction"):
        evaluate_gates(config, "crypto_spot", _aggregate(max_drawdown=0.08), _stress())


# -- allowlist ------------------------------------------------------------------------------------


def _slice(trades, expectancy, pf):
    return {
        "trades": trades,
        "expectancy": expectancy,
        "profit_factor": pf,
        "win_rate": 0.5,
        "total_pnl": 0.0,
    }


def test_allowlist_keeps_only_profitable_slices_with_enough_trades(config):
    sessions = {
        "US": _slice(212, 0.41, 1.8),
        "EU": _slice(150, -0.2, 0.9),  # losing
        "ASIA": _slice(12, 2.0, 3.0),  # profitable but too few trades
        "NONE": _slice(40, 1.0, 2.0),  # between sessions: not a session name
    }
    regimes = {
        "TREND_UP": _slice(120, 0.5, 1.6),
        "TREND_DOWN": _slice(90, 0.3, 1.2),  # PF exactly at 1.2: allowed
        "RANGE": _slice(200, 0.1, 1.1),  # enough trades, PF too low: disallowed
        "HIGH_VOL": _slice(60, -0.4, 0.7),  # losing flag: disallowed
        "UNKNOWN": _slice(5, -1.0, 0.2),  # too few to judge: neither list
    }
    allowlist = build_allowlist(sessions, regimes, config.allowlist)
    assert allowlist["allowed_sessions"] == ["US"]
    assert allowlist["allowed_regimes"] == ["TREND_UP", "TREND_DOWN"]
    assert allowlist["disallowed_regimes"] == ["RANGE", "HIGH_VOL"]
    notes = "\n".join(allowlist["notes"])
    assert "US: 212 trades, expectancy 0.41, PF 1.8: allowed" in notes
    assert "ASIA: 12 trades" in notes and "fewer than 30 trades" in notes
    assert "NONE: not a session name" in notes
    json.dumps(allowlist, allow_nan=False)


def test_allowlist_zero_expectancy_and_undefined_pf_do_not_qualify(config):
    sessions = {"EU": _slice(100, 0.0, 1.5), "US": _slice(100, 0.5, None)}
    regimes = {"HIGH_VOL": _slice(100, 0.5, 2.0), "RANGE": _slice(100, 0.5, 2.0)}
    allowlist = build_allowlist(sessions, regimes, config.allowlist)
    assert allowlist["allowed_sessions"] == []
    assert any("every entry is refused" in note for note in allowlist["notes"])
    # a profitable HIGH_VOL flag is never added to allowed_regimes (it would widen the list)
    assert allowlist["allowed_regimes"] == ["RANGE"]
    assert allowlist["disallowed_regimes"] == []


def test_allowlist_from_sliced_trades_feeds_the_router():
    from strategies.features.config import SessionsConfig
    from strategies.features.router import EntryRouter

    trades = [{"pnl": 2.0 if i % 3 else -1.0, "session": "US", "regime": "TREND_UP"} for i in range(40)]
    trades += [
        {"pnl": -1.0 if i % 3 else 0.5, "session": "ASIA+EU", "regime": "HIGH_VOL+RANGE"} for i in range(40)
    ]
    rules = AllowlistRules(min_trades=30, min_expectancy=0.0, min_profit_factor=1.2)
    allowlist = build_allowlist(slice_trades(trades, "session"), slice_trades(trades, "regime"), rules)
    assert allowlist["allowed_sessions"] == ["US"]
    assert allowlist["allowed_regimes"] == ["TREND_UP"]
    assert allowlist["disallowed_regimes"] == ["RANGE", "HIGH_VOL"]
    router = EntryRouter(
        SessionsConfig(),
        allowed_sessions=allowlist["allowed_sessions"],
        allowed_regimes=allowlist["allowed_regimes"],
        disallowed_regimes=allowlist["disallowed_regimes"],
    )
    assert router.allowed_sessions == frozenset({"US"})


def test_a_monte_carlo_over_no_trade_is_no_evidence(config):
    stress = _stress(0.0, 0.0)
    stress["monte_carlo_reorder"]["trades"] = 0  # flat resampled paths: a drawdown of 0 proves nothing
    stress["bootstrap_trades"]["trades"] = 3
    results = _by_name(evaluate_gates(config, "crypto_spot", _aggregate(), stress))
    assert results["monte_carlo_reorder_drawdown_p95"].value is None
    assert not results["monte_carlo_reorder_drawdown_p95"].passed
    assert results["bootstrap_trades_drawdown_p95"].passed
