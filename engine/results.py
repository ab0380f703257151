"""Collect a finished run: one typed result, one set of metric rules, for every mode and caller.

``engine.backtest``, the walk-forward, the benchmarks and the replay node all turn a kernel that ran
into a :class:`RunResult` through :func:`collect`, so the same run gives the same figures wherever it
is reported. The rules (``docs/metrics.md``):

- equity is sampled on data time (:mod:`engine.equity`); a UTC day without any bar of the run is no
  trading day (FX and option weekends), so its samples are dropped before the daily returns;
- ratios are annualised with the traded asset classes' trading days a year (365 if any is crypto);
- a trade is a closed position cycle; its P&L is nautilus' realised P&L (net of commissions) and its
  fees the commissions of its fills; the run's fees are every fill's commission, valued in USD at
  the fill price;
- ``both_levels`` counts the trades whose exit bar touched both their stop and their target: the bar
  ordering, not the market, decided them (docs/backtest-fill-rules.md);
- ``fingerprint`` hashes every deterministic column of the fills; ``content_fingerprint`` hashes only
  what the market and the orders decided (instrument, side, quantity, price, commission and the time
  of the market data the fill traded against), so a backtest and a replay of the same bars compare.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from nautilus_trader.model.data import Bar
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.trading.trader import Trader

from engine import metrics as metrics_lib
from engine.ambiguity import BothLevelsTouched, exit_bar_touched_both, tally
from engine.assets.registry import AssetClassError, AssetRegistry
from engine.risk.market import money_to_usd

NS_PER_DAY = 86_400 * 1_000_000_000
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


@dataclass(frozen=True, slots=True)
class Trade:
    """One closed position cycle: entry, exit, size, net P&L and fees (account currency)."""

    instrument_id: str
    side: str
    ts_opened: int
    ts_closed: int
    entry: float
    exit: float
    quantity: float
    notional: float
    pnl: float
    fees: float
    exit_reason: str
    both_levels_touched: bool = False  # its exit bar touched its stop and its target

    def as_dict(self) -> dict[str, Any]:
        """Return the trade as a plain mapping (for JSON reports)."""
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


@dataclass
class RunResult:
    """Everything a finished run produced, computed with one set of rules."""

    fills: pd.DataFrame
    orders: pd.DataFrame
    positions: pd.DataFrame
    equity: pd.DataFrame
    trades: list[Trade]
    days: np.ndarray
    daily_returns: np.ndarray
    metrics: dict[str, Any]
    periods_per_year: int
    starting_equity: float
    final_equity: float
    fingerprint: str
    content_fingerprint: str
    fees_usd: float
    both_levels: BothLevelsTouched
    approvals: int = 0
    denials: dict[str, int] = field(default_factory=dict)
    refused_fills: int = 0
    ledgers: dict[str, dict[str, float | int]] = field(default_factory=dict)
    carry: dict[str, Any] = field(default_factory=dict)
    option_settlements: list[dict[str, Any]] = field(default_factory=list)

    def daily_series(self, name: str) -> pd.Series:
        """Return the daily returns as a pandas series indexed by UTC day (for the tearsheet)."""
        return pd.Series(self.daily_returns, index=pd.to_datetime(self.days, utc=True), name=name)


def collect(
    trader: Trader,
    *,
    samples: Sequence[tuple[int, str, float]],
    starting_equity: float,
    bar_days: Iterable[int],
    instruments: Sequence[Instrument],
    assets: AssetRegistry,
    bars: Sequence[Bar] = (),
    evidence_ts: Mapping[str, int] | None = None,
    since_ns: int = 0,
) -> RunResult:
    """Turn a kernel that ran into a :class:`RunResult`.

    Parameters
    ----------
    trader : Trader
        The kernel's trader (its fills, orders and positions reports).
    samples : sequence of (ts, venue, equity)
        The equity sampler's samples.
    starting_equity : float
        The equity the run started from (sum of the venues' starting balances).
    bar_days : iterable of int
        UTC day numbers (``ts // 1 day``) on which the run had bars: the trading days.
    instruments : sequence of Instrument
        The traded instruments (their asset classes pick the annualisation; multipliers the notional).
    assets : AssetRegistry
        The run's asset classes.
    bars : sequence of Bar
        The bars the run executed on (to flag trades whose exit bar touched both stop and target).
    evidence_ts : mapping, optional
        Trade id to the time of the market data the fill traded against (the desk bridge's record).
    since_ns : int
        Ignore equity samples before this time (a walk-forward window's warm-up).
    """
    fills = fills_table(trader)
    orders = orders_table(trader)
    positions = positions_table(trader, orders)
    equity = equity_frame(samples)
    by_id = {str(instrument.id): instrument for instrument in instruments}
    touched = exit_bar_touched_both(positions, orders, bars)
    trades = closed_trades(positions, {key: float(i.multiplier) for key, i in by_id.items()}, touched)
    curve = equity.set_index("ts_ns")["equity"] if not equity.empty else pd.Series(dtype=float)
    curve = curve[curve.index >= since_ns]
    open_days = np.unique(np.fromiter(bar_days, dtype=np.int64))
    curve = curve[np.isin(curve.index.to_numpy(dtype=np.int64) // NS_PER_DAY, open_days)]
    days, daily = metrics_lib.daily_returns_from_equity(
        curve.index.to_numpy(), curve.to_numpy(), starting_equity
    )
    periods = periods_per_year(instruments, assets)
    fees = fees_usd(fills, by_id)
    values = metrics_lib.compute_metrics(daily, [t.pnl for t in trades], fees, periods)
    final = float(equity["equity"].iloc[-1]) if not equity.empty else starting_equity
    return RunResult(
        fills=fills,
        orders=orders,
        positions=positions,
        equity=equity,
        trades=trades,
        days=np.asarray(days),
        daily_returns=np.asarray(daily),
        metrics=values,
        periods_per_year=periods,
        starting_equity=starting_equity,
        final_equity=final,
        fingerprint=fingerprint(fills),
        content_fingerprint=content_fingerprint(fills, evidence_ts or {}),
        fees_usd=fees,
        both_levels=tally(touched, [t.pnl for t in trades]),
    )


def periods_per_year(instruments: Iterable[Instrument], assets: AssetRegistry) -> int:
    """Return the trading days a year of the traded asset classes (the largest: 365 with any crypto)."""
    periods = []
    for instrument in instruments:
        try:
            periods.append(assets.classify(instrument).periods_per_year)
        except AssetClassError:
            continue  # data only (an option's underlying)
    return max(periods, default=365)


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


def content_fingerprint(fills: pd.DataFrame, evidence_ts: Mapping[str, int]) -> str:
    """Return the sha256 of what each fill is, whatever engine produced it.

    Instrument, side, quantity, price, commission and the time of the market data it traded against
    (``evidence_ts`` by trade id, else the fill's own event time), in that time order: no order or
    trade ids and no wall-clock field, so a backtest and a replay of the same data compare.
    """
    rows = []
    for row in fills.itertuples(index=False):
        stamp = evidence_ts.get(str(row.trade_id), _ns(row.ts_event))
        rows.append(
            (
                stamp,
                str(row.instrument_id),
                str(row.order_side),
                str(row.last_qty),
                str(row.last_px),
                str(row.commission),
            )
        )
    digest = hashlib.sha256()
    for row in sorted(rows):
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


def equity_frame(samples: Sequence[tuple[int, str, float]]) -> pd.DataFrame:
    """Return the equity summed over venues per sample time (``ts_ns``, ``equity``, ``timestamp``)."""
    frame = pd.DataFrame(list(samples), columns=["ts_ns", "venue", "equity"])
    if frame.empty:
        return pd.DataFrame(columns=["ts_ns", "equity", "timestamp"])
    total = frame.groupby("ts_ns", sort=True)["equity"].sum().reset_index()
    total["timestamp"] = pd.to_datetime(total["ts_ns"], unit="ns", utc=True)
    return total


def closed_trades(
    positions: pd.DataFrame, multipliers: Mapping[str, float], touched: Sequence[bool] = ()
) -> list[Trade]:
    """Return every closed position cycle as a :class:`Trade`, in closing order.

    ``touched`` flags each one whose exit bar touched both its stop and its target.
    """
    if positions.empty:
        return []
    closed = positions[positions["ts_closed"].notna()].sort_values("ts_closed", kind="stable")
    flags = list(touched) or [False] * len(closed)
    trades = []
    for row, both in zip(closed.itertuples(index=False), flags, strict=True):
        quantity = float(row.peak_qty)
        instrument_id = str(row.instrument_id)
        trades.append(
            Trade(
                instrument_id=instrument_id,
                side=str(row.entry),
                ts_opened=_ns(row.ts_opened),
                ts_closed=_ns(row.ts_closed),
                entry=float(row.avg_px_open),
                exit=float(row.avg_px_close),
                quantity=quantity,
                # an option contract's price is per unit of its multiplier (AAPL: 100 shares)
                notional=quantity * float(row.avg_px_open) * multipliers.get(instrument_id, 1.0),
                pnl=money_to_float(row.realized_pnl),
                fees=sum(money_to_float(c) for c in (row.commissions or [])),
                exit_reason=str(row.exit_reason),
                both_levels_touched=bool(both),
            )
        )
    return trades


def fees_usd(fills: pd.DataFrame, instruments: Mapping[str, Instrument]) -> float:
    """Return every fill's commission valued in USD at its fill price."""
    total = 0.0
    for row in fills.itertuples(index=False):
        text = str(row.commission).split()
        if len(text) != 2:
            continue
        amount, currency = float(text[0]), text[1]
        instrument = instruments.get(str(row.instrument_id))
        if instrument is None:
            total += amount
            continue
        total += money_to_usd(amount, currency, instrument, float(row.last_px))
    return total


def _exit_reason(tags: object) -> str:
    if tags is None:
        return "OPEN"
    if isinstance(tags, list | tuple) and tags:
        return str(tags[0])
    return "MANUAL"


def _ns(value: object) -> int:
    if isinstance(value, int | np.integer):
        return int(value)
    return int(pd.Timestamp(value).value)  # type: ignore[arg-type]


def money_to_float(value: object) -> float:
    """Parse nautilus' ``"12.34 USDT"`` money strings (or numbers) into a float."""
    if value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    return float(str(value).split()[0])


def closed_trade_pnls(positions: pd.DataFrame) -> list[float]:
    """Return the realised P&L (net of commissions) of every closed position cycle, in order.

    Works on a positions table read back from a run folder's ``positions.parquet`` too.
    """
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
