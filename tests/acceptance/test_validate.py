"""research.validate on the bundled BTCUSDT sample: a complete report, the same on 1 or 2 workers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from research.validate import validate, write_report
from research.validation.config import ValidationConfigError, load_validation_config

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "validation" / "ema_cross_btcusdt_1m.toml"


def _config(workers: int):
    config = load_validation_config(CONFIG)
    search = msgspec.structs.replace(config.search, params={"fast_period": [10, 20], "slow_period": [60]})
    stress = msgspec.structs.replace(
        config.stress, perturbations=[0.2], fee_multipliers=[2.0], monte_carlo_runs=200
    )
    executor = msgspec.structs.replace(config.executor, workers=workers)
    windows = msgspec.structs.replace(config.windows, train_days=10.0, test_days=5.0)
    return msgspec.structs.replace(
        config, search=search, stress=stress, executor=executor, windows=windows, lookahead_check=workers == 1
    )


@pytest.fixture(scope="module")
def reports(sample_catalog: Path) -> dict[int, dict]:
    cwd = Path.cwd()
    try:
        os.chdir(REPO)
        return {workers: validate(_config(workers), catalog=str(sample_catalog)) for workers in (1, 2)}
    finally:
        os.chdir(cwd)


def test_report_is_complete_and_honest(reports, tmp_path):
    report = reports[1]
    assert {"strategy_id", "folds", "aggregate", "stress", "gates", "verdict", "allowlist"} <= set(report)
    assert len(report["folds"]) == 4  # 30 days: 10 d train, then four 5 d test windows
    for fold in report["folds"]:
        windows = fold["windows_ns"]
        assert windows["train_end"] + 60 * 60_000_000_000 == windows["test_start"]  # purge_bars = 60
        assert fold["params"]["fast_period"] in (10, 20) and fold["test"]["trades"] > 0
    assert report["aggregate"]["trades"] == sum(f["test"]["trades"] for f in report["folds"])
    names = [g["name"] for g in report["gates"]]
    assert names[:3] == ["oos_trades", "expectancy", "profit_factor"] and "perturbation_pass_rate" in names
    # the EMA cross loses money after fees on this month: it must not pass
    assert report["verdict"] == "fail"
    assert report["lookahead"]["lookahead"]["flagged"] is False  # the shipped EMA cross does not peek
    assert not next(g for g in report["gates"] if g["name"] == "expectancy")["passed"]
    assert set(report["allowlist"]) == {"allowed_sessions", "allowed_regimes", "disallowed_regimes", "notes"}
    assert {"fees x2", "slippage 1 tick on every fill"} <= set(report["stress"]["reruns"])
    paths = write_report(report, tmp_path / "out", 365)
    saved = json.loads(Path(paths["json"]).read_text())
    assert saved["verdict"] == "fail" and Path(paths["html"]).read_text().count("<table>") >= 4
    assert Path(paths["tearsheet"]).is_file()


def test_results_do_not_depend_on_the_worker_count(reports):
    one, two = reports[1], reports[2]
    assert one["folds"] == [
        dict(f, test_seconds=one["folds"][i]["test_seconds"]) for i, f in enumerate(two["folds"])
    ]
    assert one["aggregate"] == two["aggregate"]
    assert one["stress"]["reruns"] == two["stress"]["reruns"]
    # the lookahead check runs only on the 1-worker report (it adds the `lookahead_flags` gate)
    assert [g for g in one["gates"] if g["name"] != "lookahead_flags"] == two["gates"]


def test_bad_validation_config_names_file_field_and_value(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.read_text().replace("test_days = 3.0", "test_days = -3.0"))
    cwd = Path.cwd()
    try:
        os.chdir(REPO)
        with pytest.raises(
            ValidationConfigError, match=r"bad\.toml: windows\.test_days = -3\.0: must be positive"
        ):
            load_validation_config(bad)
    finally:
        os.chdir(cwd)
