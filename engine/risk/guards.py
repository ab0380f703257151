"""The entry guards: the rules that deny an entry before it is sized (docs/risk-desk.md).

Common guards run first, in this order, and the first that fails names the denial: ``close_only``
(kill switch), ``missing_sl_or_tp``, ``sl_tp_wrong_side``, ``sl_too_wide``, ``no_short``, ``cooldown``
(after a risk event), ``daily_loss_cap``, ``max_concurrent``; then the asset class's own guards
(:meth:`engine.assets.AssetPolicy.guard`); then ``no_budget``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from engine.risk.config import DeskConfig
from engine.risk.policy import AssetPolicy, EntryContext

STOP_FRACTION_SLACK = 1e-9  # a stop exactly at max_sl_pct is allowed, whatever the float rounding


class Guards:
    """Check proposed entries against the common guards and each asset class's own.

    Parameters
    ----------
    config : DeskConfig
        The guards' thresholds.
    policies : mapping of str to AssetPolicy
        Each asset class's rules.
    is_close_only : callable
        Tells whether an asset class takes no new entries (the kill switch).
    """

    def __init__(
        self,
        config: DeskConfig,
        policies: Mapping[str, AssetPolicy],
        is_close_only: Callable[[str], bool],
    ) -> None:
        self._config = config
        self._policies = policies
        self._is_close_only = is_close_only

    def check(self, context: EntryContext) -> str:
        """Return the first rule ``context``'s entry breaks, or ``""`` when it may be sized."""
        intent, terms, ledger = context.intent, context.terms, context.ledger
        asset = terms.asset
        rails = self._config.asset_risk(asset)
        if self._is_close_only(asset):
            return "close_only"
        entry, stop, target = intent.entry_price, intent.stop_price, intent.take_profit_price
        if not all(math.isfinite(x) and x > 0.0 for x in (entry, stop, target)):
            return "missing_sl_or_tp"
        is_buy = intent.is_buy
        if (is_buy and not stop < entry < target) or (not is_buy and not target < entry < stop):
            return "sl_tp_wrong_side"
        if context.stop_fraction > rails.max_sl_pct * (1.0 + STOP_FRACTION_SLACK):
            return "sl_too_wide"
        if not is_buy and not rails.allow_short:
            return "no_short"
        if intent.ts_event < ledger.cooldown_until_ns:
            return "cooldown"
        if ledger.day_realised_usd <= -rails.daily_loss_cap_pct * ledger.day_start_equity_usd:
            return "daily_loss_cap"
        others = ledger.open_instruments() - {intent.instrument_id}
        if len(others) >= rails.max_concurrent:
            return "max_concurrent"
        reason = self._policies[asset].guard(context)
        if reason:
            return reason
        reversed_lot = context.book.reversed_lot(ledger, intent)
        if context.equity_usd <= 0.0 or ledger.free_usd(reversed_lot) <= 0.0:
            return "no_budget"
        return ""


def stop_fraction(entry: float, stop: float) -> float:
    """Return the stop's distance as a fraction of the entry price (inf for a non-positive entry)."""
    return abs(entry - stop) / entry if entry > 0 and math.isfinite(entry) else math.inf
