"""Run candle tables through the real engine (nautilus kernel, risk desk, strategy base class)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.data import Bar, BarType

from catalog.config import InstrumentSpec
from catalog.funding import write_funding
from catalog.instruments import build_instrument
from catalog.tomlconfig import read_toml
from engine import results
from engine.assets import builtin_registry
from engine.backtest import AssembledBacktest, MarketData, assemble
from engine.configs import RunConfig
from engine.journal import Journal
from engine.risk import DeskConfig, RiskDesk
from engine.risk.config import DeskConfigError, deep_merge, desk_config_from_raw

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


def desk_overrides(
    allocation_usd: float, overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """Return the overrides of the shipped desk files every scenario runs with, ``overrides`` merged in.

    Every ledger is funded ``allocation_usd``. Candle tables start on Sunday 2025-06-01 00:00 UTC,
    when spot FX is closed: the forex calendar is off unless a test turns it on
    (tests/integration/test_fx_scenarios.py does).
    """
    base: dict[str, dict[str, Any]] = {
        "budgets": {"alloc": dict.fromkeys(builtin_registry().names, allocation_usd)},
        "risk": {"assets": {"forex": {"calendar": False}}},
    }
    return deep_merge(base, overrides or {})


def desk_config(
    allocation_usd: float,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> DeskConfig:
    """Return the shipped desk config with every ledger funded ``allocation_usd`` and ``overrides`` merged."""
    raws = {
        name: read_toml(REPO / "configs" / f"{name}.toml", DeskConfigError)
        for name in ("budgets", "risk", "sizing")
    }
    merged_overrides = desk_overrides(allocation_usd, overrides)
    merged = {name: deep_merge(raw, merged_overrides.get(name, {})) for name, raw in raws.items()}
    return desk_config_from_raw(merged["budgets"], merged["risk"], merged["sizing"])


def desk_section(
    allocation_usd: float, overrides: dict[str, dict[str, Any]] | None, mode: str
) -> dict[str, Any]:
    """Return a run config's ``[desk]`` section: the shipped files with :func:`desk_overrides`."""
    return {
        "mode": mode,
        "budgets": str(REPO / "configs" / "budgets.toml"),
        "risk": str(REPO / "configs" / "risk.toml"),
        "sizing": str(REPO / "configs" / "sizing.toml"),
        "overrides": desk_overrides(allocation_usd, overrides),
    }


def _bybit(kind: str, payload: str, symbol: str = "BTCUSDT") -> Any:
    return build_instrument(
        InstrumentSpec(
            kind=kind,
            symbol=symbol,
            bybit_instruments_info=str(VENUE_PAYLOADS / payload),
            bybit_fee_rate=str(VENUE_PAYLOADS / "http_get_fee_rate.json"),
        )
    )


def btcusdt_perpetual() -> Any:
    """Build the real BTCUSDT linear perpetual from the recorded Bybit payloads."""
    return _bybit("crypto_perpetual", "http_get_instruments_linear.json")


def btcusdt_spot() -> Any:
    """Build the real BTCUSDT spot pair from the recorded Bybit payloads."""
    return _bybit("crypto_spot", "http_get_instruments_spot.json")


def ethusdt_spot() -> Any:
    """Build the real ETHUSDT spot pair from the recorded Bybit payloads."""
    return _bybit("crypto_spot", "http_get_instruments_spot.json", "ETHUSDT")


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
    fill_model: dict[str, Any] | None = None,
) -> ScenarioResult:
    """Run ``script`` over ``candles`` (or ready ``bars``) through the engine, no slippage or latency.

    Every ledger is funded with the wallet's balance unless ``desk`` overrides say otherwise; with a
    ``journal_path`` the desk journals to that SQLite file (kept open in the result for reading).
    ``strategy_options`` adds fields of the strategy config (e.g. ``time_stop_bars``).
    ``carry`` is the run config's ``[carry]`` section and ``funding`` the perpetuals' funding series
    (``catalog.funding.FundingSeries`` by instrument id) it charges. ``fill_model`` replaces the
    venue's ``[venues.fill_model]`` section (default: no slippage).
    """
    instrument = instrument or btcusdt_perpetual()
    bars = bars if bars is not None else candles_to_bars(instrument, candles)
    venue = {
        "name": instrument.id.venue.value,
        "base_currency": balance.split()[1],
        "starting_balances": [balance],
        "fill_model": fill_model if fill_model is not None else {"prob_slippage": 0.0},
    }
    strategy = _scripted_strategy(str(instrument.id), signal_bar_type, script, reverse_on_opposite)
    strategy["config"].update(strategy_options or {})
    return _run(
        [instrument],
        bars,
        [signal_bar_type],
        [venue],
        [strategy],
        desk=desk,
        mode=mode,
        journal_path=journal_path,
        fresh_journal=fresh_journal,
        balance=balance,
        carry=carry,
        funding=funding,
    )


@dataclass(frozen=True)
class ScenarioLeg:
    """One instrument of a multi-instrument scenario: its bars and the script its strategy follows.

    The bars' bar type is the strategy's signal bar type; ``order_id_tag`` tells the strategies apart
    (their ids are ``ScriptedSignals-<tag>``).
    """

    instrument: Any
    bars: list[Bar]
    script: dict[int, list[Any]]
    order_id_tag: str

    @property
    def bar_type(self) -> str:
        """Return the bar type of this leg's bars as a string."""
        if not self.bars:
            raise ValueError(f"leg {self.order_id_tag} has no bars")
        return str(self.bars[0].bar_type)


def run_multi_scenario(
    legs: list[ScenarioLeg],
    *,
    desk: dict[str, dict[str, Any]] | None = None,
    mode: str = "backtest",
    journal_path: Path | None = None,
    fresh_journal: bool = True,
    reverse_on_opposite: bool = True,
    balance: str = "100000 USDT",
    account_type: str = "MARGIN",
    base_currency: str | None = "",
) -> ScenarioResult:
    """Run several instruments through one engine, one scripted strategy per leg, one shared desk.

    Parameters
    ----------
    legs : list of ScenarioLeg
        The instruments, their bars and scripts; all on one venue.
    desk : dict, optional
        Overrides deep-merged into budgets, risk and sizing (see :func:`desk_config`).
    mode : str
        The desk mode.
    journal_path : Path, optional
        The SQLite journal the desk writes (kept open in the result for reading).
    fresh_journal : bool
        Start the journal empty.
    reverse_on_opposite : bool
        Let an opposite signal reverse (else only close) a position.
    balance : str
        The venue's starting balance; every ledger is funded with its amount.
    account_type : str
        ``MARGIN`` or ``CASH``.
    base_currency : str or None
        The account's base currency: ``""`` (default) uses the balance's currency, None declares a
        multi-currency account (as the shipped spot example does).

    Returns
    -------
    ScenarioResult
        Fills, orders and positions of every leg, and the shared desk.
    """
    venues = {leg.instrument.id.venue.value for leg in legs}
    if len(venues) != 1:
        raise ValueError(f"legs must share one venue, got {sorted(venues)}")
    venue: dict[str, Any] = {
        "name": venues.pop(),
        "account_type": account_type,
        "starting_balances": [balance],
        "fill_model": {"prob_slippage": 0.0},
    }
    if base_currency is not None:
        venue["base_currency"] = base_currency or balance.split()[1]
    strategies = []
    for leg in legs:
        strategy = _scripted_strategy(str(leg.instrument.id), leg.bar_type, leg.script, reverse_on_opposite)
        strategy["config"]["order_id_tag"] = leg.order_id_tag
        strategies.append(strategy)
    return _run(
        [leg.instrument for leg in legs],
        [bar for leg in legs for bar in leg.bars],
        [leg.bar_type for leg in legs],
        [venue],
        strategies,
        desk=desk,
        mode=mode,
        journal_path=journal_path,
        fresh_journal=fresh_journal,
        balance=balance,
    )


def _scripted_strategy(
    instrument_id: str, bar_type: str, script: dict[int, list[Any]], reverse_on_opposite: bool
) -> dict[str, Any]:
    return {
        "path": "tests.scenarios.scripted:ScriptedSignals",
        "config_path": "tests.scenarios.scripted:ScriptedSignalsConfig",
        "config": {
            "instrument_id": instrument_id,
            "bar_type": bar_type,
            "reverse_on_opposite": reverse_on_opposite,
            "script": {str(k): v for k, v in script.items()},
        },
    }


def _run(
    instruments: list[Any],
    bars: list[Bar],
    bar_types: list[str],
    venues: list[dict[str, Any]],
    strategies: list[dict[str, Any]],
    *,
    desk: dict[str, dict[str, Any]] | None,
    mode: str,
    journal_path: Path | None,
    fresh_journal: bool,
    balance: str,
    carry: dict[str, Any] | None = None,
    funding: dict[str, Any] | None = None,
) -> ScenarioResult:
    catalog = Path(tempfile.mkdtemp(prefix="scenario-catalog-"))
    for series in (funding or {}).values():
        write_funding(catalog, series)  # the carry actor reads its funding series beside the catalog
    raw: dict[str, Any] = {
        "run": {"name": "scenario", "log_level": "OFF"},
        "data": {"catalog": str(catalog), "bar_types": bar_types},
        "venues": venues,
        "desk": desk_section(float(balance.split()[0]), desk, mode),
        "report": {"tearsheet": False},
        "strategies": strategies,
    }
    if carry is not None:
        raw["carry"] = carry
    config = msgspec.convert(raw, RunConfig)
    assembled = assemble(
        config,
        MarketData(instruments, bars, funding=dict(funding or {})),
        journal=journal_path,
        journal_fresh=fresh_journal,
    )
    return run_assembled(assembled, instruments[0], balance.split()[1])


def run_assembled(assembled: AssembledBacktest, instrument: Any, currency: str) -> ScenarioResult:
    """Run an assembled engine and collect its :class:`ScenarioResult` (balance of ``instrument``'s venue).

    A journaled run's journal is reopened after the engine is disposed, for reading.
    """
    assembled.engine.run()
    trader = assembled.engine.trader
    orders = results.orders_table(trader)
    journal = assembled.journal
    outcome = ScenarioResult(
        fills=results.fills_table(trader),
        orders=orders,
        positions=results.positions_table(trader, orders),
        denials=dict(assembled.desk.denials),
        desk=assembled.desk,
        journal=None,
        trading_state=assembled.engine.kernel.risk_engine.trading_state.name,
        carry=assembled.components.carry,
        account_balance=_account_balance(assembled.engine, instrument, currency),
    )
    assembled.engine.dispose()
    if journal is not None:
        outcome.journal = Journal(journal.path, run_id=journal.run_id, mode=journal.mode)
    return outcome


def _account_balance(engine: Any, instrument: Any, currency: str) -> float | None:
    account = engine.cache.account_for_venue(instrument.id.venue)
    if account is None:
        return None
    total = account.balance_total(Currency.from_str(currency))
    return total.as_double() if total is not None else None
