"""Run option price tables through the real engine with the long-premium strategy.

A table gives the underlying's daily closes and, per contract, its daily bars and the chain rows
(greeks) the strategy sees. Sessions are New York weekdays from 2014-06-02; every bar is stamped the
way the catalog stamps it (the next local midnight after the session, ``catalog.options``), and
chain rows 1 ns before. Contracts are built by the catalog's own builder, so expiry stamps and ids
are the ones a real backtest uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import msgspec
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.greeks_data import GreeksData
from nautilus_trader.model.objects import Price, Quantity

from catalog.options import (
    GREEKS_LEAD_NS,
    OptionChainSource,
    build_contract,
    build_underlying,
    session_stamp_ns,
)
from engine.backtest import MarketData, assemble
from engine.configs import RunConfig
from engine.options import OptionData, mid_bar_type
from tests.scenarios.kit import ScenarioResult, desk_section, run_assembled

SOURCE = OptionChainSource(root="AAPL", chains="scenario", underlying="scenario")
ZONE = SOURCE.timezone
UNDERLYING_BAR_TYPE = "AAPL.SMART-1-DAY-LAST-EXTERNAL"
FIRST_SESSION = date(2014, 6, 2)  # a Monday
# The sample's premium cap ($50) buys no AAPL contract; the example backtest runs with $500.
PREMIUM_CAP = {"risk": {"assets": {"options": {"max_premium_per_trade_usd": 500.0}}}}


def sessions(count: int) -> list[date]:
    """Return ``count`` consecutive weekdays from :data:`FIRST_SESSION`."""
    days: list[date] = []
    day = FIRST_SESSION
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


@dataclass
class ContractTable:
    """One contract: its listed expiry, strike and right, bars by session index, chain rows by index.

    ``bars`` maps a session index to (open, high, low, close); ``chain`` maps a session index to
    (delta, implied vol, theta per day); the chain row's price is that session's bar close.
    """

    expiry: date
    strike: str
    right: str
    bars: dict[int, tuple[float, float, float, float]]
    chain: dict[int, tuple[float, float, float]] = field(default_factory=dict)


def _bar(bar_type: BarType, ohlc: tuple[float, float, float, float], ts: int) -> Bar:
    o, h, low, c = ohlc
    return Bar(bar_type, Price(o, 2), Price(h, 2), Price(low, 2), Price(c, 2), Quantity.from_int(100), ts, ts)


def run_option_scenario(
    underlying_closes: list[float],
    contracts: list[ContractTable],
    *,
    strategy: dict[str, Any] | None = None,
    balance: float = 10_000.0,
    desk: dict[str, dict[str, Any]] | None = None,
) -> tuple[ScenarioResult, list[dict[str, Any]]]:
    """Run the long-premium strategy over the tables; return the scenario result and the settlements.

    Parameters
    ----------
    underlying_closes : list of float
        The underlying's close per session (open/high/low equal the close).
    contracts : list of ContractTable
        The contracts, their bars and chain rows.
    strategy : dict, optional
        Fields of ``LongPremiumConfig`` over the scenario defaults (EMA 1/2, so a rising close
        buys calls from the second session).
    balance : float
        The USD account and every ledger's allocation.
    desk : dict, optional
        Desk config overrides (default: :data:`PREMIUM_CAP`).
    """
    days = sessions(len(underlying_closes))
    stamps = [session_stamp_ns(day, ZONE) for day in days]
    underlying = build_underlying(SOURCE)
    underlying_type = BarType.from_str(UNDERLYING_BAR_TYPE)
    underlying_bars = [
        _bar(underlying_type, (c, c, c, c), ts) for c, ts in zip(underlying_closes, stamps, strict=True)
    ]
    instruments, option_bars, bar_types, greeks = [], [], [], []
    for table in contracts:
        contract = build_contract(SOURCE, f"{table.expiry:%Y%m%d}", table.strike, table.right)
        instruments.append(contract)
        bar_type = mid_bar_type(str(contract.id))
        bar_types.append(str(bar_type))
        option_bars.extend(_bar(bar_type, table.bars[i], stamps[i]) for i in sorted(table.bars))
        for index, (delta, iv, theta) in sorted(table.chain.items()):
            ts = stamps[index] - GREEKS_LEAD_NS
            greeks.append(
                GreeksData(
                    ts_event=ts,
                    ts_init=ts,
                    instrument_id=contract.id,
                    is_call=table.right == "C",
                    strike=float(table.strike),
                    expiry=int(f"{table.expiry:%Y%m%d}"),
                    expiry_in_days=(table.expiry - days[index]).days,
                    expiry_in_years=(table.expiry - days[index]).days / 365.0,
                    multiplier=100.0,
                    quantity=1.0,
                    underlying_price=underlying_closes[index],
                    vol=iv,
                    price=table.bars[index][3],
                    delta=delta,
                    gamma=0.0,
                    vega=0.0,
                    theta=theta,
                )
            )
    greeks.sort(key=lambda g: (g.ts_event, str(g.instrument_id)))
    raw = {
        "run": {"name": "option-scenario", "log_level": "OFF"},
        "data": {
            "bar_types": [UNDERLYING_BAR_TYPE],
            "option_chains": ["AAPL"],
            "reference_instruments": ["AAPL.SMART"],
        },
        "venues": [
            {
                "name": "SMART",
                "base_currency": "USD",
                "starting_balances": [f"{balance} USD"],
                "fill_model": {"prob_slippage": 0.0},
                "fees": {"model": "fixed", "fixed_commission": "1.00 USD"},
            }
        ],
        "desk": desk_section(balance, desk if desk is not None else PREMIUM_CAP, "backtest"),
        "report": {"tearsheet": False},
        "strategies": [
            {
                "path": "strategies.long_premium:LongPremium",
                "config_path": "strategies.long_premium:LongPremiumConfig",
                "config": {
                    "order_id_tag": "OPT",
                    "instrument_id": "AAPL.SMART",
                    "bar_type": UNDERLYING_BAR_TYPE,
                    "fast_period": 1,
                    "slow_period": 2,
                    **(strategy or {}),
                },
            }
        ],
    }
    config = msgspec.convert(raw, RunConfig)
    assembled = assemble(
        config,
        MarketData(
            [underlying], underlying_bars, options=OptionData(instruments, option_bars, bar_types, greeks)
        ),
    )
    settled = assembled.components.bridge.settlements
    outcome = run_assembled(assembled, underlying, "USD")
    return outcome, settled
