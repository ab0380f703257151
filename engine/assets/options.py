"""Options on IBKR: long premium only, a premium cap per trade and a net theta cap (docs/options.md)."""

from __future__ import annotations

from typing import ClassVar

from nautilus_trader.model.instruments import CryptoOption, Instrument, OptionContract, OptionSpread

from engine.assets.base import AssetClass, AssetPolicy, EntryContext
from engine.risk.config import AssetRisk, AssetSizing, fail
from engine.risk.intents import TradeIntent
from engine.risk.sizing import Clamp


class OptionsRisk(AssetRisk, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Guard option entries: at most ``max_premium_per_trade_usd`` of premium per entry, and a net
    theta (USD per day, held lots plus unfilled entries) of at most ``theta_cap_usd_per_day``; an
    entry whose theta is unknown is denied while the theta cap is on (None turns a cap off).
    """

    max_concurrent: int = 3
    daily_loss_cap_pct: float = 0.02
    leverage_cap: float = 1.0
    allow_short: bool = False
    max_premium_per_trade_usd: float | None = 50.0
    theta_cap_usd_per_day: float | None = 20.0


class OptionsPolicy(AssetPolicy):
    """Apply the premium cap and the theta cap; remember each approved entry's theta."""

    risk: OptionsRisk

    def __init__(self, risk: AssetRisk) -> None:
        super().__init__(risk)
        self._theta: dict[str, float] = {}

    def guard(self, context: EntryContext) -> str:
        """Deny an entry without a theta while the theta cap is on (``theta_unknown``)."""
        if self.risk.theta_cap_usd_per_day is not None and context.intent.theta_per_unit is None:
            return "theta_unknown"
        return ""

    def clamps(self, context: EntryContext, pair_exposure_usd: float) -> list[Clamp]:
        """Cap the premium of the entry and the ledger's net theta per day."""
        risk = self.risk
        clamps = []
        if risk.max_premium_per_trade_usd is not None:
            clamps.append(Clamp("premium_cap", risk.max_premium_per_trade_usd))
        theta = context.intent.theta_per_unit
        if risk.theta_cap_usd_per_day is not None and theta:
            room = risk.theta_cap_usd_per_day - self.net_theta(context)
            usd_per_unit = context.terms.usd_per_unit(context.intent.entry_price)
            clamps.append(Clamp("theta_cap", room / abs(theta) * usd_per_unit))
        return clamps

    def net_theta(self, context: EntryContext) -> float:
        """Return the ledger's daily theta: open lots plus approved entries not yet filled."""
        ledger = context.ledger
        held = sum(abs(lot.quantity * self._theta.get(key, 0.0)) for key, lot in ledger.lots.items())
        pending = sum(
            abs(quantity * self._theta.get(instrument_id, 0.0))
            for (_, instrument_id), quantity in context.book.unfilled.items()
            if context.book.asset_of(instrument_id) == ledger.asset
        )
        return held + pending

    def on_approved(self, intent: TradeIntent, quantity: float) -> None:
        """Remember the contract's theta per unit for the theta cap."""
        if intent.theta_per_unit is not None:
            self._theta[intent.instrument_id] = intent.theta_per_unit


class Options(AssetClass):
    """Book option contracts and spreads into the options ledger."""

    name: ClassVar[str] = "options"
    wallet: ClassVar[str] = "ibkr"
    periods_per_year: ClassVar[int] = 252
    risk_schema: ClassVar[type[AssetRisk]] = OptionsRisk
    policy_class: ClassVar[type[AssetPolicy]] = OptionsPolicy
    sizing_defaults: ClassVar[AssetSizing] = AssetSizing(
        risk_fraction=0.01,
        risk_fraction_min=0.0025,
        risk_fraction_max=0.01,
        base_risk_pct=0.01,
        percent_above_threshold=0.005,
    )

    def matches(self, instrument: Instrument) -> bool:
        """Return True for an option contract, an option spread or a crypto option."""
        return isinstance(instrument, OptionContract | OptionSpread | CryptoOption)

    def check_risk(self, risk: AssetRisk, origin: str) -> None:
        """Reject non-positive premium or theta caps."""
        assert isinstance(risk, OptionsRisk)
        for name in ("max_premium_per_trade_usd", "theta_cap_usd_per_day"):
            value = getattr(risk, name)
            if value is not None and not value > 0:
                fail(origin, f"assets.{self.name}.{name}", value, "must be positive (or absent: no cap)")


ASSET = Options()
