"""Run candle tables through the real engine (nautilus kernel, risk desk, strategy base class)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.objects import Price, Quantity

from catalog.config import InstrumentSpec
from catalog.instruments import build_instrument
from engine import results
from engine.backtest import MarketData, assemble
from engine.configs import RunConfig

REPO = Path(__file__).resolve().parents[2]
VENUE_PAYLOADS = REPO / "data" / "venues" / "bybit"
BAR_TYPE = "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"
START_NS = 1_748_736_000_000_000_000  # 2025-06-01 00:00 UTC
MINUTE_NS = 60_000_000_000


@dataclass
class ScenarioResult:
    """Hold what a scenario produced: fills, orders, positions (with exit reasons) and the desk."""

    fills: pd.DataFrame
    orders: pd.DataFrame
    positions: pd.DataFrame
    denials: dict[str, int]


def btcusdt_perpetual() -> Any:
    """Build the real BTCUSDT linear perpetual from the recorded Bybit payloads."""
    return build_instrument(
        InstrumentSpec(
            kind="crypto_perpetual",
            symbol="BTCUSDT",
            bybit_instruments_info=str(VENUE_PAYLOADS / "http_get_instruments_linear.json"),
            bybit_fee_rate=str(VENUE_PAYLOADS / "http_get_fee_rate.json"),
        )
    )


def candles_to_bars(instrument: Any, candles: list[tuple[float, float, float, float]]) -> list[Bar]:
    """Turn (open, high, low, close) rows into 1-minute bars stamped at their close."""
    bar_type = BarType.from_str(BAR_TYPE)
    bars = []
    for index, (o, h, low, c) in enumerate(candles):
        ts = START_NS + (index + 1) * MINUTE_NS
        bars.append(
            Bar(
                bar_type,
                instrument.make_price(o),
                instrument.make_price(h),
                instrument.make_price(low),
                instrument.make_price(c),
                Quantity.from_str("100.000"),
                ts,
                ts,
            )
        )
    return bars


def run_scenario(
    candles: list[tuple[float, float, float, float]],
    script: dict[int, list[Any]],
    *,
    sizing: dict[str, Any] | None = None,
    reverse_on_opposite: bool = True,
    balance: str = "100000 USDT",
) -> ScenarioResult:
    """Run ``script`` over ``candles`` through the engine with zero slippage and zero latency."""
    instrument = btcusdt_perpetual()
    raw = {
        "run": {"name": "scenario", "log_level": "OFF"},
        "data": {"bar_types": [BAR_TYPE]},
        "venues": [
            {
                "name": "BYBIT",
                "base_currency": "USDT",
                "starting_balances": [balance],
                "fill_model": {"prob_slippage": 0.0},
            }
        ],
        "sizing": {"max_leverage": 1.0, **(sizing or {})},
        "report": {"tearsheet": False},
        "strategies": [
            {
                "path": "tests.scenarios.scripted:ScriptedSignals",
                "config_path": "tests.scenarios.scripted:ScriptedSignalsConfig",
                "config": {
                    "instrument_id": str(instrument.id),
                    "bar_type": BAR_TYPE,
                    "reverse_on_opposite": reverse_on_opposite,
                    "script": {str(k): v for k, v in script.items()},
                },
            }
        ],
    }
    config = msgspec.convert(raw, RunConfig)
    assembled = assemble(config, MarketData([instrument], candles_to_bars(instrument, candles)))
    assembled.engine.run()
    trader = assembled.engine.trader
    orders = results.orders_table(trader)
    outcome = ScenarioResult(
        fills=results.fills_table(trader),
        orders=orders,
        positions=results.positions_table(trader, orders),
        denials=dict(assembled.desk.denials),
    )
    assembled.engine.dispose()
    return outcome


def price(value: str) -> Price:
    """Parse a price for comparisons."""
    return Price.from_str(value)


