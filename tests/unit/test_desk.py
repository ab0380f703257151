"""The risk desk on plain numbers: guards, clamps, ledgers, the kill switch and the journal it writes.

The market and broker here are small data sources (prices and closes we choose), standing in for the
kernel's cache; the desk, its ledgers and the SQLite journal are the real ones.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from nautilus_trader.model.enums import OrderSide

from engine.journal import FillRecord, Journal
from engine.risk import DeskError, InstrumentTerms, RiskDesk, SignalStrength, TradeIntent
from tests.scenarios.kit import desk_config

BTC = InstrumentTerms("BTCUSDT-LINEAR.BYBIT", "crypto_futures", "BYBIT", 0.1, 0.001, 0.001, 5.0)
ETH = InstrumentTerms("ETHUSDT-LINEAR.BYBIT", "crypto_futures", "BYBIT", 0.01, 0.01, 0.01, 5.0)
SOL = InstrumentTerms("SOLUSDT-LINEAR.BYBIT", "crypto_futures", "BYBIT", 0.01, 0.1, 0.1, 5.0)
EURUSD = InstrumentTerms("EUR/USD.IDEALPRO", "forex", "IDEALPRO", 0.00001, 1.0, 1.0)
OPTION = InstrumentTerms("SPY250620C00550000.SMART", "options", "SMART", 0.01, 1.0, 1.0, multiplier=100.0)
DAY_NS = 86_400 * 1_000_000_000


class Prices:
    """Marks and bar closes chosen by the test (what the kernel cache would hold)."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.series: dict[str, list[float]] = {}

    def mark(self, instrument_id: str) -> float | None:
        return self.marks.get(instrument_id)

    def side_mark(self, instrument_id: str, long: bool) -> float | None:
        return self.mark(instrument_id)  # trade prices only: both sides close at the mark

    def closes(self, instrument_id: str, count: int) -> tuple[list[int], list[float]]:
        closes = self.series.get(instrument_id, [])[-count:]
        return list(range(len(closes))), closes


class Wallet:
    def __init__(self, buying_power: float | None = 1e9) -> None:
        self.buying_power = buying_power

    def buying_power_usd(self, instrument_id: str) -> float | None:
        return self.buying_power


def _desk(overrides=None, *, allocation=10_000.0, mode="backtest", journal=None, wallet=None, prices=None):
    desk = RiskDesk(
        desk_config(allocation, overrides),
        mode=mode,
        market=prices or Prices(),
        broker=wallet or Wallet(),
        journal=journal,
    )
    for terms in (BTC, ETH, SOL, EURUSD, OPTION):
        desk.register_instrument(terms)
    return desk


def _intent(terms=BTC, side=OrderSide.BUY, entry=100_000.0, stop_pct=0.01, tp_pct=0.02, ts=0, **extra):
    sign = 1 if side == OrderSide.BUY else -1
    return TradeIntent(
        strategy_id="S-1",
        instrument_id=terms.instrument_id,
        side=side,
        entry_price=entry,
        stop_price=entry * (1 - sign * stop_pct),
        take_profit_price=entry * (1 + sign * tp_pct),
        strength=extra.pop("strength", SignalStrength.NORMAL),
        ts_event=ts,
        **extra,
    )


_trade_ids = iter(range(1, 1_000_000))


def _fill(desk, intent, decision, price=None, tag="ENTRY", side=None, ts=None):
    return desk.on_fill(
        FillRecord(
            ts=intent.ts_event if ts is None else ts,
            venue="BYBIT",
            trade_id=f"T-{next(_trade_ids)}",
            client_order_id="O-1",
            venue_order_id="V-1",
            strategy_id=intent.strategy_id,
            instrument_id=intent.instrument_id,
            side=side or intent.side.name,
            quantity=decision.quantity,
            price=price or intent.entry_price,
            commission_usd=0.0,
            order_tag=tag,
        )
    )


def test_risk_sizing_uses_weight_and_is_bound_by_the_pair_cap():
    desk = _desk({"sizing": {"pair_cap_fraction": 1.0}})
    weak = desk.evaluate(_intent(stop_pct=0.05, strength=SignalStrength.WEAK))
    # 10,000 x 0.5% x 0.5 / 5,000 = 0.005 BTC
    assert weak.quantity == pytest.approx(0.005)
    assert weak.bound_by == "risk"
    capped = _desk().evaluate(_intent(stop_pct=0.05, strength=SignalStrength.STRONG))
    assert capped.quantity == pytest.approx(0.01)  # 10% of 10,000 = $1,000 of BTC
    assert capped.bound_by == "pair_cap"


def test_fixed_ten_dollars_below_the_equity_threshold_never_rounds_up():
    decision = _desk(allocation=900.0).evaluate(_intent(terms=EURUSD, entry=1.1, stop_pct=0.01))
    assert decision.bound_by == "fixed_notional"
    assert decision.quantity == pytest.approx(9.0)  # $10 / 1.1 floored to whole units
    btc = _desk(allocation=900.0).evaluate(_intent())
    assert (btc.approved, btc.reason) == (False, "below_venue_minimum")  # 0.0001 BTC < 0.001


def test_notional_cap_policy_reproduces_seed_000():
    overrides = {"sizing": {"policy": "notional_cap", "pair_cap_fraction": 1.0, "ladder": {"enabled": False}}}
    decision = _desk(overrides, allocation=7_000.0).evaluate(_intent(terms=EURUSD, entry=1.0))
    # BaseCap = 7,000 x 0.5% x 1.0 = $35 of EUR/USD at 1.0
    assert decision.bound_by == "base_cap"
    assert decision.quantity == pytest.approx(35.0)


def test_max_concurrent_positions_per_asset():
    desk = _desk({"risk": {"assets": {"crypto_futures": {"max_concurrent": 2}}}})
    for terms, price in ((BTC, 100_000.0), (ETH, 3_000.0)):
        intent = _intent(terms=terms, entry=price)
        _fill(desk, intent, desk.evaluate(intent))
    third = desk.evaluate(_intent(terms=SOL, entry=150.0))
    assert third.reason == "max_concurrent"
    forex = desk.evaluate(_intent(terms=EURUSD, entry=1.1))
    assert forex.approved  # another ledger, its own count


def test_correlated_instruments_share_one_exposure_cap():
    prices = Prices()
    rng = np.random.default_rng(7)
    walk = np.cumsum(rng.normal(0, 0.01, 300))
    prices.series[BTC.instrument_id] = list(100_000 * np.exp(walk))
    prices.series[ETH.instrument_id] = list(3_000 * np.exp(walk + rng.normal(0, 0.001, 300)))
    prices.series[SOL.instrument_id] = list(150 * np.exp(np.cumsum(rng.normal(0, 0.01, 300))))
    desk = _desk(prices=prices)
    btc = _intent()
    _fill(desk, btc, desk.evaluate(btc))  # $1,000 of BTC (pair cap)
    eth = desk.evaluate(_intent(terms=ETH, entry=3_000.0))
    assert eth.bound_by == "correlation_cap"  # group cap 15% of 10,000 leaves $500
    assert eth.quantity * 3_000.0 == pytest.approx(500.0, abs=30.0)
    assert eth.inputs["correlated"] == BTC.instrument_id
    sol = desk.evaluate(_intent(terms=SOL, entry=150.0))
    assert sol.bound_by == "pair_cap"  # uncorrelated: its own 10%


def test_options_need_theta_and_respect_premium_and_theta_caps():
    desk = _desk({"sizing": {"pair_cap_fraction": 1.0}})
    no_theta = desk.evaluate(_intent(terms=OPTION, entry=0.4, stop_pct=0.5, tp_pct=0.5))
    assert no_theta.reason == "theta_unknown"
    premium = desk.evaluate(_intent(terms=OPTION, entry=0.4, stop_pct=0.5, tp_pct=0.5, theta_per_unit=-0.5))
    assert premium.bound_by == "premium_cap"
    assert premium.quantity == 1.0  # $50 of premium buys one $40 contract
    theta_bound = _desk({"sizing": {"pair_cap_fraction": 1.0}, "risk": {"assets": {"options": {
        "max_premium_per_trade_usd": 1_000.0, "theta_cap_usd_per_day": 20.0}}}})  # fmt: skip
    decision = theta_bound.evaluate(
        _intent(terms=OPTION, entry=0.4, stop_pct=0.5, tp_pct=0.5, theta_per_unit=-6.0)
    )
    assert decision.bound_by == "theta_cap"
    assert decision.quantity == 3.0  # 3 x $6 = $18 of theta a day <= $20


def test_short_on_spot_is_denied_and_sl_width_is_per_asset():
    spot = InstrumentTerms("BTCUSDT.BYBIT", "crypto_spot", "BYBIT", 0.01, 0.000001, 0.000048, 5.0)
    desk = _desk()
    desk.register_instrument(spot)
    assert desk.evaluate(_intent(terms=spot, side=OrderSide.SELL)).reason == "no_short"
    assert desk.evaluate(_intent(stop_pct=0.16)).reason == "sl_too_wide"
    assert desk.evaluate(
        _intent(terms=OPTION, entry=0.4, stop_pct=0.5, tp_pct=0.5, theta_per_unit=-1)
    ).approved


def test_profit_rolls_into_its_own_ledger_only():
    desk = _desk()
    intent = _intent()
    decision = desk.evaluate(intent)
    _fill(desk, intent, decision)
    closed = _fill(desk, intent, decision, price=101_000.0, tag="TP", side="SELL", ts=60)
    assert closed is not None and closed.net_usd == pytest.approx(10.0)
    ledgers = desk.ledgers
    assert ledgers["crypto_futures"].balance_usd == pytest.approx(10_010.0)
    assert all(ledgers[a].balance_usd == pytest.approx(10_000.0) for a in ("crypto_spot", "forex", "options"))
    assert ledgers["crypto_futures"].reward_points == pytest.approx(10.0)


def test_without_rollover_profits_are_set_aside_but_losses_count():
    desk = _desk({"budgets": {"profit_rollover": False}})
    for intent, exit_price in ((_intent(), 101_000.0), (_intent(ts=120), 99_000.0)):
        decision = desk.evaluate(intent)
        _fill(desk, intent, decision)
        _fill(desk, intent, decision, price=exit_price, tag="EXIT", side="SELL")
    ledger = desk.ledgers["crypto_futures"]
    assert ledger.skimmed_usd == pytest.approx(10.0)
    assert ledger.balance_usd == pytest.approx(9_990.0)


def test_ladder_multiplier_follows_seven_day_pnl():
    desk = _desk({"sizing": {"pair_cap_fraction": 1.0}}, allocation=100_000.0)
    ledger = desk.ledgers["crypto_futures"]
    ledger.apply_funding(0, 600.0)  # +$600 realised this week: x1.5
    decision = desk.evaluate(_intent(stop_pct=0.05, ts=DAY_NS))
    assert decision.inputs["ladder_multiplier"] == pytest.approx(1.5)
    later = desk.evaluate(_intent(stop_pct=0.05, ts=9 * DAY_NS))
    assert later.inputs["ladder_multiplier"] == pytest.approx(1.0)  # the window moved on


def test_replayed_fill_is_counted_once(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite", run_id="r", mode="backtest")
    desk = _desk(journal=journal)
    intent = _intent()
    decision = desk.evaluate(intent)
    fill = FillRecord(
        ts=0,
        venue="BYBIT",
        trade_id="T-42",
        client_order_id="O-1",
        venue_order_id="V-1",
        strategy_id="S-1",
        instrument_id=BTC.instrument_id,
        side="BUY",
        quantity=0.01,
        price=100_000.0,
        commission_usd=0.6,
        order_tag="ENTRY",
    )
    desk.on_fill(fill)
    desk.on_fill(fill)
    ledger = desk.ledgers["crypto_futures"]
    assert ledger.fills == 1
    assert ledger.fees_usd == pytest.approx(0.6)
    assert desk.duplicate_fills == 1
    assert journal.count("fills") == 1
    assert decision.approved
    journal.close()


def test_reallocation_moves_whole_steps_and_is_audited(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite", run_id="r", mode="live")
    desk = _desk(journal=journal, mode="live")
    desk.reallocate("forex", 300.0, operator="alice", ts_ns=5)
    assert desk.ledgers["forex"].allocation_usd == pytest.approx(10_300.0)
    with pytest.raises(DeskError, match="multiple of 100"):
        desk.reallocate("forex", 150.0, operator="alice", ts_ns=6)
    with pytest.raises(DeskError, match="would leave"):
        desk.reallocate("forex", -20_000.0, operator="alice", ts_ns=7)
    actions = journal.rows("operator_actions")
    assert [(a["operator"], a["action"], a["asset"]) for a in actions] == [("alice", "reallocate", "forex")]
    journal.close()


def test_live_entries_need_the_broker_balance():
    desk = _desk(mode="live", wallet=Wallet(None))
    assert desk.evaluate(_intent()).reason == "no_broker_balance"
    capped = _desk(mode="live", wallet=Wallet(300.0)).evaluate(_intent())
    assert capped.bound_by == "broker_available"
    assert capped.quantity == pytest.approx(0.003)


def test_every_decision_is_journaled_with_its_inputs(tmp_path):
    journal = Journal(tmp_path / "journal.sqlite", run_id="r", mode="backtest")
    desk = _desk(journal=journal)
    desk.evaluate(_intent())
    desk.evaluate(_intent(stop_pct=0.5))
    rows = journal.rows("decisions")
    assert [(r["approved"], r["reason"], r["bound_by"]) for r in rows] == [
        (1, "ok", "pair_cap"),
        (0, "sl_too_wide", ""),
    ]
    assert journal.count("signals") == 2
    assert not math.isnan(float(rows[0]["quantity"]))
    journal.close()
