"""Sub-ledgers: one virtual wallet per asset class, kept from fills, never sharing a dollar.

A ledger keeps its own netting book of lots (signed quantity and average price per instrument), so
its realised P&L, fees, reward points and exposure come from the fills it was given and nothing
else. P&L made in one ledger can only ever change that ledger's balance.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

NANOS_PER_DAY = 86_400 * 1_000_000_000
QTY_EPSILON = 1e-12


class LedgerError(ValueError):
    """Raise when an operation would break a ledger's books (e.g. an unsupported currency)."""


@dataclass(frozen=True, slots=True)
class InstrumentTerms:
    """Describe what the desk needs to know about an instrument, in plain numbers.

    ``base_is_usd`` marks pairs like USD/JPY where one unit is one dollar and P&L accrues in the
    quote currency (converted at the current price); otherwise the quote currency must be USD-like.
    """

    instrument_id: str
    asset: str
    venue: str
    price_increment: float
    size_increment: float
    min_quantity: float = 0.0
    min_notional_usd: float = 0.0
    multiplier: float = 1.0
    base_is_usd: bool = False
    maintenance_margin_rate: float | None = None
    taker_fee: float = 0.0
    fee_per_unit_usd: float = 0.0

    def usd_per_unit(self, price: float) -> float:
        """Return the USD notional of one unit at ``price``."""
        return self.multiplier if self.base_is_usd else price * self.multiplier

    def fee_per_notional(self, price: float) -> float:
        """Return the taker fee of a fill per USD of notional at ``price`` (rate plus per-unit fees)."""
        return self.taker_fee + self.fee_per_unit_usd / self.usd_per_unit(price)

    def usd_per_point(self, price: float) -> float:
        """Return the USD P&L of a one-point price move on one unit, at ``price``."""
        return self.multiplier / price if self.base_is_usd else self.multiplier


@dataclass(slots=True)
class Lot:
    """Hold a ledger's net position in one instrument and the round trip's running costs."""

    terms: InstrumentTerms
    quantity: float
    avg_price: float
    opened_ts: int
    strategy_id: str
    stop_price: float
    take_profit_price: float
    planned_risk_usd: float
    fees_usd: float = 0.0
    gross_usd: float = 0.0
    peak_quantity: float = 0.0

    side: str = "LONG"

    def notional_usd(self) -> float:
        """Return the lot's notional at its average price (cost basis)."""
        return abs(self.quantity) * self.terms.usd_per_unit(self.avg_price)

    def unrealised_usd(self, mark: float) -> float:
        """Return the lot's unrealised P&L at ``mark``."""
        return (mark - self.avg_price) * self.quantity * self.terms.usd_per_point(mark)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """Record one finished round trip: net P&L after fees and slippage is its reward points."""

    asset: str
    strategy_id: str
    instrument_id: str
    side: str
    quantity: float
    entry_price: float
    exit_price: float
    gross_usd: float
    fees_usd: float
    net_usd: float
    planned_risk_usd: float
    ts_open: int
    ts_close: int
    epoch: int

    @property
    def reward_points(self) -> float:
        """Return the trade's reward points (net USD P&L)."""
        return self.net_usd


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """Carry the protection and planned risk of an approved entry until its fill opens a lot."""

    strategy_id: str
    stop_price: float
    take_profit_price: float
    planned_risk_usd: float
    quantity: float
    entry_price: float

    def risk_share(self, quantity: float) -> float:
        """Return the planned risk carried by ``quantity`` of this entry (partial fills share it)."""
        return self.planned_risk_usd * min(quantity / self.quantity, 1.0) if self.quantity > 0 else 0.0


@dataclass
class SubLedger:
    """Keep one asset class's budget, book, P&L, epochs and risk counters.

    Parameters
    ----------
    asset : str
        The asset class.
    allocation_usd : float
        The budget the operator gave this ledger.
    leverage_cap : float
        Notional the ledger may carry per dollar of balance (margin = notional / leverage cap).
    profit_rollover : bool
        Add realised profits to the balance; when off, profits are set aside (losses always count).
    """

    asset: str
    allocation_usd: float
    leverage_cap: float
    profit_rollover: bool = True
    balance_usd: float = field(init=False)
    skimmed_usd: float = 0.0
    realised_net_usd: float = 0.0
    fees_usd: float = 0.0
    funding_usd: float = 0.0
    reward_points: float = 0.0
    trades: int = 0
    wins: int = 0
    losses: int = 0
    consecutive_losses: int = 0
    fills: int = 0
    epoch: int = 1
    topups_usd: float = 0.0
    start_equity_usd: float = field(init=False)
    peak_equity_usd: float = field(init=False)
    last_equity_usd: float = field(init=False)
    max_drawdown: float = 0.0
    day: int = -1
    day_start_equity_usd: float = 0.0
    day_realised_usd: float = 0.0
    cooldown_until_ns: int = 0
    lots: dict[str, Lot] = field(default_factory=dict)
    reservations: dict[tuple[str, str], float] = field(default_factory=dict)
    _recent: deque[tuple[int, float]] = field(default_factory=deque)
    _recent_sum: float = 0.0

    def __post_init__(self) -> None:
        self.balance_usd = self.allocation_usd
        self.start_equity_usd = self.allocation_usd
        self.peak_equity_usd = self.allocation_usd
        self.last_equity_usd = self.allocation_usd
        self.day_start_equity_usd = self.allocation_usd

    # -- valuation -----------------------------------------------------------------------------

    def unrealised_usd(self, marks: Mapping[str, float]) -> float:
        """Return the unrealised P&L of the open lots (a lot without a mark counts at cost)."""
        total = 0.0
        for instrument_id, lot in self.lots.items():
            mark = marks.get(instrument_id)
            if mark is not None and math.isfinite(mark) and mark > 0:
                total += lot.unrealised_usd(mark)
        return total

    def equity_usd(self, marks: Mapping[str, float]) -> float:
        """Return balance plus unrealised P&L."""
        return self.balance_usd + self.unrealised_usd(marks)

    def exposure_usd(self, exclude: str | None = None) -> float:
        """Return the notional of open lots and reserved entries (optionally without one instrument)."""
        lots = sum(lot.notional_usd() for key, lot in self.lots.items() if key != exclude)
        reserved = sum(value for (_, instrument), value in self.reservations.items() if instrument != exclude)
        return lots + reserved

    def instrument_exposure_usd(self, instrument_id: str, *, include_lot: bool = True) -> float:
        """Return the notional held (unless ``include_lot`` is off) or reserved in one instrument."""
        lot = self.lots.get(instrument_id) if include_lot else None
        held = lot.notional_usd() if lot is not None else 0.0
        reserved = sum(v for (_, instrument), v in self.reservations.items() if instrument == instrument_id)
        return held + reserved

    def used_usd(self, exclude: str | None = None) -> float:
        """Return the margin tied up by open lots and reserved entries."""
        return self.exposure_usd(exclude) / self.leverage_cap

    def free_usd(self, exclude: str | None = None) -> float:
        """Return the balance not tied up as margin (what a new entry may still use)."""
        return self.balance_usd - self.used_usd(exclude)

    def open_instruments(self) -> set[str]:
        """Return the instruments with an open lot or a reserved entry."""
        return set(self.lots) | {instrument for _, instrument in self.reservations}

    def rolling_pnl_usd(self, now_ns: int, window_days: int) -> float:
        """Return realised net P&L (and funding) over the last ``window_days`` days."""
        horizon = now_ns - window_days * NANOS_PER_DAY
        while self._recent and self._recent[0][0] <= horizon:
            self._recent_sum -= self._recent.popleft()[1]
        return self._recent_sum if self._recent else 0.0

    def drawdown(self) -> float:
        """Return the current drawdown from the epoch's peak equity, as a fraction."""
        if self.peak_equity_usd <= 0:
            return 0.0
        return max(0.0, (self.peak_equity_usd - self.last_equity_usd) / self.peak_equity_usd)

    # -- bookkeeping ---------------------------------------------------------------------------

    def observe(self, ts_ns: int, marks: Mapping[str, float]) -> float:
        """Mark the ledger to market: roll the UTC day, track peak and drawdown. Return equity."""
        equity = self.equity_usd(marks)
        day = ts_ns // NANOS_PER_DAY
        if day != self.day:
            self.day = day
            self.day_start_equity_usd = equity
            self.day_realised_usd = 0.0
        self.last_equity_usd = equity
        if equity > self.peak_equity_usd:
            self.peak_equity_usd = equity
        elif self.peak_equity_usd > 0:
            self.max_drawdown = max(self.max_drawdown, (self.peak_equity_usd - equity) / self.peak_equity_usd)
        return equity

    def reserve(self, strategy_id: str, instrument_id: str, notional_usd: float) -> None:
        """Hold budget for an approved entry until it fills or ends."""
        self.reservations[(strategy_id, instrument_id)] = notional_usd

    def release(self, strategy_id: str, instrument_id: str) -> None:
        """Drop an entry's reservation (filled, canceled, rejected, denied or expired)."""
        self.reservations.pop((strategy_id, instrument_id), None)

    def apply_fill(
        self,
        terms: InstrumentTerms,
        *,
        ts_ns: int,
        side_sign: int,
        quantity: float,
        price: float,
        fee_usd: float,
        strategy_id: str,
        plan: EntryPlan | None,
    ) -> ClosedTrade | None:
        """Book a fill into the netting lot of its instrument; return the round trip it closes, if any.

        A fill larger than the open opposite quantity closes the lot and opens a new one with the
        remainder (fees are split pro rata).
        """
        self.fills += 1
        self.fees_usd += fee_usd
        lot = self.lots.get(terms.instrument_id)
        if lot is None or lot.quantity * side_sign > 0:
            self._add(terms, lot, ts_ns, side_sign, quantity, price, fee_usd, strategy_id, plan)
            self._settle(-fee_usd)
            return None
        open_quantity = abs(lot.quantity)
        closing = min(quantity, open_quantity)
        fee_closing = fee_usd * closing / quantity
        gross = (price - lot.avg_price) * math.copysign(closing, lot.quantity) * terms.usd_per_point(price)
        lot.gross_usd += gross
        lot.fees_usd += fee_closing
        lot.quantity += side_sign * closing
        self._settle(gross - fee_closing)
        closed: ClosedTrade | None = None
        if abs(lot.quantity) <= QTY_EPSILON * max(1.0, open_quantity):
            del self.lots[terms.instrument_id]
            closed = self._close(lot, ts_ns, price)
        remainder = quantity - closing
        if remainder > QTY_EPSILON * max(1.0, quantity):
            fee_rest = fee_usd - fee_closing
            self._add(terms, None, ts_ns, side_sign, remainder, price, fee_rest, strategy_id, plan)
            self._settle(-fee_rest)
        return closed

    def apply_funding(self, ts_ns: int, amount_usd: float) -> None:
        """Book a funding payment (positive received, negative paid) into the ledger."""
        self.funding_usd += amount_usd
        self._remember(ts_ns, amount_usd)
        self._settle(amount_usd)

    def topup(self, amount_usd: float) -> None:
        """Start a new paper epoch with ``amount_usd`` more; counters and lots stay as they are."""
        self.balance_usd += amount_usd
        self.topups_usd += amount_usd
        self.epoch += 1
        self.last_equity_usd += amount_usd
        self.peak_equity_usd = self.last_equity_usd
        self.day_start_equity_usd += amount_usd

    def reallocate(self, delta_usd: float) -> None:
        """Move the allocation by ``delta_usd`` (the desk checks steps and limits first)."""
        self.allocation_usd += delta_usd
        self.balance_usd += delta_usd
        self.last_equity_usd += delta_usd
        self.peak_equity_usd = max(self.peak_equity_usd + delta_usd, self.last_equity_usd)
        self.day_start_equity_usd += delta_usd

    # -- internals -----------------------------------------------------------------------------

    def _add(
        self,
        terms: InstrumentTerms,
        lot: Lot | None,
        ts_ns: int,
        side_sign: int,
        quantity: float,
        price: float,
        fee_usd: float,
        strategy_id: str,
        plan: EntryPlan | None,
    ) -> None:
        if lot is None:
            self.lots[terms.instrument_id] = Lot(
                terms=terms,
                quantity=side_sign * quantity,
                avg_price=price,
                opened_ts=ts_ns,
                strategy_id=plan.strategy_id if plan else strategy_id,
                stop_price=plan.stop_price if plan else math.nan,
                take_profit_price=plan.take_profit_price if plan else math.nan,
                planned_risk_usd=plan.risk_share(quantity) if plan else math.nan,
                fees_usd=fee_usd,
                peak_quantity=quantity,
                side="LONG" if side_sign > 0 else "SHORT",
            )
            return
        total = abs(lot.quantity) + quantity
        lot.avg_price = (lot.avg_price * abs(lot.quantity) + price * quantity) / total
        lot.quantity += side_sign * quantity
        lot.fees_usd += fee_usd
        lot.peak_quantity = max(lot.peak_quantity, abs(lot.quantity))
        if plan is not None:
            known = 0.0 if math.isnan(lot.planned_risk_usd) else lot.planned_risk_usd
            lot.planned_risk_usd = known + plan.risk_share(quantity)

    def _remember(self, ts_ns: int, pnl_usd: float) -> None:
        self._recent.append((ts_ns, pnl_usd))
        self._recent_sum += pnl_usd

    def _settle(self, amount_usd: float) -> None:
        """Move realised money (net P&L, fees, funding) into the balance under the rollover rule."""
        if amount_usd > 0 and not self.profit_rollover:
            self.skimmed_usd += amount_usd
        else:
            self.balance_usd += amount_usd
        self.realised_net_usd += amount_usd
        self.day_realised_usd += amount_usd

    def _close(self, lot: Lot, ts_ns: int, exit_price: float) -> ClosedTrade:
        net = lot.gross_usd - lot.fees_usd
        self.trades += 1
        self.reward_points += net
        if net < 0:
            self.losses += 1
            self.consecutive_losses += 1
        else:
            self.wins += 1
            self.consecutive_losses = 0
        self._remember(ts_ns, net)
        return ClosedTrade(
            asset=self.asset,
            strategy_id=lot.strategy_id,
            instrument_id=lot.terms.instrument_id,
            side=lot.side,
            quantity=lot.peak_quantity,
            entry_price=lot.avg_price,
            exit_price=exit_price,
            gross_usd=lot.gross_usd,
            fees_usd=lot.fees_usd,
            net_usd=net,
            planned_risk_usd=lot.planned_risk_usd,
            ts_open=lot.opened_ts,
            ts_close=ts_ns,
            epoch=self.epoch,
        )
