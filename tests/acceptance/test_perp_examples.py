"""Pinned results of the perpetual example with carry (configs/backtest/perp_trend_btcusdt.toml).

The funding series is the sample catalog's stated constant (0.01% per 8 hours): no recorded funding
history covers the bundled klines, and the summary must say so. A change to these figures is a
change in behaviour: explain it in the commit that updates them.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from engine.backtest import run_backtest
from engine.configs import RunConfig, load_run_config
from engine.journal import Journal

REPO = Path(__file__).resolve().parents[2]
NAME = "perp_trend_btcusdt"
PERP = "BTCUSDT-LINEAR.BYBIT"
PINNED = {
    "trades": 168,
    "final_equity": 9851.89028527,
    "fingerprint": "23b55caa656cf1664e3d89e37f6edd081f485c95a99d89b689d7f2c1c4af8de5",
    "funding_payments": 36,
    "funding_total_usd": -0.37660806,
}


def _config(catalog: Path) -> RunConfig:
    config = load_run_config(REPO / "configs" / "backtest" / f"{NAME}.toml")
    return msgspec.structs.replace(config, data=msgspec.structs.replace(config.data, catalog=str(catalog)))


@pytest.fixture(scope="module")
def runs(sample_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict, Path]]:
    out = tmp_path_factory.mktemp("perp")
    return [(run_backtest(_config(sample_catalog), out / f"run{i}"), out / f"run{i}") for i in (1, 2)]


def test_pinned_result_and_funding_totals(runs):
    summary, _ = runs[0]
    assert summary["metrics"]["trades"] == PINNED["trades"]
    assert summary["final_equity"] == pytest.approx(PINNED["final_equity"], abs=1e-6)
    assert summary["fingerprint"] == PINNED["fingerprint"]
    funding = summary["funding"][PERP]
    assert funding["payments"] == PINNED["funding_payments"]
    assert funding["total_usd"] == pytest.approx(PINNED["funding_total_usd"], abs=1e-8)
    assert funding["total_usd"] < 0  # a positive rate: longs paid more than shorts received


def test_summary_reports_the_funding_source_as_constant_never_recorded(runs):
    summary, folder = runs[0]
    on_disk = json.loads((folder / "summary.json").read_text())
    assert on_disk == summary
    funding = on_disk["funding"][PERP]
    assert funding["source"] == "constant" and funding["rate"] == pytest.approx(0.0001)
    assert "no recorded funding history" in funding["note"]
    assert on_disk["fx_swaps"] == {}
    # the ledger carries the same funding as the venue account: both end at the run's final equity
    assert on_disk["ledgers"]["crypto_futures"]["end_equity"] == pytest.approx(
        on_disk["final_equity"], abs=1e-6
    )


def test_every_payment_is_journaled(runs):
    summary, _ = runs[0]
    with Journal(summary["journal"], run_id=NAME, mode="backtest") as journal:
        rows = [row for row in journal.rows("operator_actions") if row["operator"] == "carry"]
    assert len(rows) == PINNED["funding_payments"]
    assert {row["action"] for row in rows} == {"funding"}
    hours = {(row["ts"] // 3_600_000_000_000) % 24 for row in rows}
    assert hours <= {0, 8, 16}
    total = sum(json.loads(row["detail"])["amount_usd"] for row in rows)
    assert total == pytest.approx(PINNED["funding_total_usd"], abs=1e-8)


def test_rerun_is_identical(runs):
    (first, _), (second, _) = runs
    for key in ("fingerprint", "final_equity", "funding", "metrics", "ledgers"):
        assert first[key] == second[key], key
