"""A toy fifth asset class (US equities), kept under tests/: one module plus its config entries.

It shows that a new class needs nothing but this module and its entries in the run config's
``desk.asset_classes`` and the desk files (``alloc.equity``, ``[assets.equity]``): its own guard
(no entries below ``min_price_usd``), its own lot grid (whole ``lot_shares``) and its own annualisation.
"""

from __future__ import annotations

from typing import ClassVar

from nautilus_trader.model.instruments import Equity as EquityInstrument
from nautilus_trader.model.instruments import Instrument

from engine.assets import AssetClass, AssetPolicy, EntryContext
from engine.risk.config import AssetRisk, AssetSizing, fail
from engine.risk.ledger import InstrumentTerms
from engine.risk.sizing import floor_to_step


class EquityRisk(AssetRisk, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Guard equity entries: long only, no penny stocks, whole lots."""

    max_concurrent: int = 5
    allow_short: bool = False
    min_price_usd: float = 5.0
    lot_shares: float = 1.0


class EquityPolicy(AssetPolicy):
    """Refuse entries below the minimum price; floor sizes to whole lots."""

    risk: EquityRisk

    def guard(self, context: EntryContext) -> str:
        """Deny an entry priced below ``min_price_usd`` (``below_min_price``)."""
        return "below_min_price" if context.intent.entry_price < self.risk.min_price_usd else ""

    def round_quantity(self, quantity: float, terms: InstrumentTerms) -> float:
        """Floor to whole lots of ``lot_shares``."""
        return floor_to_step(quantity, self.risk.lot_shares)


class Equities(AssetClass):
    """Book listed equities (``SPY.ARCA``) into an ``equity`` ledger funded from the IBKR wallet."""

    name: ClassVar[str] = "equity"
    wallet: ClassVar[str] = "ibkr"
    periods_per_year: ClassVar[int] = 252
    risk_schema: ClassVar[type[AssetRisk]] = EquityRisk
    policy_class: ClassVar[type[AssetPolicy]] = EquityPolicy
    sizing_defaults: ClassVar[AssetSizing] = AssetSizing(
        risk_fraction=0.005,
        risk_fraction_min=0.001,
        risk_fraction_max=0.005,
        base_risk_pct=0.01,
        percent_above_threshold=0.005,
    )

    def matches(self, instrument: Instrument) -> bool:
        """Return True for an equity."""
        return isinstance(instrument, EquityInstrument)

    def check_risk(self, risk: AssetRisk, origin: str) -> None:
        """Reject a non-positive minimum price or lot size."""
        assert isinstance(risk, EquityRisk)
        for name in ("min_price_usd", "lot_shares"):
            if not getattr(risk, name) > 0:
                fail(origin, f"assets.{self.name}.{name}", getattr(risk, name), "must be positive")


ASSET = Equities()
