"""Pip arithmetic of spot FX pairs: stop distances in pips, USD risk per unit, lot-stepped sizes.

Pure functions over plain numbers, shared by the risk desk, strategies and research. A pair is named
``BASE/QUOTE`` (an instrument id such as ``USD/JPY.IDEALPRO`` works too). One unit is one unit of
the base currency; P&L accrues in the quote currency.

- USD-quoted pairs (EUR/USD, GBP/USD): pip 0.0001; a one-pip move on one unit is worth 0.0001 USD.
- USD-based JPY pairs (USD/JPY): pip 0.01; a one-pip move on one unit is 0.01 JPY = 0.01 / price USD.
- USD-based non-JPY pairs (USD/CHF, USD/CAD): pip 0.0001, worth 0.0001 / price USD.

Crosses without a USD leg (EUR/GBP, EUR/JPY) need a second rate to reach USD and are refused, as the
desk's ledgers refuse them (``engine.risk.bridge.terms_from_instrument``).
"""

from __future__ import annotations

import math

JPY_PIP = 0.01
STANDARD_PIP = 0.0001
USD = "USD"


class FxError(ValueError):
    """Raise when a pair or a number cannot be turned into a pip-based size."""


def split_pair(pair: str) -> tuple[str, str]:
    """Return ``(base, quote)`` of ``"EUR/USD"`` or ``"EUR/USD.IDEALPRO"``.

    Raises
    ------
    FxError
        If ``pair`` is not ``BASE/QUOTE`` with three-letter codes.
    """
    symbol = pair.split(".", 1)[0]
    parts = symbol.split("/")
    if len(parts) != 2 or not all(len(code) == 3 and code.isalpha() for code in parts):
        raise FxError(f"{pair!r} is not a BASE/QUOTE currency pair")
    return parts[0].upper(), parts[1].upper()


def pip_size(pair: str) -> float:
    """Return the pip of ``pair``: 0.01 when JPY is the quote currency, else 0.0001."""
    _, quote = split_pair(pair)
    return JPY_PIP if quote == "JPY" else STANDARD_PIP


def pips_to_price(pair: str, pips: float) -> float:
    """Return the price distance of ``pips`` pips on ``pair``."""
    return pips * pip_size(pair)


def price_to_pips(pair: str, distance: float) -> float:
    """Return the number of pips in a price distance on ``pair``."""
    return distance / pip_size(pair)


def usd_per_pip_per_unit(pair: str, price: float) -> float:
    """Return the USD value of a one-pip move on one unit of ``pair`` at ``price``.

    Raises
    ------
    FxError
        If the pair has no USD leg or ``price`` is not a positive finite number.
    """
    base, quote = split_pair(pair)
    if not (math.isfinite(price) and price > 0.0):
        raise FxError(f"{pair}: price must be positive and finite (value: {price!r})")
    pip = pip_size(pair)
    if quote == USD:
        return pip
    if base == USD:
        return pip / price
    raise FxError(f"{pair}: no USD leg; a cross needs a conversion rate the desk does not take")


def usd_risk_per_unit(pair: str, sl_pips: float, price: float) -> float:
    """Return the USD lost by one unit of ``pair`` when a stop ``sl_pips`` away fills at ``price``.

    For USD-based pairs the loss is converted at the entry ``price`` (the stop price gives a few
    tenths of a percent more or less for stops of tens of pips).
    """
    if not (math.isfinite(sl_pips) and sl_pips > 0.0):
        raise FxError(f"{pair}: stop distance must be a positive number of pips (value: {sl_pips!r})")
    return sl_pips * usd_per_pip_per_unit(pair, price)


def floor_to_lot(units: float, lot_step: float) -> float:
    """Floor ``units`` to a whole number of ``lot_step`` (never rounded up)."""
    if lot_step <= 0.0:
        raise FxError(f"lot step must be positive (value: {lot_step!r})")
    lots = math.floor(units / lot_step + 1e-9)
    return max(lots, 0) * lot_step


def quantity_for_risk(
    pair: str,
    risk_usd: float,
    sl_pips: float,
    price: float,
    *,
    lot_step: float = 1.0,
    min_units: float = 0.0,
) -> float:
    """Return the units of ``pair`` whose stop ``sl_pips`` away loses at most ``risk_usd``.

    The size is floored to ``lot_step`` units and is 0 when it falls below ``min_units`` (a size too
    small is skipped, never rounded up).

    Parameters
    ----------
    pair : str
        ``BASE/QUOTE`` with a USD leg.
    risk_usd : float
        The USD the trade may lose at its stop.
    sl_pips : float
        Stop distance in pips.
    price : float
        Entry price.
    lot_step : float
        Size increment in units (IDEALPRO takes any whole unit: 1; micro lots: 1,000).
    min_units : float
        Smallest order in units; below it the answer is 0.

    Returns
    -------
    float
    """
    if not (math.isfinite(risk_usd) and risk_usd >= 0.0):
        raise FxError(f"{pair}: risk must be a non-negative amount of USD (value: {risk_usd!r})")
    units = floor_to_lot(risk_usd / usd_risk_per_unit(pair, sl_pips, price), lot_step)
    return units if units >= min_units and units > 0.0 else 0.0


def usd_notional(pair: str, units: float, price: float) -> float:
    """Return the USD notional of ``units`` of ``pair`` at ``price`` (units for USD-based pairs)."""
    base, quote = split_pair(pair)
    if base == USD:
        return abs(units)
    if quote == USD:
        return abs(units) * price
    raise FxError(f"{pair}: no USD leg; a cross needs a conversion rate the desk does not take")


def usd_direction(pair: str, side_sign: int) -> int:
    """Return +1 when a position of ``side_sign`` (+1 long, -1 short) in ``pair`` is long USD, -1 short.

    Long EUR/USD is short USD; long USD/JPY is long USD. Pairs without a USD leg return 0.
    """
    base, quote = split_pair(pair)
    if base == USD:
        return 1 if side_sign > 0 else -1
    if quote == USD:
        return -1 if side_sign > 0 else 1
    return 0
