"""Property tests of the risk desk, driven by a small simulation of what the engine does with it.

The simulation
--------------
A hypothesis state machine plays the engine around a real :class:`RiskDesk` (no nautilus kernel):

* seven instruments spread over the four sub-ledgers: BTC and ETH perpetuals (``crypto_futures``),
  BTC spot (``crypto_spot``), EUR/USD and USD/JPY (``forex``; USD/JPY books its P&L in yen and
  converts it) and a SPY call and put (``options``, multiplier 100, premium around $2);
* :class:`SimMarket` holds the current prices (kept on the tick grid) and a bar history in which the
  two perpetuals move together, so the correlation cap of the futures ledger is live;
  :class:`SimBroker` answers the buying power of each venue account, which a rule may change;
* ``signal`` proposes an entry like the strategy base class: random side, strength, stop distance
  (inside and beyond ``max_sl_pct``), target, sometimes malformed protection. An instrument with a
  working entry or a position on the same side ignores the signal; a position on the other side is
  reversed: the desk evaluates the new entry first, then sees the closing fill tagged
  ``SIGNAL_EXIT`` at the current price. An approved entry fills at its entry price at once, in
  parts, not at all (cancelled, so its reservation is released) or stays working for later rules;
* ``move_prices`` moves every price by at most ±3% and advances the clock; a position whose stop or
  target lies within the step's range is closed AT that level with a fee (the backtest fills
  stops at their trigger), tagged ``SL`` or ``TP``.

The simulation keeps its own book of every position (quantity, average price, stop, target) and
of every ledger's money, computed only from the fills it sent, and after every step checks that

1. no ledger's free budget is negative;
2. each ledger's balance is its allocation plus its own realised P&L (profits only with
   ``profit_rollover``) plus its top-ups, and a fill on one ledger leaves the others untouched;
3. every open lot carries a finite stop and target on the right sides of its average price, and
   every approved entry had them;
4. a ledger's exposure never exceeds ``leverage_cap`` x the equity of its latest approval, and no
   instrument's exposure exceeds ``pair_cap_fraction`` x the equity of its latest approval (only an
   approval can raise exposure: entries fill at their reserved price, exits lower it);
5. approved quantities are whole size steps, at least the venue minimum, and never more than the
   notional the sizing rule wanted.

The machine runs on the shipped configs (backtest), on a stress config whose clamps bind often
(pair cap 100%, large risk fractions, profit rollover off) and in paper mode with top-ups. Plain
properties of the sizing arithmetic and regression tests for defects the simulation exposed
follow at the end.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from nautilus_trader.model.enums import OrderSide

from engine.assets import builtin_registry
from engine.journal import FillRecord
from engine.risk import InstrumentTerms, RiskDesk, SignalStrength, SizingDecision, TradeIntent
from engine.risk.config import DeskConfig, LadderRung
from engine.risk.sizing import Clamp, apply_clamps, floor_to_step, ladder_multiplier, throttled_risk_fraction
from tests.scenarios.kit import deep_merge, desk_config

START_NS = 1_748_736_000_000_000_000  # 2025-06-01 00:00 UTC
MINUTE_NS = 60_000_000_000
HISTORY_BARS = 240
MONEY_TOLERANCE_USD = 1e-6
ALLOCATIONS_USD = {"crypto_spot": 1_000.0, "crypto_futures": 1_500.0, "forex": 5_000.0, "options": 3_000.0}
# The shipped $50 premium cap admits no contract of a $2 option (x100 = $200 a contract).
OPTION_PREMIUM_CAP = {"risk": {"assets": {"options": {"max_premium_per_trade_usd": 500.0}}}}


@dataclass(frozen=True)
class SimInstrument:
    """An instrument of the simulation: the desk's terms, a realistic price range and the venue fee."""

    terms: InstrumentTerms
    price_low: float
    price_high: float

    @property
    def instrument_id(self) -> str:
        return self.terms.instrument_id

    def fee_usd(self, quantity: float, price: float) -> float:
        return (
            quantity * self.terms.usd_per_unit(price) * self.terms.taker_fee
            + quantity * self.terms.fee_per_unit_usd
        )


BTC_PERP = SimInstrument(
    InstrumentTerms(
        "BTCUSDT-LINEAR.BYBIT", "crypto_futures", "BYBIT", 0.1, 0.001, 0.001, 5.0, taker_fee=0.00055
    ),
    60_000.0,
    110_000.0,
)
ETH_PERP = SimInstrument(
    InstrumentTerms(
        "ETHUSDT-LINEAR.BYBIT", "crypto_futures", "BYBIT", 0.01, 0.01, 0.01, 5.0, taker_fee=0.00055
    ),
    2_000.0,
    4_000.0,
)
BTC_SPOT = SimInstrument(
    InstrumentTerms("BTCUSDT.BYBIT", "crypto_spot", "BYBIT", 0.01, 0.000001, 0.000048, 1.0, taker_fee=0.001),
    60_000.0,
    110_000.0,
)
EUR_USD = SimInstrument(
    InstrumentTerms("EUR/USD.IDEALPRO", "forex", "IDEALPRO", 0.00005, 1.0, 1.0, taker_fee=0.00002),
    1.05,
    1.20,
)
USD_JPY = SimInstrument(
    InstrumentTerms(
        "USD/JPY.IDEALPRO", "forex", "IDEALPRO", 0.005, 1.0, 1.0, base_is_usd=True, taker_fee=0.00002
    ),
    140.0,
    160.0,
)
SPY_CALL = SimInstrument(
    InstrumentTerms(
        "SPY250620C00550000.SMART",
        "options",
        "SMART",
        0.01,
        1.0,
        1.0,
        multiplier=100.0,
        fee_per_unit_usd=0.65,
    ),
    1.5,
    3.0,
)
SPY_PUT = SimInstrument(
    InstrumentTerms(
        "SPY250620P00530000.SMART",
        "options",
        "SMART",
        0.01,
        1.0,
        1.0,
        multiplier=100.0,
        fee_per_unit_usd=0.65,
    ),
    1.5,
    3.0,
)
INSTRUMENTS = {
    i.instrument_id: i for i in (BTC_PERP, ETH_PERP, BTC_SPOT, EUR_USD, USD_JPY, SPY_CALL, SPY_PUT)
}
INSTRUMENT_IDS = sorted(INSTRUMENTS)
STRATEGY_OF = {instrument_id: f"SignalStrategy-{n:03d}" for n, instrument_id in enumerate(INSTRUMENT_IDS)}
VENUES = sorted({i.terms.venue for i in INSTRUMENTS.values()})


def on_tick_grid(price: float, tick: float) -> float:
    return round(round(price / tick) * tick, 10)


def usd_pnl(terms: InstrumentTerms, signed_quantity: float, avg_price: float, exit_price: float) -> float:
    """P&L in USD of closing ``signed_quantity`` bought at ``avg_price`` at ``exit_price`` (own formula)."""
    quote_pnl = (exit_price - avg_price) * signed_quantity * terms.multiplier
    return quote_pnl / exit_price if terms.base_is_usd else quote_pnl


class SimMarket:
    """Stand for the market data: current prices and a shared bar history (perpetuals correlated)."""

    def __init__(self, start_prices: dict[str, float]) -> None:
        self.prices = dict(start_prices)
        rng = np.random.default_rng(20250601)
        btc = rng.normal(0.0, 0.004, HISTORY_BARS)
        own = {iid: rng.normal(0.0, 0.004, HISTORY_BARS) for iid in INSTRUMENT_IDS}
        returns = {iid: own[iid] for iid in INSTRUMENT_IDS}
        returns[BTC_PERP.instrument_id] = btc
        returns[BTC_SPOT.instrument_id] = btc
        returns[ETH_PERP.instrument_id] = 0.9 * btc + 0.3 * own[ETH_PERP.instrument_id]
        self.timestamps = [START_NS - (HISTORY_BARS - 1 - n) * MINUTE_NS for n in range(HISTORY_BARS)]
        self.history: dict[str, list[float]] = {}
        for iid, price in start_prices.items():
            path = np.cumsum(returns[iid])
            self.history[iid] = (price * np.exp(path - path[-1])).tolist()

    def mark(self, instrument_id: str) -> float | None:
        return self.prices.get(instrument_id)

    def side_mark(self, instrument_id: str, long: bool) -> float | None:
        return self.mark(instrument_id)  # trade prices only: both sides close at the mark

    def closes(self, instrument_id: str, count: int) -> tuple[list[int], list[float]]:
        return self.timestamps[-count:], self.history[instrument_id][-count:]

    def close_bar(self, ts: int, prices: dict[str, float]) -> None:
        self.prices.update(prices)
        self.timestamps.append(ts)
        for iid, price in prices.items():
            self.history[iid].append(price)


class SimBroker:
    """Stand for the broker accounts: buying power per venue (None: not known, as in some backtests)."""

    def __init__(self) -> None:
        self.buying_power: dict[str, float | None] = dict.fromkeys(VENUES, 1e7)

    def buying_power_usd(self, instrument_id: str) -> float | None:
        return self.buying_power[INSTRUMENTS[instrument_id].terms.venue]


@dataclass
class SimPosition:
    """The simulation's own view of an open position."""

    quantity: float  # signed
    avg_price: float
    stop_price: float
    take_profit_price: float
    theta_per_contract: float = 0.0
    fees_usd: float = 0.0
    gross_usd: float = 0.0


@dataclass
class WorkingEntry:
    """An approved entry not yet (completely) filled."""

    side_sign: int
    quantity: float
    filled: float
    entry_price: float
    stop_price: float
    take_profit_price: float
    theta_per_contract: float = 0.0

    @property
    def remaining(self) -> float:
        return round(self.quantity - self.filled, 12)


@dataclass
class ExpectedMoney:
    """What a ledger's money must be, from the fills the simulation sent to its instruments."""

    to_balance_usd: float = 0.0
    skimmed_usd: float = 0.0
    realised_net_usd: float = 0.0


@dataclass(frozen=True)
class ApprovalCeiling:
    """The equity an approval was sized on and the rounding tolerance of its step."""

    equity_usd: float
    tolerance_usd: float


class DeskSimulation(RuleBasedStateMachine):
    """Play the engine around a real risk desk and check the invariants after every step."""

    mode = "backtest"
    overrides: dict[str, dict[str, Any]] = OPTION_PREMIUM_CAP

    def __init__(self) -> None:
        super().__init__()
        self.config: DeskConfig = desk_config(
            0.0, deep_merge(self.overrides, {"budgets": {"alloc": ALLOCATIONS_USD}})
        )
        self.desk: RiskDesk | None = None
        self.market: SimMarket | None = None
        self.broker = SimBroker()
        self.ts = START_NS
        self.positions: dict[str, SimPosition] = {}
        self.working: dict[str, WorkingEntry] = {}
        self.money = {asset: ExpectedMoney() for asset in builtin_registry().names}
        self.ledger_ceiling: dict[str, ApprovalCeiling] = {}
        self.pair_ceiling: dict[str, ApprovalCeiling] = {}
        self.fill_count = 0

    # -- setup ---------------------------------------------------------------------------------

    @initialize(
        position_in_range=st.lists(st.floats(0.0, 1.0), min_size=len(INSTRUMENTS), max_size=len(INSTRUMENTS))
    )
    def open_the_desk(self, position_in_range: list[float]) -> None:
        prices = {}
        for iid, where in zip(INSTRUMENT_IDS, position_in_range, strict=True):
            sim = INSTRUMENTS[iid]
            prices[iid] = on_tick_grid(
                sim.price_low + where * (sim.price_high - sim.price_low), sim.terms.price_increment
            )
        # spot and perpetual BTC trade at the same price
        prices[BTC_SPOT.instrument_id] = prices[BTC_PERP.instrument_id]
        self.market = SimMarket(prices)
        self.desk = RiskDesk(
            self.config, mode=self.mode, market=self.market, broker=self.broker, journal=None
        )
        for sim in INSTRUMENTS.values():
            self.desk.register_instrument(sim.terms)

    # -- rules ---------------------------------------------------------------------------------

    @rule(
        instrument_id=st.sampled_from(INSTRUMENT_IDS),
        buy=st.booleans(),
        strength=st.sampled_from(list(SignalStrength)),
        stop_fraction=st.one_of(
            st.floats(0.002, 0.03), st.floats(0.002, 0.08), st.floats(0.002, 0.15), st.floats(0.15, 0.8)
        ),
        target_fraction=st.floats(0.001, 0.5),
        protection=st.sampled_from(
            ["ok"] * 16 + ["stop_wrong_side", "target_wrong_side", "no_stop", "no_target"]
        ),
        limit_offset_ticks=st.sampled_from([0, 0, 1, 5]),
        fill_plan=st.sampled_from(
            ["fill_now", "fill_now", "partial_then_cancel", "partial", "cancel", "working"]
        ),
        partial_fraction=st.floats(0.1, 0.9),
        theta_per_contract=st.floats(0.5, 15.0),
    )
    def signal(
        self,
        instrument_id: str,
        buy: bool,
        strength: SignalStrength,
        stop_fraction: float,
        target_fraction: float,
        protection: str,
        limit_offset_ticks: int,
        fill_plan: str,
        partial_fraction: float,
        theta_per_contract: float,
    ) -> None:
        assert self.desk is not None and self.market is not None
        sim = INSTRUMENTS[instrument_id]
        terms = sim.terms
        side_sign = 1 if buy else -1
        position = self.positions.get(instrument_id)
        if instrument_id in self.working or (position is not None and position.quantity * side_sign > 0):
            return  # the strategy base class ignores the signal
        current = self.market.prices[instrument_id]
        entry = on_tick_grid(
            current - side_sign * limit_offset_ticks * terms.price_increment, terms.price_increment
        )
        stop = entry * (1 - side_sign * stop_fraction)
        target = entry * (1 + side_sign * target_fraction)
        if protection == "stop_wrong_side":
            stop = entry * (1 + side_sign * stop_fraction)
        elif protection == "target_wrong_side":
            target = entry * (1 - side_sign * min(target_fraction, 0.5))
        elif protection == "no_stop":
            stop = math.nan
        elif protection == "no_target":
            target = math.inf
        intent = TradeIntent(
            strategy_id=STRATEGY_OF[instrument_id],
            instrument_id=instrument_id,
            side=OrderSide.BUY if buy else OrderSide.SELL,
            entry_price=entry,
            stop_price=stop,
            take_profit_price=target,
            strength=strength,
            ts_event=self.ts,
            theta_per_unit=-theta_per_contract if terms.asset == "options" else None,
        )
        ledger = self.desk.ledgers[terms.asset]
        reversing = position is not None
        exposure_of_others = ledger.exposure_usd(exclude=instrument_id)
        correlated_exposure = {i: ledger.instrument_exposure_usd(i) for i in ledger.open_instruments()}
        lot_theta = self._theta_of_option_positions()
        decision = self.desk.evaluate(intent)

        self._check_decision_against_the_rules(intent, decision, protection, stop_fraction)
        if decision.approved:
            assert decision.quantity is not None
            equity = float(decision.inputs["equity_usd"])  # type: ignore[arg-type]
            notional = decision.quantity * terms.usd_per_unit(entry)
            tolerance = terms.size_increment * terms.usd_per_unit(entry) + MONEY_TOLERANCE_USD
            rails = self.config.asset_risk(terms.asset)
            # invariant 4 at the moment of approval (the reversed lot is about to be closed)
            assert exposure_of_others + notional <= rails.leverage_cap * equity + tolerance
            assert notional <= self.config.sizing.pair_cap_fraction * equity + tolerance
            group = str(decision.inputs["correlated"])
            if group:
                held = sum(correlated_exposure.get(i, 0.0) for i in group.split(","))
                cap = self.config.risk.correlation.group_exposure_cap
                assert held + notional <= cap * equity + tolerance
            buying_power = self.broker.buying_power_usd(instrument_id)
            if buying_power is not None:
                assert notional <= buying_power + tolerance
            if terms.asset == "options":
                assert rails.max_premium_per_trade_usd is not None and rails.theta_cap_usd_per_day is not None
                assert notional <= rails.max_premium_per_trade_usd + tolerance
                room = rails.theta_cap_usd_per_day - lot_theta
                assert decision.quantity * theta_per_contract <= room + 1e-9
            self.ledger_ceiling[terms.asset] = ApprovalCeiling(equity, tolerance)
            self.pair_ceiling[instrument_id] = ApprovalCeiling(equity, tolerance)

        if reversing:
            assert position is not None
            self._close(instrument_id, current, "SIGNAL_EXIT")
        if not decision.approved:
            return
        assert decision.quantity is not None
        theta = theta_per_contract if terms.asset == "options" else 0.0
        self.working[instrument_id] = WorkingEntry(
            side_sign, decision.quantity, 0.0, entry, stop, target, theta
        )
        part = floor_to_step(decision.quantity * partial_fraction, terms.size_increment)
        can_split = 0 < part < decision.quantity
        if fill_plan == "fill_now" or (fill_plan in ("partial", "partial_then_cancel") and not can_split):
            self._fill_entry(instrument_id, decision.quantity)
        elif fill_plan in ("partial", "partial_then_cancel"):
            self._fill_entry(instrument_id, part)
            if fill_plan == "partial_then_cancel":
                self._cancel_entry(instrument_id)
        elif fill_plan == "cancel":
            self._cancel_entry(instrument_id)

    @precondition(lambda self: bool(self._fillable_working_entries()))
    @rule(data=st.data(), complete=st.booleans(), fraction=st.floats(0.1, 0.9))
    def fill_working_entry(self, data: st.DataObject, complete: bool, fraction: float) -> None:
        instrument_id = data.draw(st.sampled_from(self._fillable_working_entries()))
        entry = self.working[instrument_id]
        quantity = entry.remaining
        if not complete:
            part = floor_to_step(quantity * fraction, INSTRUMENTS[instrument_id].terms.size_increment)
            quantity = part if part > 0 else quantity
        self._fill_entry(instrument_id, quantity)

    @precondition(lambda self: bool(self.working))
    @rule(data=st.data())
    def cancel_working_entry(self, data: st.DataObject) -> None:
        self._cancel_entry(data.draw(st.sampled_from(sorted(self.working))))

    @rule(
        moves=st.lists(st.floats(-0.03, 0.03), min_size=len(INSTRUMENTS), max_size=len(INSTRUMENTS)),
        minutes=st.integers(1, 240),
    )
    def move_prices(self, moves: list[float], minutes: int) -> None:
        assert self.market is not None
        self.ts += minutes * MINUTE_NS
        move_of = dict(zip(INSTRUMENT_IDS, moves, strict=True))
        btc_move = move_of[BTC_PERP.instrument_id]
        move_of[BTC_SPOT.instrument_id] = btc_move
        move_of[ETH_PERP.instrument_id] = 0.7 * btc_move + 0.3 * move_of[ETH_PERP.instrument_id]
        before = dict(self.market.prices)
        after = {}
        for iid in INSTRUMENT_IDS:
            sim = INSTRUMENTS[iid]
            moved = min(max(before[iid] * (1 + move_of[iid]), 0.5 * sim.price_low), 2 * sim.price_high)
            after[iid] = on_tick_grid(moved, sim.terms.price_increment)
        self.market.close_bar(self.ts, after)
        for iid in sorted(self.positions):
            low, high = min(before[iid], after[iid]), max(before[iid], after[iid])
            position = self.positions[iid]
            if position.quantity > 0:
                stop_hit, target_hit = low <= position.stop_price, high >= position.take_profit_price
            else:
                stop_hit, target_hit = high >= position.stop_price, low <= position.take_profit_price
            if stop_hit or target_hit:
                if iid in self.working:  # the rest of a partly filled entry is cancelled with the bracket
                    self._cancel_entry(iid)
                if stop_hit:
                    self._close(iid, position.stop_price, "SL")
                else:
                    self._close(iid, position.take_profit_price, "TP")

    @rule(venue=st.sampled_from(VENUES), buying_power=st.sampled_from([None, 80.0, 2_000.0, 1e7]))
    def change_broker_buying_power(self, venue: str, buying_power: float | None) -> None:
        self.broker.buying_power[venue] = buying_power

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def no_ledger_has_negative_free_budget(self) -> None:
        if self.desk is None:
            return
        for asset, ledger in self.desk.ledgers.items():
            assert ledger.free_usd() >= -MONEY_TOLERANCE_USD, (asset, ledger.free_usd(), ledger.balance_usd)

    @invariant()
    def ledger_money_comes_from_its_own_fills_only(self) -> None:
        if self.desk is None:
            return
        for asset, ledger in self.desk.ledgers.items():
            expected = self.money[asset]
            start = self._start_allocation(asset)
            assert ledger.allocation_usd == pytest.approx(start)
            assert ledger.balance_usd == pytest.approx(
                start + expected.to_balance_usd + ledger.topups_usd, abs=MONEY_TOLERANCE_USD
            )
            assert ledger.realised_net_usd == pytest.approx(
                expected.realised_net_usd, abs=MONEY_TOLERANCE_USD
            )
            assert ledger.skimmed_usd == pytest.approx(expected.skimmed_usd, abs=MONEY_TOLERANCE_USD)
            if self.mode != "paper":
                assert ledger.topups_usd == 0.0

    @invariant()
    def every_lot_is_protected_and_matches_the_simulation(self) -> None:
        if self.desk is None:
            return
        lots = {iid: lot for ledger in self.desk.ledgers.values() for iid, lot in ledger.lots.items()}
        assert set(lots) == set(self.positions)
        for iid, lot in lots.items():
            position = self.positions[iid]
            assert lot.quantity == pytest.approx(position.quantity, rel=1e-9)
            assert lot.avg_price == pytest.approx(position.avg_price, rel=1e-9)
            assert math.isfinite(lot.stop_price) and math.isfinite(lot.take_profit_price)
            if lot.quantity > 0:
                assert lot.stop_price < lot.avg_price < lot.take_profit_price
            else:
                assert lot.take_profit_price < lot.avg_price < lot.stop_price
            assert lot.stop_price == pytest.approx(position.stop_price)
            assert lot.take_profit_price == pytest.approx(position.take_profit_price)

    @invariant()
    def exposure_stays_under_the_caps_of_the_latest_approval(self) -> None:
        if self.desk is None:
            return
        for asset, ledger in self.desk.ledgers.items():
            ceiling = self.ledger_ceiling.get(asset)
            if ceiling is None:
                assert ledger.exposure_usd() <= MONEY_TOLERANCE_USD
                continue
            cap = self.config.asset_risk(asset).leverage_cap
            assert ledger.exposure_usd() <= cap * ceiling.equity_usd + ceiling.tolerance_usd
        pair_cap = self.config.sizing.pair_cap_fraction
        for iid, ceiling in self.pair_ceiling.items():
            ledger = self.desk.ledgers[INSTRUMENTS[iid].terms.asset]
            assert (
                ledger.instrument_exposure_usd(iid) <= pair_cap * ceiling.equity_usd + ceiling.tolerance_usd
            )

    # -- the engine's side of a fill -----------------------------------------------------------

    def _fill_entry(self, instrument_id: str, quantity: float) -> None:
        entry = self.working[instrument_id]
        self._send_fill(instrument_id, entry.side_sign, quantity, entry.entry_price, "ENTRY")
        entry.filled = round(entry.filled + quantity, 12)
        if entry.remaining <= 0:
            del self.working[instrument_id]

    def _cancel_entry(self, instrument_id: str) -> None:
        assert self.desk is not None
        del self.working[instrument_id]
        self.desk.release(STRATEGY_OF[instrument_id], instrument_id)
        ledger = self.desk.ledgers[INSTRUMENTS[instrument_id].terms.asset]
        assert (STRATEGY_OF[instrument_id], instrument_id) not in ledger.reservations

    def _close(self, instrument_id: str, price: float, tag: str) -> None:
        position = self.positions[instrument_id]
        side_sign = -1 if position.quantity > 0 else 1
        self._send_fill(instrument_id, side_sign, abs(position.quantity), price, tag)

    def _send_fill(self, instrument_id: str, side_sign: int, quantity: float, price: float, tag: str) -> None:
        assert self.desk is not None and self.market is not None
        sim = INSTRUMENTS[instrument_id]
        asset = sim.terms.asset
        fee = sim.fee_usd(quantity, price)
        self.fill_count += 1
        balances_before = {a: ledger.balance_usd for a, ledger in self.desk.ledgers.items()}
        topups_before = self.desk.ledgers[asset].topups_usd

        position = self.positions.get(instrument_id)
        closes_position = position is not None and position.quantity * side_sign < 0
        if closes_position:
            assert position is not None
            gross = usd_pnl(sim.terms, position.quantity, position.avg_price, price)
            self._settle(asset, gross - fee)
            position.gross_usd += gross
            position.fees_usd += fee
            del self.positions[instrument_id]
        else:
            self._settle(asset, -fee)
            if position is None:
                entry = self.working[instrument_id]
                self.positions[instrument_id] = SimPosition(
                    side_sign * quantity,
                    price,
                    entry.stop_price,
                    entry.take_profit_price,
                    theta_per_contract=entry.theta_per_contract,
                    fees_usd=fee,
                )
            else:
                total = abs(position.quantity) + quantity
                position.avg_price = (position.avg_price * abs(position.quantity) + price * quantity) / total
                position.quantity += side_sign * quantity
                position.fees_usd += fee

        closed = self.desk.on_fill(
            FillRecord(
                ts=self.ts,
                venue=sim.terms.venue,
                trade_id=f"T-{self.fill_count}",
                client_order_id=f"O-{self.fill_count}",
                venue_order_id=f"V-{self.fill_count}",
                strategy_id=STRATEGY_OF[instrument_id],
                instrument_id=instrument_id,
                side="BUY" if side_sign > 0 else "SELL",
                quantity=quantity,
                price=price,
                commission_usd=fee,
                order_tag=tag,
            )
        )

        # P&L never moves between ledgers: the other ledgers' balances did not change
        for other, ledger in self.desk.ledgers.items():
            if other != asset:
                assert ledger.balance_usd == pytest.approx(balances_before[other], abs=1e-12)
        if closes_position:
            assert position is not None and closed is not None
            assert closed.instrument_id == instrument_id and closed.asset == asset
            assert closed.net_usd == pytest.approx(
                position.gross_usd - position.fees_usd, abs=MONEY_TOLERANCE_USD
            )
        else:
            assert closed is None
        self._check_topup(asset, instrument_id, price, topups_before)

    def _settle(self, asset: str, amount_usd: float) -> None:
        money = self.money[asset]
        money.realised_net_usd += amount_usd
        if amount_usd > 0 and not self.config.budgets.profit_rollover:
            money.skimmed_usd += amount_usd
        else:
            money.to_balance_usd += amount_usd

    def _check_topup(self, asset: str, instrument_id: str, fill_price: float, topups_before: float) -> None:
        assert self.desk is not None and self.market is not None
        ledger = self.desk.ledgers[asset]
        added = ledger.topups_usd - topups_before
        if self.mode != "paper":
            assert added == 0.0
            return
        paper = self.config.budgets.paper
        marks = {**self.market.prices, instrument_id: fill_price}
        equity_before_topup = ledger.balance_usd - added + self._unrealised_usd(asset, marks)
        if abs(equity_before_topup - paper.auto_topup_threshold_usd) < MONEY_TOLERANCE_USD:
            return
        if equity_before_topup <= paper.auto_topup_threshold_usd:
            assert added == pytest.approx(paper.auto_topup_amount_usd)
        else:
            assert added == 0.0

    # -- helpers -------------------------------------------------------------------------------

    def _fillable_working_entries(self) -> list[str]:
        """Return the working entries a limit order would fill now: price at the limit, not past the stop."""
        if self.market is None:
            return []
        fillable = []
        for iid, entry in sorted(self.working.items()):
            price = self.market.prices[iid]
            at_or_through_limit = (price - entry.entry_price) * entry.side_sign <= 0
            before_stop = (price - entry.stop_price) * entry.side_sign > 0
            if at_or_through_limit and before_stop:
                fillable.append(iid)
        return fillable

    def _check_decision_against_the_rules(
        self, intent: TradeIntent, decision: SizingDecision, protection: str, stop_fraction: float
    ) -> None:
        assert self.market is not None
        terms = INSTRUMENTS[intent.instrument_id].terms
        rails = self.config.asset_risk(terms.asset)
        is_buy = intent.side == OrderSide.BUY
        if protection in ("no_stop", "no_target"):
            assert not decision.approved and decision.reason == "missing_sl_or_tp"
        elif protection in ("stop_wrong_side", "target_wrong_side"):
            assert not decision.approved and decision.reason == "sl_tp_wrong_side"
        elif stop_fraction > rails.max_sl_pct * (1 + 1e-9):
            assert not decision.approved and decision.reason == "sl_too_wide"
        elif not is_buy and not rails.allow_short:
            assert not decision.approved and decision.reason == "no_short"
        if "equity_usd" in decision.inputs:
            expected_equity = self._balance(terms.asset) + self._unrealised_usd(
                terms.asset, self.market.prices
            )
            assert decision.inputs["equity_usd"] == pytest.approx(expected_equity, abs=MONEY_TOLERANCE_USD)
        if not decision.approved:
            assert decision.quantity is None
            return
        # every approved entry carries finite protection on the right sides, within max_sl_pct
        entry, stop, target = intent.entry_price, intent.stop_price, intent.take_profit_price
        assert math.isfinite(stop) and math.isfinite(target)
        assert (stop < entry < target) if is_buy else (target < entry < stop)
        assert abs(entry - stop) / entry <= rails.max_sl_pct + 1e-12
        assert is_buy or rails.allow_short
        # invariant 5: whole size steps, venue minimums, never more than the sizing rule wanted
        quantity = decision.quantity
        assert quantity is not None and quantity > 0
        steps = quantity / terms.size_increment
        assert abs(steps - round(steps)) < 1e-6
        assert quantity >= terms.min_quantity - 1e-12
        notional = quantity * terms.usd_per_unit(entry)
        assert notional >= terms.min_notional_usd - 1e-9
        wanted = float(decision.inputs["wanted_notional_usd"])  # type: ignore[arg-type]
        assert notional <= wanted * (1 + 1e-9) + 1e-9
        assert decision.inputs["notional_usd"] == pytest.approx(notional)

    def _balance(self, asset: str) -> float:
        assert self.desk is not None
        return self.desk.ledgers[asset].balance_usd

    def _unrealised_usd(self, asset: str, marks: dict[str, float]) -> float:
        return sum(
            usd_pnl(INSTRUMENTS[iid].terms, position.quantity, position.avg_price, marks[iid])
            for iid, position in self.positions.items()
            if INSTRUMENTS[iid].terms.asset == asset
        )

    def _theta_of_option_positions(self) -> float:
        return sum(abs(p.quantity) * p.theta_per_contract for p in self.positions.values())

    def _start_allocation(self, asset: str) -> float:
        if self.mode == "paper":
            return self.config.budgets.paper.start_equity_usd
        return ALLOCATIONS_USD[asset]


class StressedDeskSimulation(DeskSimulation):
    """Clamps bind often: one pair may take the whole equity, no leverage, large risk fractions."""

    overrides = deep_merge(
        OPTION_PREMIUM_CAP,
        {
            "budgets": {"profit_rollover": False},
            "risk": {
                "correlation": {"enabled": False},
                "assets": {"crypto_futures": {"leverage_cap": 1.0}, "forex": {"leverage_cap": 1.0}},
            },
            "sizing": {
                "pair_cap_fraction": 1.0,
                "assets": {
                    asset: {"risk_fraction": 0.02, "risk_fraction_max": 0.02}
                    for asset in builtin_registry().names
                },
            },
        },
    )


class PaperDeskSimulation(DeskSimulation):
    """Paper mode: every ledger starts at the $1,000 bankroll and is topped up when nearly spent."""

    mode = "paper"
    # a top-up at $999 of equity (rather than the shipped $10) lets short runs open new epochs
    overrides = deep_merge(OPTION_PREMIUM_CAP, {"budgets": {"paper": {"auto_topup_threshold_usd": 999.0}}})


MACHINE_SETTINGS = settings(
    max_examples=80,
    stateful_step_count=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TestDeskOnShippedConfig = DeskSimulation.TestCase
TestDeskOnShippedConfig.settings = MACHINE_SETTINGS
TestDeskUnderStress = StressedDeskSimulation.TestCase
TestDeskUnderStress.settings = MACHINE_SETTINGS
TestDeskInPaperMode = PaperDeskSimulation.TestCase
TestDeskInPaperMode.settings = MACHINE_SETTINGS


# -- plain properties of the sizing arithmetic ----------------------------------------------------

PLAIN = settings(max_examples=300, deadline=None, derandomize=True)
SIZE_STEPS = st.sampled_from([1e-6, 0.001, 0.01, 0.1, 1.0, 100.0])


@PLAIN
@given(quantity=st.floats(0.0, 1e6), step=SIZE_STEPS)
def test_floor_to_step_never_rounds_up_and_lands_on_the_grid(quantity: float, step: float) -> None:
    steps = quantity / step
    assume(steps <= 1e9)  # beyond ~1e9 steps a float cannot hold the grid exactly
    floored = floor_to_step(quantity, step)
    # the documented float slack (1e-9 of a step) is the only way past ``quantity``
    if math.ceil(steps) - steps > 1e-8 or steps == math.ceil(steps):
        assert floored <= quantity
    assert floored <= quantity + 1e-9 * step
    assert quantity - floored < step * (1 + 1e-9)
    assert abs(floored / step - round(floored / step)) < 1e-6
    assert floored >= 0.0


LADDER_RUNGS = st.lists(
    st.tuples(st.floats(-5_000, 5_000).filter(lambda x: abs(x) > 1e-6), st.floats(0.01, 10.0)),
    max_size=6,
    unique_by=lambda rung: rung[0],
).map(lambda rungs: [LadderRung(profit_usd=p, multiplier=m) for p, m in sorted(rungs)])


@PLAIN
@given(
    rolling_pnl=st.floats(-1e6, 1e6),
    rungs=LADDER_RUNGS,
    min_multiplier=st.floats(0.01, 1.0),
    max_multiplier=st.floats(1.0, 10.0),
)
def test_ladder_multiplier_stays_within_its_bounds(
    rolling_pnl: float, rungs: list[LadderRung], min_multiplier: float, max_multiplier: float
) -> None:
    assert (
        min_multiplier
        <= ladder_multiplier(rolling_pnl, rungs, min_multiplier, max_multiplier)
        <= max_multiplier
    )


@PLAIN
@given(
    pnl_a=st.floats(-1e5, 1e5),
    pnl_b=st.floats(-1e5, 1e5),
    loss_multipliers=st.lists(st.floats(0.1, 1.0), max_size=3),
    profit_multipliers=st.lists(st.floats(1.0, 5.0), max_size=3),
)
def test_ladder_with_ordered_rungs_never_cuts_risk_as_profit_grows(
    pnl_a: float, pnl_b: float, loss_multipliers: list[float], profit_multipliers: list[float]
) -> None:
    rungs = [
        LadderRung(profit_usd=-300.0 * (len(loss_multipliers) - n), multiplier=m)
        for n, m in enumerate(sorted(loss_multipliers))
    ] + [
        LadderRung(profit_usd=200.0 * (n + 1), multiplier=m) for n, m in enumerate(sorted(profit_multipliers))
    ]
    low, high = sorted((pnl_a, pnl_b))
    assert ladder_multiplier(low, rungs, 0.1, 5.0) <= ladder_multiplier(high, rungs, 0.1, 5.0)


@st.composite
def risk_bands(draw: st.DrawFn) -> dict[str, float]:
    band_min = draw(st.floats(0.0005, 0.01))
    band_max = draw(st.floats(band_min, 0.05))
    return {
        "base": draw(st.floats(band_min, band_max)),
        "band_min": band_min,
        "band_max": band_max,
        "step_drawdown": draw(st.floats(0.01, 0.2)),
        "risk_reduction": draw(st.floats(0.0, 0.01)),
        "floor": draw(st.floats(0.0, 0.01)),
    }


@PLAIN
@given(band=risk_bands(), drawdown_a=st.floats(0.0, 1.0), drawdown_b=st.floats(0.0, 1.0))
def test_throttled_risk_fraction_stays_in_band_and_falls_with_drawdown(
    band: dict[str, float], drawdown_a: float, drawdown_b: float
) -> None:
    base = band.pop("base")
    shallow, deep = sorted((drawdown_a, drawdown_b))
    at_shallow = throttled_risk_fraction(base, shallow, **band)
    at_deep = throttled_risk_fraction(base, deep, **band)
    for value in (at_shallow, at_deep):
        assert band["band_min"] <= value <= band["band_max"]
    assert at_deep <= at_shallow
    if base >= band["floor"]:
        assert throttled_risk_fraction(base, 0.0, **band) == pytest.approx(base)


@PLAIN
@given(
    wanted=st.floats(0.0, 1e6),
    rooms=st.lists(st.floats(-1e4, 1e6), max_size=5),
)
def test_clamps_never_raise_the_notional_and_respect_every_room(wanted: float, rooms: list[float]) -> None:
    clamps = [Clamp(f"clamp_{n}", room) for n, room in enumerate(rooms)]
    notional, bound_by = apply_clamps(wanted, "risk", clamps)
    assert 0.0 <= notional <= wanted
    for room in rooms:
        assert notional <= max(room, 0.0) + 1e-9
    assert bound_by == "risk" or notional < wanted


# -- regressions: defects the simulation exposed, fixed in the desk --------------------------------


def _regression_desk(
    overrides: dict[str, dict[str, Any]], instruments: list[SimInstrument], prices: dict[str, float]
) -> tuple[RiskDesk, SimMarket, SimBroker]:
    config = desk_config(0.0, deep_merge({"budgets": {"alloc": ALLOCATIONS_USD}}, overrides))
    market = SimMarket(prices)
    broker = SimBroker()
    desk = RiskDesk(config, mode="backtest", market=market, broker=broker, journal=None)
    for sim in instruments:
        desk.register_instrument(sim.terms)
    return desk, market, broker


def _fill(
    desk: RiskDesk,
    trade_ids: Iterator[int],
    instrument_id: str,
    side: str,
    quantity: float,
    price: float,
    tag: str,
) -> None:
    trade_id = next(trade_ids)
    sim = INSTRUMENTS[instrument_id]
    desk.on_fill(
        FillRecord(
            ts=START_NS,
            venue=sim.terms.venue,
            trade_id=f"T-{trade_id}",
            client_order_id=f"O-{trade_id}",
            venue_order_id=f"V-{trade_id}",
            strategy_id=STRATEGY_OF[instrument_id],
            instrument_id=instrument_id,
            side=side,
            quantity=quantity,
            price=price,
            commission_usd=sim.fee_usd(quantity, price),
            order_tag=tag,
        )
    )


def _buy_intent(instrument_id: str, entry: float, stop: float, target: float, **extra: Any) -> TradeIntent:
    return TradeIntent(
        STRATEGY_OF[instrument_id],
        instrument_id,
        OrderSide.BUY,
        entry,
        stop,
        target,
        SignalStrength.NORMAL,
        START_NS,
        **extra,
    )


NO_CORRELATION = {"risk": {"correlation": {"enabled": False}}}


def test_entry_fee_can_overdraw_the_free_budget() -> None:
    # spot ledger $1,000, one pair may take all of it: sized at the whole $1,000, the $1 taker fee
    # of that fill would leave the ledger $1 short of what it has committed
    overrides = deep_merge(NO_CORRELATION, {"sizing": {"pair_cap_fraction": 1.0}})
    overrides["sizing"]["assets"] = {"crypto_spot": {"risk_fraction": 0.0075}}
    desk, _, _ = _regression_desk(overrides, [BTC_SPOT], {BTC_SPOT.instrument_id: 100_000.0})
    decision = desk.evaluate(_buy_intent(BTC_SPOT.instrument_id, 100_000.0, 99_500.0, 110_000.0))
    assert decision.approved and decision.bound_by == "ledger_budget"
    assert float(decision.inputs["notional_usd"] or 0.0) < 1_000.0  # the fee is budgeted
    quantity = decision.quantity or 0.0
    _fill(desk, itertools.count(1), BTC_SPOT.instrument_id, "BUY", quantity, 100_000.0, "ENTRY")
    assert desk.ledgers["crypto_spot"].free_usd() >= 0.0


def test_reversing_a_losing_lot_while_another_wins_overdraws_the_free_budget() -> None:
    # futures at leverage 1 with $1,000: a $500 BTC long and a $400 ETH long; BTC then gains $50
    # and ETH loses $32. Reversing ETH, the ledger budget clamp counts the $400 the ETH lot frees
    # but not the $32 its close realises, and the leverage clamp's equity includes BTC's open gain,
    # so after the close and the new $483 short the ledger has committed more than its balance,
    # by more than all the fees it paid.
    overrides = deep_merge(
        NO_CORRELATION,
        {
            "budgets": {"alloc": {"crypto_futures": 1_000.0}},
            "risk": {"assets": {"crypto_futures": {"leverage_cap": 1.0}}},
            "sizing": {"pair_cap_fraction": 1.0, "fixed_until_equity_usd": 0.0},
        },
    )
    btc, eth = BTC_PERP.instrument_id, ETH_PERP.instrument_id
    desk, market, _ = _regression_desk(overrides, [BTC_PERP, ETH_PERP], {btc: 100_000.0, eth: 2_500.0})
    fills = itertools.count(1)
    for iid, entry, stop, notional in ((btc, 100_000.0, 99_000.0, 500.0), (eth, 2_500.0, 2_469.0, 400.0)):
        decision = desk.evaluate(_buy_intent(iid, entry, stop, entry * 1.2))
        if decision.quantity is None or decision.quantity * entry != pytest.approx(notional):
            pytest.fail(f"scenario sized differently: {decision}")
        _fill(desk, fills, iid, "BUY", decision.quantity, entry, "ENTRY")
    market.prices.update({btc: 110_000.0, eth: 2_300.0})
    reverse = TradeIntent(
        STRATEGY_OF[eth], eth, OrderSide.SELL, 2_300.0, 2_312.0, 2_000.0, SignalStrength.NORMAL, START_NS
    )
    decision = desk.evaluate(reverse)
    if not (decision.approved and decision.bound_by == "ledger_budget"):
        pytest.fail(f"scenario no longer binds the ledger budget: {decision}")
    ledger = desk.ledgers["crypto_futures"]
    _fill(desk, fills, eth, "SELL", abs(ledger.lots[eth].quantity), 2_300.0, "SIGNAL_EXIT")
    _fill(desk, fills, eth, "SELL", decision.quantity or 0.0, 2_300.0, "ENTRY")
    assert ledger.free_usd() >= -ledger.fees_usd


EUR_USD_ENTRY = 1.0835  # pair cap 10% of $5,000 -> 461 units


@pytest.mark.parametrize(
    ("fill_quantities", "fill_price"),
    [
        pytest.param([138.0, 323.0], EUR_USD_ENTRY, id="two-parts-at-entry"),
        pytest.param([461.0], 1.0834, id="one-pip-better"),
    ],
)
def test_a_completely_filled_entry_releases_its_reservation(
    fill_quantities: list[float], fill_price: float
) -> None:
    # on_fill keeps ``reserved - filled notional`` while it is > 0: float residue of a split fill, or
    # the saving of a better fill price, stays reserved forever, and the pair keeps counting as open
    overrides = deep_merge(NO_CORRELATION, {"risk": {"assets": {"forex": {"max_concurrent": 1}}}})
    prices = {EUR_USD.instrument_id: EUR_USD_ENTRY, USD_JPY.instrument_id: 150.0}
    desk, _, _ = _regression_desk(overrides, [EUR_USD, USD_JPY], prices)
    eur = EUR_USD.instrument_id
    decision = desk.evaluate(_buy_intent(eur, EUR_USD_ENTRY, 1.07, 1.10))
    if decision.quantity != 461.0:
        pytest.fail(f"scenario sized differently: {decision}")
    fills = itertools.count(1)
    for quantity in fill_quantities:
        _fill(desk, fills, eur, "BUY", quantity, fill_price, "ENTRY")
    _fill(desk, fills, eur, "SELL", 461.0, 1.10, "TP")
    ledger = desk.ledgers["forex"]
    assert not ledger.lots
    assert ledger.reservations == {}
    jpy = USD_JPY.instrument_id
    assert desk.evaluate(_buy_intent(jpy, 150.0, 148.5, 153.0)).reason != "max_concurrent"


def test_planned_risk_of_a_split_entry_counts_once() -> None:
    # the lot of an entry filled in two parts carries twice the planned risk, which doubles the loss
    # the per-trade breach rule tolerates before it raises a risk event
    prices = {EUR_USD.instrument_id: EUR_USD_ENTRY}
    desk, _, _ = _regression_desk(NO_CORRELATION, [EUR_USD], prices)
    eur = EUR_USD.instrument_id
    decision = desk.evaluate(_buy_intent(eur, EUR_USD_ENTRY, 1.07, 1.10))
    if decision.quantity != 461.0:
        pytest.fail(f"scenario sized differently: {decision}")
    fills = itertools.count(1)
    _fill(desk, fills, eur, "BUY", 138.0, EUR_USD_ENTRY, "ENTRY")
    _fill(desk, fills, eur, "BUY", 323.0, EUR_USD_ENTRY, "ENTRY")
    planned = desk.ledgers["forex"].lots[eur].planned_risk_usd
    assert planned == pytest.approx((EUR_USD_ENTRY - 1.07) * 461.0)


def test_theta_cap_holds_across_entries_approved_before_either_fills() -> None:
    # two $2 options, 1 contract each with theta -$12/day: the second entry is sized against the
    # lots only (none yet), so both fill and the options ledger bleeds $24/day against a $20 cap
    prices = {SPY_CALL.instrument_id: 2.0, SPY_PUT.instrument_id: 2.0}
    desk, _, _ = _regression_desk(deep_merge(NO_CORRELATION, OPTION_PREMIUM_CAP), [SPY_CALL, SPY_PUT], prices)
    decisions = {}
    for iid in prices:
        intent = _buy_intent(iid, 2.0, 1.8, 3.0, theta_per_unit=-12.0)
        decisions[iid] = desk.evaluate(intent)
    if not decisions[SPY_CALL.instrument_id].approved:
        pytest.fail(f"scenario no longer approves the first entry: {decisions}")
    fills = itertools.count(1)
    for iid, decision in decisions.items():
        if decision.approved:
            _fill(desk, fills, iid, "BUY", decision.quantity or 0.0, 2.0, "ENTRY")
    lots = desk.ledgers["options"].lots
    net_theta = sum(abs(lot.quantity) * 12.0 for lot in lots.values())
    assert net_theta <= 20.0
