"""Pinned results of every shipped example config on the bundled real sample.

A change to these figures is a change in behaviour: explain it in the commit that updates them.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from engine import results
from engine.backtest import load_desk, load_market_data, run_backtest
from engine.configs import RunConfig, load_run_config
from engine.journal import Journal

REPO = Path(__file__).resolve().parents[2]

PINNED = {
    "ema_cross_btcusdt_1m": {
        "trades": 808,
        "final_equity": 9246.40991758,
        "fingerprint": "c05727a2059316e458c802720a8a6a6b9ea13c0b9dddeee897417e114bd88589",
        "both_levels_touched": 0,  # closed trades whose exit bar touched both stop and target
    },
    "mean_reversion_ethusdt_5m": {
        "trades": 1586,
        "final_equity": 8221.6973969,
        "fingerprint": "52f670f0b6f71e5ae4801728415b67198ce718863595bcb1784220f7a8c35a9e",
        "both_levels_touched": 3,  # closed trades whose exit bar touched both stop and target
    },
    "mean_reversion_ethusdt_spot_5m": {
        "trades": 812,
        "final_equity": 8931.07011216,
        "fingerprint": "e19d3f44f1450e04efadba6304447c4f056a6cbb233cc0f4ed3782c774e0b0d3",
        "both_levels_touched": 1,  # closed trades whose exit bar touched both stop and target
        "denials": {"no_short": 1390},  # spot: short signals are refused; they only close longs
    },
    "ema_cross_eurusd_1h": {  # forex calendar on (docs/forex.md); without it: 1286, 9843.27, 002a1412...
        "trades": 1239,
        "final_equity": 9829.12,
        "fingerprint": "76ac1b4c190cb486788f35820b1d3b09dbc4e8f549f125700ebd42d3d842dc34",
        "both_levels_touched": 4,  # closed trades whose exit bar touched both stop and target
        "denials": {"fx_blackout": 41, "market_closed": 6},
    },
}


def _config(name: str, catalog: Path) -> RunConfig:
    config = load_run_config(REPO / "configs" / "backtest" / f"{name}.toml")
    return msgspec.structs.replace(config, data=msgspec.structs.replace(config.data, catalog=str(catalog)))


@pytest.fixture(scope="module")
def runs(sample_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, Path]]:
    out = tmp_path_factory.mktemp("runs")
    produced = {}
    for name in PINNED:
        folder = out / name
        produced[name] = (run_backtest(_config(name, sample_catalog), folder), folder)
    return produced


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_results(runs, name):
    summary, _ = runs[name]
    pinned = PINNED[name]
    assert summary["metrics"]["trades"] == pinned["trades"]
    assert summary["final_equity"] == pytest.approx(pinned["final_equity"], abs=1e-6)
    assert summary["fingerprint"] == pinned["fingerprint"]
    touched = summary["both_levels_touched"]
    assert touched["count"] == pinned["both_levels_touched"]
    assert touched["closed_trades"] == pinned["trades"]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_run_folder_is_complete(runs, name):
    summary, folder = runs[name]
    for table in ("fills", "orders", "positions", "equity"):
        assert (folder / f"{table}.parquet").stat().st_size > 0
    on_disk = json.loads((folder / "summary.json").read_text())
    assert on_disk == summary
    assert set(on_disk["metrics"]) == {
        "total_return", "sharpe", "sortino", "calmar", "max_drawdown", "profit_factor",
        "win_rate", "expectancy", "cvar_5", "trades", "fees",
    }  # fmt: skip
    assert on_disk["bars_processed"] > 0 and on_disk["wall_seconds"] > 0
    tearsheet = Path(on_disk["tearsheet"])
    assert tearsheet.is_file() and name in tearsheet.read_text()


@pytest.mark.parametrize("name", sorted(PINNED))
def test_every_filled_entry_has_its_stop_and_target(runs, name):
    _, folder = runs[name]
    orders = pd.read_parquet(folder / "orders.parquet")
    entries = orders[orders["tags"].str.contains("ENTRY") & (orders["status"] == "FILLED")]
    assert len(entries) > 0
    for list_id in entries["order_list_id"]:
        members = orders[orders["order_list_id"] == list_id]["tags"].tolist()
        assert sum("SL" in tags for tags in members) == 1, list_id
        assert sum("TP" in tags for tags in members) == 1, list_id


def test_rerun_is_identical(runs, sample_catalog, tmp_path):
    first, first_folder = runs["ema_cross_btcusdt_1m"]
    second = run_backtest(_config("ema_cross_btcusdt_1m", sample_catalog), tmp_path / "again")
    assert second["fingerprint"] == first["fingerprint"]
    assert second["metrics"] == first["metrics"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(first_folder / "fills.parquet"), pd.read_parquet(tmp_path / "again" / "fills.parquet")
    )


@pytest.mark.parametrize("name", sorted(PINNED))
def test_ledger_books_agree_with_the_venue(runs, name):
    summary, folder = runs[name]
    (_asset, ledger), *others = summary["ledgers"].items()
    assert not others  # one asset class per example
    positions = pd.read_parquet(folder / "positions.parquet")
    closed = positions[positions["exit_reason"] != "OPEN"]
    assert ledger["trades"] == len(closed)
    # nautilus rounds each position's P&L to the cent; the ledger keeps full precision
    venue_pnl = sum(results.closed_trade_pnls(positions))
    assert ledger["reward_points"] == pytest.approx(venue_pnl, abs=0.005 * len(closed) + 1e-6)
    assert ledger["start_equity"] == summary["starting_equity"]
    assert ledger["epochs"] == 1
    assert summary["denials"] == PINNED[name].get("denials", {}) and summary["refused_fills"] == 0


@pytest.mark.parametrize("name", sorted(PINNED))
def test_journal_explains_every_order_and_no_ledger_exceeds_its_budget(runs, name, sample_catalog):
    summary, folder = runs[name]
    config = _config(name, sample_catalog)
    desk = load_desk(config)
    orders = pd.read_parquet(folder / "orders.parquet")
    fills = pd.read_parquet(folder / "fills.parquet")
    with Journal(folder / "journal.sqlite", run_id=summary["run"], mode="backtest") as journal:
        decisions = journal.rows("decisions")
        approved = [row for row in decisions if row["approved"]]
        entries = orders[orders["tags"].str.contains("ENTRY")]
        assert len(approved) == len(entries) == summary["approvals"]
        assert journal.count("signals") == len(decisions)
        assert journal.count("fills") == len(fills)
        assert journal.count("closes") == summary["metrics"]["trades"]
        journaled_orders = {row["client_order_id"] for row in journal.rows("order_events")}
        assert journaled_orders == set(orders["client_order_id"].astype(str))
        for row in approved:
            inputs = json.loads(str(row["inputs"]))
            leverage_cap = desk.asset_risk(str(row["asset"])).leverage_cap
            margin_after = (inputs["exposure_usd"] + inputs["notional_usd"]) / leverage_cap
            assert margin_after <= inputs["balance_usd"] + 1e-6
            assert inputs["notional_usd"] <= desk.sizing.pair_cap_fraction * inputs["equity_usd"] + 1e-6
            assert row["snapshot_id"]


def test_spot_example_trades_long_only_with_spot_rules(runs):
    summary, folder = runs["mean_reversion_ethusdt_spot_5m"]
    positions = pd.read_parquet(folder / "positions.parquet")
    assert set(positions["entry"].astype(str)) == {"BUY"}
    with Journal(folder / "journal.sqlite", run_id="reader", mode="backtest") as journal:
        reasons = {row["exit_reason"] for row in journal.rows("closes")}
        approved = journal.rows("decisions", approved=1)
    assert {"SL", "TP", "TIME_EXIT", "SIGNAL_EXIT"} <= reasons
    assert all(row["asset"] == "crypto_spot" for row in approved)
    assert summary["ledgers"]["crypto_spot"]["end_equity"] == pytest.approx(summary["final_equity"], abs=0.01)


@pytest.mark.parametrize("name", sorted(PINNED))
def test_both_levels_count_matches_a_recount_from_the_run_folder(runs, name, sample_catalog):
    # recount from the written tables and the catalog's bars: each closed position's bracket levels
    # (SL trigger, TP limit) against the high and low of the bar its exit traded on (bid for a long's
    # sell, ask for a short's buy, the trade bar otherwise), stamped at its close
    summary, folder = runs[name]
    positions = pd.read_parquet(folder / "positions.parquet")
    orders = pd.read_parquet(folder / "orders.parquet")
    bars = {
        (str(bar.bar_type).rsplit("-", 2)[-2], bar.ts_init): (bar.high.as_double(), bar.low.as_double())
        for bar in load_market_data(_config(name, sample_catalog)).bars
    }
    stops = orders[orders["tags"] == "['SL']"].set_index("parent_order_id")["trigger_price"].astype(float)
    targets = orders[orders["tags"] == "['TP']"].set_index("parent_order_id")["price"].astype(float)
    closed = positions[positions["exit_reason"] != "OPEN"]
    count, pnl = 0, 0.0
    for row in closed.itertuples(index=False):
        ts = pd.Timestamp(row.ts_closed).value
        long = row.entry == "BUY"
        high, low = bars.get(("BID" if long else "ASK", ts)) or bars[("LAST", ts)]
        stop, target = stops[row.opening_order_id], targets[row.opening_order_id]
        if (low <= stop and high >= target) if long else (high >= stop and low <= target):
            count += 1
            pnl += float(str(row.realized_pnl).split()[0])
    touched = summary["both_levels_touched"]
    assert touched["count"] == count and touched["closed_trades"] == len(closed)
    assert touched["pnl"] == pytest.approx(pnl, abs=1e-6)
    assert touched["share"] == pytest.approx(count / len(closed), abs=1e-6)  # rounded to 6 places
