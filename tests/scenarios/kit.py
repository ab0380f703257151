"""Run candle tables through the real engine (nautilus kernel, risk desk, strategy base class)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.data import Bar, BarType

from catalog.config import InstrumentSpec
from catalog.instruments import build_instrument
from catalog.tomlconfig import read_toml
from engine import results
from engine.backtest import MarketData, assemble
from engine.configs import RunConfig
from engine.journal import Journal
from engine.risk import ASSET_CLASSES, DeskConfig, RiskDesk
from engine.risk.config import DeskConfigError, desk_config_from_raw

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
    desk: RiskDesk
    journal: Journal | None
    trading_state: str
    carry: Any = None  # the CarryActor's payments and summary (runs with ``carry``)
    account_balance: float | None = None  # the venue account's final balance in its base currency


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in, nested tables merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def desk_config(
    allocation_usd: float,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> DeskConfig:
    """Return the shipped desk config with every ledger funded ``allocation_usd`` and ``overrides`` merged."""
    overrides = overrides or {}
    raws = {
        name: read_toml(REPO / "configs" / f"{name}.toml", DeskConfigError)
        for name in ("budgets", "risk", "sizing")
    }
    raws["budgets"] = deep_merge(raws["budgets"], {"alloc": dict.fromkeys(ASSET_CLASSES, allocation_usd)})
    # Candle tables start on Sunday 2025-06-01 00:00 UTC, when spot FX is closed: the forex calendar is
    # off here unless a test turns it on (tests/integration/test_fx_scenarios.py does).
    raws["risk"] = deep_merge(raws["risk"], {"forex": {"calendar": False}})
    merged = {name: deep_merge(raw, overrides.get(name, {})) for name, raw in raws.items()}
    return desk_config_from_raw(merged["budgets"], merged["risk"], merged["sizing"])


def _bybit_btcusdt(kind: str, payload: str) -> Any:
    return build_instrument(
        InstrumentSpec(
            kind=kind,
            symbol="BTCUSDT",
            bybit_instruments_info=str(VENUE_PAYLOADS / payload),
            bybit_fee_rate=str(VENUE_PAYLOADS / "http_get_fee_rate.json"),
        )
    )


def btcusdt_perpetual() -> Any:
    """Build the real BTCUSDT linear perpetual from the recorded Bybit payloads."""
    return _bybit_btcusdt("crypto_perpetual", "http_get_instruments_linear.json")


def btcusdt_spot() -> Any:
    """Build the real BTCUSDT spot pair from the recorded Bybit payloads."""
    return _bybit_btcusdt("crypto_spot", "http_get_instruments_spot.json")


def eurusd() -> Any:
    """Build the IDEALPRO EUR/USD pair as the sample catalog defines it."""
    return build_instrument(InstrumentSpec(kind="currency_pair", symbol="EUR/USD"))


def candles_to_bars(
    instrument: Any, candles: list[tuple[float, float, float, float]], bar_type_str: str = BAR_TYPE
) -> list[Bar]:
    """Turn (open, high, low, close) rows into 1-minute bars stamped at their close."""
    bar_type = BarType.from_str(bar_type_str)
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
                instrument.make_qty(100),
                ts,
                ts,
            )
        )
    return bars


def run_scenario(
    candles: list[tuple[float, float, float, float]],
    script: dict[int, list[Any]],
    *,
    desk: dict[str, dict[str, Any]] | None = None,
    mode: str = "backtest",
    journal_path: Path | None = None,
    fresh_journal: bool = True,
    reverse_on_opposite: bool = True,
    balance: str = "100000 USDT",
    instrument: Any = None,
    bars: list[Bar] | None = None,
    signal_bar_type: str = BAR_TYPE,
    strategy_options: dict[str, Any] | None = None,
    carry: dict[str, Any] | None = None,
    funding: dict[str, Any] | None = None,
) -> ScenarioResult:
    """Run ``script`` over ``candles`` (or ready ``bars``) through the engine, no slippage or latency.

    Every ledger is funded with the wallet's balance unless ``desk`` overrides say otherwise; with a
    ``journal_path`` the desk journals to that SQLite file (kept open in the result for reading).
    ``strategy_options`` adds fields of the strategy config (e.g. ``time_stop_bars``).
    ``carry`` is the run config's ``[carry]`` section and ``funding`` the perpetuals' funding series
    (``catalog.funding.FundingSeries`` by instrument id) it charges.
    """
    instrument = instrument or btcusdt_perpetual()
    bars = bars if bars is not None else candles_to_bars(instrument, candles)
    raw = {
        "run": {"name": "scenario", "log_level": "OFF"},
        "data": {"bar_types": [signal_bar_type]},
        "venues": [
            {
                "name": instrument.id.venue.value,
                "base_currency": balance.split()[1],
                "starting_balances": [balance],
                "fill_model": {"prob_slippage": 0.0},
            }
        ],
        "desk": {"mode": mode},
        "report": {"tearsheet": False},
        "strategies": [
            {
                "path": "tests.scenarios.scripted:ScriptedSignals",
                "config_path": "tests.scenarios.scripted:ScriptedSignalsConfig",
                "config": {
                    "instrument_id": str(instrument.id),
                    "bar_type": signal_bar_type,
                    "reverse_on_opposite": reverse_on_opposite,
                    "script": {str(k): v for k, v in script.items()},
                    **(strategy_options or {}),
                },
            }
        ],
    }
    if carry is not None:
        raw["carry"] = carry
    config = msgspec.convert(raw, RunConfig)
    journal = (
        Journal(journal_path, run_id="scenario", mode=mode, fresh=fresh_journal) if journal_path else None
    )
    assembled = assemble(
        config,
        MarketData([instrument], bars, funding=dict(funding or {})),
        desk_config=desk_config(float(balance.split()[0]), desk),
        journal=journal,
    )
    assembled.engine.run()
    trader = assembled.engine.trader
    orders = results.orders_table(trader)
    outcome = ScenarioResult(
        fills=results.fills_table(trader),
        orders=orders,
        positions=results.positions_table(trader, orders),
        denials=dict(assembled.desk.denials),
        desk=assembled.desk,
        journal=journal,
        trading_state=assembled.engine.kernel.risk_engine.trading_state.name,
        carry=assembled.carry,
        account_balance=_account_balance(assembled.engine, instrument, balance.split()[1]),
    )
    if journal is not None:
        journal.flush()
    assembled.engine.dispose()
    return outcome


def _account_balance(engine: Any, instrument: Any, currency: str) -> float | None:
    account = engine.cache.account_for_venue(instrument.id.venue)
    if account is None:
        return None
    total = account.balance_total(Currency.from_str(currency))
    return total.as_double() if total is not None else None
