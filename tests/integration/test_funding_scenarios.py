"""Carry scenarios through the real engine: perpetual funding at 00/08/16 UTC and the FX swap at 17:00 NY.

BTCUSDT perpetual flat at 100,000 from Sunday 2025-06-01 00:01 UTC, 1-minute bars, a 10,000 USDT
wallet (the 10% pair cap sizes an entry at 0.01 BTC). The funding rate is a constant stated by the
test (0.04% per 8 hours, under the shipped 0.05% funding filter); the mark is the latest bar close.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from nautilus_trader.model.data import Bar, BarType

from catalog.funding import FundingSeries
from engine.configs import ConfigError
from tests.scenarios.kit import REPO, START_NS, eurusd, run_scenario

PERP = "BTCUSDT-LINEAR.BYBIT"
FLAT = (100_000.0, 100_050.0, 99_950.0, 100_000.0)
RATE = 0.0004
WALLET = "10000 USDT"
CARRY = {"funding": True, "fx_swaps": False, "config": str(REPO / "configs" / "carry.toml")}
HOUR_NS = 3_600_000_000_000


def _utc(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()) * 1_000_000_000


def _funding(rate: float = RATE) -> dict[str, FundingSeries]:
    return {PERP: FundingSeries.constant(PERP, rate, 8, "test constant")}


def _payments(result, kind="funding"):
    return [p for p in result.carry.payments if p.kind == kind]


def test_long_pays_and_short_receives_at_each_settlement():
    # long from bar 0 (00:01), reversed to short at bar 600 (10:01), run ends 16:30
    candles = [FLAT] * 990
    script = {0: ["BUY", 99_000.0, 110_000.0], 600: ["SELL", 101_000.0, 90_000.0]}
    result = run_scenario(candles, script, balance=WALLET, carry=CARRY, funding=_funding())
    payments = _payments(result)
    assert [p.ts for p in payments] == [_utc("2025-06-01T08:00:00"), _utc("2025-06-01T16:00:00")]
    long_pay, short_pay = payments
    assert long_pay.quantity > 0 > short_pay.quantity
    for payment in payments:
        assert payment.mark == pytest.approx(100_000.0)
        assert payment.amount_usd == pytest.approx(-payment.quantity * 100_000.0 * RATE)
    assert long_pay.amount_usd == pytest.approx(-0.4)  # 0.01 BTC x 100,000 x 0.04%: a long pays
    assert short_pay.amount_usd > 0  # a short receives
    # booked in the desk's ledger and in the venue account, exactly once each
    ledger = result.desk.ledgers["crypto_futures"]
    assert ledger.funding_usd == pytest.approx(sum(p.amount_usd for p in payments))
    summary = result.carry.summary()["funding"][PERP]
    assert summary["source"] == "constant" and summary["payments"] == 2
    assert summary["total_usd"] == pytest.approx(ledger.funding_usd)


def test_account_balance_carries_the_funding():
    # a long held over 08:00 and closed before 16:00: balance = wallet + realised P&L - fees + funding
    candles = [FLAT] * 700
    with_carry = run_scenario(candles, {0: ["BUY", 99_000.0, 110_000.0]}, balance=WALLET, carry=CARRY,
                              funding=_funding())  # fmt: skip
    without = run_scenario(candles, {0: ["BUY", 99_000.0, 110_000.0]}, balance=WALLET)
    (payment,) = _payments(with_carry)
    assert payment.ts == _utc("2025-06-01T08:00:00")
    assert with_carry.account_balance - without.account_balance == pytest.approx(payment.amount_usd)


def test_no_position_no_payment_and_zero_rate_pays_nothing():
    flat_run = run_scenario([FLAT] * 500, {}, balance=WALLET, carry=CARRY, funding=_funding())
    assert flat_run.carry.payments == []
    zero = run_scenario([FLAT] * 500, {0: ["BUY", 99_000.0, 110_000.0]}, balance=WALLET, carry=CARRY,
                        funding=_funding(0.0))  # fmt: skip
    (payment,) = _payments(zero)
    assert payment.amount_usd == 0.0
    assert zero.carry.summary()["funding"][PERP]["rate"] == 0.0


def test_funding_filter_denies_entries_paying_more_than_the_threshold():
    risk = {"assets": {"crypto_futures": {"funding_filter_rate": 0.0005}}}
    long = run_scenario([FLAT] * 3, {0: ["BUY", 99_000.0, 110_000.0]}, balance=WALLET, carry=CARRY,
                        funding=_funding(0.001), desk={"risk": risk})  # fmt: skip
    assert long.denials == {"funding_filter": 1}
    short = run_scenario([FLAT] * 3, {0: ["SELL", 101_000.0, 90_000.0]}, balance=WALLET, carry=CARRY,
                         funding=_funding(0.001), desk={"risk": risk})  # fmt: skip
    assert short.denials == {}  # a short receives a positive rate


def test_a_perpetual_without_funding_series_fails_at_assembly():
    with pytest.raises(ConfigError, match=r"no funding series for BTCUSDT-LINEAR\.BYBIT"):
        run_scenario([FLAT] * 3, {}, balance=WALLET, carry=CARRY, funding={})


def test_a_recorded_series_that_does_not_cover_the_run_fails_at_assembly():
    recorded = FundingSeries(PERP, "recorded", 8, None, (1_709_856_000_000_000_000,), (0.00015,), "payload")
    with pytest.raises(ConfigError, match="does not cover the run's bars"):
        run_scenario([FLAT] * 3, {}, balance=WALLET, carry=CARRY, funding={PERP: recorded})


# -- FX swap -----------------------------------------------------------------------------------------

MONDAY_NS = START_NS + 24 * HOUR_NS  # 2025-06-02 00:00 UTC


def _fx_hour_bars(hours: int) -> tuple[object, list[Bar], str]:
    instrument = eurusd()
    bars = []
    for side, spread in (("BID", 0.0), ("ASK", 0.0002)):
        bar_type = BarType.from_str(f"EUR/USD.IDEALPRO-1-HOUR-{side}-EXTERNAL")
        for index in range(hours):
            ts = MONDAY_NS + (index + 1) * HOUR_NS
            c = 1.1000 + spread
            price = instrument.make_price
            bars.append(Bar(bar_type, price(c), price(c + 0.0005), price(c - 0.0005), price(c),
                            instrument.make_qty(0), ts, ts))  # fmt: skip
    return instrument, sorted(bars, key=lambda bar: bar.ts_event), "EUR/USD.IDEALPRO-1-HOUR-BID-EXTERNAL"


def _swap_file(tmp_path: Path, long: float, short: float) -> str:
    path = tmp_path / "carry.toml"
    path.write_text(
        '[fx]\ntimezone = "America/New_York"\nrollover = "17:00"\ntriple_weekday = "wednesday"\n'
        f'[[fx.swaps]]\ninstrument = "EUR/USD.IDEALPRO"\nunit = "pips"\nlong = {long}\nshort = {short}\n'
    )
    return str(path)


@pytest.mark.parametrize(("side", "stop", "target"), [("BUY", 1.05, 1.15), ("SELL", 1.15, 1.05)])
def test_fx_swap_is_charged_each_business_day_at_17_new_york_triple_on_wednesday(
    tmp_path, side, stop, target
):
    # Monday 2025-06-02 10:00 UTC entry, held to Friday 12:00 UTC; New York is on EDT (UTC-4)
    instrument, bars, bid_type = _fx_hour_bars(4 * 24 + 12)
    carry = {"funding": False, "fx_swaps": True, "config": _swap_file(tmp_path, -0.5, 0.2)}
    result = run_scenario([], {9: [side, stop, target]}, instrument=instrument, bars=bars,
                          signal_bar_type=bid_type, balance="100000 USD", carry=carry)  # fmt: skip
    payments = _payments(result, "fx_swap")
    assert [p.ts for p in payments] == [_utc(f"2025-06-0{day}T21:00:00") for day in (2, 3, 4, 5)]
    assert [p.nights for p in payments] == [1, 1, 3, 1]  # Wednesday carries the weekend
    for payment in payments:
        units = abs(payment.quantity)
        rate = -0.5 if side == "BUY" else 0.2
        assert payment.rate == rate
        assert payment.amount_usd == pytest.approx(units * rate * 0.0001 * payment.nights)
    total = sum(p.amount_usd for p in payments)
    assert (total < 0) if side == "BUY" else (total > 0)
    assert result.desk.ledgers["forex"].funding_usd == pytest.approx(total)
