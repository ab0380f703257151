"""Correlation cap scenario: two crypto-spot majors through one engine, one desk, one spot ledger.

BTCUSDT and ETHUSDT spot on a CASH account with no base currency (as the shipped ETHUSDT spot example
declares it), a 10,000 USDT wallet funding the crypto_spot ledger. Both legs' risk-based size (0.75%
of equity over a stop about 5% away, some 1,400 USDT) is above the 10% pair cap, so BTC opens at
about 1,000 USDT.
ETH follows a few bars later: when its 1-minute returns track BTC's (correlation above
``[correlation] threshold`` over more than ``min_overlap_bars``), the pair is one group and ETH may
only fill the group's room, ``group_exposure_cap`` x equity minus the BTC exposure (about 500 USDT);
when ETH moves on its own it gets the full pair cap again. No desk overrides: the shipped
configs/risk.toml and configs/sizing.toml values are used and read back for the expected figures.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.scenarios.kit import (
    ScenarioLeg,
    btcusdt_spot,
    candles_to_bars,
    desk_config,
    ethusdt_spot,
    run_multi_scenario,
)

WALLET_USD = 10_000.0
WALLET = f"{WALLET_USD:.0f} USDT"
WARM_BARS = 90  # returns both legs share before BTC enters (min_overlap_bars is 60)
BTC_ENTRY = WARM_BARS
ETH_ENTRY = WARM_BARS + 5
TOTAL_BARS = ETH_ENTRY + 5
BTC_START, ETH_START = 100_000.0, 2_500.0
BAR_VOL = 0.001  # 0.1% per 1-minute bar: the stops and targets below are never reached


def _closes(start: float, returns: np.ndarray, decimals: int) -> list[float]:
    return [round(float(price), decimals) for price in start * np.exp(np.cumsum(returns))]


def _candles(closes: list[float], start: float, decimals: int) -> list[tuple[float, float, float, float]]:
    """Turn closes into (open, high, low, close) rows opening at the previous close, 0.05% wicks."""
    rows = []
    previous = start
    for close in closes:
        high = round(max(previous, close) * 1.0005, decimals)
        low = round(min(previous, close) * 0.9995, decimals)
        rows.append((previous, high, low, close))
        previous = close
    return rows


def _tables(eth_follows_btc: bool) -> tuple[list[float], list[float]]:
    """Return BTC and ETH closes: ETH on BTC's returns plus small noise, or on its own returns."""
    rng = np.random.default_rng(20250601)
    btc_returns = rng.normal(0.0, BAR_VOL, TOTAL_BARS)
    noise = rng.normal(0.0, BAR_VOL, TOTAL_BARS)
    eth_returns = btc_returns + 0.2 * noise if eth_follows_btc else noise
    return _closes(BTC_START, btc_returns, 1), _closes(ETH_START, eth_returns, 2)


def _run(tmp_path, eth_follows_btc: bool):
    btc_closes, eth_closes = _tables(eth_follows_btc)
    btc, eth = btcusdt_spot(), ethusdt_spot()
    legs = [
        ScenarioLeg(
            btc,
            candles_to_bars(btc, _candles(btc_closes, BTC_START, 1), f"{btc.id}-1-MINUTE-LAST-EXTERNAL"),
            {BTC_ENTRY: ["BUY", 0.95 * BTC_START, 1.10 * BTC_START]},
            "BTC",
        ),
        ScenarioLeg(
            eth,
            candles_to_bars(eth, _candles(eth_closes, ETH_START, 2), f"{eth.id}-1-MINUTE-LAST-EXTERNAL"),
            {ETH_ENTRY: ["BUY", 0.95 * ETH_START, 1.10 * ETH_START]},
            "ETH",
        ),
    ]
    result = run_multi_scenario(
        legs,
        balance=WALLET,
        account_type="CASH",
        base_currency=None,
        journal_path=tmp_path / "journal.sqlite",
    )
    return result, btc_closes, eth_closes


def _decision(result, symbol: str) -> dict:
    (row,) = [r for r in result.journal.rows("decisions") if r["instrument_id"] == f"{symbol}-SPOT.BYBIT"]
    return {**row, "inputs": json.loads(str(row["inputs"]))}


def _bought(result, symbol: str) -> float:
    fills = result.fills[
        (result.fills["instrument_id"].astype(str) == f"{symbol}-SPOT.BYBIT")
        & (result.fills["order_side"].astype(str) == "BUY")
    ]
    return float(fills["last_qty"].astype(float).sum())


def _fill_price(result, symbol: str) -> float:
    fills = result.fills[result.fills["instrument_id"].astype(str) == f"{symbol}-SPOT.BYBIT"]
    (price,) = set(fills["last_px"].astype(float))
    return price


def _return_correlation(a: list[float], b: list[float], bars: int) -> float:
    """Return the correlation of the two tables' 1-minute log returns over their first ``bars`` closes."""
    return float(np.corrcoef(np.diff(np.log(a[:bars])), np.diff(np.log(b[:bars])))[0, 1])


def test_second_correlated_spot_major_is_clamped_to_the_group_room(tmp_path):
    config = desk_config(WALLET_USD)
    settings = config.risk.correlation
    result, btc_closes, eth_closes = _run(tmp_path, eth_follows_btc=True)
    try:
        # the table really is correlated over the window the desk looks at when ETH signals
        assert _return_correlation(btc_closes, eth_closes, ETH_ENTRY + 1) > settings.threshold
        assert settings.min_overlap_bars < ETH_ENTRY  # enough overlapping returns
        assert result.denials == {}

        btc = _decision(result, "BTCUSDT")
        assert (btc["approved"], btc["bound_by"], btc["inputs"]["correlated"]) == (1, "pair_cap", "")
        btc_notional = btc["inputs"]["notional_usd"]
        # the pair cap floored to BTC's 0.0001 lot (10 USDT at 100,000)
        assert btc_notional == pytest.approx(config.sizing.pair_cap_fraction * WALLET_USD, abs=15.0)

        eth = _decision(result, "ETHUSDT")
        assert eth["approved"] == 1
        assert eth["bound_by"] == "correlation_cap"
        assert eth["inputs"]["correlated"] == "BTCUSDT-SPOT.BYBIT"
        # room left in the group: group_exposure_cap x equity minus the BTC lot at its cost basis
        # (the ledger counts open lots at their average fill price), floored to ETH's 0.00001 lot
        equity = eth["inputs"]["equity_usd"]
        btc_exposure = _bought(result, "BTCUSDT") * _fill_price(result, "BTCUSDT")
        expected_cap = settings.group_exposure_cap * equity - btc_exposure
        eth_notional = eth["inputs"]["notional_usd"]
        eth_lot_usd = 0.00001 * eth_closes[ETH_ENTRY]
        assert expected_cap - eth_lot_usd - 1e-6 <= eth_notional <= expected_cap + 1e-6
        room = settings.group_exposure_cap * WALLET_USD - btc_notional
        assert eth_notional == pytest.approx(room, abs=15.0)  # about 500
        assert eth_notional < 0.6 * btc_notional
        assert eth["inputs"]["wanted_notional_usd"] > config.sizing.pair_cap_fraction * equity

        # the engine bought what the desk approved, nothing more
        assert _bought(result, "BTCUSDT") == pytest.approx(btc["quantity"])
        assert _bought(result, "ETHUSDT") == pytest.approx(eth["quantity"])
    finally:
        result.journal.close()


def test_independent_second_spot_major_gets_the_full_pair_cap(tmp_path):
    config = desk_config(WALLET_USD)
    result, btc_closes, eth_closes = _run(tmp_path, eth_follows_btc=False)
    try:
        assert abs(_return_correlation(btc_closes, eth_closes, ETH_ENTRY + 1)) < 0.5
        assert result.denials == {}

        btc = _decision(result, "BTCUSDT")
        eth = _decision(result, "ETHUSDT")
        assert btc["bound_by"] == "pair_cap"
        assert eth["approved"] == 1
        assert eth["bound_by"] == "pair_cap"  # not correlation_cap
        assert eth["inputs"]["correlated"] == ""
        pair_cap = config.sizing.pair_cap_fraction * eth["inputs"]["equity_usd"]
        eth_notional = eth["inputs"]["notional_usd"]
        assert pair_cap - 0.00001 * eth_closes[ETH_ENTRY] - 1e-6 <= eth_notional <= pair_cap + 1e-6  # ~1,000
        # about twice what the group room would have allowed had ETH been correlated
        room = config.risk.correlation.group_exposure_cap * WALLET_USD - btc["inputs"]["notional_usd"]
        assert eth_notional > room + 400.0
        assert _bought(result, "ETHUSDT") == pytest.approx(eth["quantity"])
    finally:
        result.journal.close()
