"""Journal every signal, sizing decision, order event, fill and close of a run to SQLite.

The journal is one SQLite file in WAL mode, so a report or a dashboard can read it through its own
connection while a run is writing. Rows are the typed structs of :mod:`engine.journal.rows`, written by
one generic :meth:`Journal.write`; each table's schema is derived from its struct
(:mod:`engine.journal.schema`).

Rows are buffered per table and written with ``executemany`` (many rows to a statement) when a
buffer reaches ``batch_size`` and on :meth:`Journal.flush` / :meth:`Journal.close`, so a backtest pays
a few microseconds a row. Operator actions (an audit trail) and the desk state (the kill switch must
survive a restart) are written and committed at once. Whether a fill is new is answered at once from
its ``UNIQUE (venue, trade_id)`` key: in paper and live mode the fill is committed as it is written,
so the answer survives a crash; in backtest mode (one writer, rerun after a crash) it is looked up in
the file and buffered.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec

from engine.journal.rows import FillRecord, MarketSnapshot, OperatorActionRow, Row, to_json
from engine.journal.schema import (
    ROW_TYPE_OF,
    SCHEMA,
    SCHEMA_VERSION,
    TABLE_COLUMNS,
    TABLES,
    buffered_insert,
    immediate_insert,
)

MODES = frozenset({"backtest", "paper", "live"})

# Buffered rows are written this many to an INSERT statement (multi-row VALUES bind faster).
_ROWS_PER_STATEMENT = 50
_IMMEDIATE = (OperatorActionRow,)  # committed as written, in every mode
_STATE_SQL = (
    "INSERT INTO desk_state (key, value, run_id, ts) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value, run_id = excluded.run_id, ts = excluded.ts"
)
_astuple = msgspec.structs.astuple


class JournalError(RuntimeError):
    """Raise when the journal cannot be opened, written or queried; the message names the file."""


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
    assets : collection of str, optional
        The asset classes rows may name ('' is always allowed); None accepts any.

    Raises
    ------
    JournalError
        If the mode is unknown, ``batch_size`` is not positive, the file cannot be opened, is not a
        journal of this schema version, or cannot be switched to WAL mode, or ``run_id`` is already
        journaled under another mode.

    Notes
    -----
    Rows survive a crash up to the last flush; operator actions, the desk state and (in paper and
    live mode) fills are committed as they are written. One connection guarded by a lock serves every
    thread. Buffered rows are numbered by this object, so one process at a time should journal
    trading events to a file; operator actions, the desk state and paper or live fills are numbered
    inside their own statement and may come from a second writer (e.g. an operator's tool).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        run_id: str,
        mode: str,
        fresh: bool = False,
        batch_size: int = 2000,
        assets: Collection[str] | None = None,
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
        self._assets = None if assets is None else frozenset({*assets, ""})
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._immediate = {t for t in _IMMEDIATE} | (set() if mode == "backtest" else {FillRecord})
        self._sql_one = {t: buffered_insert(t, run_id, mode, 1) for t in ROW_TYPE_OF.values()}
        self._sql_many = {
            t: buffered_insert(t, run_id, mode, _ROWS_PER_STATEMENT) for t in ROW_TYPE_OF.values()
        }
        self._sql_now = {t: immediate_insert(t) for t in ROW_TYPE_OF.values()}
        self._buffers: dict[type[Row], list[tuple[Any, ...]]] = {t: [] for t in ROW_TYPE_OF.values()}
        self._pending_snapshots: set[str] = set()
        self._fill_keys: set[tuple[str, str]] = set()
        self._muted = False
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
                f"{self.path}: journal schema version {version} is not supported "
                f"(expected {SCHEMA_VERSION}); journal this run to a new file"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in SCHEMA:
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
            self._next_id: dict[type[Row], int] = {}
            for row_type in ROW_TYPE_OF.values():
                (last,) = conn.execute(
                    f"SELECT COALESCE(MAX({row_type.key}), 0) FROM {row_type.table}"
                ).fetchone()
                self._next_id[row_type] = int(last)
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

    def _check_asset(self, asset: str) -> None:
        if self._assets is not None and asset not in self._assets:
            raise JournalError(
                f"{self.path}: unknown asset {asset!r} (expected one of {sorted(self._assets)})"
            )

    def write(self, row: Row) -> int | None:
        """Record one row; return its key, or None when its unique key is already journaled.

        A snapshot already journaled (in this or an earlier run) and a fill whose ``(venue,
        trade_id)`` is already in the file are not written again: a replayed fill is never counted
        twice. Operator actions, and in paper and live mode fills, are committed at once.
        """
        row_type = type(row)
        if row.asset:
            self._check_asset(row.asset)
        with self._lock:
            self._check_open()
            if self._muted:
                return None
            if row_type is MarketSnapshot:
                if row.snapshot_id in self._pending_snapshots:
                    return None
                self._pending_snapshots.add(row.snapshot_id)
            elif row_type is FillRecord:
                key = (row.venue, row.trade_id)  # type: ignore[attr-defined]
                if key in self._fill_keys:
                    return None
                self._fill_keys.add(key)
            if row_type in self._immediate:
                found = self._query(self._sql_now[row_type], (self.run_id, self.mode, *_astuple(row)))
                if not found:
                    return None
                key_value = int(found[0][0])
                self._next_id[row_type] = max(self._next_id[row_type], key_value)
                return key_value
            return self._buffer(row_type, _astuple(row))

    def write_many(self, rows: Iterable[Row]) -> int:
        """Record many rows of buffered tables at once; return how many were written."""
        written = 0
        for row in rows:
            if self.write(row) is not None:
                written += 1
        return written

    def _buffer(self, row_type: type[Row], values: tuple[Any, ...]) -> int:
        key = self._next_id[row_type] + 1
        self._next_id[row_type] = key
        buffer = self._buffers[row_type]
        buffer.append((key, *values))
        if len(buffer) >= self._batch_size:
            self._flush_locked()
        return key

    def is_journaled(self, fill: FillRecord) -> bool:
        """Return True when ``fill``'s ``(venue, trade_id)`` was journaled (by this or an earlier run)."""
        with self._lock:
            if (fill.venue, fill.trade_id) in self._fill_keys:
                return True
            self._check_open()
            found = self._query(
                "SELECT 1 FROM fills WHERE venue = ? AND trade_id = ? LIMIT 1", (fill.venue, fill.trade_id)
            )
            return bool(found)

    def last_keys(self) -> dict[str, int]:
        """Return the last key given to a row of each table (buffered rows included)."""
        with self._lock:
            return {row_type.table: key for row_type, key in self._next_id.items()}

    def truncate_after(self, keys: Mapping[str, int]) -> dict[str, int]:
        """Delete this run's rows whose key is above ``keys[table]``; return how many per table.

        A restarted node cuts its journal back to its last checkpoint this way before it
        re-simulates (and so re-journals) what came after.
        """
        removed: dict[str, int] = {}
        with self._lock:
            self._check_open()
            self._flush_locked()
            for row_type in ROW_TYPE_OF.values():
                limit = keys.get(row_type.table)
                if limit is None:
                    continue
                cursor = self._execute(
                    f"DELETE FROM {row_type.table} WHERE run_id = ? AND {row_type.key} > ?",
                    (self.run_id, int(limit)),
                )
                removed[row_type.table] = cursor.rowcount
                (last,) = self._query(f"SELECT COALESCE(MAX({row_type.key}), 0) FROM {row_type.table}", ())[0]
                self._next_id[row_type] = int(last)
            if self.mode == "backtest":
                self._fill_keys = {
                    (str(v), str(t)) for v, t in self._query("SELECT venue, trade_id FROM fills", ())
                }
            else:
                self._fill_keys.clear()
        return removed

    def fill_row(self, venue: str, trade_id: str) -> dict[str, object] | None:
        """Return the journaled fill of ``(venue, trade_id)``, or None."""
        rows = self.rows("fills", venue=venue, trade_id=trade_id)
        return rows[0] if rows else None

    def mute(self, muted: bool) -> None:
        """Stop (or resume) writing rows: a restarted replay re-simulates rows it journaled before."""
        with self._lock:
            self._muted = muted

    @property
    def muted(self) -> bool:
        """Return True while rows are not written."""
        return self._muted

    def has_snapshot(self, snapshot_id: str) -> bool:
        """Return True if a snapshot is journaled (or waiting in the buffer)."""
        with self._lock:
            if snapshot_id in self._pending_snapshots:
                return True
            self._check_open()
            row = self._query("SELECT 1 FROM snapshots WHERE snapshot_id = ? LIMIT 1", (snapshot_id,))
            return bool(row)

    def mark_run_started(self, ts: int) -> None:
        """Set this run's ``started_ts`` (the kernel clock in ns when the run started)."""
        with self._lock:
            self._check_open()
            self._execute("UPDATE runs SET started_ts = ? WHERE run_id = ?", (int(ts), self.run_id))

    def set_state(self, key: str, value: Mapping[str, object], *, ts: int = 0) -> None:
        """Store a piece of desk state (e.g. the kill switch) and commit it at once.

        A later call with the same key replaces it; ``value`` is stored as JSON text with sorted keys.
        """
        with self._lock:
            self._check_open()
            self._execute(_STATE_SQL, (key, to_json(dict(value)), self.run_id, int(ts)))

    def get_state(self, key: str) -> dict[str, object] | None:
        """Return a piece of desk state, or None if the key was never set."""
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
        pending = [(row_type, rows) for row_type, rows in self._buffers.items() if rows]
        if not pending:
            return
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for row_type, rows in pending:
                    self._write_rows(row_type, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot write the journal: {exc}") from exc
        for _, rows in pending:
            rows.clear()
        self._pending_snapshots.clear()

    def _write_rows(self, row_type: type[Row], rows: list[tuple[Any, ...]]) -> None:
        step = _ROWS_PER_STATEMENT
        whole = len(rows) - len(rows) % step
        if whole:
            chain = itertools.chain.from_iterable
            self._conn.executemany(
                self._sql_many[row_type], (tuple(chain(rows[i : i + step])) for i in range(0, whole, step))
            )
        if whole < len(rows):
            self._conn.executemany(self._sql_one[row_type], rows[whole:])

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
        """Return a table's rows in insertion order (as dicts by column), after flushing the buffers.

        ``where`` filters on column equalities (None matches NULL); JSON columns are returned as text.

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
        """Return how many rows of a table match ``where``, after flushing the buffers."""
        sql, params = self._select(table, "COUNT(*)", where)
        with self._lock:
            self._check_open()
            self._flush_locked()
            return int(self._execute(sql, params).fetchone()[0])

    def _select(self, table: str, what: str, where: Mapping[str, object]) -> tuple[str, list[object]]:
        columns = TABLE_COLUMNS.get(table)
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
