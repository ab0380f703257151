"""Forex rules of the real risk desk on plain numbers: the USD-leg group, lot steps, closing-side marks."""

from __future__ import annotations

import pytest
from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide

from catalog.config import InstrumentSpec
from catalog.instruments import build_instrument
from engine.journal import FillRecord
from engine.risk import InstrumentTerms, RiskDesk, SignalStrength, TradeIntent
from engine.risk.market import KernelMarket
from tests.scenarios.kit import desk_config

EURUSD = InstrumentTerms("EUR/USD.IDEALPRO", "forex", "IDEALPRO", 0.00001, 1.0, 1.0)
USDJPY = InstrumentTerms("USD/JPY.IDEALPRO", "forex", "IDEALPRO", 0.001, 1.0, 1.0, base_is_usd=True)
WEDNESDAY_NOON_NS = 1_749_038_400_000_000_000  # 2025-06-04 12:00 UTC
NO_CORRELATION = {"risk": {"correlation": {"enabled": False}}}


class Prices:
    def __init__(self, marks: dict[str, float], sided: dict[tuple[str, bool], float] | None = None) -> None:
        self.marks = marks
        self.sided = sided or {}

    def mark(self, instrument_id: str) -> float | None:
        return self.marks.get(instrument_id)

    def closes(self, instrument_id: str, count: int) -> tuple[list[int], list[float]]:
        return [], []

    def side_mark(self, instrument_id: str, long: bool) -> float | None:
        return self.sided.get((instrument_id, long), self.marks.get(instrument_id))


class Wallet:
    def buying_power_usd(self, instrument_id: str) -> float | None:
        return 1e9


def _desk(overrides=None, market=None):
    config = desk_config(100_000.0, overrides or NO_CORRELATION)
    market = market or Prices({EURUSD.instrument_id: 1.10, USDJPY.instrument_id: 150.0})
    desk = RiskDesk(config, mode="backtest", market=market, broker=Wallet())
    desk.register_instrument(EURUSD)
    desk.register_instrument(USDJPY)
    return desk


def _intent(terms, side, entry, stop, target):
    return TradeIntent(
        "S-1", terms.instrument_id, side, entry, stop, target, SignalStrength.NORMAL, WEDNESDAY_NOON_NS
    )


def _fill(desk, terms, side, quantity, price, trade_id):
    desk.on_fill(
        FillRecord(
            ts=WEDNESDAY_NOON_NS, venue="IDEALPRO", trade_id=trade_id, client_order_id=trade_id,
            venue_order_id=trade_id, strategy_id="S-1", instrument_id=terms.instrument_id, side=side,
            quantity=quantity, price=price, commission_usd=0.0, order_tag="ENTRY",
        )
    )  # fmt: skip


def test_long_eurusd_and_short_usdjpy_share_one_short_usd_cap():
    desk = _desk()
    eur = desk.evaluate(_intent(EURUSD, OrderSide.BUY, 1.10, 1.09, 1.12))
    assert eur.bound_by == "pair_cap"  # 10% of 100,000 = 10,000 USD of EUR/USD
    _fill(desk, EURUSD, "BUY", eur.quantity, 1.10, "T-1")
    short_jpy = desk.evaluate(_intent(USDJPY, OrderSide.SELL, 150.0, 151.0, 148.0))
    # both short USD: the group may hold 15% = 15,000 USD, EUR/USD already holds ~10,000
    assert short_jpy.bound_by == "usd_group_cap"
    assert short_jpy.quantity == pytest.approx(15_000 - eur.quantity * 1.10, abs=1.0)
    assert short_jpy.inputs["usd_group"] == EURUSD.instrument_id
    long_jpy = desk.evaluate(_intent(USDJPY, OrderSide.BUY, 150.0, 149.0, 152.0))
    assert long_jpy.bound_by == "pair_cap"  # long USD offsets, it is not in the short-USD group


def test_usd_group_rule_can_be_switched_off():
    desk = _desk({"risk": {"correlation": {"enabled": False}, "assets": {"forex": {"usd_leg_group": False}}}})
    eur = desk.evaluate(_intent(EURUSD, OrderSide.BUY, 1.10, 1.09, 1.12))
    _fill(desk, EURUSD, "BUY", eur.quantity, 1.10, "T-1")
    assert desk.evaluate(_intent(USDJPY, OrderSide.SELL, 150.0, 151.0, 148.0)).bound_by == "pair_cap"


def test_forex_sizes_floor_to_the_lot_step_and_skip_below_the_minimum_order():
    micro = _desk(
        {"risk": {"correlation": {"enabled": False}, "assets": {"forex": {"lot_step_units": 1000.0}}}}
    )
    decision = micro.evaluate(_intent(EURUSD, OrderSide.BUY, 1.10, 1.09, 1.12))
    assert decision.quantity == pytest.approx(9_000)  # 9,090.9 units of 10,000 USD, floored to 9 micro lots
    proper = _desk(
        {"risk": {"correlation": {"enabled": False}, "assets": {"forex": {"min_order_units": 25_000.0}}}}
    )
    assert proper.evaluate(_intent(EURUSD, OrderSide.BUY, 1.10, 1.09, 1.12)).reason == "below_venue_minimum"


def test_the_desk_marks_a_long_at_the_bid_and_a_short_at_the_ask():
    sided = {(EURUSD.instrument_id, True): 1.0990, (EURUSD.instrument_id, False): 1.1010}
    long_desk = _desk(market=Prices({EURUSD.instrument_id: 1.1000}, sided))
    _fill(long_desk, EURUSD, "BUY", 1_000.0, 1.1000, "T-1")
    ledger = long_desk.ledgers["forex"]
    assert long_desk.book.marks(ledger) == {EURUSD.instrument_id: pytest.approx(1.0990)}
    short_desk = _desk(market=Prices({EURUSD.instrument_id: 1.1000}, sided))
    _fill(short_desk, EURUSD, "SELL", 1_000.0, 1.1000, "T-2")
    assert short_desk.book.marks(short_desk.ledgers["forex"]) == {EURUSD.instrument_id: pytest.approx(1.1010)}


def test_kernel_market_side_mark_reads_the_bid_and_ask_bars():
    instrument = build_instrument(InstrumentSpec(kind="currency_pair", symbol="EUR/USD"))
    bid_type = "EUR/USD.IDEALPRO-1-MINUTE-BID-EXTERNAL"
    ask_type = "EUR/USD.IDEALPRO-1-MINUTE-ASK-EXTERNAL"
    cache = Cache()
    cache.add_instrument(instrument)
    for text, close in ((bid_type, 1.1000), (ask_type, 1.1002)):
        price = instrument.make_price(close)
        qty = instrument.make_qty(1)
        cache.add_bar(Bar(BarType.from_str(text), price, price, price, price, qty, 60, 60))
    market = KernelMarket([bid_type, ask_type], cache)
    assert market.side_mark(EURUSD.instrument_id, True) == pytest.approx(1.1000)
    assert market.side_mark(EURUSD.instrument_id, False) == pytest.approx(1.1002)
    assert market.mark(EURUSD.instrument_id) == pytest.approx(1.1001)  # the mid, for everything else
