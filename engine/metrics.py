"""Performance metrics as pure functions: arrays in, floats out.

Every function here takes a one-dimensional array-like (a NumPy array, a list or a pandas
Series) and returns a Python ``float`` (:func:`drawdown_periods` returns typed records). Nothing
here does I/O, keeps state or needs pandas.

Conventions (see ``docs/metrics.md`` for the full definitions and every difference from
quantstats):

* ``returns`` are *periodic simple returns* ``r_t = E_t / E_{t-1} - 1``. The backtest, paper and
  live reports feed **daily** returns (see :func:`daily_returns_from_equity`), annualised with
  the traded asset classes' trading days a year (``engine/assets``: crypto 365, FX and options 252).
* Non-finite entries (NaN, +/-inf) are dropped before any computation, as quantstats does with
  missing observations.
* ``trade_pnls`` are the *net* P&L of closed trades in account currency, i.e. after fees,
  funding and slippage.
* An individual metric returns ``nan`` (or ``inf`` where the limit is a genuine infinity, e.g. a
  profit factor without losing trades) when it is undefined. :func:`compute_metrics` maps every
  non-finite value to ``None`` so its result is always JSON-serialisable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "METRIC_KEYS",
    "NS_PER_DAY",
    "DrawdownPeriod",
    "cagr",
    "calmar",
    "compute_metrics",
    "cvar",
    "daily_returns_from_equity",
    "drawdown_periods",
    "expectancy",
    "max_drawdown",
    "profit_factor",
    "sharpe",
    "sortino",
    "total_return",
    "win_rate",
]

"""Daily periods per year used to annualise metrics, per asset class (read-only)."""

NS_PER_DAY: Final = 86_400 * 1_000_000_000
"""Nanoseconds in one UTC day."""

METRIC_KEYS: Final = (
    "total_return",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "profit_factor",
    "win_rate",
    "expectancy",
    "cvar_5",
    "trades",
    "fees",
)
"""The keys of :func:`compute_metrics`, in order."""

FloatArray = npt.NDArray[np.float64]
CvarMethod = Literal["historical", "parametric"]


def _clean(values: npt.ArrayLike) -> FloatArray:
    """Return ``values`` as a 1-D float64 array with non-finite entries removed."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(arr)
    return arr if bool(finite.all()) else arr[finite]


def _per_period_rf(rf: float, periods_per_year: float) -> float:
    """De-annualise a risk-free rate: ``(1 + rf) ** (1 / N) - 1`` (quantstats' convention)."""
    if rf == 0.0:
        return 0.0
    return float((1.0 + rf) ** (1.0 / periods_per_year) - 1.0)


def total_return(returns: npt.ArrayLike) -> float:
    """Compute the compounded total return of a series of simple returns.

    Formula: ``prod(1 + r_t) - 1`` (quantstats ``stats.comp``).

    Parameters
    ----------
    returns : array_like
        Periodic simple returns.

    Returns
    -------
    float
        Total return as a fraction; ``0.0`` for an empty series.
    """
    r = _clean(returns)
    if r.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.prod(1.0 + r) - 1.0)


def sharpe(returns: npt.ArrayLike, periods_per_year: float, rf: float = 0.0) -> float:
    """Compute the annualised Sharpe ratio.

    Formula: ``mean(x) / std(x, ddof=1) * sqrt(N)`` with excess returns
    ``x_t = r_t - ((1 + rf) ** (1 / N) - 1)`` and ``N = periods_per_year``
    (quantstats ``stats.sharpe(returns, rf, periods=N, annualize=True)``).

    Parameters
    ----------
    returns : array_like
        Periodic simple returns.
    periods_per_year : float
        Periods per year used to annualise (the asset classes' ``periods_per_year``).
    rf : float, default 0.0
        Annual risk-free rate as a fraction.

    Returns
    -------
    float
        The Sharpe ratio; ``nan`` for fewer than two returns or zero variance.
    """
    x = _clean(returns) - _per_period_rf(rf, periods_per_year)
    if x.size < 2 or bool(np.all(x == x[0])):
        return math.nan
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return float(x.mean() / x.std(ddof=1) * math.sqrt(periods_per_year))


def sortino(returns: npt.ArrayLike, periods_per_year: float, rf: float = 0.0) -> float:
    """Compute the annualised Sortino ratio (target return 0 on excess returns).

    Formula: ``mean(x) / DD * sqrt(N)`` with the downside deviation
    ``DD = sqrt(sum(min(x_t, 0) ** 2) / n)`` over *all* ``n`` observations (Sortino & Price; Red
    Rock Capital, "Sortino: A Sharper Ratio"), excess returns as in :func:`sharpe`
    (quantstats ``stats.sortino``).

    Parameters
    ----------
    returns : array_like
        Periodic simple returns.
    periods_per_year : float
        Periods per year used to annualise.
    rf : float, default 0.0
        Annual risk-free rate as a fraction.

    Returns
    -------
    float
        The Sortino ratio; ``nan`` when there is no negative excess return (``DD == 0``) or no data.
    """
    x = _clean(returns) - _per_period_rf(rf, periods_per_year)
    if x.size == 0:
        return math.nan
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        downside = math.sqrt(float(np.sum(np.minimum(x, 0.0) ** 2)) / x.size)
        if downside == 0.0:
            return math.nan
        return float(x.mean() / downside * math.sqrt(periods_per_year))


def max_drawdown(returns: npt.ArrayLike) -> float:
    """Compute the maximum drawdown of the compounded equity curve.

    Formula: ``min_t(W_t / max_{s<=t} W_s) - 1`` with ``W_t = prod_{s<=t}(1 + r_s)`` and a starting
    equity ``W_0 = 1`` before the first return, so a loss on the first period counts
    (quantstats ``stats.max_drawdown`` with its phantom baseline). Evaluated in log space,
    ``expm1(min_t(log W_t - max(0, max_{s<=t} log W_s)))``, so explosive curves cannot overflow.

    Parameters
    ----------
    returns : array_like
        Periodic simple returns.

    Returns
    -------
    float
        The drawdown as a negative fraction in ``[-1, 0]``; ``0.0`` for an empty or never-falling
        series, ``-1.0`` once equity is wiped out (a return of ``-100 %`` or worse).
    """
    r = _clean(returns)
    if r.size == 0:
        return 0.0
    if bool(np.any(r <= -1.0)):
        return -1.0
    # log space: log W_t = cumsum(log1p(r)), so long or explosive curves cannot overflow
    log_wealth = np.cumsum(np.log1p(r))
    log_peak = np.maximum(np.maximum.accumulate(log_wealth), 0.0)
    dd = math.expm1(float(np.min(log_wealth - log_peak)))
    return min(max(dd, -1.0), 0.0)


@dataclass(frozen=True, slots=True)
class DrawdownPeriod:
    """One drawdown of the compounded equity curve, as found by :func:`drawdown_periods`.

    Attributes
    ----------
    start_ns : int
        Timestamp of the first return that left equity below its running peak.
    valley_ns : int
        Timestamp of the trough (the first one, on ties).
    end_ns : int
        Timestamp of the recovery, the first return back at or above the peak; the last sample
        when the drawdown never recovered (``recovered`` is then ``False``).
    recovered : bool
        Whether equity regained its peak within the sample.
    depth : float
        ``trough / peak - 1``, a negative fraction in ``[-1, 0)``.
    days : int
        Calendar days from the start's UTC day to the recovery's; a drawdown not recovered counts
        through its last sample (``last - start + 1``).
    """

    start_ns: int
    valley_ns: int
    end_ns: int
    recovered: bool
    depth: float
    days: int


def drawdown_periods(returns: npt.ArrayLike, timestamps_ns: npt.ArrayLike) -> tuple[DrawdownPeriod, ...]:
    """Split the compounded equity curve into its drawdowns, in time order.

    Equity and peak are those of :func:`max_drawdown` (``W_0 = 1`` before the first return, so a
    loss on the first period starts a drawdown), so the deepest period's ``depth`` equals
    ``max_drawdown(returns)``. A period is a maximal run of returns with ``W_t < max_{s<=t} W_s``.

    Parameters
    ----------
    returns : array_like
        Periodic simple returns; non-finite entries are dropped with their timestamps.
    timestamps_ns : array_like of int
        UTC timestamps of the returns in nanoseconds, increasing (e.g. the day index of
        :func:`daily_returns_from_equity`).

    Returns
    -------
    tuple of DrawdownPeriod
        Empty for an empty or never-falling series.

    Raises
    ------
    ValueError
        If the arrays differ in length or the timestamps do not increase.
    """
    r = np.asarray(returns, dtype=np.float64).ravel()
    ts = np.asarray(timestamps_ns, dtype=np.int64).ravel()
    if r.shape != ts.shape:
        raise ValueError(f"returns and timestamps differ in length: {r.size} != {ts.size}")
    finite = np.isfinite(r)
    r, ts = r[finite], ts[finite]
    if bool(np.any(np.diff(ts) <= 0)):
        raise ValueError("timestamps must increase")
    with np.errstate(divide="ignore"):  # a return of -100 % or worse: log wealth -inf, depth -1
        log_wealth = np.cumsum(np.log1p(np.maximum(r, -1.0)))
    gap = log_wealth - np.maximum(np.maximum.accumulate(log_wealth), 0.0)
    under = gap < 0.0
    edges = np.diff(np.r_[False, under, False].astype(np.int8))
    periods = []
    for begin, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        recovered = bool(stop < r.size)
        end = int(stop) if recovered else r.size - 1
        valley = int(begin + np.argmin(gap[begin:stop]))
        days = int(ts[end] // NS_PER_DAY - ts[begin] // NS_PER_DAY) + (0 if recovered else 1)
        depth = min(max(math.expm1(float(gap[valley])), -1.0), 0.0)
        periods.append(DrawdownPeriod(int(ts[begin]), int(ts[valley]), int(ts[end]), recovered, depth, days))
    return tuple(periods)


def cagr(returns: npt.ArrayLike, periods_per_year: float) -> float:
    """Compute the compound annual growth rate.

    Formula: ``(1 + total_return) ** (1 / years) - 1`` with ``years = n / N``, ``n`` the number
    of returns and ``N = periods_per_year`` (quantstats 0.0.86 ``stats.cagr(periods=N)``, which
    counts years in periods, not calendar days). Evaluated in log space,
    ``exp(N / n * sum(log1p(r))) - 1``, so long series do not overflow.

    Parameters
    ----------
    returns : array_like
        Periodic simple returns.
    periods_per_year : float
        Periods per year.

    Returns
    -------
    float
        The CAGR as a fraction; ``nan`` for an empty series, ``-1.0`` after a total loss.
    """
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    if bool(np.any(r <= -1.0)):
        return -1.0
    with np.errstate(over="ignore"):
        log_growth = float(np.sum(np.log1p(r))) * periods_per_year / r.size
        return math.expm1(log_growth) if log_growth < 709.0 else math.inf


def calmar(returns: npt.ArrayLike, periods_per_year: float) -> float:
    """Compute the Calmar ratio.

    Formula: ``cagr(r, N) / |max_drawdown(r)|`` over the whole sample (quantstats
    ``stats.calmar(periods=N)``).

    Parameters
    ----------
    returns : array_like
        Periodic simple returns.
    periods_per_year : float
        Periods per year.

    Returns
    -------
    float
        The Calmar ratio; ``nan`` when there is no drawdown or no data.
    """
    dd = max_drawdown(returns)
    if dd == 0.0 or math.isnan(dd):
        return math.nan
    return cagr(returns, periods_per_year) / abs(dd)


def cvar(returns: npt.ArrayLike, level: float = 0.05, method: CvarMethod = "historical") -> float:
    """Compute the conditional value at risk (expected shortfall) at tail probability ``level``.

    ``method="historical"`` (the default): the mean of the returns at or below the empirical
    ``level``-quantile, ``mean(r_t | r_t <= Q_level(r))`` with linearly interpolated quantiles
    (quantstats ``stats.cvar(method="historical")``).

    ``method="parametric"``: the closed-form expected shortfall of a normal distribution fitted
    to the returns, ``mu - sigma * phi(Phi^-1(level)) / level`` with ``sigma`` the sample standard
    deviation (``ddof=1``) (quantstats ``stats.cvar()``'s default).

    Parameters
    ----------
    returns : array_like
        Periodic simple returns (or per-trade returns).
    level : float, default 0.05
        Tail probability (0.05 is quantstats' ``confidence=0.95``).
    method : {"historical", "parametric"}, default "historical"
        Estimator, see above.

    Returns
    -------
    float
        The expected return in the worst ``level`` tail, a negative number for a losing tail;
        ``nan`` for an empty series.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    r = _clean(returns)
    if r.size == 0:
        return math.nan
    if method == "historical":
        tail = r[r <= np.quantile(r, level)]
        return float(tail.mean()) if tail.size else math.nan
    if method == "parametric":
        mu = float(r.mean())
        sd = float(r.std(ddof=1)) if r.size > 1 else math.nan
        if sd == 0.0 or math.isnan(sd):
            return mu
        std_normal = NormalDist()
        return mu - sd * std_normal.pdf(std_normal.inv_cdf(level)) / level
    raise ValueError(f"method must be 'historical' or 'parametric', got {method!r}")


def profit_factor(trade_pnls: npt.ArrayLike) -> float:
    """Compute the profit factor: gross profit over gross loss.

    Formula: ``sum(p_i | p_i >= 0) / |sum(p_i | p_i < 0)|`` (quantstats ``stats.profit_factor``
    applied to trade P&Ls instead of period returns).

    Parameters
    ----------
    trade_pnls : array_like
        Net P&L per closed trade.

    Returns
    -------
    float
        The profit factor (``>= 0``); ``inf`` with winners but no losers, ``nan`` with neither
        (no trades, or only break-even trades; quantstats returns ``0.0`` there).
    """
    p = _clean(trade_pnls)
    with np.errstate(over="ignore", invalid="ignore"):
        gross_profit = float(np.sum(p[p >= 0.0]))
        gross_loss = -float(np.sum(p[p < 0.0]))
        if gross_loss == 0.0:
            return math.inf if gross_profit > 0.0 else math.nan
        return gross_profit / gross_loss


def win_rate(trade_pnls: npt.ArrayLike, *, exclude_breakeven: bool = False) -> float:
    """Compute the fraction of winning trades.

    Formula: ``#{p_i > 0} / #{trades}``; with ``exclude_breakeven=True``,
    ``#{p_i > 0} / #{p_i != 0}``, which is quantstats' ``stats.win_rate`` (over non-zero period
    returns).

    Parameters
    ----------
    trade_pnls : array_like
        Net P&L per closed trade.
    exclude_breakeven : bool, default False
        Drop trades with exactly zero P&L from the denominator.

    Returns
    -------
    float
        The win rate in ``[0, 1]``; ``nan`` without (counted) trades.
    """
    p = _clean(trade_pnls)
    denominator = int(np.count_nonzero(p)) if exclude_breakeven else p.size
    if denominator == 0:
        return math.nan
    return int(np.count_nonzero(p > 0.0)) / denominator


def expectancy(trade_pnls: npt.ArrayLike) -> float:
    """Compute the expectancy: the mean net P&L per trade in account currency.

    Formula: ``sum(p_i) / n_trades``, equal to
    ``win_rate * avg_win - (1 - win_rate) * avg_loss`` with break-even trades counted as trades.

    Parameters
    ----------
    trade_pnls : array_like
        Net P&L per closed trade.

    Returns
    -------
    float
        The mean P&L per trade; ``nan`` without trades.
    """
    p = _clean(trade_pnls)
    if p.size == 0:
        return math.nan
    with np.errstate(over="ignore", invalid="ignore"):
        return float(p.mean())


def _finite_or_none(value: float) -> float | None:
    """Return ``value`` as a float, or ``None`` if it is NaN or infinite."""
    return float(value) if math.isfinite(value) else None


def compute_metrics(
    returns: npt.ArrayLike,
    trade_pnls: npt.ArrayLike,
    fees: float | npt.ArrayLike,
    periods_per_year: float,
) -> dict[str, float | int | None]:
    """Compute the standard metric set of a run.

    Parameters
    ----------
    returns : array_like
        Daily simple returns of the account (see :func:`daily_returns_from_equity`).
    trade_pnls : array_like
        Net P&L per closed trade in account currency (after fees).
    fees : float or array_like
        Fees paid, as a total or per trade; reported as their sum (already inside ``trade_pnls``).
    periods_per_year : float
        Periods per year for annualisation (the asset classes' ``periods_per_year``).

    Returns
    -------
    dict
        Exactly the keys of :data:`METRIC_KEYS`: ``total_return``, ``sharpe``, ``sortino``,
        ``calmar``, ``max_drawdown``, ``cvar_5`` (historical, 5 %) from ``returns``;
        ``profit_factor``, ``win_rate``, ``expectancy``, ``trades`` (int) from ``trade_pnls``;
        ``fees``. Every undefined or non-finite value is ``None``, so the dict always passes
        ``json.dumps(..., allow_nan=False)``.
    """
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year!r}")
    r = _clean(returns)
    p = _clean(trade_pnls)
    with np.errstate(over="ignore", invalid="ignore"):
        total_fees = float(np.sum(_clean(fees)))
    return {
        "total_return": _finite_or_none(total_return(r)),
        "sharpe": _finite_or_none(sharpe(r, periods_per_year)),
        "sortino": _finite_or_none(sortino(r, periods_per_year)),
        "calmar": _finite_or_none(calmar(r, periods_per_year)),
        "max_drawdown": _finite_or_none(max_drawdown(r)),
        "profit_factor": _finite_or_none(profit_factor(p)),
        "win_rate": _finite_or_none(win_rate(p)),
        "expectancy": _finite_or_none(expectancy(p)),
        "cvar_5": _finite_or_none(cvar(r, 0.05)),
        "trades": int(p.size),
        "fees": _finite_or_none(total_fees),
    }


def daily_returns_from_equity(
    timestamps_ns: npt.ArrayLike,
    equity: npt.ArrayLike,
    starting_equity: float | None = None,
    *,
    fill_gaps: bool = False,
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Resample an equity curve to end-of-day equity and daily simple returns.

    Each UTC day's equity is the last observation of that day,
    ``E_d = equity[last t with floor(t / 1 day) == d]``, and its return is
    ``r_d = E_d / E_{d-1} - 1`` with ``E_{-1} = starting_equity``. All metrics in this module are
    computed on these *daily* returns, annualised with the asset classes' trading days a year.

    Parameters
    ----------
    timestamps_ns : array_like of int
        UTC timestamps in nanoseconds since the epoch, non-decreasing.
    equity : array_like of float
        Account equity at each timestamp (positive).
    starting_equity : float, optional
        Equity before the first observation; defaults to ``equity[0]`` (the first day's return is
        then measured from the first observation, not from the start of the run).
    fill_gaps : bool, default False
        Include every calendar day between the first and the last observed day, carrying equity
        forward (zero return). Leave ``False`` for markets closed on weekends (annualised with 252).

    Returns
    -------
    day_index : numpy.ndarray of int64
        UTC midnight of each day, in nanoseconds.
    returns : numpy.ndarray of float64
        Daily simple returns, one per day.

    Raises
    ------
    ValueError
        If the arrays differ in length, timestamps decrease, equity is not finite, or an equity
        used as a denominator is not positive.
    """
    ts = np.asarray(timestamps_ns, dtype=np.int64).ravel()
    eq = np.asarray(equity, dtype=np.float64).ravel()
    if ts.shape != eq.shape:
        raise ValueError(f"timestamps and equity differ in length: {ts.size} != {eq.size}")
    if ts.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    if bool(np.any(np.diff(ts) < 0)):
        raise ValueError("timestamps must be non-decreasing")
    if not bool(np.all(np.isfinite(eq))):
        raise ValueError("equity must be finite")
    start = float(eq[0]) if starting_equity is None else float(starting_equity)
    if not (math.isfinite(start) and start > 0.0):
        raise ValueError(f"starting equity must be positive and finite, got {start!r}")

    days = np.floor_divide(ts, NS_PER_DAY)
    last_of_day = np.flatnonzero(np.r_[days[1:] != days[:-1], True])
    day_ids = days[last_of_day]
    eod = eq[last_of_day]
    if fill_gaps and day_ids.size > 1:
        all_days = np.arange(day_ids[0], day_ids[-1] + 1, dtype=np.int64)
        eod = eod[np.searchsorted(day_ids, all_days, side="right") - 1]
        day_ids = all_days

    previous = np.r_[start, eod[:-1]]
    if bool(np.any(previous <= 0.0)):
        raise ValueError("equity must stay positive to define simple returns")
    return day_ids * NS_PER_DAY, eod / previous - 1.0
