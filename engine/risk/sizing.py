"""Pure sizing arithmetic: the ladder, the drawdown throttle, the notional caps and the clamps.

Everything here is a function of plain numbers so it can be checked against the seeds' worked
examples and exercised by property tests; the desk gathers the numbers and journals the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.risk.config import LadderRung

FLOAT_SLACK = 1e-9


def ladder_multiplier(
    rolling_pnl_usd: float, rungs: Sequence[LadderRung], min_multiplier: float, max_multiplier: float
) -> float:
    """Return the equity-ladder risk multiplier for a ledger's rolling P&L.

    Positive rungs apply once the P&L reaches their threshold (the highest one reached wins);
    negative rungs apply once the P&L falls to their threshold (the deepest one reached wins). The
    result is clamped to ``[min_multiplier, max_multiplier]``.
    """
    multiplier = 1.0
    for rung in rungs:
        if rung.profit_usd >= 0 and rolling_pnl_usd >= rung.profit_usd:
            multiplier = rung.multiplier
    for rung in sorted(rungs, key=lambda r: r.profit_usd, reverse=True):
        if rung.profit_usd < 0 and rolling_pnl_usd <= rung.profit_usd:
            multiplier = rung.multiplier
    return min(max(multiplier, min_multiplier), max_multiplier)


def throttled_risk_fraction(
    base: float,
    drawdown: float,
    *,
    step_drawdown: float,
    risk_reduction: float,
    floor: float,
    band_min: float,
    band_max: float,
) -> float:
    """Return the risk fraction after the drawdown throttle, kept inside the asset's band.

    ``base - risk_reduction x ⌊drawdown / step_drawdown⌋``, not below ``floor``, then clamped to
    ``[band_min, band_max]``. With the defaults a 5% drawdown costs a quarter of a percentage point.
    """
    steps = math.floor(max(drawdown, 0.0) / step_drawdown + FLOAT_SLACK) if step_drawdown > 0 else 0
    throttled = max(base - risk_reduction * steps, floor)
    return min(max(throttled, band_min), band_max)


def base_cap_usd(budget_usd: float, risk_pct: float, multiplier: float) -> float:
    """Return the base cap BaseCapUSD = B_A x r_A x m_A."""
    return budget_usd * risk_pct * multiplier


def percent_cap_usd(budget_usd: float, percent: float, multiplier: float, threshold_usd: float) -> float:
    """Return the percent cap PercentCapUSD = max(T, B_A x q_A x m_A)."""
    return max(threshold_usd, budget_usd * percent * multiplier)


def notional_cap_usd(
    budget_usd: float, risk_pct: float, percent: float, multiplier: float, threshold_usd: float
) -> tuple[float, str]:
    """Return the per-order notional cap and which cap it is (``base_cap`` or ``percent_cap``).

    BaseCap applies while it is at most the threshold T; above T the PercentCap takes over.
    """
    base = base_cap_usd(budget_usd, risk_pct, multiplier)
    if base <= threshold_usd:
        return base, "base_cap"
    return percent_cap_usd(budget_usd, percent, multiplier, threshold_usd), "percent_cap"


def floor_to_step(quantity: float, step: float) -> float:
    """Round ``quantity`` down to a multiple of ``step`` (never up)."""
    if quantity <= 0 or step <= 0:
        return max(quantity, 0.0)
    steps = math.floor(quantity / step + FLOAT_SLACK)
    return round(steps * step, 12)


@dataclass(frozen=True, slots=True)
class Clamp:
    """A ceiling on the new position's notional in USD, named for the journal.

    ``group`` lists the other instruments whose exposure the ceiling counts (journaled with the
    decision's inputs under the clamp's name without ``_cap``).
    """

    name: str
    max_notional_usd: float
    group: tuple[str, ...] = ()


def apply_clamps(notional_usd: float, bound_by: str, clamps: Sequence[Clamp]) -> tuple[float, str]:
    """Lower ``notional_usd`` to every clamp in turn; return the result and the rule that bound it.

    A clamp whose room is negative clamps to zero (the entry is then skipped, never forced).
    """
    for clamp in clamps:
        room = max(clamp.max_notional_usd, 0.0)
        if notional_usd > room + FLOAT_SLACK:
            notional_usd, bound_by = room, clamp.name
    return notional_usd, bound_by
