"""The trade journal: typed rows (:mod:`engine.journal.rows`) written to SQLite by one generic writer."""

from engine.journal.rows import (
    ROW_TYPES,
    CloseRow,
    DecisionRow,
    EpochRow,
    FillRecord,
    MarketSnapshot,
    OperatorActionRow,
    OrderEventRow,
    RefusedFillRow,
    Row,
    SignalRow,
    to_json,
)
from engine.journal.schema import SCHEMA_VERSION, TABLE_COLUMNS, TABLES
from engine.journal.store import MODES, Journal, JournalError

__all__ = [
    "MODES",
    "ROW_TYPES",
    "SCHEMA_VERSION",
    "TABLES",
    "TABLE_COLUMNS",
    "CloseRow",
    "DecisionRow",
    "EpochRow",
    "FillRecord",
    "Journal",
    "JournalError",
    "MarketSnapshot",
    "OperatorActionRow",
    "OrderEventRow",
    "RefusedFillRow",
    "Row",
    "SignalRow",
    "to_json",
]
