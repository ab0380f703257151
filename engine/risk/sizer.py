"""The sizer: turn an entry that passed the guards into a quantity (docs/risk-desk.md).

``risk_ladder``: a fixed notional while the ledger is small, then
``equity x risk_fraction x signal_weight x ladder_multiplier / |entry - stop|`` with the risk fraction
throttled by drawdown; ``notional_cap``: the BaseCap / PercentCap policy. Then the clamps, each a
ceiling on the notional: per-pair cap, correlation cap, ledger leverage cap, the ledger's spendable
budget, the broker's buying power, and the asset class's own (:meth:`engine.assets.AssetPolicy.clamps`).
The quantity is floored to the venue step and the class's lot grid; too small after the clamps is a
denial (``below_venue_minimum``), never rounded up.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engine.risk.config import DeskConfig, Mode
from engine.risk.intents import BrokerView, MarketView, SizingDecision, denied
from engine.risk.ledger import InstrumentTerms, SubLedger
from engine.risk.policy import AssetPolicy, EntryContext
from engine.risk.sizing import (
    Clamp,
    apply_clamps,
    floor_to_step,
    ladder_multiplier,
    notional_cap_usd,
    throttled_risk_fraction,
)


class Sizer:
    """Size entries that passed the guards.

    Parameters
    ----------
    config : DeskConfig
        Sizing policy and numbers, correlation settings, budgets.
    policies : mapping of str to AssetPolicy
        Each asset class's clamps and lot grid.
    market : MarketView
        Recent closes for the correlation cap.
    broker : BrokerView
        The account's buying power (required in live mode when enforced).
    mode : str
        ``live`` denies an entry without a broker balance (``no_broker_balance``).
    """

    def __init__(
        self,
        config: DeskConfig,
        policies: Mapping[str, AssetPolicy],
        market: MarketView,
        broker: BrokerView,
        mode: Mode,
    ) -> None:
        self._config = config
        self._policies = policies
        self._market = market
        self._broker = broker
        self._mode = mode

    def size(self, context: EntryContext) -> SizingDecision:
        """Return the approved quantity of ``context``'s entry with every input, or a denial."""
        config = self._config
        sizing = config.sizing
        intent, terms, ledger, equity = context.intent, context.terms, context.ledger, context.equity_usd
        asset = terms.asset
        rails = config.asset_risk(asset)
        numbers = config.asset_sizing(asset)
        policy = self._policies[asset]
        entry = intent.entry_price
        stop_distance = abs(entry - intent.stop_price)
        usd_per_unit = terms.usd_per_unit(entry)
        weight = intent.strength.value
        rolling = ledger.rolling_pnl_usd(intent.ts_event, sizing.ladder.window_days)
        ladder = sizing.ladder
        multiplier = (
            ladder_multiplier(rolling, ladder.rungs, ladder.min_multiplier, ladder.max_multiplier)
            if ladder.enabled
            else 1.0
        )
        drawdown = ledger.drawdown()
        throttle = sizing.drawdown
        risk_fraction = throttled_risk_fraction(
            numbers.risk_fraction,
            drawdown,
            step_drawdown=throttle.step_drawdown,
            risk_reduction=throttle.risk_reduction,
            floor=throttle.floor,
            band_min=numbers.risk_fraction_min,
            band_max=numbers.risk_fraction_max,
        )
        if sizing.policy == "notional_cap":
            notional, bound_by = notional_cap_usd(
                equity,
                numbers.base_risk_pct,
                numbers.percent_above_threshold,
                multiplier,
                sizing.notional_cap_threshold_usd,
            )
        elif equity < sizing.fixed_until_equity_usd:
            notional, bound_by = sizing.fixed_notional_usd, "fixed_notional"
        else:
            risk_usd = equity * risk_fraction * weight * multiplier
            quantity = risk_usd / (stop_distance * terms.usd_per_point(entry))
            notional, bound_by = quantity * usd_per_unit, "risk"
        wanted = notional
        exclude = context.book.reversed_lot(ledger, intent)
        pair_exposure = ledger.instrument_exposure_usd(intent.instrument_id, include_lot=exclude is None)
        clamps = [Clamp("pair_cap", sizing.pair_cap_fraction * equity - pair_exposure)]
        group = self.correlated_group(ledger, intent.instrument_id)
        if group:
            group_exposure = pair_exposure + sum(ledger.instrument_exposure_usd(i) for i in group)
            clamps.append(
                Clamp("correlation_cap", config.risk.correlation.group_exposure_cap * equity - group_exposure)
            )
        clamps.append(Clamp("leverage_cap", rails.leverage_cap * equity - ledger.exposure_usd(exclude)))
        clamps.append(Clamp("ledger_budget", spendable_usd(ledger, terms, entry, exclude)))
        buying_power = self._broker.buying_power_usd(intent.instrument_id)
        if config.budgets.enforce_wallet_available:
            if buying_power is None and self._mode == "live":
                return denied("no_broker_balance", {"equity_usd": equity})
            if buying_power is not None:
                clamps.append(Clamp("broker_available", buying_power))
        own_clamps = policy.clamps(context, pair_exposure)
        clamps.extend(own_clamps)
        notional, bound_by = apply_clamps(notional, bound_by, clamps)
        quantity = policy.round_quantity(floor_to_step(notional / usd_per_unit, terms.size_increment), terms)
        inputs: dict[str, float | str | None] = {
            "asset": asset,
            "policy": sizing.policy,
            "equity_usd": equity,
            "balance_usd": ledger.balance_usd,
            "free_usd": ledger.free_usd(exclude),
            "exposure_usd": ledger.exposure_usd(exclude),
            "buying_power_usd": buying_power,
            "entry": entry,
            "stop": intent.stop_price,
            "take_profit": intent.take_profit_price,
            "weight": weight,
            "ladder_multiplier": multiplier,
            "rolling_pnl_usd": rolling,
            "drawdown": drawdown,
            "risk_fraction": risk_fraction,
            "wanted_notional_usd": wanted,
            "notional_usd": quantity * usd_per_unit,
            "quantity": quantity,
            "correlated": ",".join(sorted(group)) if group else "",
            **{_members_key(clamp): ",".join(clamp.group) for clamp in own_clamps if clamp.group},
        }
        notional_after = quantity * usd_per_unit
        if quantity <= 0 or quantity < terms.min_quantity or notional_after < terms.min_notional_usd:
            return SizingDecision(False, None, "below_venue_minimum", bound_by, inputs)
        return SizingDecision(True, quantity, "ok", bound_by, inputs)

    def correlated_group(self, ledger: SubLedger, instrument_id: str) -> set[str]:
        """Return the ledger's open instruments whose returns correlate above the threshold."""
        settings = self._config.risk.correlation
        if not settings.enabled:
            return set()
        others = ledger.open_instruments() - {instrument_id}
        if not others:
            return set()
        own = self._returns(instrument_id, settings.window_bars)
        group = set()
        for other in sorted(others):
            correlation = aligned_correlation(
                own, self._returns(other, settings.window_bars), settings.min_overlap_bars
            )
            if correlation is not None and correlation > settings.threshold:
                group.add(other)
        return group

    def _returns(self, instrument_id: str, window: int) -> dict[int, float]:
        stamps, closes = self._market.closes(instrument_id, window + 1)
        values = np.asarray(closes, dtype=float)
        if len(values) < 3:
            return {}
        returns = np.diff(np.log(values))
        return dict(zip((int(t) for t in list(stamps)[1:]), returns.tolist(), strict=True))


def _members_key(clamp: Clamp) -> str:
    """Return the inputs key listing a group clamp's members (``usd_group_cap`` -> ``usd_group``)."""
    return clamp.name.removesuffix("_cap")


def spendable_usd(ledger: SubLedger, terms: InstrumentTerms, entry: float, exclude: str | None) -> float:
    """Return the notional the ledger's free budget can carry, the entry fee included.

    A reversal frees its lot's margin but first realises that lot's loss (and its exit fee); both
    come out of the budget before the new side is sized.
    """
    free = ledger.free_usd(exclude)
    if exclude is not None:
        lot = ledger.lots[exclude]
        free += min(lot.unrealised_usd(entry), 0.0)
        free -= lot.notional_usd() * terms.fee_per_notional(entry)
    per_notional = 1.0 / ledger.leverage_cap + terms.fee_per_notional(entry)
    return free / per_notional


def aligned_correlation(a: Mapping[int, float], b: Mapping[int, float], min_overlap: int) -> float | None:
    """Return the Pearson correlation of two return series on their common timestamps, if long enough."""
    common = sorted(set(a) & set(b))
    if len(common) < min_overlap:
        return None
    x = np.fromiter((a[t] for t in common), dtype=float, count=len(common))
    y = np.fromiter((b[t] for t in common), dtype=float, count=len(common))
    if float(np.std(x)) == 0.0 or float(np.std(y)) == 0.0:
        return None
    return float(np.corrcoef(x, y)[0, 1])
