"""What a strategy asks of the desk and what the desk answers, and the views the desk reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from nautilus_trader.model.enums import OrderSide

from engine.journal import MarketSnapshot
from engine.risk.signals import SignalStrength

if TYPE_CHECKING:
    from engine.risk.desk import RiskDesk


@dataclass(frozen=True, slots=True)
class TradeIntent:
    """Describe an entry a strategy wants: direction, reference price, protective levels, strength.

    ``theta_per_unit`` (USD per day per contract) is required for options entries. ``session`` and
    ``regime`` (e.g. ``"EU+US"``, ``"HIGH_VOL+TREND_UP"``) describe the signal bar when the strategy
    classified it; they are journaled with the decision's inputs.
    """

    strategy_id: str
    instrument_id: str
    side: OrderSide
    entry_price: float
    stop_price: float
    take_profit_price: float
    strength: SignalStrength
    ts_event: int
    snapshot: MarketSnapshot | None = None
    theta_per_unit: float | None = None
    session: str = ""
    regime: str = ""

    @property
    def is_buy(self) -> bool:
        """Return True for a long entry."""
        return self.side == OrderSide.BUY


@dataclass(frozen=True, slots=True)
class SizingDecision:
    """Carry the desk's answer: an approved quantity, or a denial with its reason.

    ``bound_by`` names the rule that set the final size (``risk``, ``fixed_notional``, ``base_cap``,
    ``percent_cap``, ``pair_cap``, ``correlation_cap``, ``leverage_cap``, ``ledger_budget``,
    ``broker_available`` or an asset class's own clamp); ``inputs`` holds every number it used.
    """

    approved: bool
    quantity: float | None
    reason: str
    bound_by: str = ""
    inputs: dict[str, float | str | None] = field(default_factory=dict)


def denied(reason: str, inputs: dict[str, float | str | None] | None = None) -> SizingDecision:
    """Return a denial for ``reason`` with the inputs known at that point."""
    return SizingDecision(False, None, reason, "", inputs or {})


class MarketView(Protocol):
    """Give the desk current prices and recent closes (from the kernel's cache in every mode)."""

    def mark(self, instrument_id: str) -> float | None:
        """Return the latest price of ``instrument_id``, or None when none is known."""

    def closes(self, instrument_id: str, count: int) -> tuple[Sequence[int], Sequence[float]]:
        """Return up to ``count`` recent (timestamps, closes), oldest first."""

    def side_mark(self, instrument_id: str, long: bool) -> float | None:
        """Return where a long (``long``) or short position would close: bid or ask, else the mark."""


class BrokerView(Protocol):
    """Give the desk what the broker account can still carry (the live wallet hard cap)."""

    def buying_power_usd(self, instrument_id: str) -> float | None:
        """Return the notional the account can still open in ``instrument_id``, or None if unknown."""


@runtime_checkable
class RiskDeskClient(Protocol):
    """Accept a risk desk; the engine wiring binds one to every strategy and engine actor."""

    def bind_risk_desk(self, desk: RiskDesk) -> None:
        """Attach the desk that sizes and vets this component's entries (or books its payments)."""
