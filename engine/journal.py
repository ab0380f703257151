"""Journal every signal, sizing decision, order event, fill and close of a run to SQLite.

The journal is one SQLite file in WAL mode, so a report or a dashboard can read it through its own
connection while a run is writing. Every event row carries ``run_id``, ``mode`` (backtest, paper or
live), ``asset`` (crypto_spot, crypto_futures, forex, options, or '' when not applicable),
``strategy_id``, ``snapshot_id`` (the market-data snapshot the event was based on, '' when none) and
``ts``, the kernel clock in integer nanoseconds (never the wall clock).

Rows are buffered per table and written with ``executemany`` (many rows to a statement) when a
buffer reaches ``batch_size`` and on :meth:`Journal.flush` / :meth:`Journal.close`, so a backtest pays
a few microseconds a row. Operator actions (an audit trail) and the desk state (the kill switch must
survive a restart) are written and committed at once. Whether a fill is new is answered at once from
a ``UNIQUE (venue, trade_id)`` key: in paper and live mode the fill is committed as it is recorded, so
the answer survives a crash; in backtest mode (one writer, rerun after a crash) it is looked up in the
file and buffered.

The schema uses portable types only (``BIGINT`` for nanosecond timestamps, ``INTEGER``, ``TEXT``,
``DOUBLE PRECISION``) and ``INSERT ... ON CONFLICT``, so apart from the pragmas it is also valid on
PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import msgspec

SCHEMA_VERSION = 1

MODES = frozenset({"backtest", "paper", "live"})
ASSETS = frozenset({"crypto_spot", "crypto_futures", "forex", "options", ""})

_COMMON = ("run_id", "mode", "asset", "strategy_id", "snapshot_id", "ts")
_COMMON_DDL = (
    "run_id TEXT NOT NULL",
    "mode TEXT NOT NULL",
    "asset TEXT NOT NULL",
    "strategy_id TEXT NOT NULL",
    "snapshot_id TEXT NOT NULL",
    "ts BIGINT NOT NULL",
)

# Table name -> (key column, the columns after the common ones with their portable types).
_EVENT_TABLES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "snapshots": (
        "id",
        (
            ("instrument_id", "TEXT NOT NULL"),
            ("kind", "TEXT NOT NULL"),
            ("source", "TEXT NOT NULL"),
            ("ts_event", "BIGINT NOT NULL"),
            ("open", "DOUBLE PRECISION"),
            ("high", "DOUBLE PRECISION"),
            ("low", "DOUBLE PRECISION"),
            ("close", "DOUBLE PRECISION"),
            ("bid", "DOUBLE PRECISION"),
            ("ask", "DOUBLE PRECISION"),
        ),
    ),
    "signals": (
        "signal_id",
        (
            ("instrument_id", "TEXT NOT NULL"),
            ("side", "TEXT NOT NULL"),
            ("strength", "TEXT NOT NULL"),
            ("entry_price", "DOUBLE PRECISION"),
            ("stop_price", "DOUBLE PRECISION"),
            ("take_profit_price", "DOUBLE PRECISION"),
        ),
    ),
    "decisions": (
        "id",
        (
            ("instrument_id", "TEXT NOT NULL"),
            ("signal_id", "INTEGER NOT NULL"),
            ("approved", "INTEGER NOT NULL"),
            ("reason", "TEXT NOT NULL"),
            ("bound_by", "TEXT NOT NULL"),
            ("quantity", "DOUBLE PRECISION"),
            ("inputs", "TEXT NOT NULL"),
        ),
    ),
    "order_events": (
        "id",
        (
            ("instrument_id", "TEXT NOT NULL"),
            ("client_order_id", "TEXT NOT NULL"),
            ("event", "TEXT NOT NULL"),
            ("order_type", "TEXT NOT NULL"),
            ("side", "TEXT NOT NULL"),
            ("quantity", "DOUBLE PRECISION"),
            ("price", "DOUBLE PRECISION"),
            ("trigger_price", "DOUBLE PRECISION"),
            ("tags", "TEXT NOT NULL"),
            ("detail", "TEXT NOT NULL"),
        ),
    ),
    "fills": (
        "id",
        (
            ("venue", "TEXT NOT NULL"),
            ("trade_id", "TEXT NOT NULL"),
            ("client_order_id", "TEXT NOT NULL"),
            ("venue_order_id", "TEXT NOT NULL"),
            ("instrument_id", "TEXT NOT NULL"),
            ("side", "TEXT NOT NULL"),
            ("quantity", "DOUBLE PRECISION NOT NULL"),
            ("price", "DOUBLE PRECISION NOT NULL"),
            ("commission_usd", "DOUBLE PRECISION NOT NULL"),
            ("liquidity", "TEXT NOT NULL"),
            ("order_tag", "TEXT NOT NULL"),
        ),
    ),
    "refused_fills": (
        "id",
        (
            ("venue", "TEXT NOT NULL"),
            ("trade_id", "TEXT NOT NULL"),
            ("instrument_id", "TEXT NOT NULL"),
            ("price", "DOUBLE PRECISION NOT NULL"),
            ("reason", "TEXT NOT NULL"),
        ),
    ),
    "closes": (
        "id",
        (
            ("instrument_id", "TEXT NOT NULL"),
            ("side", "TEXT NOT NULL"),
            ("quantity", "DOUBLE PRECISION NOT NULL"),
            ("entry_price", "DOUBLE PRECISION NOT NULL"),
            ("exit_price", "DOUBLE PRECISION NOT NULL"),
            ("gross_pnl_usd", "DOUBLE PRECISION NOT NULL"),
            ("fees_usd", "DOUBLE PRECISION NOT NULL"),
            ("net_pnl_usd", "DOUBLE PRECISION NOT NULL"),
            ("reward_points", "DOUBLE PRECISION NOT NULL"),
            ("exit_reason", "TEXT NOT NULL"),
            ("epoch", "INTEGER NOT NULL"),
        ),
    ),
    "epochs": (
        "id",
        (
            ("epoch", "INTEGER NOT NULL"),
            ("topup_usd", "DOUBLE PRECISION NOT NULL"),
            ("equity_before_usd", "DOUBLE PRECISION NOT NULL"),
            ("reason", "TEXT NOT NULL"),
        ),
    ),
    "operator_actions": (
        "id",
        (
            ("operator", "TEXT NOT NULL"),
            ("action", "TEXT NOT NULL"),
            ("detail", "TEXT NOT NULL"),
        ),
    ),
}


def _event_ddl(table: str) -> str:
    key, extra = _EVENT_TABLES[table]
    columns = [f"{key} INTEGER PRIMARY KEY", *_COMMON_DDL, *(f"{name} {kind}" for name, kind in extra)]
    if table == "snapshots":
        columns.append("UNIQUE (snapshot_id)")
    elif table == "fills":
        columns.append("UNIQUE (venue, trade_id)")
    body = ",\n    ".join(columns)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n    {body}\n)"


_SCHEMA: tuple[str, ...] = (
    "CREATE TABLE IF NOT EXISTS runs (\n"
    "    run_id TEXT PRIMARY KEY,\n"
    "    mode TEXT NOT NULL,\n"
    "    started_ts BIGINT NOT NULL\n"
    ")",
    *(_event_ddl(table) for table in _EVENT_TABLES),
    "CREATE TABLE IF NOT EXISTS desk_state (\n"
    "    key TEXT PRIMARY KEY,\n"
    "    value TEXT NOT NULL,\n"
    "    run_id TEXT NOT NULL,\n"
    "    ts BIGINT NOT NULL\n"
    ")",
)

_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("run_id", "mode", "started_ts"),
    **{table: (key, *_COMMON, *(name for name, _ in extra)) for table, (key, extra) in _EVENT_TABLES.items()},
    "desk_state": ("key", "value", "run_id", "ts"),
}

TABLES: tuple[str, ...] = tuple(_TABLE_COLUMNS)

# Tables written through the per-table buffers (fills only in backtest mode).
_BUFFERED = (
    "snapshots",
    "signals",
    "decisions",
    "order_events",
    "fills",
    "refused_fills",
    "closes",
    "epochs",
)


# Buffered rows are written this many to an INSERT statement (multi-row VALUES bind faster).
_ROWS_PER_STATEMENT = 50


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _buffered_insert(table: str, run_id: str, mode: str, rows: int) -> str:
    """Build a buffered table's INSERT for ``rows`` rows; a journal's run id and mode are constants."""
    columns = _TABLE_COLUMNS[table]
    one = "(" + ", ".join(["?", _literal(run_id), _literal(mode), *("?" * (len(columns) - 3))]) + ")"
    conflict = " ON CONFLICT (snapshot_id) DO NOTHING" if table == "snapshots" else ""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)}{conflict}"


# Immediate inserts number their row inside the statement, so a second writer cannot collide.
_FILL_SQL = (
    f"INSERT INTO fills ({', '.join(_TABLE_COLUMNS['fills'])}) "
    f"SELECT COALESCE(MAX(id), 0) + 1, {', '.join('?' * (len(_TABLE_COLUMNS['fills']) - 1))} FROM fills "
    "WHERE true ON CONFLICT (venue, trade_id) DO NOTHING"
)
_OPERATOR_SQL = (
    f"INSERT INTO operator_actions ({', '.join(_TABLE_COLUMNS['operator_actions'])}) "
    f"SELECT COALESCE(MAX(id), 0) + 1, {', '.join('?' * (len(_TABLE_COLUMNS['operator_actions']) - 1))} "
    "FROM operator_actions"
)
_STATE_SQL = (
    "INSERT INTO desk_state (key, value, run_id, ts) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, run_id = excluded.run_id, ts = excluded.ts"
)


class JournalError(RuntimeError):
    """Raise when the journal cannot be opened, written or queried; the message names the file."""


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """Identify the market data (a bar or a quote) a signal, order or fill was based on.

    ``snapshot_id`` is deterministic, e.g. ``f"{source}@{ts_event}"``, so the same bar recorded
    twice (or by two strategies) is stored once.
    """

    snapshot_id: str
    instrument_id: str
    kind: str
    source: str
    ts_event: int
    open: float | None = None
    high: float | None = None
    low: float | None = None
    close: float | None = None
    bid: float | None = None
    ask: float | None = None


@dataclass(frozen=True, slots=True)
class FillRecord:
    """Describe one execution as the venue reported it, with its commission converted to USD.

    The quantity is positive and the side is ``BUY`` or ``SELL``; ``order_tag`` names the order's role
    (ENTRY, SL, TP, ...) and ``snapshot_id`` the quote or bar the fill traded against.
    """

    ts: int
    venue: str
    trade_id: str
    client_order_id: str
    venue_order_id: str
    strategy_id: str
    instrument_id: str
    side: str
    quantity: float
    price: float
    commission_usd: float
    liquidity: str = ""
    order_tag: str = ""
    snapshot_id: str = ""


def _json_default(value: object) -> object:
    if isinstance(value, Enum):
        return value.name
    return str(value)


_JSON = msgspec.json.Encoder(enc_hook=_json_default, order="sorted")


def _to_json(value: Mapping[str, Any]) -> str:
    return _JSON.encode(value if isinstance(value, dict) else dict(value)).decode()


def _strength_text(strength: Enum | str | float) -> str:
    if isinstance(strength, Enum):
        return strength.name
    return str(strength)


class OrderEventRecord(NamedTuple):
    """One order life-cycle event, in the column order of the ``order_events`` table."""

    asset: str
    strategy_id: str
    snapshot_id: str
    ts: int
    instrument_id: str
    client_order_id: str
    event: str
    order_type: str
    side: str
    quantity: float | None
    price: float | None
    trigger_price: float | None
    tags: str
    detail: str


class Journal:
    """Record a run's trading events in a SQLite (WAL) file.

    Parameters
    ----------
    path : str or Path
        The journal file; its parent folders are created.
    run_id : str
        The run every row is tagged with; a ``runs`` row is inserted for it.
    mode : str
        ``backtest``, ``paper`` or ``live``.
    fresh : bool, default False
        Delete an existing file (and its ``-wal`` / ``-shm`` companions) first.
    batch_size : int, default 2000
        Write a table's buffered rows once this many are waiting.

    Raises
    ------
    JournalError
        If the mode is unknown, ``batch_size`` is not positive, the file cannot be opened, is not a
        journal of this schema version, or cannot be switched to WAL mode, or ``run_id`` is already
        journaled under another mode.

    Notes
    -----
    Rows survive a crash up to the last flush; operator actions, the desk state and (in paper and
    live mode) fills are committed as they are recorded. The journal uses one connection guarded by a
    lock, so it may be called from more than one thread. Read helpers (:meth:`rows`, :meth:`count`)
    flush first.

    Buffered rows are numbered by this object, so one process at a time should journal trading events
    to a file; operator actions, the desk state and paper or live fills are numbered inside their own
    statement and may come from a second writer (e.g. an operator's tool setting the kill switch).
    """

    def __init__(
        self, path: str | Path, *, run_id: str, mode: str, fresh: bool = False, batch_size: int = 2000
    ) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self.mode = mode
        if mode not in MODES:
            raise JournalError(
                f"{self.path}: unknown journal mode {mode!r} (expected one of {sorted(MODES)})"
            )
        if batch_size < 1:
            raise JournalError(f"{self.path}: batch_size must be at least 1, got {batch_size!r}")
        if not run_id or "\x00" in run_id:
            raise JournalError(f"{self.path}: run_id must be a non-empty string without NUL, got {run_id!r}")
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._sql_one = {table: _buffered_insert(table, run_id, mode, 1) for table in _BUFFERED}
        self._sql_many = {
            table: _buffered_insert(table, run_id, mode, _ROWS_PER_STATEMENT) for table in _BUFFERED
        }
        self._buffers: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _BUFFERED}
        self._pending_snapshots: set[str] = set()
        self._fill_keys: set[tuple[str, str]] = set()
        self._closed = False
        if fresh:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from exc
        try:
            self._open()
        except sqlite3.Error as exc:
            self._conn.close()
            self._closed = True
            raise JournalError(f"{self.path}: cannot initialise the journal: {exc}") from exc
        except JournalError:
            self._conn.close()
            self._closed = True
            raise

    def _open(self) -> None:
        conn = self._conn
        journal_mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(journal_mode).lower() != "wal":
            raise JournalError(f"{self.path}: cannot switch the journal to WAL mode (got {journal_mode!r})")
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise JournalError(
                f"{self.path}: journal schema version {version} is not supported (expected {SCHEMA_VERSION})"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute(
                "INSERT INTO runs (run_id, mode, started_ts) VALUES (?, ?, 0) "
                "ON CONFLICT (run_id) DO NOTHING",
                (self.run_id, self.mode),
            )
            (existing_mode,) = conn.execute(
                "SELECT mode FROM runs WHERE run_id = ?", (self.run_id,)
            ).fetchone()
            if existing_mode != self.mode:
                raise JournalError(
                    f"{self.path}: run {self.run_id!r} is journaled as mode {existing_mode!r}, "
                    f"not {self.mode!r}"
                )
            self._next_id: dict[str, int] = {}
            for table in _BUFFERED:
                key = _EVENT_TABLES[table][0]
                (last,) = conn.execute(f"SELECT COALESCE(MAX({key}), 0) FROM {table}").fetchone()
                self._next_id[table] = int(last)
            if self.mode == "backtest":
                # one writer per backtest journal: the keys already in the file answer replays in memory
                self._fill_keys.update(
                    (str(venue), str(trade_id))
                    for venue, trade_id in conn.execute("SELECT venue, trade_id FROM fills")
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ writing

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError(f"{self.path}: the journal is closed")

    def _asset_error(self, asset: str) -> JournalError:
        return JournalError(f"{self.path}: unknown asset {asset!r} (expected one of {sorted(ASSETS)})")

    def _add(self, table: str, row: tuple[Any, ...]) -> int:
        """Number a row (its key goes first), buffer it, write the buffers once full; return the key."""
        with self._lock:
            self._check_open()
            return self._add_locked(table, row)

    def _add_locked(self, table: str, row: tuple[Any, ...]) -> int:
        key = self._next_id[table] + 1
        self._next_id[table] = key
        buffer = self._buffers[table]
        buffer.append((key, *row))
        if len(buffer) >= self._batch_size:
            self._flush_locked()
        return key

    def mark_run_started(self, ts: int) -> None:
        """Set this run's ``started_ts`` (the kernel clock when the run started).

        Parameters
        ----------
        ts : int
            Kernel time in nanoseconds.
        """
        with self._lock:
            self._check_open()
            self._execute("UPDATE runs SET started_ts = ? WHERE run_id = ?", (int(ts), self.run_id))

    def record_snapshot(self, snapshot: MarketSnapshot) -> str:
        """Record the market data a decision was based on, once per ``snapshot_id``.

        Parameters
        ----------
        snapshot : MarketSnapshot
            The bar or quote; a snapshot already journaled (in this or an earlier run) is ignored.

        Returns
        -------
        str
            The snapshot's id, to pass as ``snapshot_id`` to the other ``record_*`` methods.
        """
        sid = snapshot.snapshot_id
        if sid in self._pending_snapshots:
            return sid
        self._pending_snapshots.add(sid)
        self._add(
            "snapshots",
            (
                "",
                "",
                sid,
                snapshot.ts_event,
                snapshot.instrument_id,
                snapshot.kind,
                snapshot.source,
                snapshot.ts_event,
                snapshot.open,
                snapshot.high,
                snapshot.low,
                snapshot.close,
                snapshot.bid,
                snapshot.ask,
            ),
        )
        return sid

    def has_snapshot(self, snapshot_id: str) -> bool:
        """Tell whether a snapshot is journaled (or waiting in the buffer).

        Parameters
        ----------
        snapshot_id : str
            The snapshot's id.

        Returns
        -------
        bool
            True if the snapshot was recorded by this or an earlier run.
        """
        with self._lock:
            if snapshot_id in self._pending_snapshots:
                return True
            self._check_open()
            row = self._query("SELECT 1 FROM snapshots WHERE snapshot_id = ? LIMIT 1", (snapshot_id,))
            return bool(row)

    def record_signal(
        self,
        *,
        ts: int,
        asset: str,
        strategy_id: str,
        instrument_id: str,
        side: str,
        strength: Enum | str | float,
        entry_price: float | None,
        stop_price: float | None,
        take_profit_price: float | None,
        snapshot_id: str,
    ) -> int:
        """Record a strategy's signal before it is sized.

        Parameters
        ----------
        ts : int
            Kernel time in nanoseconds.
        asset : str
            The asset class (``crypto_spot``, ``crypto_futures``, ``forex``, ``options`` or '').
        strategy_id : str
            The strategy that raised the signal.
        instrument_id : str
            The instrument.
        side : str
            ``BUY`` or ``SELL``.
        strength : Enum, str or float
            The signal's grade (e.g. ``engine.risk.signals.SignalStrength``); stored as text, an enum
            by its name.
        entry_price, stop_price, take_profit_price : float or None
            The proposed reference price and protective levels.
        snapshot_id : str
            The market data the signal was based on ('' when none).

        Returns
        -------
        int
            The signal's id, increasing within the file (and across runs in it); pass it to
            :meth:`record_decision`.
        """
        if asset not in ASSETS:
            raise self._asset_error(asset)
        return self._add(
            "signals",
            (
                asset,
                strategy_id,
                snapshot_id,
                ts,
                instrument_id,
                side,
                _strength_text(strength),
                entry_price,
                stop_price,
                take_profit_price,
            ),
        )

    def record_decision(
        self,
        *,
        ts: int,
        asset: str,
        strategy_id: str,
        instrument_id: str,
        signal_id: int,
        approved: bool,
        reason: str,
        bound_by: str,
        quantity: float | None,
        inputs: Mapping[str, float | str | None],
        snapshot_id: str,
    ) -> None:
        """Record the risk desk's sizing decision for a signal, an approval or a denial.

        Parameters
        ----------
        ts : int
            Kernel time in nanoseconds.
        asset, strategy_id, instrument_id : str
            As for :meth:`record_signal`.
        signal_id : int
            The id :meth:`record_signal` returned.
        approved : bool
            Whether the entry was approved; stored as 1 or 0.
        reason : str
            Why it was denied (or a note for an approval).
        bound_by : str
            The rule that set the final size ('' for a denial).
        quantity : float or None
            The approved quantity.
        inputs : Mapping
            The numbers the desk sized with; stored as JSON text with sorted keys.
        snapshot_id : str
            The market data the decision was based on ('' when none).
        """
        if asset not in ASSETS:
            raise self._asset_error(asset)
        self._add(
            "decisions",
            (
                asset,
                strategy_id,
                snapshot_id,
                ts,
                instrument_id,
                int(signal_id),
                1 if approved else 0,
                reason,
                bound_by,
                quantity,
                _to_json(inputs),
            ),
        )

    def record_order_event(
        self,
        *,
        ts: int,
        asset: str,
        strategy_id: str,
        instrument_id: str,
        client_order_id: str,
        event: str,
        order_type: str,
        side: str,
        quantity: float | None,
        price: float | None,
        trigger_price: float | None,
        tags: str,
        detail: str,
        snapshot_id: str = "",
    ) -> None:
        """Record an order's life-cycle event (submitted, accepted, rejected, canceled, ...).

        Parameters
        ----------
        ts : int
            Kernel time in nanoseconds.
        asset, strategy_id, instrument_id : str
            As for :meth:`record_signal`.
        client_order_id : str
            The order.
        event : str
            The event's name, e.g. ``OrderAccepted``.
        order_type, side : str
            The order's type (``MARKET``, ``STOP_MARKET``, ...) and side.
        quantity, price, trigger_price : float or None
            The order's quantity and prices, where they apply.
        tags : str
            The order's tags (ENTRY, SL, TP, ...).
        detail : str
            Free text, e.g. a rejection reason.
        snapshot_id : str, default ''
            The market data the order was based on.
        """
        self.record_order_events(
            [
                OrderEventRecord(
                    asset,
                    strategy_id,
                    snapshot_id,
                    ts,
                    instrument_id,
                    client_order_id,
                    event,
                    order_type,
                    side,
                    quantity,
                    price,
                    trigger_price,
                    tags,
                    detail,
                )
            ]
        )

    def record_order_events(self, records: Iterable[OrderEventRecord]) -> int:
        """Record many order events at once (a backtest journals its orders' histories at the end).

        Returns
        -------
        int
            How many events were recorded.
        """
        with self._lock:
            self._check_open()
            buffer = self._buffers["order_events"]
            key = self._next_id["order_events"]
            start = key
            for record in records:
                if record.asset not in ASSETS:
                    raise self._asset_error(record.asset)
                key += 1
                buffer.append((key, *record))
            self._next_id["order_events"] = key
            if len(buffer) >= self._batch_size:
                self._flush_locked()
        return key - start

    def record_fill(self, fill: FillRecord, asset: str) -> bool:
        """Record a fill unless the same venue trade was journaled before.

        In paper and live mode the fill is written and committed at once, so the answer holds after a
        crash or restart; in backtest mode it is written with the next flush.

        Parameters
        ----------
        fill : FillRecord
            The execution.
        asset : str
            The asset class whose ledger books it.

        Returns
        -------
        bool
            True if the fill is new; False if ``(venue, trade_id)`` is already in the file (from this
            or an earlier run), so a replayed fill is never counted twice.
        """
        if asset not in ASSETS:
            raise self._asset_error(asset)
        key = (fill.venue, fill.trade_id)
        row = (
            asset,
            fill.strategy_id,
            fill.snapshot_id,
            fill.ts,
            fill.venue,
            fill.trade_id,
            fill.client_order_id,
            fill.venue_order_id,
            fill.instrument_id,
            fill.side,
            fill.quantity,
            fill.price,
            fill.commission_usd,
            fill.liquidity,
            fill.order_tag,
        )
        with self._lock:
            self._check_open()
            if key in self._fill_keys:
                return False
            if self.mode == "backtest":
                # A backtest has one writer: the keys loaded at open plus this run's answer from
                # memory, and the row is written with the next flush (the UNIQUE constraint still holds).
                self._fill_keys.add(key)
                self._add_locked("fills", row)
                return True
            cursor = self._execute(_FILL_SQL, (self.run_id, self.mode, *row))
            self._fill_keys.add(key)
            return cursor.rowcount == 1

    def record_refused_fill(
        self,
        *,
        ts: int,
        venue: str,
        trade_id: str,
        asset: str,
        strategy_id: str,
        instrument_id: str,
        price: float,
        reason: str,
    ) -> None:
        """Record a fill the engine refused to book (e.g. a price outside the bar, a replay).

        Parameters
        ----------
        ts : int
            Kernel time in nanoseconds.
        venue, trade_id : str
            The venue's identification of the trade.
        asset, strategy_id, instrument_id : str
            As for :meth:`record_signal`.
        price : float
            The refused fill's price.
        reason : str
            Why it was refused.
        """
        if asset not in ASSETS:
            raise self._asset_error(asset)
        self._add(
            "refused_fills",
            (
                asset,
                strategy_id,
                "",
                ts,
                venue,
                trade_id,
                instrument_id,
                price,
                reason,
            ),
        )

    def record_close(
        self,
        *,
        ts: int,
        asset: str,
        strategy_id: str,
        instrument_id: str,
        side: str,
        quantity: float,
        entry_price: float,
        exit_price: float,
        gross_pnl_usd: float,
        fees_usd: float,
        net_pnl_usd: float,
        reward_points: float,
        exit_reason: str,
        epoch: int,
        snapshot_id: str = "",
    ) -> None:
        """Record a closed position (a round trip) with its profit and reward.

        Parameters
        ----------
        ts : int
            Kernel time in nanoseconds.
        asset, strategy_id, instrument_id : str
            As for :meth:`record_signal`.
        side : str
            The position's entry side.
        quantity, entry_price, exit_price : float
            The round trip's size and average prices.
        gross_pnl_usd, fees_usd, net_pnl_usd : float
            Its profit before fees, its fees and its profit after fees, in USD.
        reward_points : float
            The learning reward the trade earned.
        exit_reason : str
            Why it closed (SL, TP, SIGNAL_EXIT, ...).
        epoch : int
            The paper epoch the trade belongs to.
        snapshot_id : str, default ''
            The market data at the close.
        """
        if asset not in ASSETS:
            raise self._asset_error(asset)
        self._add(
            "closes",
            (
                asset,
                strategy_id,
                snapshot_id,
                ts,
                instrument_id,
                side,
                quantity,
                entry_price,
                exit_price,
                gross_pnl_usd,
                fees_usd,
                net_pnl_usd,
                reward_points,
                exit_reason,
                int(epoch),
            ),
        )

    def record_epoch(
        self, *, ts: int, asset: str, epoch: int, topup_usd: float, equity_before_usd: float, reason: str
    ) -> None:
        """Record the start of a paper epoch (an account top-up after a blow-up, or the first one).

        Parameters
        ----------
        ts : int
            Kernel time in nanoseconds.
        asset : str
            The asset class whose account was topped up.
        epoch : int
            The new epoch's number.
        topup_usd, equity_before_usd : float
            The amount added and the equity before it, in USD.
        reason : str
            Why the epoch started.
        """
        if asset not in ASSETS:
            raise self._asset_error(asset)
        self._add(
            "epochs",
            (asset, "", "", ts, int(epoch), topup_usd, equity_before_usd, reason),
        )

    def record_operator_action(
        self, *, ts: int, operator: str, action: str, asset: str, detail: Mapping[str, object]
    ) -> None:
        """Record an operator's action (kill switch, flatten, ...) and commit it at once.

        Parameters
        ----------
        ts : int
            Kernel time in nanoseconds.
        operator : str
            Who acted.
        action : str
            What they did.
        asset : str
            The asset class it applied to ('' for all).
        detail : Mapping
            Anything else worth keeping; stored as JSON text with sorted keys.
        """
        if asset not in ASSETS:
            raise self._asset_error(asset)
        with self._lock:
            self._check_open()
            self._execute(
                _OPERATOR_SQL,
                (self.run_id, self.mode, asset, "", "", ts, operator, action, _to_json(detail)),
            )

    def set_state(self, key: str, value: Mapping[str, object], *, ts: int = 0) -> None:
        """Store a piece of desk state (e.g. the kill switch) and commit it at once.

        Parameters
        ----------
        key : str
            The state's name; a later call with the same key replaces it.
        value : Mapping
            The state; stored as JSON text with sorted keys.
        ts : int, default 0
            Kernel time in nanoseconds when the state was set.
        """
        with self._lock:
            self._check_open()
            self._execute(_STATE_SQL, (key, _to_json(value), self.run_id, int(ts)))

    def get_state(self, key: str) -> dict[str, object] | None:
        """Read a piece of desk state.

        Parameters
        ----------
        key : str
            The state's name.

        Returns
        -------
        dict or None
            The stored value, or None if the key was never set.
        """
        with self._lock:
            self._check_open()
            rows = self._query("SELECT value FROM desk_state WHERE key = ?", (key,))
        if not rows:
            return None
        value = json.loads(rows[0][0])
        if not isinstance(value, dict):
            raise JournalError(f"{self.path}: desk state {key!r} is not a JSON object")
        return value

    def flush(self) -> None:
        """Write every buffered row and commit."""
        with self._lock:
            if self._closed:
                return
            self._flush_locked()

    def _flush_locked(self) -> None:
        pending = [(table, rows) for table, rows in self._buffers.items() if rows]
        if not pending:
            return
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table, rows in pending:
                    self._write_rows(table, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot write the journal: {exc}") from exc
        for _, rows in pending:
            rows.clear()
        self._pending_snapshots.clear()

    def _write_rows(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        step = _ROWS_PER_STATEMENT
        whole = len(rows) - len(rows) % step
        if whole:
            chain = itertools.chain.from_iterable
            self._conn.executemany(
                self._sql_many[table], (tuple(chain(rows[i : i + step])) for i in range(0, whole, step))
            )
        if whole < len(rows):
            self._conn.executemany(self._sql_one[table], rows[whole:])

    def close(self) -> None:
        """Flush and close the journal; closing twice does nothing."""
        with self._lock:
            if self._closed:
                return
            try:
                self._flush_locked()
            finally:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def rows(self, table: str, **where: object) -> list[dict[str, object]]:
        """Read a table's rows in insertion order, after flushing the buffers.

        Parameters
        ----------
        table : str
            One of :data:`TABLES`.
        **where : object
            Column equalities to filter on (None matches NULL).

        Returns
        -------
        list of dict
            One dict per row, keyed by column name; JSON columns are returned as text.

        Raises
        ------
        JournalError
            If the table or a column is unknown.
        """
        sql, params = self._select(table, "*", where)
        with self._lock:
            self._check_open()
            self._flush_locked()
            cursor = self._execute(sql, params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def count(self, table: str, **where: object) -> int:
        """Count a table's rows, after flushing the buffers.

        Parameters
        ----------
        table : str
            One of :data:`TABLES`.
        **where : object
            Column equalities to filter on (None matches NULL).

        Returns
        -------
        int
            The number of matching rows.

        Raises
        ------
        JournalError
            If the table or a column is unknown.
        """
        sql, params = self._select(table, "COUNT(*)", where)
        with self._lock:
            self._check_open()
            self._flush_locked()
            return int(self._execute(sql, params).fetchone()[0])

    def _select(self, table: str, what: str, where: Mapping[str, object]) -> tuple[str, list[object]]:
        columns = _TABLE_COLUMNS.get(table)
        if columns is None:
            raise JournalError(
                f"{self.path}: unknown journal table {table!r} (expected one of {list(TABLES)})"
            )
        clauses: list[str] = []
        params: list[object] = []
        for column, value in where.items():
            if column not in columns:
                raise JournalError(f"{self.path}: table {table!r} has no column {column!r}")
            if value is None:
                clauses.append(f"{column} IS NULL")
            else:
                clauses.append(f"{column} = ?")
                params.append(int(value) if isinstance(value, bool) else value)
        sql = f"SELECT {what} FROM {table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        if what == "*":
            sql += " ORDER BY rowid"
        return sql, params

    def _execute(self, sql: str, params: tuple[Any, ...] | list[object]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: journal query failed: {exc}") from exc

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return self._execute(sql, params).fetchall()
