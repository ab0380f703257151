"""Size and vet every proposed entry, keep the sub-ledgers, and hold the kill switch.

The desk sits between the strategy base class and nautilus' own RiskEngine. It is plain Python over
plain numbers: market prices come through a :class:`MarketView`, broker balances through a
:class:`BrokerView`, fills through :meth:`RiskDesk.on_fill`. The engine wires it to a nautilus kernel
(:mod:`engine.risk.bridge`) in every mode, so a rule that holds in a backtest holds live; property
tests drive it directly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from nautilus_trader.model.enums import OrderSide

from engine.journal import FillRecord, Journal, MarketSnapshot
from engine.risk.calendar import FxCalendar
from engine.risk.config import ASSET_CLASSES, AssetClass, DeskConfig, DeskConfigError, Mode
from engine.risk.fx import FxError, usd_direction
from engine.risk.ledger import ClosedTrade, EntryPlan, InstrumentTerms, SubLedger
from engine.risk.signals import SignalStrength
from engine.risk.sizing import (
    Clamp,
    apply_clamps,
    floor_to_step,
    ladder_multiplier,
    notional_cap_usd,
    throttled_risk_fraction,
)

NANOS_PER_SECOND = 1_000_000_000
WALLET_OF_ASSET: dict[str, str] = {
    "crypto_spot": "bybit",
    "crypto_futures": "bybit",
    "forex": "ibkr",
    "options": "ibkr",
}
KILL_STATE_KEY = "kill_switch"


class DeskError(RuntimeError):
    """Raise when an operator call cannot be honoured (the message says why)."""


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


@dataclass(frozen=True, slots=True)
class SizingDecision:
    """Carry the desk's answer: an approved quantity, or a denial with its reason.

    ``bound_by`` names the rule that set the final size (``risk``, ``fixed_notional``, ``base_cap``,
    ``percent_cap``, ``pair_cap``, ``correlation_cap``, ``leverage_cap``, ``ledger_budget``,
    ``broker_available``, ``premium_cap``, ``theta_cap``); ``inputs`` holds every number it used.
    """

    approved: bool
    quantity: float | None
    reason: str
    bound_by: str = ""
    inputs: dict[str, float | str | None] = field(default_factory=dict)


@runtime_checkable
class RiskDeskClient(Protocol):
    """Accept a risk desk; the engine binds one to every strategy it assembles."""

    def bind_risk_desk(self, desk: RiskDesk) -> None:
        """Attach the desk that sizes and vets this strategy's entries."""


CloseOnlyListener = Callable[[AssetClass | None, bool, bool], None]


class RiskDesk:
    """Size entries, deny the ones that break a rule, keep the sub-ledgers and the kill switch.

    Parameters
    ----------
    config : DeskConfig
        Budgets, guards and sizing.
    mode : str
        ``backtest``, ``paper`` or ``live``: paper ledgers start at the paper bankroll and top up;
        the auto kill switch counts losses only in the modes its config lists.
    market : MarketView
        Current prices and recent closes.
    broker : BrokerView
        The broker account's buying power (None answers are tolerated outside live mode).
    journal : Journal, optional
        Where every signal, decision, fill, close, epoch and operator action is written; its desk
        state also persists the kill switch across restarts.
    wallet_usd : mapping, optional
        Wallet totals by wallet (``bybit``, ``ibkr``) for percent allocations.
    """

    def __init__(
        self,
        config: DeskConfig,
        *,
        mode: Mode,
        market: MarketView,
        broker: BrokerView,
        journal: Journal | None = None,
        wallet_usd: Mapping[str, float] | None = None,
    ) -> None:
        self.config = config
        self.mode: Mode = mode
        self._market = market
        self._broker = broker
        self.journal = journal
        self._terms: dict[str, InstrumentTerms] = {}
        self._plans: dict[tuple[str, str], EntryPlan] = {}
        self._unfilled: dict[tuple[str, str], float] = {}
        self._theta: dict[str, float] = {}
        self._listeners: list[CloseOnlyListener] = []
        self.denials: Counter[str] = Counter()
        self.approvals = 0
        self.refused_fills = 0
        self.duplicate_fills = 0
        self.close_only_all = False
        self.close_only_assets: set[str] = set()
        self.funding_rates: dict[str, float] = {}
        self.ledgers: dict[AssetClass, SubLedger] = {
            asset: SubLedger(
                asset=asset,
                allocation_usd=self._initial_allocation(asset, wallet_usd),
                leverage_cap=config.asset_risk(asset).leverage_cap,
                profit_rollover=config.budgets.profit_rollover,
            )
            for asset in ASSET_CLASSES
        }
        forex = config.risk.forex
        self._fx_calendar = FxCalendar(
            timezone=forex.timezone,
            rollover=forex.rollover,
            open_blackout_minutes=forex.open_blackout_minutes,
            rollover_blackout_minutes=forex.rollover_blackout_minutes,
        )
        self._restore_kill_switch()

    # -- wiring --------------------------------------------------------------------------------

    def register_instrument(self, terms: InstrumentTerms) -> None:
        """Make an instrument tradable through the desk (its asset class picks the ledger)."""
        self._terms[terms.instrument_id] = terms

    def terms(self, instrument_id: str) -> InstrumentTerms | None:
        """Return the registered terms of ``instrument_id``."""
        return self._terms.get(instrument_id)

    def add_close_only_listener(self, listener: CloseOnlyListener) -> None:
        """Call ``listener(asset or None, close_only, close_profitable)`` on every kill or resume."""
        self._listeners.append(listener)

    def ledger_for(self, instrument_id: str) -> SubLedger | None:
        """Return the ledger that books ``instrument_id``."""
        terms = self._terms.get(instrument_id)
        return self.ledgers[terms.asset] if terms is not None else None

    def is_close_only(self, asset: str) -> bool:
        """Return True when ``asset`` takes no new entries (its own or the global kill switch)."""
        return self.close_only_all or asset in self.close_only_assets

    # -- entries -------------------------------------------------------------------------------

    def evaluate(self, intent: TradeIntent) -> SizingDecision:
        """Return the quantity to trade for ``intent``, or a denial naming the rule it broke.

        Every call is journaled: the signal, its market snapshot and the decision with its inputs.
        """
        terms = self._terms.get(intent.instrument_id)
        if terms is None:
            return self._finish(intent, None, -1, self._denied("unknown_instrument"))
        ledger = self.ledgers[terms.asset]
        equity = ledger.observe(intent.ts_event, self._marks(ledger))
        signal_id = self._record_signal(intent, terms.asset)
        reason = self._guard(intent, terms, ledger, equity)
        reason = reason or self._fx_block(intent, terms)
        if reason:
            return self._finish(intent, terms, signal_id, self._denied(reason, {"equity_usd": equity}))
        decision = self._size(intent, terms, ledger, equity)
        if decision.approved and decision.quantity is not None:
            notional = decision.quantity * terms.usd_per_unit(intent.entry_price)
            ledger.reserve(intent.strategy_id, intent.instrument_id, notional)
            key = (intent.strategy_id, intent.instrument_id)
            self._plans[key] = EntryPlan(
                strategy_id=intent.strategy_id,
                stop_price=intent.stop_price,
                take_profit_price=intent.take_profit_price,
                planned_risk_usd=abs(intent.entry_price - intent.stop_price)
                * decision.quantity
                * terms.usd_per_point(intent.entry_price),
                quantity=decision.quantity,
                entry_price=intent.entry_price,
            )
            self._unfilled[key] = decision.quantity
            if intent.theta_per_unit is not None:
                self._theta[intent.instrument_id] = intent.theta_per_unit
        return self._finish(intent, terms, signal_id, decision)

    def deny(
        self, intent: TradeIntent, reason: str, inputs: dict[str, float | str | None] | None = None
    ) -> SizingDecision:
        """Deny ``intent`` for a reason found outside the desk (e.g. ``session_not_allowed``).

        The signal and the denial are journaled and counted in :attr:`denials` exactly as the desk's
        own guard denials are.
        """
        terms = self._terms.get(intent.instrument_id)
        if terms is None:
            return self._finish(intent, None, -1, self._denied(reason, inputs))
        signal_id = self._record_signal(intent, terms.asset)
        return self._finish(intent, terms, signal_id, self._denied(reason, inputs))

    def release(self, strategy_id: str, instrument_id: str) -> None:
        """Free the budget reserved for an entry that ended without (further) fills."""
        ledger = self.ledger_for(instrument_id)
        if ledger is not None:
            ledger.release(strategy_id, instrument_id)
        self._plans.pop((strategy_id, instrument_id), None)
        self._unfilled.pop((strategy_id, instrument_id), None)

    def _guard(self, intent: TradeIntent, terms: InstrumentTerms, ledger: SubLedger, equity: float) -> str:
        asset = terms.asset
        rails = self.config.asset_risk(asset)
        if self.is_close_only(asset):
            return "close_only"
        entry, stop, target = intent.entry_price, intent.stop_price, intent.take_profit_price
        if not all(math.isfinite(x) and x > 0.0 for x in (entry, stop, target)):
            return "missing_sl_or_tp"
        is_buy = intent.side == OrderSide.BUY
        if (is_buy and not stop < entry < target) or (not is_buy and not target < entry < stop):
            return "sl_tp_wrong_side"
        stop_fraction = abs(entry - stop) / entry
        if stop_fraction > rails.max_sl_pct:
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
        if rails.liq_buffer_pct > 0:
            mmr = terms.maintenance_margin_rate
            mmr = rails.maintenance_margin_rate if mmr is None else mmr
            liquidation = liquidation_price(entry, rails.leverage_cap, mmr, is_long=is_buy)
            liquidation_distance = abs(entry - liquidation) / entry
            if stop_fraction > (1.0 - rails.liq_buffer_pct) * liquidation_distance:
                return "liq_buffer"
        filter_rate = self.config.risk.perps.funding_filter_rate
        if filter_rate > 0 and intent.instrument_id in self.funding_rates:
            against = self.funding_rates[intent.instrument_id] * (1.0 if is_buy else -1.0)
            if against > filter_rate:
                return "funding_filter"
        if asset == "options" and rails.theta_cap_usd_per_day is not None and intent.theta_per_unit is None:
            return "theta_unknown"
        if equity <= 0.0 or ledger.free_usd(self._reversed(ledger, intent)) <= 0.0:
            return "no_budget"
        return ""

    def _size(
        self, intent: TradeIntent, terms: InstrumentTerms, ledger: SubLedger, equity: float
    ) -> SizingDecision:
        config = self.config
        sizing = config.sizing
        asset = terms.asset
        rails = config.asset_risk(asset)
        numbers = config.asset_sizing(asset)
        entry = intent.entry_price
        stop_distance = abs(entry - intent.stop_price)
        usd_per_unit = terms.usd_per_unit(entry)
        weight = intent.strength.value
        rolling = ledger.rolling_pnl_usd(intent.ts_event, sizing.ladder.window_days)
        multiplier = (
            ladder_multiplier(
                rolling, sizing.ladder.rungs, sizing.ladder.min_multiplier, sizing.ladder.max_multiplier
            )
            if sizing.ladder.enabled
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
        exclude = self._reversed(ledger, intent)
        pair_exposure = ledger.instrument_exposure_usd(intent.instrument_id, include_lot=exclude is None)
        clamps = [Clamp("pair_cap", sizing.pair_cap_fraction * equity - pair_exposure)]
        group = self._correlated_group(ledger, intent.instrument_id, exclude)
        if group:
            group_exposure = pair_exposure + sum(ledger.instrument_exposure_usd(i) for i in group)
            clamps.append(
                Clamp("correlation_cap", config.risk.correlation.group_exposure_cap * equity - group_exposure)
            )
        usd_group = self._usd_leg_group(ledger, intent, terms, exclude)
        if usd_group:
            usd_exposure = pair_exposure + sum(ledger.instrument_exposure_usd(i) for i in usd_group)
            cap = config.risk.forex.usd_group_exposure_cap
            clamps.append(Clamp("usd_group_cap", cap * equity - usd_exposure))
        clamps.append(Clamp("leverage_cap", rails.leverage_cap * equity - ledger.exposure_usd(exclude)))
        symbol_cap = config.risk.perps.leverage_caps.get(intent.instrument_id)
        if symbol_cap is not None:
            clamps.append(Clamp("symbol_leverage_cap", symbol_cap * equity - pair_exposure))
        clamps.append(Clamp("ledger_budget", self._spendable(ledger, terms, intent, exclude)))
        buying_power = self._broker.buying_power_usd(intent.instrument_id)
        if config.budgets.enforce_wallet_available:
            if buying_power is None and self.mode == "live":
                return self._denied("no_broker_balance", {"equity_usd": equity})
            if buying_power is not None:
                clamps.append(Clamp("broker_available", buying_power))
        if rails.max_premium_per_trade_usd is not None and asset == "options":
            clamps.append(Clamp("premium_cap", rails.max_premium_per_trade_usd))
        if asset == "options" and rails.theta_cap_usd_per_day is not None and intent.theta_per_unit:
            room = rails.theta_cap_usd_per_day - self._net_theta(ledger)
            clamps.append(Clamp("theta_cap", room / abs(intent.theta_per_unit) * usd_per_unit))
        notional, bound_by = apply_clamps(notional, bound_by, clamps)
        quantity = floor_to_step(notional / usd_per_unit, terms.size_increment)
        if asset == "forex":
            quantity = self._fx_lot(quantity, terms)
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
            "usd_group": ",".join(sorted(usd_group)) if usd_group else "",
        }
        notional_after = quantity * usd_per_unit
        if quantity <= 0 or quantity < terms.min_quantity or notional_after < terms.min_notional_usd:
            return SizingDecision(False, None, "below_venue_minimum", bound_by, inputs)
        return SizingDecision(True, quantity, "ok", bound_by, inputs)

    @staticmethod
    def _spendable(
        ledger: SubLedger, terms: InstrumentTerms, intent: TradeIntent, exclude: str | None
    ) -> float:
        """Return the notional the free budget can carry, its entry fee included.

        A reversal frees its lot's margin but first realises that lot's loss (and its exit fee);
        both come out of the budget before the new side is sized.
        """
        free = ledger.free_usd(exclude)
        if exclude is not None:
            lot = ledger.lots[exclude]
            free += min(lot.unrealised_usd(intent.entry_price), 0.0)
            free -= lot.notional_usd() * terms.fee_per_notional(intent.entry_price)
        per_notional = 1.0 / ledger.leverage_cap + terms.fee_per_notional(intent.entry_price)
        return free / per_notional

    def _reversed(self, ledger: SubLedger, intent: TradeIntent) -> str | None:
        """Return the instrument whose opposite lot this entry reverses (it is being closed), if any."""
        lot = ledger.lots.get(intent.instrument_id)
        sign = 1 if intent.side == OrderSide.BUY else -1
        if lot is not None and lot.quantity * sign < 0:
            return intent.instrument_id
        return None

    def _net_theta(self, ledger: SubLedger) -> float:
        """Return the ledger's daily theta: open lots plus approved entries not yet filled."""
        held = sum(abs(lot.quantity * self._theta.get(key, 0.0)) for key, lot in ledger.lots.items())
        pending = sum(
            abs(quantity * self._theta.get(instrument_id, 0.0))
            for (_, instrument_id), quantity in self._unfilled.items()
            if instrument_id in self._terms and self._terms[instrument_id].asset == ledger.asset
        )
        return held + pending

    def _correlated_group(self, ledger: SubLedger, instrument_id: str, exclude: str | None) -> set[str]:
        settings = self.config.risk.correlation
        if not settings.enabled:
            return set()
        others = ledger.open_instruments() - {instrument_id}
        if not others:
            return set()
        own = self._returns(instrument_id, settings.window_bars)
        group = set()
        for other in sorted(others):
            correlation = _aligned_correlation(
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

    # -- forex ---------------------------------------------------------------------------------

    def _fx_block(self, intent: TradeIntent, terms: InstrumentTerms) -> str:
        """Return ``market_closed`` or ``fx_blackout`` when a forex entry must wait, else ``""``."""
        if terms.asset != "forex" or not self.config.risk.forex.calendar:
            return ""
        return self._fx_calendar.entry_block(intent.ts_event)

    def _fx_lot(self, quantity: float, terms: InstrumentTerms) -> float:
        """Floor a forex size to the configured lot step; below the minimum order it is 0 (skipped)."""
        forex = self.config.risk.forex
        step = max(forex.lot_step_units, terms.size_increment)
        quantity = floor_to_step(quantity, step)
        return quantity if quantity >= forex.min_order_units else 0.0

    def _usd_leg_group(
        self, ledger: SubLedger, intent: TradeIntent, terms: InstrumentTerms, exclude: str | None
    ) -> set[str]:
        """Return the other forex instruments held or reserved with the same USD direction as ``intent``.

        Long EUR/USD and short USD/JPY are both short USD: one exposure group under
        ``forex.usd_group_exposure_cap``.
        """
        if terms.asset != "forex" or not self.config.risk.forex.usd_leg_group:
            return set()
        try:
            own = usd_direction(intent.instrument_id, 1 if intent.side == OrderSide.BUY else -1)
        except FxError:
            return set()
        sides: dict[str, int] = {
            key: (1 if lot.quantity > 0 else -1) for key, lot in ledger.lots.items() if lot.quantity
        }
        open_instruments = ledger.open_instruments()
        for (_, instrument_id), plan in self._plans.items():
            if instrument_id in open_instruments and instrument_id not in sides:
                sides[instrument_id] = 1 if plan.stop_price < plan.entry_price else -1
        group = set()
        for instrument_id, sign in sides.items():
            if instrument_id in (intent.instrument_id, exclude):
                continue
            try:
                if own and usd_direction(instrument_id, sign) == own:
                    group.add(instrument_id)
            except FxError:
                continue
        return group

    def _side_mark(self, ledger: SubLedger, instrument_id: str) -> float | None:
        """Mark a lot where it would close (long at the bid, short at the ask) when the market can."""
        return self._market.side_mark(instrument_id, ledger.lots[instrument_id].quantity > 0)

    # -- fills and closes ----------------------------------------------------------------------

    def on_fill(self, fill: FillRecord) -> ClosedTrade | None:
        """Book a fill into its ledger once; return the round trip it closes, if any.

        A fill already journaled (same venue and trade id) is ignored, so a replay never counts
        twice. Closing fills raise risk events (per-trade breach, daily-loss breach), may trip the
        auto kill switch, and in paper mode top up an exhausted ledger into a new epoch.
        """
        terms = self._terms.get(fill.instrument_id)
        if terms is None:
            return None
        if self.journal is not None and not self.journal.record_fill(fill, terms.asset):
            self.duplicate_fills += 1
            return None
        ledger = self.ledgers[terms.asset]
        key = (fill.strategy_id, fill.instrument_id)
        plan = self._plans.get(key) if fill.order_tag == "ENTRY" else None
        if plan is not None:
            remaining = self._unfilled.get(key, 0.0) - fill.quantity
            if remaining > terms.size_increment / 2:
                self._unfilled[key] = remaining
                ledger.reserve(*key, remaining * terms.usd_per_unit(plan.entry_price))
            else:  # the whole entry is in: nothing stays reserved, whatever the fill price was
                ledger.release(*key)
                self._plans.pop(key, None)
                self._unfilled.pop(key, None)
        side_sign = 1 if fill.side == "BUY" else -1
        was_within_cap = self._within_daily_cap(ledger)
        closed = ledger.apply_fill(
            terms,
            ts_ns=fill.ts,
            side_sign=side_sign,
            quantity=fill.quantity,
            price=fill.price,
            fee_usd=fill.commission_usd,
            strategy_id=fill.strategy_id,
            plan=plan,
        )
        equity = ledger.observe(fill.ts, self._marks(ledger, {fill.instrument_id: fill.price}))
        if closed is not None:
            self._after_close(ledger, closed, fill)
        if was_within_cap and not self._within_daily_cap(ledger):
            self._risk_event(ledger, fill.ts, "daily_loss_cap")
        if self.mode == "paper":
            self._maybe_topup(ledger, fill.ts, equity)
        return closed

    def set_funding_rate(self, instrument_id: str, rate: float) -> None:
        """Set the latest settled funding rate of a perpetual (the ``funding_filter`` reads it)."""
        self.funding_rates[instrument_id] = rate

    def sl_tp_trigger(self, instrument_id: str) -> str:
        """Return the nautilus ``TriggerType`` name for this instrument's SL/TP (perps: configured)."""
        terms = self._terms.get(instrument_id)
        if terms is not None and terms.asset == "crypto_futures":
            return self.config.risk.perps.sl_tp_trigger
        return "DEFAULT"

    def record_funding(self, instrument_id: str, amount_usd: float, ts_ns: int) -> None:
        """Book a funding payment of an open perpetual into its ledger."""
        ledger = self.ledger_for(instrument_id)
        if ledger is None:
            raise DeskError(f"funding for unregistered instrument {instrument_id}")
        ledger.apply_funding(ts_ns, amount_usd)

    def _within_daily_cap(self, ledger: SubLedger) -> bool:
        cap = self.config.asset_risk(ledger.asset).daily_loss_cap_pct * ledger.day_start_equity_usd
        return ledger.day_realised_usd > -cap

    def _after_close(self, ledger: SubLedger, closed: ClosedTrade, fill: FillRecord) -> None:
        if self.journal is not None:
            self.journal.record_close(
                ts=closed.ts_close,
                asset=closed.asset,
                strategy_id=closed.strategy_id,
                instrument_id=closed.instrument_id,
                side=closed.side,
                quantity=closed.quantity,
                entry_price=closed.entry_price,
                exit_price=closed.exit_price,
                gross_pnl_usd=closed.gross_usd,
                fees_usd=closed.fees_usd,
                net_pnl_usd=closed.net_usd,
                reward_points=closed.reward_points,
                exit_reason=fill.order_tag or "UNKNOWN",
                epoch=closed.epoch,
                snapshot_id=fill.snapshot_id,
            )
        breach = self.config.risk.per_trade_breach_multiple * closed.planned_risk_usd
        if math.isfinite(breach) and closed.gross_usd < -breach:
            self._risk_event(ledger, closed.ts_close, "per_trade_breach")
        kill = self.config.risk.kill_switch
        if (
            self.mode in kill.modes
            and ledger.consecutive_losses >= kill.consecutive_losses
            and not self.is_close_only(ledger.asset)
        ):
            self.kill(
                ledger.asset,
                operator="auto",
                reason=f"{ledger.consecutive_losses} consecutive losing trades",
                ts_ns=closed.ts_close,
                close_profitable=kill.close_profitable_on_trip,
            )

    def _risk_event(self, ledger: SubLedger, ts_ns: int, kind: str) -> None:
        ledger.cooldown_until_ns = max(
            ledger.cooldown_until_ns, ts_ns + self.config.risk.cooldown_seconds * NANOS_PER_SECOND
        )
        if self.journal is not None:
            self.journal.record_operator_action(
                ts=ts_ns,
                operator="risk",
                action=f"risk_event:{kind}",
                asset=ledger.asset,
                detail={"cooldown_until_ns": ledger.cooldown_until_ns},
            )

    def _maybe_topup(self, ledger: SubLedger, ts_ns: int, equity: float) -> None:
        paper = self.config.budgets.paper
        if equity > paper.auto_topup_threshold_usd:
            return
        ledger.topup(paper.auto_topup_amount_usd)
        if self.journal is not None:
            self.journal.record_epoch(
                ts=ts_ns,
                asset=ledger.asset,
                epoch=ledger.epoch,
                topup_usd=paper.auto_topup_amount_usd,
                equity_before_usd=equity,
                reason=f"paper equity {equity:.2f} <= {paper.auto_topup_threshold_usd:.2f}",
            )

    # -- operator calls ------------------------------------------------------------------------

    def kill(
        self,
        asset: AssetClass | None,
        *,
        operator: str,
        reason: str,
        ts_ns: int,
        close_profitable: bool = False,
    ) -> None:
        """Put one asset (or all, with None) into close-only; persisted until :meth:`resume`.

        No new entries pass the desk; protective orders stay working; with ``close_profitable``
        the strategies close their positions that are in profit.
        """
        if asset is None:
            self.close_only_all = True
        else:
            self.close_only_assets.add(asset)
        for ledger in self.ledgers.values() if asset is None else [self.ledgers[asset]]:
            self._risk_event(ledger, ts_ns, "kill_switch")
        self._persist_kill_switch(ts_ns)
        self._audit(ts_ns, operator, "kill", asset, {"reason": reason, "close_profitable": close_profitable})
        for listener in self._listeners:
            listener(asset, True, close_profitable)

    def resume(self, asset: AssetClass | None, *, operator: str, ts_ns: int) -> None:
        """Lift close-only for one asset (or the global switch with None); an explicit operator call."""
        if asset is None:
            self.close_only_all = False
        else:
            self.close_only_assets.discard(asset)
            self.ledgers[asset].consecutive_losses = 0
        self._persist_kill_switch(ts_ns)
        self._audit(ts_ns, operator, "resume", asset, {})
        for listener in self._listeners:
            listener(asset, False, False)

    def reallocate(self, asset: AssetClass, delta_usd: float, *, operator: str, ts_ns: int) -> None:
        """Move ``asset``'s allocation by a whole number of reallocation steps ($100 by default).

        Raises
        ------
        DeskError
            If the amount is not a whole number of steps, or would make the allocation negative or
            the ledger's free budget negative.
        """
        step = self.config.budgets.reallocation_step_usd
        steps = delta_usd / step
        if delta_usd == 0 or abs(steps - round(steps)) > 1e-9:
            raise DeskError(
                f"reallocation of {asset} by {delta_usd!r} USD: must be a non-zero multiple of {step}"
            )
        ledger = self.ledgers[asset]
        if ledger.allocation_usd + delta_usd < 0 or ledger.free_usd() + delta_usd < 0:
            raise DeskError(
                f"reallocation of {asset} by {delta_usd!r} USD would leave allocation "
                f"{ledger.allocation_usd + delta_usd:.2f} and free budget {ledger.free_usd() + delta_usd:.2f}"
            )
        ledger.reallocate(delta_usd)
        self._audit(
            ts_ns,
            operator,
            "reallocate",
            asset,
            {"delta_usd": delta_usd, "allocation": ledger.allocation_usd},
        )

    def _persist_kill_switch(self, ts_ns: int) -> None:
        if self.journal is not None:
            self.journal.set_state(
                KILL_STATE_KEY,
                {"all": self.close_only_all, "assets": sorted(self.close_only_assets), "ts": ts_ns},
            )

    def _restore_kill_switch(self) -> None:
        if self.journal is None:
            return
        state = self.journal.get_state(KILL_STATE_KEY)
        if not state:
            return
        self.close_only_all = bool(state.get("all", False))
        assets = state.get("assets", [])
        self.close_only_assets = {str(a) for a in assets} if isinstance(assets, list) else set()

    def _audit(
        self, ts_ns: int, operator: str, action: str, asset: str | None, detail: Mapping[str, object]
    ) -> None:
        if self.journal is not None:
            self.journal.record_operator_action(
                ts=ts_ns,
                operator=operator,
                action=action,
                asset=asset or "",
                detail={"scope": asset or "all", **detail},
            )

    # -- reporting -----------------------------------------------------------------------------

    def ledger_summary(self) -> dict[str, dict[str, float | int]]:
        """Return each ledger's start and end equity, peak, max drawdown, epochs and reward points."""
        summary: dict[str, dict[str, float | int]] = {}
        for asset, ledger in self.ledgers.items():
            end_equity = ledger.equity_usd(self._marks(ledger))
            summary[asset] = {
                "allocation": round(ledger.allocation_usd, 8),
                "start_equity": round(ledger.start_equity_usd, 8),
                "end_equity": round(end_equity, 8),
                "peak": round(max(ledger.peak_equity_usd, end_equity), 8),
                "max_drawdown": round(ledger.max_drawdown, 8),
                "epochs": ledger.epoch,
                "topups": round(ledger.topups_usd, 8),
                "reward_points": round(ledger.reward_points, 8),
                "trades": ledger.trades,
                "fees": round(ledger.fees_usd, 8),
                "skimmed": round(ledger.skimmed_usd, 8),
            }
        return summary

    # -- helpers -------------------------------------------------------------------------------

    def _initial_allocation(self, asset: AssetClass, wallet_usd: Mapping[str, float] | None) -> float:
        budgets = self.config.budgets
        if self.mode == "paper":
            return budgets.paper.start_equity_usd
        value: float = getattr(budgets.alloc, asset)
        if budgets.alloc_mode == "absolute":
            return value
        wallet = WALLET_OF_ASSET[asset]
        if wallet_usd is None or wallet not in wallet_usd:
            if value == 0.0:
                return 0.0
            raise DeskConfigError(
                f"{self.config.origin}: alloc.{asset} = {value!r}: "
                f"percent allocation needs the {wallet} wallet total"
            )
        return value * wallet_usd[wallet]

    def _marks(self, ledger: SubLedger, extra: Mapping[str, float] | None = None) -> dict[str, float]:
        marks: dict[str, float] = dict(extra) if extra else {}
        for instrument_id in ledger.lots:
            if instrument_id not in marks:
                mark = self._side_mark(ledger, instrument_id)
                if mark is not None:
                    marks[instrument_id] = mark
        return marks

    def _denied(self, reason: str, inputs: dict[str, float | str | None] | None = None) -> SizingDecision:
        return SizingDecision(False, None, reason, "", inputs or {})

    def _finish(
        self, intent: TradeIntent, terms: InstrumentTerms | None, signal_id: int, decision: SizingDecision
    ) -> SizingDecision:
        if decision.approved:
            self.approvals += 1
        else:
            self.denials[decision.reason] += 1
        if self.journal is not None:
            self.journal.record_decision(
                ts=intent.ts_event,
                asset=terms.asset if terms else "",
                strategy_id=intent.strategy_id,
                instrument_id=intent.instrument_id,
                signal_id=signal_id,
                approved=decision.approved,
                reason=decision.reason,
                bound_by=decision.bound_by,
                quantity=decision.quantity,
                inputs=_with_context(decision.inputs, intent),
                snapshot_id=intent.snapshot.snapshot_id if intent.snapshot else "",
            )
        return decision

    def _record_signal(self, intent: TradeIntent, asset: str) -> int:
        if self.journal is None:
            return -1
        snapshot_id = ""
        if intent.snapshot is not None:
            snapshot_id = self.journal.record_snapshot(intent.snapshot)
        return self.journal.record_signal(
            ts=intent.ts_event,
            asset=asset,
            strategy_id=intent.strategy_id,
            instrument_id=intent.instrument_id,
            side=intent.side.name,
            strength=intent.strength.name,
            entry_price=intent.entry_price,
            stop_price=intent.stop_price,
            take_profit_price=intent.take_profit_price,
            snapshot_id=snapshot_id,
        )


def _with_context(
    inputs: dict[str, float | str | None], intent: TradeIntent
) -> dict[str, float | str | None]:
    """Return the decision inputs with the signal bar's session and regime, when the strategy gave them."""
    if not intent.session and not intent.regime:
        return inputs
    return {**inputs, "session": intent.session, "regime": intent.regime}


def _aligned_correlation(a: Mapping[int, float], b: Mapping[int, float], min_overlap: int) -> float | None:
    """Return the Pearson correlation of two return series on their common timestamps, if long enough."""
    common = sorted(set(a) & set(b))
    if len(common) < min_overlap:
        return None
    x = np.fromiter((a[t] for t in common), dtype=float, count=len(common))
    y = np.fromiter((b[t] for t in common), dtype=float, count=len(common))
    if float(np.std(x)) == 0.0 or float(np.std(y)) == 0.0:
        return None
    return float(np.corrcoef(x, y)[0, 1])
