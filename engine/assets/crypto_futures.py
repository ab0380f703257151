"""Crypto perpetuals and futures: leverage, liquidation buffer, funding filter, mark-price stops.

Rules (docs/carry.md, docs/risk-desk.md): the stop must sit at least ``liq_buffer_pct`` of the
entry-to-liquidation distance before the isolated-margin liquidation price; entries are denied while
the latest settled funding rate against the trade exceeds ``funding_filter_rate``; an instrument may
carry its own leverage cap (``leverage_caps``); stops and targets trigger on ``sl_tp_trigger``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec
from nautilus_trader.model.instruments import CryptoFuture, CryptoPerpetual, Instrument

from engine.assets.base import AssetClass, AssetPolicy, EntryContext
from engine.risk.config import AssetRisk, AssetSizing, fail
from engine.risk.sizing import Clamp


def liquidation_price(
    entry: float, leverage: float, maintenance_margin_rate: float, *, is_long: bool
) -> float:
    """Return a linear perpetual's isolated-margin liquidation price.

    Long: ``entry x (1 - 1/leverage + mmr)``; short: ``entry x (1 + 1/leverage - mmr)``. The position
    is liquidated when its loss eats the initial margin (1/leverage of the notional) down to the
    maintenance margin (``mmr`` of the notional). Cross margin backs the position with the whole
    wallet, so its liquidation lies at or beyond this price.

    Parameters
    ----------
    entry : float
        Entry price.
    leverage : float
        Position leverage (notional / initial margin), > 0.
    maintenance_margin_rate : float
        Maintenance margin as a fraction of notional.
    is_long : bool
        Side of the position.
    """
    distance = 1.0 / leverage - maintenance_margin_rate
    return entry * (1.0 - distance) if is_long else entry * (1.0 + distance)


class FuturesRisk(AssetRisk, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Guard perpetual and futures entries.

    ``leverage_caps`` maps an instrument id to its own leverage cap: the instrument's notional may
    not exceed cap x the ledger's equity (``leverage_cap`` still bounds the ledger). ``margin_mode``
    (``isolated`` or ``cross``) is recorded and validated; the liquidation price the buffer checks is
    the isolated one, which cross margin can only push further away. ``sl_tp_trigger`` is the nautilus
    ``TriggerType`` name for stops and targets (venues trigger on it; backtests on bar data trigger on
    the bar, there is no separate mark series). ``funding_filter_rate`` 0 turns the filter off;
    ``maintenance_margin_rate`` is used when the instrument carries none.
    """

    max_concurrent: int = 3
    daily_loss_cap_pct: float = 0.02
    leverage_cap: float = 3.0
    liq_buffer_pct: float = 0.20
    maintenance_margin_rate: float = 0.005
    margin_mode: Literal["isolated", "cross"] = "isolated"
    sl_tp_trigger: Literal["MARK_PRICE", "LAST_PRICE", "INDEX_PRICE", "DEFAULT"] = "MARK_PRICE"
    funding_filter_rate: float = 0.0
    leverage_caps: dict[str, float] = msgspec.field(default_factory=dict)


class FuturesPolicy(AssetPolicy):
    """Apply the liquidation buffer, the funding filter, per-symbol leverage caps and the stop trigger."""

    risk: FuturesRisk

    def guard(self, context: EntryContext) -> str:
        """Deny a stop too close to liquidation (``liq_buffer``) or funding against the side."""
        risk = self.risk
        if risk.liq_buffer_pct > 0:
            mmr = context.terms.maintenance_margin_rate
            mmr = risk.maintenance_margin_rate if mmr is None else mmr
            entry = context.intent.entry_price
            liquidation = liquidation_price(entry, risk.leverage_cap, mmr, is_long=context.is_buy)
            if context.stop_fraction > (1.0 - risk.liq_buffer_pct) * abs(entry - liquidation) / entry:
                return "liq_buffer"
        rate = context.funding_rates.get(context.intent.instrument_id)
        if risk.funding_filter_rate > 0 and rate is not None:
            against = rate * (1.0 if context.is_buy else -1.0)  # longs pay a positive rate
            if against > risk.funding_filter_rate:
                return "funding_filter"
        return ""

    def clamps(self, context: EntryContext, pair_exposure_usd: float) -> list[Clamp]:
        """Cap the instrument's notional at its own leverage cap x the ledger's equity."""
        cap = self.risk.leverage_caps.get(context.intent.instrument_id)
        if cap is None:
            return []
        return [Clamp("symbol_leverage_cap", cap * context.equity_usd - pair_exposure_usd)]

    def stop_trigger(self) -> str:
        """Return the configured trigger (Bybit triggers perpetual stops on the mark price)."""
        return self.risk.sl_tp_trigger


class CryptoFutures(AssetClass):
    """Book crypto perpetuals and dated futures (``BTCUSDT-LINEAR.BYBIT``) into the futures ledger."""

    name: ClassVar[str] = "crypto_futures"
    wallet: ClassVar[str] = "bybit"
    periods_per_year: ClassVar[int] = 365
    risk_schema: ClassVar[type[AssetRisk]] = FuturesRisk
    policy_class: ClassVar[type[AssetPolicy]] = FuturesPolicy
    sizing_defaults: ClassVar[AssetSizing] = AssetSizing(
        risk_fraction=0.005,
        risk_fraction_min=0.0015,
        risk_fraction_max=0.005,
        base_risk_pct=0.01,
        percent_above_threshold=0.005,
    )

    def matches(self, instrument: Instrument) -> bool:
        """Return True for a crypto perpetual or a crypto future."""
        return isinstance(instrument, CryptoPerpetual | CryptoFuture)

    def check_risk(self, risk: AssetRisk, origin: str) -> None:
        """Reject a funding filter outside [0, 1%) and leverage caps outside (0, 100]."""
        assert isinstance(risk, FuturesRisk)
        if not 0.0 <= risk.liq_buffer_pct < 1.0:
            fail(origin, f"assets.{self.name}.liq_buffer_pct", risk.liq_buffer_pct, "must be in [0, 1)")
        if not 0.0 <= risk.maintenance_margin_rate < 1.0:
            fail(
                origin,
                f"assets.{self.name}.maintenance_margin_rate",
                risk.maintenance_margin_rate,
                "must be in [0, 1)",
            )
        if not 0.0 <= risk.funding_filter_rate < 0.01:
            fail(
                origin,
                f"assets.{self.name}.funding_filter_rate",
                risk.funding_filter_rate,
                "must be in [0, 0.01)",
            )
        for instrument_id, cap in risk.leverage_caps.items():
            if not 0.0 < cap <= 100.0:  # above the ledger's leverage_cap it never binds
                fail(origin, f"assets.{self.name}.leverage_caps.{instrument_id}", cap, "must be in (0, 100]")


ASSET = CryptoFutures()
