"""Stress tests on a closed-trade list: Monte Carlo reordering, bootstrap, cost shocks, slicing.

Every function is pure: arrays or records in, plain JSON-ready values out (``json.dumps(...,
allow_nan=False)`` accepts them; an undefined number is ``None``). Randomised functions take an
explicit ``seed`` and draw from their own :class:`numpy.random.Generator`, so the same inputs and
seed always give the same output.

Conventions:

* ``trade_pnls`` are net P&Ls of closed trades in account currency (after fees, funding and
  slippage), in the order the trades closed, as :func:`engine.metrics.compute_metrics` takes them.
* A drawdown here is a positive *depth*: ``(peak - equity) / peak`` of the trade-by-trade equity
  curve ``E_k = start_equity + sum(p_1..p_k)`` with the peak starting at ``start_equity``
  (``0.12`` is 12 % below the running peak; ``1.0`` is ruin, equity at or below zero). Note that
  :func:`engine.metrics.max_drawdown` reports the same quantity as a *negative* fraction of daily
  equity; the gates convert (``research.validation.gates``).
* Per-slice trade metrics reuse :mod:`engine.metrics` (``expectancy``, ``profit_factor``,
  ``win_rate``); nothing here re-implements their formulas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.metrics import expectancy, profit_factor, win_rate

__all__ = [
    "NO_LABEL",
    "PERCENTILES",
    "CostShockResult",
    "MonteCarloResult",
    "Percentiles",
    "SliceStats",
    "bootstrap_trades",
    "cost_shock",
    "cost_shock_scenarios",
    "monte_carlo_reorder",
    "perturbation_pass_rate",
    "slice_labels",
    "slice_trades",
    "trade_path_drawdown",
    "volatility_label",
]

FloatArray = npt.NDArray[np.float64]

PERCENTILES: Final = (5.0, 50.0, 95.0)
"""Percentiles reported by the Monte Carlo functions (linear interpolation, ``numpy.percentile``)."""

NO_LABEL: Final = "NONE"
"""Slice label of a trade without one (the journal's session outside every window, or no regime)."""

_CELLS_PER_CHUNK: Final = 2_000_000
"""Simulated trade cells held in memory at once (runs are processed in chunks of this size)."""


class Percentiles(TypedDict):
    """Hold the 5th, 50th and 95th percentile of a simulated quantity."""

    p5: float
    p50: float
    p95: float


class MonteCarloResult(TypedDict):
    """Hold the outcome of :func:`monte_carlo_reorder` or :func:`bootstrap_trades`.

    ``max_drawdown`` is the distribution of each run's maximum drawdown depth (positive fraction of
    the running peak; its ``p95`` is the worst-5 % drawdown); ``final_equity`` that of each run's
    ending equity.
    """

    method: str
    runs: int
    trades: int
    seed: int
    start_equity: float
    max_drawdown: Percentiles
    final_equity: Percentiles


class CostShockResult(TypedDict):
    """Hold the trade metrics of one cost-shock scenario (see :func:`cost_shock_scenarios`)."""

    fee_multiplier: float
    slippage_bps: float
    trades: int
    total_pnl: float
    expectancy: float | None
    profit_factor: float | None
    win_rate: float | None


class SliceStats(TypedDict):
    """Hold the trade metrics of one slice (a session, a regime or a volatility bucket)."""

    label: str
    trades: int
    total_pnl: float
    expectancy: float | None
    profit_factor: float | None
    win_rate: float | None


# -- helpers --------------------------------------------------------------------------------------


def _finite_array(values: npt.ArrayLike, name: str) -> FloatArray:
    """Return ``values`` as a 1-D float64 array, raising if any entry is not finite."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if not bool(np.all(np.isfinite(arr))):
        raise ValueError(f"{name} must be finite (a NaN or inf trade value is an upstream bug)")
    return arr


def _check_start_equity(start_equity: float) -> float:
    start = float(start_equity)
    if not (math.isfinite(start) and start > 0.0):
        raise ValueError(f"start_equity must be positive and finite, got {start_equity!r}")
    return start


def _check_runs(runs: int) -> int:
    if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or runs < 1:
        raise ValueError(f"runs must be a positive integer, got {runs!r}")
    return int(runs)


def _none_if_not_finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _drawdowns(paths: FloatArray, start: float) -> FloatArray:
    """Return each row's maximum drawdown depth for rows of trade P&Ls starting at ``start``."""
    equity = start + np.cumsum(paths, axis=1)
    peak = np.maximum(np.maximum.accumulate(equity, axis=1), start)
    depth = np.max((peak - equity) / peak, axis=1, initial=0.0)
    return np.clip(depth, 0.0, 1.0)


def _percentiles(values: FloatArray) -> Percentiles:
    p5, p50, p95 = (float(v) for v in np.percentile(values, PERCENTILES))
    return {"p5": p5, "p50": p50, "p95": p95}


def _simulate(
    pnls: FloatArray,
    start: float,
    runs: int,
    seed: int,
    method: str,
    draw: Callable[[np.random.Generator, int], FloatArray],
) -> MonteCarloResult:
    """Run ``runs`` simulated paths drawn by ``draw(rng, rows)`` in memory-bounded chunks."""
    rng = np.random.default_rng(seed)
    n = pnls.size
    drawdowns = np.empty(runs)
    finals = np.empty(runs)
    chunk = max(1, _CELLS_PER_CHUNK // max(n, 1))
    for begin in range(0, runs, chunk):
        rows = min(chunk, runs - begin)
        paths = draw(rng, rows) if n else np.zeros((rows, 0))
        drawdowns[begin : begin + rows] = _drawdowns(paths, start)
        finals[begin : begin + rows] = start + paths.sum(axis=1)
    return {
        "method": method,
        "runs": runs,
        "trades": int(n),
        "seed": int(seed),
        "start_equity": start,
        "max_drawdown": _percentiles(drawdowns),
        "final_equity": _percentiles(finals),
    }


# -- Monte Carlo ----------------------------------------------------------------------------------


def trade_path_drawdown(trade_pnls: npt.ArrayLike, start_equity: float) -> float:
    """Compute the maximum drawdown depth of the trade-by-trade equity curve in the given order.

    Formula: ``max_k (P_k - E_k) / P_k`` with ``E_k = start_equity + sum(p_1..p_k)`` and
    ``P_k = max(start_equity, E_1..E_k)``, clipped to ``[0, 1]``.

    Parameters
    ----------
    trade_pnls : array_like
        Net P&L per closed trade, in closing order.
    start_equity : float
        Equity before the first trade (positive).

    Returns
    -------
    float
        The drawdown depth as a positive fraction; ``0.0`` without trades or losses, ``1.0`` at ruin.
    """
    pnls = _finite_array(trade_pnls, "trade_pnls")
    start = _check_start_equity(start_equity)
    return float(_drawdowns(pnls.reshape(1, -1), start)[0])


def monte_carlo_reorder(
    trade_pnls: npt.ArrayLike, start_equity: float, runs: int, seed: int
) -> MonteCarloResult:
    """Shuffle the order of the trades ``runs`` times and summarise drawdown and final equity.

    Each run is a random permutation of the same trades, so the final equity is identical in every
    run (the sum does not depend on the order; it is reported anyway) while the path, and hence the
    maximum drawdown, changes. The drawdown's ``p95`` is the worst-5 % drawdown the gates check.

    Parameters
    ----------
    trade_pnls : array_like
        Net P&L per closed trade.
    start_equity : float
        Equity before the first trade (positive).
    runs : int
        Number of simulated orderings (at least 1).
    seed : int
        Seed of the random generator.

    Returns
    -------
    MonteCarloResult
        ``method="monte_carlo_reorder"``, percentiles of the drawdown depth and the final equity.

    Raises
    ------
    ValueError
        If a P&L is not finite, ``start_equity`` is not positive or ``runs`` < 1.
    """
    pnls = _finite_array(trade_pnls, "trade_pnls")
    start = _check_start_equity(start_equity)

    def draw(rng: np.random.Generator, rows: int) -> FloatArray:
        return rng.permuted(np.broadcast_to(pnls, (rows, pnls.size)), axis=1)

    return _simulate(pnls, start, _check_runs(runs), seed, "monte_carlo_reorder", draw)


def bootstrap_trades(
    trade_pnls: npt.ArrayLike, start_equity: float, runs: int, seed: int
) -> MonteCarloResult:
    """Resample the trades with replacement ``runs`` times and summarise drawdown and final equity.

    Each run draws as many trades as there are, uniformly with replacement, so both the path and
    the final equity vary (a path bootstrap of the trade sequence).

    Parameters
    ----------
    trade_pnls : array_like
        Net P&L per closed trade.
    start_equity : float
        Equity before the first trade (positive).
    runs : int
        Number of resampled paths (at least 1).
    seed : int
        Seed of the random generator.

    Returns
    -------
    MonteCarloResult
        ``method="bootstrap_trades"``, percentiles of the drawdown depth and the final equity.

    Raises
    ------
    ValueError
        If a P&L is not finite, ``start_equity`` is not positive or ``runs`` < 1.
    """
    pnls = _finite_array(trade_pnls, "trade_pnls")
    start = _check_start_equity(start_equity)

    def draw(rng: np.random.Generator, rows: int) -> FloatArray:
        return pnls[rng.integers(0, pnls.size, size=(rows, pnls.size))]

    return _simulate(pnls, start, _check_runs(runs), seed, "bootstrap_trades", draw)


# -- cost shocks ----------------------------------------------------------------------------------


def cost_shock(
    trade_pnls: npt.ArrayLike,
    trade_fees: npt.ArrayLike,
    trade_notional: npt.ArrayLike,
    fee_multiplier: float = 1.0,
    slippage_bps: float = 0.0,
) -> FloatArray:
    """Recompute net trade P&Ls under higher fees and extra slippage (a fast approximation).

    Formula: ``p_i' = p_i - (fee_multiplier - 1) * fee_i - 2 * notional_i * slippage_bps / 10_000``.

    The approximation assumes fees scale linearly with the multiplier (a maker rebate, a negative
    fee, grows likewise) and that the extra slippage is paid once on entry and once on exit, both on
    the entry notional (the exit notional differs by the trade's return, a second-order effect).
    It does not change which trades happen: stops that would trigger earlier, fills that would be
    missed and the sizing feedback of a smaller equity are left to the full walk-forward re-run with
    shocked fee and fill models.

    Parameters
    ----------
    trade_pnls : array_like
        Net P&L per closed trade (fees already deducted).
    trade_fees : array_like
        Fees paid per trade (entry plus exit), same length.
    trade_notional : array_like
        Absolute entry notional per trade in account currency, same length.
    fee_multiplier : float, default 1.0
        Factor applied to the fees (2.0 doubles them; 1.0 leaves them).
    slippage_bps : float, default 0.0
        Extra slippage per side in basis points of notional.

    Returns
    -------
    numpy.ndarray
        The shocked net P&L per trade.

    Raises
    ------
    ValueError
        If the arrays differ in length or hold non-finite values, or a shock is negative.
    """
    pnls = _finite_array(trade_pnls, "trade_pnls")
    fees = _finite_array(trade_fees, "trade_fees")
    notional = _finite_array(trade_notional, "trade_notional")
    if not pnls.shape == fees.shape == notional.shape:
        raise ValueError(
            f"trade_pnls, trade_fees and trade_notional differ in length: "
            f"{pnls.size}, {fees.size}, {notional.size}"
        )
    if not (math.isfinite(fee_multiplier) and fee_multiplier >= 0.0):
        raise ValueError(f"fee_multiplier must be finite and >= 0, got {fee_multiplier!r}")
    if not (math.isfinite(slippage_bps) and slippage_bps >= 0.0):
        raise ValueError(f"slippage_bps must be finite and >= 0, got {slippage_bps!r}")
    slippage = 2.0 * np.abs(notional) * slippage_bps / 10_000.0
    shocked: FloatArray = pnls - (fee_multiplier - 1.0) * fees - slippage
    return shocked


def cost_shock_scenarios(
    trade_pnls: npt.ArrayLike,
    trade_fees: npt.ArrayLike,
    trade_notional: npt.ArrayLike,
    scenarios: Sequence[tuple[float, float]] = ((1.0, 0.0), (2.0, 0.0), (3.0, 0.0), (2.0, 5.0)),
) -> list[CostShockResult]:
    """Summarise the trade metrics under several ``(fee_multiplier, slippage_bps)`` shocks.

    Parameters
    ----------
    trade_pnls, trade_fees, trade_notional : array_like
        As for :func:`cost_shock`.
    scenarios : sequence of (float, float)
        The shocks; the default reports the baseline, fees x2, fees x3 and fees x2 with 5 bps.

    Returns
    -------
    list of CostShockResult
        One entry per scenario, in order.
    """
    results: list[CostShockResult] = []
    for multiplier, bps in scenarios:
        shocked = cost_shock(trade_pnls, trade_fees, trade_notional, multiplier, bps)
        results.append(
            {
                "fee_multiplier": float(multiplier),
                "slippage_bps": float(bps),
                "trades": int(shocked.size),
                "total_pnl": float(shocked.sum()),
                "expectancy": _none_if_not_finite(expectancy(shocked)),
                "profit_factor": _none_if_not_finite(profit_factor(shocked)),
                "win_rate": _none_if_not_finite(win_rate(shocked)),
            }
        )
    return results


# -- slicing --------------------------------------------------------------------------------------


def slice_labels(value: object) -> tuple[str, ...]:
    """Split one trade's label into the slices it belongs to.

    The journal writes sessions as ``"+"``-joined names (``"EU+US"`` in the overlap, ``"NONE"``
    outside every window) and regimes as :func:`strategies.features.regimes.regime_label` does
    (``"HIGH_VOL+TREND_UP"``), so a trade can belong to several slices. Lists, tuples and sets of
    names are accepted as well.

    Parameters
    ----------
    value : object
        A label text, a collection of names, or None.

    Returns
    -------
    tuple of str
        The distinct names in order of appearance; ``("NONE",)`` for None, an empty text or an
        empty collection.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        names: list[str] = []
    elif isinstance(value, str):
        names = [part.strip() for part in value.split("+")]
    elif isinstance(value, Iterable):
        names = [str(part).strip() for part in value]
    else:
        names = [str(value).strip()]
    unique = tuple(dict.fromkeys(name for name in names if name))
    return unique or (NO_LABEL,)


def volatility_label(regime: object) -> str:
    """Return ``"HIGH_VOL"`` if a trade's regime label carries the HIGH_VOL flag, else ``"LOW_VOL"``.

    Use it as the ``key`` of :func:`slice_trades` (``key=lambda t: volatility_label(t["regime"])``)
    to compare high- with low-volatility periods.
    """
    return "HIGH_VOL" if "HIGH_VOL" in slice_labels(regime) else "LOW_VOL"


def _records(trades: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(trades, pd.DataFrame):
        return [{str(k): v for k, v in row.items()} for row in trades.to_dict("records")]
    return list(trades)


def slice_trades(
    trades: pd.DataFrame | Iterable[Mapping[str, Any]],
    key: str | Callable[[Mapping[str, Any]], object],
) -> dict[str, SliceStats]:
    """Group trades by a label and compute each slice's trade metrics.

    A trade whose label names several slices (``"EU+US"``, ``"HIGH_VOL+TREND_UP"``, see
    :func:`slice_labels`) counts in each of them, so slice counts can sum to more than the trades.

    Parameters
    ----------
    trades : pandas.DataFrame or iterable of mapping
        One record per closed trade with at least a ``pnl`` field (net P&L after fees) and the
        field ``key`` names (e.g. ``session`` or ``regime``).
    key : str or callable
        The field holding the label, or a function of the record returning it (e.g.
        ``lambda t: volatility_label(t["regime"])``).

    Returns
    -------
    dict of str to SliceStats
        Per label, sorted by label: ``trades``, ``total_pnl``, ``expectancy``, ``profit_factor``,
        ``win_rate`` (from :mod:`engine.metrics`; undefined or infinite values are None).

    Raises
    ------
    KeyError
        If a record lacks ``pnl`` or the ``key`` field.
    ValueError
        If a P&L is not finite.
    """
    groups: dict[str, list[float]] = {}
    for record in _records(trades):
        label = key(record) if callable(key) else record[key]
        pnl = float(record["pnl"])
        if not math.isfinite(pnl):
            raise ValueError(f"trade pnl must be finite, got {record['pnl']!r} in {dict(record)!r}")
        for name in slice_labels(label):
            groups.setdefault(name, []).append(pnl)
    stats: dict[str, SliceStats] = {}
    for name in sorted(groups):
        pnls = np.asarray(groups[name], dtype=np.float64)
        stats[name] = {
            "label": name,
            "trades": int(pnls.size),
            "total_pnl": float(pnls.sum()),
            "expectancy": _none_if_not_finite(expectancy(pnls)),
            "profit_factor": _none_if_not_finite(profit_factor(pnls)),
            "win_rate": _none_if_not_finite(win_rate(pnls)),
        }
    return stats


# -- parameter perturbation -----------------------------------------------------------------------


def perturbation_pass_rate(results: Iterable[bool | str]) -> float | None:
    """Return the share of perturbed-parameter runs that pass.

    Parameters
    ----------
    results : iterable of bool or str
        One entry per perturbed run: a boolean, or a gate verdict ``"pass"`` / ``"fail"`` (as
        :func:`research.validation.gates.verdict` returns).

    Returns
    -------
    float or None
        ``passed / runs`` in ``[0, 1]``; None without runs (the gate then fails).

    Raises
    ------
    ValueError
        If an entry is neither a boolean nor ``"pass"`` / ``"fail"``.
    """
    outcomes: list[bool] = []
    for item in results:
        if isinstance(item, bool | np.bool_):
            outcomes.append(bool(item))
        elif item in ("pass", "fail"):
            outcomes.append(item == "pass")
        else:
            raise ValueError(f"a perturbation result must be a bool or 'pass'/'fail', got {item!r}")
    if not outcomes:
        return None
    return sum(outcomes) / len(outcomes)
