"""Derive the journal's tables from its row structs: columns, portable DDL and INSERT statements.

Types are portable (``BIGINT`` for integers and nanosecond timestamps, ``DOUBLE PRECISION``, ``TEXT``)
and conflicts use ``INSERT ... ON CONFLICT``, so apart from the pragmas the schema is also valid on
PostgreSQL.
"""

from __future__ import annotations

import typing

import msgspec

from engine.journal.rows import ROW_TYPES, Row

SCHEMA_VERSION = 2
RUN_COLUMNS = ("run_id", "mode")

_SQL_TYPES = {int: "BIGINT", bool: "INTEGER", float: "DOUBLE PRECISION", str: "TEXT"}


def field_names(row_type: type[Row]) -> tuple[str, ...]:
    """Return a row type's field names in column order (the common fields first)."""
    return tuple(f.name for f in msgspec.structs.fields(row_type))


def columns(row_type: type[Row]) -> tuple[str, ...]:
    """Return a table's columns: its key, ``run_id``, ``mode``, then the row's fields."""
    return (row_type.key, *RUN_COLUMNS, *field_names(row_type))


def _column_type(annotation: object) -> str:
    args = typing.get_args(annotation)
    nullable = type(None) in args
    base = next((a for a in args if a is not type(None)), annotation) if args else annotation
    sql = _SQL_TYPES[base]  # type: ignore[index]
    return sql if nullable else f"{sql} NOT NULL"


def ddl(row_type: type[Row]) -> str:
    """Return the ``CREATE TABLE`` statement of a row type's table."""
    hints = typing.get_type_hints(row_type)
    lines = [f"{row_type.key} INTEGER PRIMARY KEY", "run_id TEXT NOT NULL", "mode TEXT NOT NULL"]
    lines += [f"{name} {_column_type(hints[name])}" for name in field_names(row_type)]
    if row_type.unique:
        lines.append(f"UNIQUE ({', '.join(row_type.unique)})")
    body = ",\n    ".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {row_type.table} (\n    {body}\n)"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def buffered_insert(row_type: type[Row], run_id: str, mode: str, rows: int) -> str:
    """Return an INSERT of ``rows`` numbered rows; a journal's run id and mode are constants in it."""
    names = columns(row_type)
    one = "(" + ", ".join(["?", _literal(run_id), _literal(mode), *("?" * (len(names) - 3))]) + ")"
    conflict = f" ON CONFLICT ({', '.join(row_type.unique)}) DO NOTHING" if row_type.unique else ""
    return f"INSERT INTO {row_type.table} ({', '.join(names)}) VALUES {', '.join([one] * rows)}{conflict}"


def immediate_insert(row_type: type[Row]) -> str:
    """Return an INSERT that numbers its row itself (safe with a second writer) and returns its key."""
    names = columns(row_type)
    conflict = f" ON CONFLICT ({', '.join(row_type.unique)}) DO NOTHING" if row_type.unique else ""
    return (
        f"INSERT INTO {row_type.table} ({', '.join(names)}) "
        f"SELECT COALESCE(MAX({row_type.key}), 0) + 1, {', '.join('?' * (len(names) - 1))} "
        f"FROM {row_type.table} WHERE true{conflict} RETURNING {row_type.key}"
    )


RUNS_DDL = (
    "CREATE TABLE IF NOT EXISTS runs (\n"
    "    run_id TEXT PRIMARY KEY,\n"
    "    mode TEXT NOT NULL,\n"
    "    started_ts BIGINT NOT NULL\n"
    ")"
)
STATE_DDL = (
    "CREATE TABLE IF NOT EXISTS desk_state (\n"
    "    key TEXT PRIMARY KEY,\n"
    "    value TEXT NOT NULL,\n"
    "    run_id TEXT NOT NULL,\n"
    "    ts BIGINT NOT NULL\n"
    ")"
)
SCHEMA: tuple[str, ...] = (RUNS_DDL, *(ddl(row_type) for row_type in ROW_TYPES), STATE_DDL)

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("run_id", "mode", "started_ts"),
    **{row_type.table: columns(row_type) for row_type in ROW_TYPES},
    "desk_state": ("key", "value", "run_id", "ts"),
}
TABLES: tuple[str, ...] = tuple(TABLE_COLUMNS)
ROW_TYPE_OF: dict[str, type[Row]] = {row_type.table: row_type for row_type in ROW_TYPES}
