"""Read a journal's content without what the wall clock decides, to compare two runs of one config.

A replay node's strategies run on the wall clock, so some fields of its journal are wall time, or
derived from it, and legitimately differ from a backtest's (or an earlier run's) of the same bars:
the run id and every row key's numbering of order events (a backtest journals its order events in
bulk when it stops, a node as they happen), client order ids (nautilus stamps them with the
strategy clock's date and time), and the time of the order events the strategy or nautilus' risk
engine stamp (initialized, submitted, denied, pending cancel or update). Everything else, the data
time of every row included, must be equal.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

WALL_STAMPED_EVENTS = frozenset(
    {"OrderInitialized", "OrderSubmitted", "OrderDenied", "OrderPendingCancel", "OrderPendingUpdate"}
)
TABLES = (
    "snapshots",
    "signals",
    "decisions",
    "order_events",
    "fills",
    "refused_fills",
    "closes",
    "epochs",
    "operator_actions",
)
_DROPPED = {"id", "signal_id", "run_id", "client_order_id"}


def journal_content(path: Path) -> dict[str, Counter[tuple[Any, ...]]]:
    """Return each table's rows as a multiset, without the wall-clock fields (see the module doc)."""
    connection = sqlite3.connect(path)
    try:
        content: dict[str, Counter[tuple[Any, ...]]] = {}
        for table in TABLES:
            cursor = connection.execute(f"SELECT * FROM {table}")
            names = [column[0] for column in cursor.description]
            rows: Counter[tuple[Any, ...]] = Counter()
            for values in cursor.fetchall():
                row = dict(zip(names, values, strict=True))
                if table == "order_events" and row["event"] in WALL_STAMPED_EVENTS:
                    row["ts"] = None
                rows[tuple((name, value) for name, value in sorted(row.items()) if name not in _DROPPED)] += 1
            content[table] = rows
        return content
    finally:
        connection.close()


def differences(left: Path, right: Path, limit: int = 3) -> dict[str, list[str]]:
    """Return, per table, a few rows found in one journal and not the other (empty when equal)."""
    a, b = journal_content(left), journal_content(right)
    found: dict[str, list[str]] = {}
    for table in TABLES:
        only_left = a[table] - b[table]
        only_right = b[table] - a[table]
        if only_left or only_right:
            found[table] = [f"left: {row}" for row in list(only_left)[:limit]] + [
                f"right: {row}" for row in list(only_right)[:limit]
            ]
    return found
