"""Tearsheet charts: leave out the ones the data cannot fill, redraw the ones quantstats gets wrong.

quantstats 0.0.86 draws every chart whatever the data holds. On a short series (the default backtest:
31 daily returns) that gives:

* rolling volatility, Sharpe and Sortino over a 6-month window with no point at all, on matplotlib's
  empty-axis default of 2000-2010: :func:`omitted_charts` leaves them out below ``window + 1``
  returns (two points make a line);
* a "Distribution of Monthly Returns" of a couple of isolated bars under a density wider than the
  data: left out below :data:`MIN_MONTHS_FOR_DISTRIBUTION` months;
* "Worst 5 Drawdown Periods" without a single period shaded (its drawdown details miss a drawdown
  under water from the first day to the last): redrawn from :func:`engine.metrics.drawdown_periods`;
* a monthly heatmap with ``0.00`` in every month outside the data: redrawn with only the months the
  data covers, cells without data left blank;
* "Return Quantiles" with empty quarterly and yearly boxes and a wrong monthly one (it keeps a
  period's return only when the period's last calendar day is in the index) and a percent axis
  rounded to whole percents: redrawn with one value per period and frequencies of two or more
  periods.

Redrawn charts are inline SVG like quantstats' own, drawn by the caller's plotting context
(:func:`reports.tearsheet._quiet_offline_plotting`), with the x axis clipped to the data's dates.
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Callable, Mapping
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from engine.metrics import drawdown_periods

__all__ = [
    "MIN_MONTHS_FOR_DISTRIBUTION",
    "complete_charts",
    "drawdown_periods_figure",
    "monthly_heatmap_figure",
    "omitted_charts",
    "period_returns",
    "return_quantiles_figure",
]

MIN_MONTHS_FOR_DISTRIBUTION: Final = 6
"""Fewest calendar months (partial ones included) for the monthly-returns histogram."""

WORST_PERIODS: Final = 5
"""Drawdown periods shaded in the drawdown-periods chart."""

_ROLLING: Final = {
    "rolling_vol": "Rolling Volatility (6-Months)",
    "rolling_sharpe": "Rolling Sharpe (6-Months)",
    "rolling_sortino": "Rolling Sortino (6-Months)",
}
_FREQUENCIES: Final = (
    ("Daily", None),
    ("Weekly", "W"),
    ("Monthly", "M"),
    ("Quarterly", "Q"),
    ("Yearly", "Y"),
)
_LINE: Final = "#348dc1"
_MONTHS: Final = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _div(chart_id: str) -> re.Pattern[str]:
    return re.compile(rf'(<div id="{chart_id}">)(.*?)(</div>)', re.DOTALL)


def omitted_charts(returns: pd.Series, periods_per_year: int) -> dict[str, str]:
    """Return the quantstats charts the data cannot fill, each with the reason.

    Parameters
    ----------
    returns : pandas.Series
        Prepared daily returns.
    periods_per_year : int
        The annualisation passed to quantstats (its rolling window is half of it, rounded up).

    Returns
    -------
    dict of str to str
        Chart ``div`` id to a sentence saying why it is left out; empty when every chart can be
        drawn.
    """
    n = len(returns)
    window = math.ceil(periods_per_year / 2)
    omitted = {}
    if n < window + 1:
        for chart_id, title in _ROLLING.items():
            omitted[chart_id] = (
                f"{title} left out: a {window}-day window needs at least {window + 1} daily returns "
                f"for a line; the data has {n}."
            )
    months = returns.index.to_period("M").nunique()
    if months < MIN_MONTHS_FOR_DISTRIBUTION:
        omitted["monthly_dist"] = (
            f"Distribution of Monthly Returns left out: it needs at least {MIN_MONTHS_FOR_DISTRIBUTION} "
            f"months; the data covers {months}."
        )
    return omitted


def _style(figure: Figure, title: str) -> None:
    figure.suptitle(title, y=0.94, fontweight="bold", fontsize=14)
    for axis in figure.axes:
        for side in ("top", "right", "bottom", "left"):
            axis.spines[side].set_visible(False)
        axis.grid(color="#dddddd", linewidth=0.5)
        axis.set_axisbelow(True)


def _date_axis(axis: Axes, index: pd.DatetimeIndex) -> None:
    locator = mdates.AutoDateLocator()
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if len(index) > 1:
        axis.set_xlim(index[0], index[-1])


def drawdown_periods_figure(returns: pd.Series, title: str = "Strategy") -> Figure:
    """Draw the compounded return with the worst drawdown periods shaded.

    Parameters
    ----------
    returns : pandas.Series
        Prepared daily returns.
    title : str, default "Strategy"
        Series name in the chart title.

    Returns
    -------
    matplotlib.figure.Figure
        The chart; each shaded span runs from a period's first day under water to its recovery
        (or the last sample). The worst-drawdowns table lists their depths.
    """
    values = returns.to_numpy(dtype=np.float64)
    periods = drawdown_periods(values, returns.index.asi8)
    worst = sorted(periods, key=lambda p: (p.depth, p.start_ns))[:WORST_PERIODS]
    figure = Figure(figsize=(8, 4))
    axis = figure.subplots()
    axis.plot(returns.index, np.cumprod(1.0 + values) - 1.0, color=_LINE, linewidth=1.5)
    axis.axhline(0.0, linestyle="--", linewidth=1, color="#000000")
    for period in worst:
        start, end = pd.Timestamp(period.start_ns), pd.Timestamp(period.end_ns)
        axis.axvspan(start, end, color="red", alpha=0.1)
    axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    _date_axis(axis, returns.index)
    shown = {0: "No Drawdown", 1: "Worst Drawdown Period"}.get(
        len(worst), f"Worst {len(worst)} Drawdown Periods"
    )
    _style(figure, f"{title} - {shown}")
    figure.autofmt_xdate()
    return figure


def _monthly_returns(returns: pd.Series) -> pd.Series:
    """Compounded return of each calendar month present in ``returns`` (a ``Period`` index)."""
    grouped = (1.0 + returns).groupby(returns.index.to_period("M"))
    return grouped.prod() - 1.0


def monthly_heatmap_figure(returns: pd.Series, title: str = "Strategy") -> Figure:
    """Draw monthly compounded returns in percent, years by months, for the months in the data.

    Parameters
    ----------
    returns : pandas.Series
        Prepared daily returns.
    title : str, default "Strategy"
        Series name in the chart title.

    Returns
    -------
    matplotlib.figure.Figure
        Columns are the calendar months the data touches (in any year); a cell without data is
        blank, never ``0.00``. The first and last months may be partial.
    """
    monthly = _monthly_returns(returns)
    years = sorted({p.year for p in monthly.index})
    months = sorted({p.month for p in monthly.index})
    grid = np.full((len(years), len(months)), np.nan)
    for period, value in monthly.items():
        grid[years.index(period.year), months.index(period.month)] = value * 100.0
    bound = max(float(np.nanmax(np.abs(grid))), 1e-9)
    figure = Figure(figsize=(8, 1.6 + 0.5 * len(years)))
    axis = figure.subplots()
    axis.imshow(
        np.ma.masked_invalid(grid),
        cmap="RdYlGn",
        norm=TwoSlopeNorm(0.0, -bound, bound),
        aspect="auto",
    )
    for row, col in zip(*np.nonzero(np.isfinite(grid)), strict=True):
        axis.text(col, row, f"{grid[row, col]:.2f}", ha="center", va="center", fontsize=9)
    axis.set_xticks(range(len(months)), [_MONTHS[m - 1] for m in months])
    axis.set_yticks(range(len(years)), [str(y) for y in years])
    _style(figure, f"{title} - Monthly Returns (%)")
    axis.grid(False)
    axis.tick_params(length=0)
    return figure


def period_returns(returns: pd.Series) -> dict[str, npt.NDArray[np.float64]]:
    """Return the compounded return of every period, one value per period, by frequency.

    Parameters
    ----------
    returns : pandas.Series
        Prepared daily returns.

    Returns
    -------
    dict of str to numpy.ndarray
        "Daily" (the returns), "Weekly" (calendar weeks ending Sunday), "Monthly", "Quarterly" and
        "Yearly", each ``prod(1 + r) - 1`` over the days of the period present in the data
        (partial first and last periods included).
    """
    groups = {}
    for name, frequency in _FREQUENCIES:
        if frequency is None:
            groups[name] = returns.to_numpy(dtype=np.float64)
        else:
            grouped = (1.0 + returns).groupby(returns.index.to_period(frequency)).prod() - 1.0
            groups[name] = grouped.to_numpy(dtype=np.float64)
    return groups


def return_quantiles_figure(returns: pd.Series, title: str = "Strategy") -> Figure:
    """Draw box plots of daily, weekly, monthly, quarterly and yearly compounded returns.

    Parameters
    ----------
    returns : pandas.Series
        Prepared daily returns.
    title : str, default "Strategy"
        Series name in the chart title.

    Returns
    -------
    matplotlib.figure.Figure
        One box per frequency of :func:`period_returns` with at least two periods; the
        frequencies left out are named under the axis.
    """
    groups = period_returns(returns)
    boxes = {name: values for name, values in groups.items() if values.size >= 2}
    left_out = [name for name in groups if name not in boxes]
    figure = Figure(figsize=(8, 4))
    axis = figure.subplots()
    if boxes:
        axis.boxplot(list(boxes.values()), tick_labels=list(boxes), patch_artist=True)
    axis.axhline(0.0, linestyle="--", linewidth=1, color="#000000")
    axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    if left_out:
        axis.set_xlabel(f"{', '.join(left_out)} left out: fewer than two periods", fontsize=9, color="gray")
    _style(figure, f"{title} - Return Quantiles")
    return figure


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    return buffer.getvalue()


_REDRAWN: Final[Mapping[str, Callable[[pd.Series], Figure]]] = {
    "dd_periods": drawdown_periods_figure,
    "monthly_heatmap": monthly_heatmap_figure,
    "returns_dist": return_quantiles_figure,
}


def complete_charts(page: str, returns: pd.Series, periods_per_year: int) -> str:
    """Leave out the charts ``returns`` cannot fill and redraw quantstats' faulty ones.

    Parameters
    ----------
    page : str
        quantstats' full HTML tearsheet of ``returns``.
    returns : pandas.Series
        The prepared daily returns it was rendered from.
    periods_per_year : int
        The annualisation it was rendered with.

    Returns
    -------
    str
        The page; a chart left out is replaced by a ``<p class="omitted">`` saying why.

    Raises
    ------
    ValueError
        If the page lacks a chart this function must replace (an unknown quantstats layout).
    """
    replacements = {
        chart_id: f'<p class="omitted">{html.escape(reason)}</p>'
        for chart_id, reason in omitted_charts(returns, periods_per_year).items()
    }
    for chart_id, draw in _REDRAWN.items():
        replacements[chart_id] = _svg(draw(returns))
    for chart_id, content in replacements.items():
        match = _div(chart_id).search(page)
        if match is None:
            raise ValueError(f"quantstats page without the chart {chart_id!r}")
        page = page[: match.start(2)] + content + page[match.end(2) :]
    return page
