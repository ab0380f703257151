"""Count the trades whose exit bar touched both the stop and the target.

On such a bar the backtest cannot know which level traded first: nautilus replays every bar open,
high, low, close, so a long takes its target and a short its stop (docs/backtest-fill-rules.md).
An edge that lives in these trades lives in that assumption; the count makes it visible in the
backtest summary and the validation report.

A closed position's levels are the final prices of its bracket's stop-loss (trigger) and
take-profit (limit) orders, tagged ``SL`` and ``TP``; its exit bar is the execution bar stamped at
its close time, on the side its exit orders trade (a long's on the bid, a short's on the ask, for
bid/ask bars; the trade or mid bar otherwise). Long: low <= stop and high >= target. Short:
high >= stop and low <= target.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AggregationSource, BarAggregation, PriceType

from engine.orders import STOP_LOSS_TAG as STOP_TAG
from engine.orders import TAKE_PROFIT_TAG as TARGET_TAG

# the bar a long's exit (a sell) trades on, then a short's (a buy), by preference
_LONG_SIDES = (PriceType.BID, PriceType.LAST, PriceType.MID)
_SHORT_SIDES = (PriceType.ASK, PriceType.LAST, PriceType.MID)


@dataclass(frozen=True, slots=True)
class BothLevelsTouched:
    """How many closed trades exited on a bar that touched both their stop and their target.

    ``pnl`` is those trades' net P&L summed: what the bar ordering decided.
    """

    count: int
    closed_trades: int
    pnl: float = 0.0

    @property
    def share(self) -> float | None:
        """Return the count as a share of closed trades (None without closed trades)."""
        return self.count / self.closed_trades if self.closed_trades else None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form: ``count``, ``closed_trades``, ``share``, ``pnl``."""
        share = self.share
        return {
            "count": self.count,
            "closed_trades": self.closed_trades,
            "share": round(share, 6) if share is not None else None,
            "pnl": round(self.pnl, 8),
        }


def tally(flags: Iterable[bool], pnls: Iterable[float]) -> BothLevelsTouched:
    """Return the count of ``flags`` set (one per closed trade) and the P&L of those trades."""
    pairs = [(bool(flag), float(pnl)) for flag, pnl in zip(flags, pnls, strict=True)]
    return BothLevelsTouched(
        sum(flag for flag, _ in pairs), len(pairs), sum(pnl for flag, pnl in pairs if flag)
    )


def exit_bar_touched_both(positions: pd.DataFrame, orders: pd.DataFrame, bars: Sequence[Bar]) -> list[bool]:
    """Return one flag per closed position, in order of close time (as the trade lists are).

    Parameters
    ----------
    positions : pandas.DataFrame
        ``engine.results.positions_table`` (``entry``, ``opening_order_id``, ``instrument_id``,
        ``ts_closed``).
    orders : pandas.DataFrame
        ``engine.results.orders_table`` (``client_order_id``, ``order_list_id``, ``tags``,
        ``trigger_price``, ``price``).
    bars : sequence of Bar
        The bars the run executed on.

    Returns
    -------
    list of bool
        False for a position without both levels or without an exit bar.
    """
    if positions.empty or "ts_closed" not in positions:
        return []
    closed = positions[positions["ts_closed"].notna()].sort_values("ts_closed", kind="stable")
    if closed.empty:
        return []
    levels = _bracket_levels(orders)
    wanted: set[tuple[str, int]] = set()
    rows = []
    for row in closed.itertuples(index=False):
        instrument = str(row.instrument_id)
        ts = int(pd.Timestamp(row.ts_closed).value)
        rows.append((instrument, ts, str(row.entry) == "BUY", levels.get(str(row.opening_order_id))))
        wanted.add((instrument, ts))
    exit_bars = _exit_bars(bars, wanted)
    flags = []
    for instrument, ts, is_long, level in rows:
        flags.append(level is not None and _touched(exit_bars.get((instrument, ts), {}), is_long, *level))
    return flags


def _touched(by_side: dict[PriceType, Bar], is_long: bool, stop: float, target: float) -> bool:
    for side in _LONG_SIDES if is_long else _SHORT_SIDES:
        bar = by_side.get(side)
        if bar is None:
            continue
        high, low = bar.high.as_double(), bar.low.as_double()
        if is_long:
            return low <= stop and high >= target
        return high >= stop and low <= target
    return False


def _bracket_levels(orders: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Return (stop, target) of each bracket, keyed by the client order id of its entry."""
    if orders.empty:
        return {}
    by_list: dict[str, dict[str, Any]] = {}
    for row in orders.itertuples(index=False):
        list_id = row.order_list_id
        if list_id is None or (isinstance(list_id, float) and pd.isna(list_id)):
            continue
        tags = _tags(row.tags)
        slot = by_list.setdefault(str(list_id), {})
        if STOP_TAG in tags:
            slot["stop"] = _number(row.trigger_price)
        elif TARGET_TAG in tags:
            slot["target"] = _number(row.price)
        elif row.parent_order_id is None or pd.isna(row.parent_order_id):
            slot["entry"] = str(row.client_order_id)
    levels = {}
    for slot in by_list.values():
        stop, target, entry = slot.get("stop"), slot.get("target"), slot.get("entry")
        if entry is not None and stop is not None and target is not None:
            levels[entry] = (stop, target)
    return levels


def _exit_bars(
    bars: Sequence[Bar], wanted: set[tuple[str, int]]
) -> dict[tuple[str, int], dict[PriceType, Bar]]:
    """Return the execution bars stamped at the wanted (instrument, time) pairs, by price type.

    Of several bar types of one instrument and price type, the shortest is kept (the one the
    matching engine executes on); internally aggregated bars are never executed.
    """
    kinds: dict[BarType, tuple[str, PriceType, timedelta] | None] = {}
    found: dict[tuple[str, int], dict[PriceType, tuple[timedelta, Bar]]] = {}
    stamps = {ts for _, ts in wanted}
    for bar in bars:
        if bar.ts_init not in stamps:
            continue
        bar_type = bar.bar_type
        kind = kinds.get(bar_type, _UNSEEN)
        if kind is _UNSEEN:
            kind = _kind(bar_type)
            kinds[bar_type] = kind
        if kind is None:
            continue
        key = (kind[0], bar.ts_init)
        if key not in wanted:
            continue
        slot = found.setdefault(key, {})
        held = slot.get(kind[1])
        if held is None or kind[2] < held[0]:
            slot[kind[1]] = (kind[2], bar)
    return {key: {side: bar for side, (_, bar) in slot.items()} for key, slot in found.items()}


_UNSEEN: Any = object()


def _kind(bar_type: BarType) -> tuple[str, PriceType, timedelta] | None:
    if bar_type.aggregation_source == AggregationSource.INTERNAL:
        return None
    if bar_type.spec.aggregation == BarAggregation.MONTH:
        return None
    return str(bar_type.instrument_id), bar_type.spec.price_type, bar_type.spec.timedelta


def _tags(value: object) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(tag) for tag in value]
    if isinstance(value, str):  # a table read back from Parquet holds "['SL']"
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return [value]
        return [str(tag) for tag in parsed] if isinstance(parsed, list | tuple) else [str(parsed)]
    if value is None:
        return []
    return [str(value)] if not (isinstance(value, float) and pd.isna(value)) else []


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(str(value).split()[0])
    except ValueError:
        return None
    return None if pd.isna(number) else number
