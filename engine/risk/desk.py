"""Size and vet every proposed entry before it becomes a bracket order.

The desk sits between the strategy base class and nautilus' own RiskEngine. It is assembled by the
engine for every mode (backtest, sandbox, live) from the run config and reads equity from the
kernel's portfolio, so a sizing or guard rule that holds in a backtest holds live.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Quantity
from nautilus_trader.portfolio.portfolio import Portfolio

from engine.configs import SizingSection
from engine.equity import venue_equity
from engine.risk.signals import SignalStrength


@dataclass(frozen=True, slots=True)
class TradeIntent:
    """Describe an entry a strategy wants: direction, reference price, protective levels, strength."""

    strategy_id: str
    instrument_id: InstrumentId
    side: OrderSide
    entry_price: float
    stop_price: float
    take_profit_price: float
    strength: SignalStrength
    ts_event: int


@dataclass(frozen=True, slots=True)
class SizingDecision:
    """Carry the desk's answer: an approved quantity, or a denial with its reason.

    ``bound_by`` names the rule that set the final size (``risk``, ``fixed_notional``,
    ``pair_cap``, ``leverage_cap``) so the journal can explain every order.
    """

    approved: bool
    quantity: Quantity | None
    reason: str
    bound_by: str = ""
    inputs: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class RiskDeskClient(Protocol):
    """Accept a risk desk; the engine binds one to every strategy it assembles."""

    def bind_risk_desk(self, desk: RiskDesk) -> None:
        """Attach the desk that sizes and vets this strategy's entries."""


class RiskDesk:
    """Size entries and deny the ones that break a rule.

    Parameters
    ----------
    sizing : SizingSection
        The sizing rules of the run config.
    portfolio : Portfolio
        The kernel's portfolio (equity and exposure come from here, never from the strategy).
    cache : Cache
        The kernel's cache (instruments and accounts).
    """

    def __init__(self, sizing: SizingSection, portfolio: Portfolio, cache: Cache) -> None:
        self._sizing = sizing
        self._portfolio = portfolio
        self._cache = cache
        self.denials: Counter[str] = Counter()
        self.approvals = 0

    def evaluate(self, intent: TradeIntent) -> SizingDecision:
        """Return the quantity to trade for ``intent``, or a denial naming the rule it broke."""
        instrument = self._cache.instrument(intent.instrument_id)
        if instrument is None:
            return self._deny("unknown_instrument")
        reason = self._check_brackets(intent)
        if reason:
            return self._deny(reason)
        equity = venue_equity(self._cache, self._portfolio, instrument.id.venue) or 0.0
        if equity <= 0.0:
            return self._deny("no_equity")
        decision = self._size(intent, instrument, equity)
        if decision.approved:
            self.approvals += 1
        else:
            self.denials[decision.reason] += 1
        return decision

    def _deny(self, reason: str) -> SizingDecision:
        self.denials[reason] += 1
        return SizingDecision(approved=False, quantity=None, reason=reason)

    def _check_brackets(self, intent: TradeIntent) -> str:
        entry, stop, target = intent.entry_price, intent.stop_price, intent.take_profit_price
        if not all(math.isfinite(x) and x > 0.0 for x in (entry, stop, target)):
            return "missing_sl_or_tp"
        is_buy = intent.side == OrderSide.BUY
        if (is_buy and not stop < entry < target) or (not is_buy and not target < entry < stop):
            return "sl_tp_wrong_side"
        if abs(entry - stop) / entry > self._sizing.max_sl_pct:
            return "sl_too_wide"
        return ""

    def _size(self, intent: TradeIntent, instrument: Instrument, equity: float) -> SizingDecision:
        sizing = self._sizing
        entry = intent.entry_price
        stop_distance = abs(entry - intent.stop_price)
        units_per_account_ccy = self._units_per_account_currency(instrument, entry)
        weight = intent.strength.value
        if sizing.mode == "fixed_notional" or equity < sizing.fixed_until_equity:
            qty = sizing.fixed_notional * units_per_account_ccy
            bound_by = "fixed_notional"
        else:
            risk_budget = equity * sizing.risk_fraction * weight
            qty = risk_budget / (stop_distance * self._account_value_per_price_unit(instrument, entry))
            bound_by = "risk"
        pair_cap = equity * sizing.max_position_fraction * units_per_account_ccy
        if qty > pair_cap:
            qty, bound_by = pair_cap, "pair_cap"
        open_units = abs(float(self._portfolio.net_position(instrument.id)))
        leverage_room = equity * sizing.max_leverage * units_per_account_ccy - open_units
        if qty > leverage_room:
            qty, bound_by = max(leverage_room, 0.0), "leverage_cap"
        step = float(instrument.size_increment)
        stepped = math.floor(qty / step + 1e-9) * step
        inputs = {
            "equity": equity,
            "entry": entry,
            "stop": intent.stop_price,
            "weight": weight,
            "raw_qty": qty,
            "qty": stepped,
        }
        quantity = instrument.make_qty(Decimal(repr(stepped))) if stepped > 0 else None
        if quantity is None or not self._meets_venue_minimums(instrument, quantity, entry):
            return SizingDecision(False, None, "below_venue_minimum", bound_by, inputs)
        return SizingDecision(True, quantity, "ok", bound_by, inputs)

    @staticmethod
    def _units_per_account_currency(instrument: Instrument, price: float) -> float:
        """Convert one unit of account currency into instrument units (quote-priced instruments)."""
        base = getattr(instrument, "base_currency", None)
        if base is not None and base.code in ("USD", "USDT", "USDC"):
            return 1.0  # e.g. USD/JPY: one unit of base is one dollar
        return 1.0 / (price * float(instrument.multiplier))

    @staticmethod
    def _account_value_per_price_unit(instrument: Instrument, price: float) -> float:
        """Return the account-currency value of a one-point move on one instrument unit."""
        base = getattr(instrument, "base_currency", None)
        multiplier = float(instrument.multiplier)
        if base is not None and base.code in ("USD", "USDT", "USDC"):
            return multiplier / price  # quote-currency P&L converted back at the entry rate
        return multiplier

    @staticmethod
    def _meets_venue_minimums(instrument: Instrument, quantity: Quantity, price: float) -> bool:
        if instrument.min_quantity is not None and quantity < instrument.min_quantity:
            return False
        if instrument.min_notional is not None:
            notional = float(quantity) * price * float(instrument.multiplier)
            if notional < instrument.min_notional.as_double():
                return False
        return True
