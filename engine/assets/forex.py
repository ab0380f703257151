"""Forex on IBKR IDEALPRO: the 24/5 calendar and its blackouts, the USD-leg group, lot steps.

Rules (docs/forex.md): no new entries while spot FX is closed (Friday ``rollover`` to Sunday
``rollover``, ``timezone`` local time), ``open_blackout_minutes`` after the Sunday open and
``rollover_blackout_minutes`` either side of each weekday rollover; pairs holding the USD leg in the
same direction (long EUR/USD and short USD/JPY are both short USD) share one exposure cap,
``usd_group_exposure_cap`` of the ledger's equity; sizes are floored to ``lot_step_units`` and skipped
below ``min_order_units``.
"""

from __future__ import annotations

from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nautilus_trader.model.enums import CurrencyType
from nautilus_trader.model.instruments import CurrencyPair, Instrument

from engine.assets.base import AssetClass, AssetPolicy, EntryContext
from engine.risk.calendar import FxCalendar
from engine.risk.config import AssetRisk, AssetSizing, fail
from engine.risk.fx import FxError, usd_direction
from engine.risk.ledger import InstrumentTerms
from engine.risk.sizing import Clamp, floor_to_step


class ForexRisk(AssetRisk, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Guard forex entries: the calendar, the USD-leg group and IDEALPRO lots (see the module doc)."""

    max_concurrent: int = 4
    daily_loss_cap_pct: float = 0.02
    leverage_cap: float = 5.0
    calendar: bool = True
    timezone: str = "America/New_York"
    rollover: str = "17:00"
    open_blackout_minutes: int = 60
    rollover_blackout_minutes: int = 5
    usd_leg_group: bool = True
    usd_group_exposure_cap: float = 0.15
    lot_step_units: float = 1.0
    min_order_units: float = 0.0


class ForexPolicy(AssetPolicy):
    """Hold entries while FX is closed or blacked out, cap the USD-leg group, floor to lots."""

    risk: ForexRisk

    def __init__(self, risk: AssetRisk) -> None:
        super().__init__(risk)
        assert isinstance(risk, ForexRisk)
        self._calendar = FxCalendar(
            timezone=risk.timezone,
            rollover=risk.rollover,
            open_blackout_minutes=risk.open_blackout_minutes,
            rollover_blackout_minutes=risk.rollover_blackout_minutes,
        )

    def guard(self, context: EntryContext) -> str:
        """Return ``market_closed`` or ``fx_blackout`` when a new entry must wait."""
        if not self.risk.calendar:
            return ""
        return self._calendar.entry_block(context.intent.ts_event)

    def clamps(self, context: EntryContext, pair_exposure_usd: float) -> list[Clamp]:
        """Cap the notional of the pairs that hold the USD leg in this entry's direction."""
        group = self.usd_leg_group(context)
        if not group:
            return []
        exposure = pair_exposure_usd + sum(context.ledger.instrument_exposure_usd(i) for i in group)
        room = self.risk.usd_group_exposure_cap * context.equity_usd - exposure
        return [Clamp("usd_group_cap", room, tuple(sorted(group)))]

    def usd_leg_group(self, context: EntryContext) -> set[str]:
        """Return the other pairs held or reserved with the same USD direction as the entry."""
        if not self.risk.usd_leg_group:
            return set()
        intent = context.intent
        try:
            own = usd_direction(intent.instrument_id, 1 if context.is_buy else -1)
        except FxError:
            return set()
        ledger = context.ledger
        sides: dict[str, int] = {
            key: (1 if lot.quantity > 0 else -1) for key, lot in ledger.lots.items() if lot.quantity
        }
        open_instruments = ledger.open_instruments()
        for (_, instrument_id), plan in context.book.plans.items():
            if instrument_id in open_instruments and instrument_id not in sides:
                sides[instrument_id] = 1 if plan.stop_price < plan.entry_price else -1
        reversed_lot = context.book.reversed_lot(ledger, intent)
        group = set()
        for instrument_id, sign in sides.items():
            if instrument_id in (intent.instrument_id, reversed_lot):
                continue
            try:
                if own and usd_direction(instrument_id, sign) == own:
                    group.add(instrument_id)
            except FxError:
                continue
        return group

    def round_quantity(self, quantity: float, terms: InstrumentTerms) -> float:
        """Floor a size to the lot step; below the minimum order it is 0 (skipped)."""
        step = max(self.risk.lot_step_units, terms.size_increment)
        quantity = floor_to_step(quantity, step)
        return quantity if quantity >= self.risk.min_order_units else 0.0


class Forex(AssetClass):
    """Book fiat currency pairs (``EUR/USD.IDEALPRO``) into the forex ledger."""

    name: ClassVar[str] = "forex"
    wallet: ClassVar[str] = "ibkr"
    periods_per_year: ClassVar[int] = 252
    risk_schema: ClassVar[type[AssetRisk]] = ForexRisk
    policy_class: ClassVar[type[AssetPolicy]] = ForexPolicy
    sizing_defaults: ClassVar[AssetSizing] = AssetSizing(
        risk_fraction=0.004,
        risk_fraction_min=0.001,
        risk_fraction_max=0.004,
        base_risk_pct=0.005,
        percent_above_threshold=0.0035,
    )

    def matches(self, instrument: Instrument) -> bool:
        """Return True for a currency pair with two fiat legs."""
        if not isinstance(instrument, CurrencyPair):
            return False
        crypto = CurrencyType.CRYPTO
        return crypto not in (instrument.base_currency.currency_type, instrument.quote_currency.currency_type)

    def check_risk(self, risk: AssetRisk, origin: str) -> None:
        """Reject an unknown zone, a malformed rollover, negative blackouts, caps or lot steps."""
        assert isinstance(risk, ForexRisk)
        where = f"assets.{self.name}"
        try:
            ZoneInfo(risk.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            fail(origin, f"{where}.timezone", risk.timezone, "is not an IANA time zone")
        hours, _, minutes = risk.rollover.partition(":")
        if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
            fail(origin, f"{where}.rollover", risk.rollover, "must be HH:MM")
        for name in ("open_blackout_minutes", "rollover_blackout_minutes"):
            value = getattr(risk, name)
            if not 0 <= value < 24 * 60:
                fail(origin, f"{where}.{name}", value, "must be in [0, 1440)")
        if not risk.usd_group_exposure_cap > 0.0:
            fail(origin, f"{where}.usd_group_exposure_cap", risk.usd_group_exposure_cap, "must be positive")
        if not risk.lot_step_units > 0.0:
            fail(origin, f"{where}.lot_step_units", risk.lot_step_units, "must be positive")
        if risk.min_order_units < 0.0:
            fail(origin, f"{where}.min_order_units", risk.min_order_units, "must not be negative")


ASSET = Forex()
