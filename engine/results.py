"""Turn a finished nautilus kernel into tables, a fill fingerprint and an equity curve."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from nautilus_trader.trading.trader import Trader

FINGERPRINT_COLUMNS = (
    "ts_event",
    "client_order_id",
    "venue_order_id",
    "trade_id",
    "instrument_id",
    "order_side",
    "order_type",
    "last_qty",
    "last_px",
    "commission",
    "liquidity_side",
)


def fills_table(trader: Trader) -> pd.DataFrame:
    """Return one row per fill, in execution order, with deterministic columns only."""
    report = trader.generate_fills_report()
    if report.empty:
        return pd.DataFrame(columns=list(FINGERPRINT_COLUMNS))
    frame = report.reset_index()
    frame = frame.drop(columns=["event_id"], errors="ignore")  # random UUIDs, not part of the result
    return frame.sort_values(["ts_event", "trade_id"], kind="stable").reset_index(drop=True)


def fingerprint(fills: pd.DataFrame) -> str:
    """Return the sha256 of the fills' deterministic columns (stable across reruns)."""
    digest = hashlib.sha256()
    for row in fills.loc[:, list(FINGERPRINT_COLUMNS)].itertuples(index=False):
        digest.update("|".join(str(value) for value in row).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def orders_table(trader: Trader) -> pd.DataFrame:
    """Return one row per order with its final state."""
    report = trader.generate_orders_report()
    return report.reset_index().drop(columns=["init_id"], errors="ignore")


def positions_table(trader: Trader, orders: pd.DataFrame) -> pd.DataFrame:
    """Return one row per position cycle, with the exit reason read from the closing order's tags."""
    report = trader.generate_positions_report()
    if report.empty:
        return report
    frame = report.reset_index()
    tags = {}
    if not orders.empty:
        tags = dict(zip(orders["client_order_id"].astype(str), orders["tags"], strict=False))
    frame["exit_reason"] = [_exit_reason(tags.get(str(order_id))) for order_id in frame["closing_order_id"]]
    return frame


def _exit_reason(tags: object) -> str:
    if tags is None:
        return "OPEN"
    if isinstance(tags, list | tuple) and tags:
        return str(tags[0])
    return "MANUAL"


def money_to_float(value: object) -> float:
    """Parse nautilus' ``"12.34 USDT"`` money strings (or numbers) into a float."""
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    return float(str(value).split()[0])


def closed_trade_pnls(positions: pd.DataFrame) -> list[float]:
    """Return the realised P&L (net of commissions) of every closed position cycle, in order."""
    if positions.empty:
        return []
    closed = positions[positions["ts_closed"].notna()].sort_values("ts_closed", kind="stable")
    return [money_to_float(value) for value in closed["realized_pnl"]]


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a report table to Parquet, stringifying nautilus objects that Arrow cannot encode."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(lambda value: None if value is None else str(value))
    out.to_parquet(path, index=False)
