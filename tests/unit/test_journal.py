"""engine.journal on real SQLite files: WAL, every table, fill de-duplication, desk state, buffering.

Rows are the typed structs of engine.journal.rows, written by the one generic ``Journal.write``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from engine.journal import (
    TABLES,
    CloseRow,
    DecisionRow,
    EpochRow,
    FillRecord,
    Journal,
    JournalError,
    MarketSnapshot,
    OperatorActionRow,
    OrderEventRow,
    RefusedFillRow,
    SignalRow,
    to_json,
)
from engine.journal.schema import ddl, field_names

COMMON = {"run_id", "mode", "asset", "strategy_id", "snapshot_id", "ts"}

SNAPSHOT = MarketSnapshot(
    snapshot_id="BTCUSDT.BYBIT-5-MINUTE-LAST-EXTERNAL@1700000000000000000",
    ts=1_700_000_000_000_000_000,
    instrument_id="BTCUSDT.BYBIT",
    kind="bar",
    source="BTCUSDT.BYBIT-5-MINUTE-LAST-EXTERNAL",
    ts_event=1_700_000_000_000_000_000,
    open=100.0,
    high=101.0,
    low=99.0,
    close=100.5,
    bid=None,
    ask=None,
)

FILL = FillRecord(
    ts=1_700_000_000_500_000_000,
    venue="BYBIT",
    trade_id="T-1",
    client_order_id="O-1",
    venue_order_id="V-1",
    strategy_id="EMACross-001",
    instrument_id="BTCUSDT.BYBIT",
    side="BUY",
    quantity=0.25,
    price=100.5,
    commission_usd=0.025,
    liquidity="TAKER",
    order_tag="ENTRY",
    snapshot_id=SNAPSHOT.snapshot_id,
    asset="crypto_spot",
)


def _other(path: Path) -> sqlite3.Connection:
    """Open a second, independent connection to the journal file."""
    return sqlite3.connect(path)


def _count(path: Path, table: str) -> int:
    conn = _other(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def _signal(journal: Journal, ts: int = 1) -> int:
    key = journal.write(
        SignalRow(
            ts=ts,
            asset="crypto_spot",
            strategy_id="EMACross-001",
            instrument_id="BTCUSDT.BYBIT",
            side="BUY",
            strength="STRONG",
            entry_price=100.5,
            stop_price=98.0,
            take_profit_price=105.0,
            snapshot_id=SNAPSHOT.snapshot_id,
        )
    )
    assert key is not None
    return key


def _order_event(journal: Journal, ts: int = 2, asset: str = "crypto_spot") -> None:
    journal.write(
        OrderEventRow(
            ts=ts,
            asset=asset,
            strategy_id="EMACross-001",
            instrument_id="BTCUSDT.BYBIT",
            client_order_id="O-1",
            event="OrderAccepted",
            order_type="MARKET",
            side="BUY",
            quantity=0.25,
            price=None,
            trigger_price=None,
            tags="ENTRY",
            detail="",
        )
    )


def _fill(**changes: object) -> FillRecord:
    return msgspec.structs.replace(FILL, **changes)


def _record_everything(journal: Journal) -> int:
    """Write one row of every kind and return the signal id."""
    journal.write(SNAPSHOT)
    signal_id = _signal(journal, ts=SNAPSHOT.ts_event)
    journal.write(
        DecisionRow(
            ts=SNAPSHOT.ts_event,
            asset="crypto_spot",
            strategy_id="EMACross-001",
            instrument_id="BTCUSDT.BYBIT",
            signal_id=signal_id,
            approved=True,
            reason="",
            bound_by="risk",
            quantity=0.25,
            inputs=to_json({"risk_fraction": 0.005, "equity_usd": 1000.0, "note": None}),
            snapshot_id=SNAPSHOT.snapshot_id,
        )
    )
    _order_event(journal, ts=SNAPSHOT.ts_event + 1)
    assert journal.write(FILL) is not None
    journal.write(
        RefusedFillRow(
            ts=FILL.ts + 1,
            venue="BYBIT",
            trade_id="T-9",
            asset="crypto_spot",
            strategy_id="EMACross-001",
            instrument_id="BTCUSDT.BYBIT",
            price=120.0,
            reason="price outside the bar",
        )
    )
    journal.write(
        CloseRow(
            ts=FILL.ts + 10,
            asset="crypto_spot",
            strategy_id="EMACross-001",
            instrument_id="BTCUSDT.BYBIT",
            side="BUY",
            quantity=0.25,
            entry_price=100.5,
            exit_price=104.5,
            gross_pnl_usd=1.0,
            fees_usd=0.05,
            net_pnl_usd=0.95,
            reward_points=1.5,
            exit_reason="TP",
            epoch=1,
        )
    )
    journal.write(
        EpochRow(
            ts=1, asset="crypto_spot", epoch=1, topup_usd=1000.0, equity_before_usd=0.0, reason="first epoch"
        )
    )
    journal.write(
        OperatorActionRow(
            ts=FILL.ts + 20,
            operator="alice",
            action="kill",
            asset="",
            detail=to_json({"why": "test", "level": 2}),
        )
    )
    journal.set_state("kill_switch", {"engaged": True, "by": "alice"}, ts=FILL.ts + 20)
    return signal_id


def test_wal_mode_is_on_and_the_run_is_registered(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "journal.sqlite"
    with Journal(path, run_id="run-1", mode="backtest") as journal:
        assert journal.path == path
        assert (journal.run_id, journal.mode) == ("run-1", "backtest")
        conn = _other(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
        assert journal.rows("runs") == [{"run_id": "run-1", "mode": "backtest", "started_ts": 0}]
        journal.mark_run_started(123)
        assert journal.rows("runs", run_id="run-1")[0]["started_ts"] == 123


@pytest.mark.parametrize("mode", ["backtest", "paper"])
def test_every_table_gets_rows_that_read_back_with_their_columns(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, run_id="run-1", mode=mode) as journal:
        signal_id = _record_everything(journal)
        for table in TABLES:
            assert journal.count(table) == 1, table
        for table in TABLES:
            if table in ("runs", "desk_state"):
                continue
            row = journal.rows(table)[0]
            assert set(row) >= COMMON, table
            assert (row["run_id"], row["mode"]) == ("run-1", mode), table
            assert isinstance(row["ts"], int), table

        (snapshot,) = journal.rows("snapshots")
        assert snapshot["snapshot_id"] == SNAPSHOT.snapshot_id
        assert (snapshot["kind"], snapshot["source"], snapshot["ts_event"]) == (
            "bar",
            SNAPSHOT.source,
            SNAPSHOT.ts_event,
        )
        assert (snapshot["open"], snapshot["close"], snapshot["bid"]) == (100.0, 100.5, None)

        (signal,) = journal.rows("signals")
        assert signal["signal_id"] == signal_id
        assert (signal["strength"], signal["side"], signal["stop_price"]) == ("STRONG", "BUY", 98.0)
        assert signal["snapshot_id"] == SNAPSHOT.snapshot_id

        (decision,) = journal.rows("decisions", signal_id=signal_id, approved=True)
        assert (decision["approved"], decision["bound_by"], decision["quantity"]) == (1, "risk", 0.25)
        assert decision["inputs"] == '{"equity_usd":1000.0,"note":null,"risk_fraction":0.005}'
        assert json.loads(str(decision["inputs"]))["risk_fraction"] == 0.005

        (event,) = journal.rows("order_events")
        assert (event["client_order_id"], event["event"], event["tags"], event["price"]) == (
            "O-1",
            "OrderAccepted",
            "ENTRY",
            None,
        )

        (fill,) = journal.rows("fills")
        for name in field_names(FillRecord):
            assert fill[name] == getattr(FILL, name), name
        assert fill["asset"] == "crypto_spot"

        (refused,) = journal.rows("refused_fills")
        assert (refused["trade_id"], refused["price"], refused["snapshot_id"]) == ("T-9", 120.0, "")

        (close,) = journal.rows("closes", exit_reason="TP")
        assert (close["net_pnl_usd"], close["reward_points"], close["epoch"]) == (0.95, 1.5, 1)

        (epoch,) = journal.rows("epochs")
        assert (epoch["epoch"], epoch["topup_usd"], epoch["strategy_id"]) == (1, 1000.0, "")

        (action,) = journal.rows("operator_actions")
        assert (action["operator"], action["action"], action["asset"]) == ("alice", "kill", "")
        assert json.loads(str(action["detail"])) == {"level": 2, "why": "test"}

        (state,) = journal.rows("desk_state")
        assert (state["key"], state["run_id"], state["ts"]) == ("kill_switch", "run-1", FILL.ts + 20)


def test_schema_uses_portable_types_only(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path, run_id="run-1", mode="backtest").close()
    conn = _other(path)
    portable = {"INTEGER", "BIGINT", "TEXT", "DOUBLE PRECISION"}
    for table in TABLES:
        types = {row[2] for row in conn.execute(f"PRAGMA table_info({table})")}
        assert types <= portable, (table, types - portable)
    conn.close()


@pytest.mark.parametrize("mode", ["backtest", "paper", "live"])
def test_a_replayed_fill_is_never_counted_twice(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, run_id="run-1", mode=mode) as journal:
        assert journal.write(FILL) is not None
        assert journal.write(FILL) is None
        assert journal.write(_fill(ts=FILL.ts + 1, price=1.0)) is None
        assert journal.count("fills") == 1
        assert journal.write(FILL) is None
    with Journal(path, run_id="run-2", mode=mode) as journal:
        assert journal.is_journaled(FILL)
        assert journal.write(_fill(ts=FILL.ts + 5)) is None
        assert journal.count("fills") == 1
        assert journal.rows("fills")[0]["run_id"] == "run-1"


def test_the_same_trade_id_on_another_venue_is_a_different_fill(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite", run_id="run-1", mode="paper") as journal:
        assert journal.write(FILL) is not None
        assert journal.write(_fill(venue="BINANCE")) is not None
        assert journal.count("fills") == 2
        assert journal.count("fills", trade_id="T-1", venue="BINANCE") == 1


def test_fills_and_operator_actions_are_committed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, run_id="run-1", mode="live") as journal:
        journal.write(FILL)
        journal.write(OperatorActionRow(ts=5, operator="bob", action="flatten", asset="forex", detail="{}"))
        assert _count(path, "fills") == 1
        assert _count(path, "operator_actions") == 1


def test_desk_state_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, run_id="run-1", mode="live") as journal:
        assert journal.get_state("kill_switch") is None
        journal.set_state("kill_switch", {"engaged": False})
        journal.set_state("kill_switch", {"engaged": True, "reason": "drawdown"}, ts=42)
    with Journal(path, run_id="run-2", mode="live") as journal:
        assert journal.get_state("kill_switch") == {"engaged": True, "reason": "drawdown"}
        assert journal.rows("desk_state", key="kill_switch")[0]["ts"] == 42
        assert journal.count("desk_state") == 1


def test_fresh_wipes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, run_id="run-1", mode="backtest") as journal:
        _record_everything(journal)
    with Journal(path, run_id="run-2", mode="backtest", fresh=True) as journal:
        for table in TABLES:
            expected = 1 if table == "runs" else 0
            assert journal.count(table) == expected, table
        assert journal.rows("runs")[0]["run_id"] == "run-2"
        assert _signal(journal) == 1
        assert journal.write(FILL) is not None


def test_bad_mode_unknown_table_column_and_asset_raise(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with pytest.raises(JournalError, match="'sandbox'") as info:
        Journal(path, run_id="run-1", mode="sandbox")
    assert str(path) in str(info.value)
    with Journal(path, run_id="run-1", mode="backtest", assets=("crypto_spot", "forex")) as journal:
        with pytest.raises(JournalError, match="'trades'"):
            journal.rows("trades")
        with pytest.raises(JournalError, match="'trades'"):
            journal.count("trades")
        with pytest.raises(JournalError, match="'pnl'"):
            journal.rows("closes", pnl=1.0)
        with pytest.raises(JournalError, match="'equities'"):
            _order_event(journal, asset="equities")
    with pytest.raises(JournalError, match="'backtest'"):
        Journal(path, run_id="run-1", mode="paper")


def test_rows_are_visible_to_a_second_connection_after_flush(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, run_id="run-1", mode="paper") as journal:
        _order_event(journal)
        assert _count(path, "order_events") == 0
        journal.flush()
        assert _count(path, "order_events") == 1
        _order_event(journal, ts=3)
        assert journal.count("order_events") == 2
        assert _count(path, "order_events") == 2


def test_rows_survive_a_crash_up_to_the_last_flush(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    script = (
        "import os, sys\n"
        "from engine.journal import FillRecord, Journal, OrderEventRow\n"
        "j = Journal(sys.argv[1], run_id='crash', mode='live')\n"
        "kw = dict(asset='forex', strategy_id='S', instrument_id='EUR/USD.IDEALPRO', client_order_id='O',\n"
        "          event='OrderAccepted', order_type='LIMIT', side='BUY', quantity=1.0, price=1.1,\n"
        "          trigger_price=None, tags='ENTRY', detail='')\n"
        "j.write(OrderEventRow(ts=1, **kw))\n"
        "j.flush()\n"
        "j.write(OrderEventRow(ts=2, **kw))\n"
        "j.write(FillRecord(ts=3, venue='IB', trade_id='T-1', client_order_id='O', venue_order_id='V',\n"
        "                   strategy_id='S', instrument_id='EUR/USD.IDEALPRO', side='BUY', quantity=1.0,\n"
        "                   price=1.1, commission_usd=0.0, liquidity='MAKER', order_tag='ENTRY',\n"
        "                   asset='forex'))\n"
        "os._exit(1)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script, str(path)], cwd=root, check=False, timeout=60)
    assert done.returncode == 1
    with Journal(path, run_id="after", mode="live") as journal:
        assert [row["ts"] for row in journal.rows("order_events")] == [1]
        assert journal.count("fills", run_id="crash") == 1
        assert journal.write(_fill(venue="IB", trade_id="T-1")) is None


def test_a_full_buffer_is_written_without_an_explicit_flush(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, run_id="run-1", mode="backtest", batch_size=3) as journal:
        for ts in range(5):
            _order_event(journal, ts=ts)
        assert _count(path, "order_events") == 3


def test_buffered_rows_are_written_at_close(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal(path, run_id="run-1", mode="backtest")
    for ts in range(10):
        _order_event(journal, ts=ts)
    _signal(journal)
    journal.close()
    journal.close()
    assert _count(path, "order_events") == 10
    assert _count(path, "signals") == 1
    with pytest.raises(JournalError, match="closed"):
        _signal(journal)


def test_signal_ids_increase_and_continue_after_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, run_id="run-1", mode="paper", batch_size=2) as journal:
        first = [_signal(journal, ts=ts) for ts in range(5)]
    assert first == [1, 2, 3, 4, 5]
    with Journal(path, run_id="run-2", mode="paper") as journal:
        second = [_signal(journal, ts=ts) for ts in range(3)]
        assert second == [6, 7, 8]
        assert [row["signal_id"] for row in journal.rows("signals", run_id="run-2")] == second


def test_snapshots_are_stored_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path, run_id="run-1", mode="backtest") as journal:
        assert not journal.has_snapshot(SNAPSHOT.snapshot_id)
        assert journal.write(SNAPSHOT) is not None
        assert journal.write(SNAPSHOT) is None
        assert journal.has_snapshot(SNAPSHOT.snapshot_id)
        journal.flush()
        assert journal.has_snapshot(SNAPSHOT.snapshot_id)
        journal.write(SNAPSHOT)
        assert journal.count("snapshots") == 1
    with Journal(path, run_id="run-2", mode="backtest") as journal:
        assert journal.has_snapshot(SNAPSHOT.snapshot_id)
        journal.write(SNAPSHOT)
        assert journal.count("snapshots") == 1
        assert journal.rows("snapshots")[0]["run_id"] == "run-1"


def test_many_rows_and_a_quoted_run_id_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    run_id = "run 'o'brien' -- 2"
    with Journal(path, run_id=run_id, mode="backtest", batch_size=120) as journal:
        for ts in range(263):
            _order_event(journal, ts=ts)
        assert _count(path, "order_events") == 240
        rows = journal.rows("order_events", run_id=run_id)
    assert [row["ts"] for row in rows] == list(range(263))
    assert [row["id"] for row in rows] == list(range(1, 264))
    assert {row["mode"] for row in rows} == {"backtest"}


def test_each_table_schema_is_derived_from_its_row_struct() -> None:
    # one column per struct field, NOT NULL unless the field may be None; nothing hand-listed
    signals = ddl(SignalRow)
    assert "signal_id INTEGER PRIMARY KEY" in signals
    assert "strength TEXT NOT NULL" in signals and "stop_price DOUBLE PRECISION," in signals
    assert "UNIQUE (venue, trade_id)" in ddl(FillRecord)
    assert field_names(FillRecord)[:4] == ("asset", "strategy_id", "snapshot_id", "ts")


def test_a_muted_journal_writes_nothing_until_unmuted(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite", run_id="run-1", mode="paper") as journal:
        journal.mute(True)
        assert journal.write(FILL) is None and journal.muted
        _order_event(journal)
        journal.mute(False)
        assert journal.count("fills") == 0 and journal.count("order_events") == 0
        assert journal.write(FILL) is not None
