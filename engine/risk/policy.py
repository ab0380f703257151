"""The hooks an asset class's rules plug into the desk: the entry context and the policy base class.

Each asset class (``engine/assets``) subclasses :class:`AssetPolicy`; the desk's guards and sizer call
its hooks with an :class:`EntryContext` and apply no asset-specific rule of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.risk.config import AssetRisk
from engine.risk.intents import TradeIntent
from engine.risk.ledger import InstrumentTerms, SubLedger
from engine.risk.sizing import Clamp

if TYPE_CHECKING:
    from engine.risk.book import LedgerBook


@dataclass(frozen=True, slots=True)
class EntryContext:
    """Everything an asset policy may read about a proposed entry.

    ``stop_fraction`` is ``|entry - stop| / entry``; ``funding_rates`` the latest settled funding rate
    per perpetual; ``book`` the desk's ledger book (lots, reservations and entry plans of every ledger).
    """

    intent: TradeIntent
    terms: InstrumentTerms
    ledger: SubLedger
    book: LedgerBook
    equity_usd: float
    stop_fraction: float
    funding_rates: Mapping[str, float] = field(default_factory=dict)

    @property
    def is_buy(self) -> bool:
        """Return True for a long entry."""
        return self.intent.is_buy


class AssetPolicy:
    """Apply one asset class's own rules to entries; the base class adds none.

    Parameters
    ----------
    risk : AssetRisk
        The class's ``[assets.<name>]`` settings from ``risk.toml`` (of the class's own schema).
    """

    def __init__(self, risk: AssetRisk) -> None:
        self.risk = risk

    def guard(self, context: EntryContext) -> str:
        """Return a denial reason for the entry, or ``""`` (checked after the common guards)."""
        return ""

    def clamps(self, context: EntryContext, pair_exposure_usd: float) -> list[Clamp]:
        """Return the class's extra notional caps (``pair_exposure_usd``: held and reserved in the pair)."""
        return []

    def round_quantity(self, quantity: float, terms: InstrumentTerms) -> float:
        """Return ``quantity`` on the class's lot grid (0 when below its minimum order); default: as is."""
        return quantity

    def stop_trigger(self) -> str:
        """Return the nautilus ``TriggerType`` name the class's stops and targets trigger on."""
        return "DEFAULT"

    def on_approved(self, intent: TradeIntent, quantity: float) -> None:
        """Remember what the class needs of an approved entry (e.g. its theta)."""
