"""Drawdown figures of a tearsheet from our own metrics, and the table cells quantstats leaves blank.

quantstats 0.0.86 finds drawdowns with ``stats.drawdown_details``, which returns nothing for a series
that is under water from its first day to its last (it looks for a zero-to-negative step that never
comes). Its tearsheet then shows "Max Drawdown" as a bare ``%``, blank drawdown dates, ``-`` for
"Longest DD Days" and "Avg. Drawdown Days", drops the "Avg. Drawdown" row and leaves the "Worst 10
Drawdowns" table empty. This module computes those figures with
:func:`engine.metrics.drawdown_periods` (definitions in ``docs/metrics.md``) and writes them into
quantstats' page; every other value stays quantstats' own. Cells still undefined on the sample
(e.g. "Avg. Up Month" without an up month) say ``n/a`` instead of ``-``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from engine.metrics import DrawdownPeriod, drawdown_periods, max_drawdown

__all__ = [
    "DrawdownSummary",
    "complete_tables",
    "drawdown_cells",
    "fill_metric_rows",
    "summarize_drawdowns",
    "worst_drawdown_rows",
]

WORST_DRAWDOWNS: Final = 10
"""Rows of the "Worst 10 Drawdowns" table."""

_METRICS_TABLE: Final = re.compile(r'(<div id="right">.*?<table>)(.*?)(</table>)', re.DOTALL)
_DDINFO_BODY: Final = re.compile(r'(<div id="ddinfo">.*?<tbody>)(.*?)(</tbody>)', re.DOTALL)
_ROW: Final = re.compile(r"<tr><td>(?P<name>[^<]*)</td><td>(?P<value>[^<]*)</td></tr>")
_MISSING: Final = frozenset({"", "-", "%", "nan", "nan%", "None"})
_WHY_UNDEFINED: Final = {"Avg. Up Month": "no up month", "Avg. Down Month": "no down month"}
_DRAWDOWN_ROWS: Final = (
    "Max Drawdown",
    "Max DD Date",
    "Max DD Period Start",
    "Max DD Period End",
    "Longest DD Days",
)
_AVERAGE_ROWS: Final = ("Avg. Drawdown", "Avg. Drawdown Days")
_AVERAGES_BEFORE: Final = "Recovery Factor"  # where quantstats puts the averages when it has them


@dataclass(frozen=True, slots=True)
class DrawdownSummary:
    """The drawdown figures of a daily return series.

    Attributes
    ----------
    max_drawdown : float
        :func:`engine.metrics.max_drawdown`, a negative fraction (``0.0`` without a drawdown).
    periods : tuple of DrawdownPeriod
        Every drawdown, in time order.
    worst : DrawdownPeriod or None
        The deepest period (the first one on ties); ``None`` without a drawdown.
    longest_days : int
        The longest period's ``days`` (``0`` without a drawdown).
    average_depth : float or None
        Mean ``depth`` over the periods; ``None`` without a drawdown.
    average_days : float or None
        Mean ``days`` over the periods; ``None`` without a drawdown.
    last_ns : int or None
        Timestamp of the last return (a drawdown not recovered ends there).
    """

    max_drawdown: float
    periods: tuple[DrawdownPeriod, ...]
    worst: DrawdownPeriod | None
    longest_days: int
    average_depth: float | None
    average_days: float | None
    last_ns: int | None


def summarize_drawdowns(returns: pd.Series) -> DrawdownSummary:
    """Compute the drawdown figures of prepared daily returns.

    Parameters
    ----------
    returns : pandas.Series
        Daily simple returns on a tz-naive UTC ``DatetimeIndex`` (see
        :func:`reports.tearsheet.prepare_returns`).

    Returns
    -------
    DrawdownSummary
        The summary; its dates are UTC nanoseconds.
    """
    values = returns.to_numpy(dtype=np.float64)
    stamps = returns.index.asi8
    periods = drawdown_periods(values, stamps)
    worst = min(periods, key=lambda p: p.depth) if periods else None
    return DrawdownSummary(
        max_drawdown=max_drawdown(values),
        periods=periods,
        worst=worst,
        longest_days=max((p.days for p in periods), default=0),
        average_depth=float(np.mean([p.depth for p in periods])) if periods else None,
        average_days=float(np.mean([p.days for p in periods])) if periods else None,
        last_ns=int(stamps[-1]) if len(stamps) else None,
    )


def _date(ns: int) -> str:
    return f"{pd.Timestamp(ns):%Y-%m-%d}"


def _pct(fraction: float) -> str:
    """Format like quantstats' metric table: percent rounded to two decimals, then ``%``."""
    return f"{round(fraction * 100, 2)}%"


def _period_end(period: DrawdownPeriod) -> str:
    if period.recovered:
        return _date(period.end_ns)
    return f"{_date(period.end_ns)} (last sample, not recovered)"


def drawdown_cells(summary: DrawdownSummary) -> dict[str, str]:
    """Return the metric table's drawdown cells, by row name, from our own figures.

    Parameters
    ----------
    summary : DrawdownSummary
        Output of :func:`summarize_drawdowns`.

    Returns
    -------
    dict of str to str
        Plain-text cells for "Max Drawdown", "Max DD Date", "Max DD Period Start", "Max DD Period
        End", "Longest DD Days", "Avg. Drawdown" and "Avg. Drawdown Days".
    """
    worst = summary.worst
    if worst is None or summary.average_depth is None or summary.average_days is None:
        none = "none (no drawdown)"
        return {
            "Max Drawdown": _pct(summary.max_drawdown),
            "Max DD Date": none,
            "Max DD Period Start": none,
            "Max DD Period End": none,
            "Longest DD Days": "0",
            "Avg. Drawdown": "n/a (no drawdown)",
            "Avg. Drawdown Days": "n/a (no drawdown)",
        }
    return {
        "Max Drawdown": _pct(summary.max_drawdown),
        "Max DD Date": _date(worst.valley_ns),
        "Max DD Period Start": _date(worst.start_ns),
        "Max DD Period End": _period_end(worst),
        "Longest DD Days": str(summary.longest_days),
        "Avg. Drawdown": _pct(summary.average_depth),
        "Avg. Drawdown Days": str(round(summary.average_days)),
    }


def _cell(name: str, value: str) -> str:
    return f"<tr><td>{name}</td><td>{html.escape(value)}</td></tr>"


def fill_metric_rows(table: str, cells: Mapping[str, str]) -> str:
    """Write ``cells`` into quantstats' metric table and mark undefined values ``n/a``.

    Rows named in ``cells`` get its value. "Avg. Drawdown" and "Avg. Drawdown Days" are moved (or
    added) right before "Recovery Factor", where quantstats puts them when its drawdown details
    work. Any other blank, ``-`` or ``nan`` cell becomes ``n/a`` (with the reason where known).

    Parameters
    ----------
    table : str
        The HTML of quantstats' "Key Performance Metrics" table.
    cells : Mapping of str to str
        Plain-text values by row name (see :func:`drawdown_cells`).

    Returns
    -------
    str
        The table's HTML.
    """
    averages = "".join(_cell(name, cells[name]) for name in _AVERAGE_ROWS if name in cells)

    def row(match: re.Match[str]) -> str:
        name, value = match["name"], match["value"].strip()
        if name in _AVERAGE_ROWS and averages:
            return ""
        prefix = averages if name == _AVERAGES_BEFORE else ""
        if name in cells:
            return prefix + _cell(name, cells[name])
        if value in _MISSING:
            reason = _WHY_UNDEFINED.get(name)
            return prefix + _cell(name, f"n/a ({reason})" if reason else "n/a")
        return prefix + match[0]

    return _ROW.sub(row, table)


def worst_drawdown_rows(summary: DrawdownSummary, limit: int = WORST_DRAWDOWNS) -> str:
    """Return the body rows of the "Worst N Drawdowns" table from our own periods, deepest first.

    Parameters
    ----------
    summary : DrawdownSummary
        Output of :func:`summarize_drawdowns`.
    limit : int, default WORST_DRAWDOWNS
        Most rows to show.

    Returns
    -------
    str
        ``<tr>`` rows with Started, Recovered (the recovery day, or the last sample of a drawdown
        not recovered, said so), Drawdown (percent; quantstats' CSS appends the ``%``) and Days.
    """
    ranked = sorted(summary.periods, key=lambda p: (p.depth, p.start_ns))[:limit]
    rows = []
    for period in ranked:
        recovered = (
            _date(period.end_ns)
            if period.recovered
            else f"not recovered (last sample {_date(period.end_ns)})"
        )
        rows.append(
            f"<tr><td>{_date(period.start_ns)}</td><td>{html.escape(recovered)}</td>"
            f"<td>{period.depth * 100:.2f}</td><td>{period.days}</td></tr>"
        )
    return "\n".join(rows)


def complete_tables(page: str, returns: pd.Series) -> str:
    """Write our drawdown figures into a quantstats tearsheet page.

    Parameters
    ----------
    page : str
        quantstats' full HTML tearsheet of ``returns``.
    returns : pandas.Series
        The prepared daily returns it was rendered from.

    Returns
    -------
    str
        The page with the metric table completed and the worst-drawdowns table filled.

    Raises
    ------
    ValueError
        If the page lacks either table (a quantstats layout this module does not know).
    """
    summary = summarize_drawdowns(returns)
    cells = drawdown_cells(summary)
    page, found = _METRICS_TABLE.subn(lambda m: m[1] + fill_metric_rows(m[2], cells) + m[3], page, count=1)
    page, found_dd = _DDINFO_BODY.subn(
        lambda m: f"{m[1]}\n{worst_drawdown_rows(summary)}\n{m[3]}", page, count=1
    )
    if not (found and found_dd):
        raise ValueError("quantstats page without its metric or worst-drawdowns table")
    return page
