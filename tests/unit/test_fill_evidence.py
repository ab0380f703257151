"""A fill is booked only when the market data in the kernel's cache backs it (no invented trades)."""

from __future__ import annotations

from nautilus_trader.cache.cache import Cache
from nautilus_trader.model.data import QuoteTick

from engine.risk.market import KernelMarket
from tests.scenarios.kit import BAR_TYPE, MINUTE_NS, START_NS, btcusdt_perpetual, candles_to_bars

FLAT = (100_000.0, 100_050.0, 99_950.0, 100_000.0)
DROP = (99_000.0, 99_100.0, 98_500.0, 98_600.0)


def _market(candles):
    instrument = btcusdt_perpetual()
    cache = Cache()
    for bar in candles_to_bars(instrument, candles):
        cache.add_bar(bar)
    return instrument, cache, KernelMarket([BAR_TYPE], cache)


def test_fill_inside_the_bar_matches_and_names_its_snapshot():
    instrument, _, market = _market([FLAT, FLAT])
    ts = START_NS + 2 * MINUTE_NS
    snapshot, problem = market.fill_snapshot(instrument, ts, 100_020.0)
    assert problem == ""
    assert snapshot is not None and snapshot.snapshot_id == f"{BAR_TYPE}@{ts}"
    assert (snapshot.low, snapshot.high) == (99_950.0, 100_050.0)


def test_stop_gapped_through_between_bars_still_matches():
    # the previous close was 100,000 and the next bar opened at 99,000: a stop at 99,500 fills there
    instrument, _, market = _market([FLAT, DROP])
    _, problem = market.fill_snapshot(instrument, START_NS + 2 * MINUTE_NS, 99_500.0)
    assert problem == ""


def test_price_the_market_never_traded_is_refused():
    instrument, _, market = _market([FLAT, FLAT])
    _, problem = market.fill_snapshot(instrument, START_NS + 2 * MINUTE_NS, 101_000.0)
    assert "outside the traded range" in problem


def test_fill_without_any_market_data_is_refused():
    instrument, _, market = _market([])
    snapshot, problem = market.fill_snapshot(instrument, START_NS, 100_000.0)
    assert snapshot is None and problem == "no market data for the instrument"
    assert not market.has_data_for(str(instrument.id), START_NS)


def test_fresh_quote_is_the_evidence_when_there_is_one():
    instrument, cache, market = _market([FLAT])
    ts = START_NS + 5 * MINUTE_NS
    cache.add_quote_tick(
        QuoteTick(
            instrument.id,
            instrument.make_price(100_010.0),
            instrument.make_price(100_011.0),
            instrument.make_qty(1),
            instrument.make_qty(1),
            ts,
            ts,
        )
    )
    snapshot, problem = market.fill_snapshot(instrument, ts + 1_000_000_000, 100_011.0)
    assert problem == "" and snapshot is not None and snapshot.kind == "quote"
    _, stale = market.fill_snapshot(instrument, ts + 3_000_000_000, 100_011.0)
    assert stale  # a 3 s old quote is no evidence: the latest bar is older than the fill
