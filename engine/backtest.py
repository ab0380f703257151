"""Assemble a nautilus BacktestEngine from a run config, run it and write the run folder.

Usage::

    python -m engine.backtest --config configs/backtest/ema_cross_btcusdt_1m.toml [--out DIR]

The run folder holds ``summary.json`` (fingerprint, metrics, bars processed, wall time, tearsheet
path), the orders, fills and positions as Parquet, the equity curve and a quantstats tearsheet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from nautilus_trader.backtest.config import FillModelFactory
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.backtest.models import FixedFeeModel, LatencyModel, MakerTakerFeeModel
from nautilus_trader.common.config import ActorFactory
from nautilus_trader.config import LoggingConfig, RiskEngineConfig
from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.trading.strategy import Strategy

from catalog.funding import FundingSeries, load_funding
from engine import carry as carry_lib
from engine import metrics as metrics_lib
from engine import results
from engine.ambiguity import both_levels_touched
from engine.configs import ConfigError, RunConfig, VenueSection, load_run_config
from engine.equity import EquitySampler, EquitySamplerConfig
from engine.fills import importable_configs
from engine.importing import resolve
from engine.journal import Journal
from engine.options import CHAIN_CLIENT_ID, OptionData, OptionExpiry, load_option_data, wrap_greeks
from engine.risk import DeskConfig, DeskConfigError, LedgerError, RiskDesk, RiskDeskClient, load_desk_config
from engine.risk.bridge import USD_LIKE, DeskBridge, KernelBroker, KernelMarket, terms_from_instrument

NANOS_PER_MS = 1_000_000


class DataError(RuntimeError):
    """Raise when the catalog lacks an instrument or bars the run config asks for."""


@dataclass
class MarketData:
    """Hold the instruments and bars a run needs, loaded from the catalog."""

    instruments: list[Instrument]
    bars: list[Bar]
    funding: dict[str, FundingSeries] = field(default_factory=dict)
    options: OptionData | None = None


@dataclass
class AssembledBacktest:
    """Hold a ready-to-run kernel and the engine components attached to it."""

    config: RunConfig
    engine: BacktestEngine
    desk: RiskDesk
    journal: Journal | None
    sampler: EquitySampler
    strategies: list[Strategy]
    bars_processed: int
    carry: carry_lib.CarryActor | None = None
    expiries: dict[str, OptionExpiry] = field(default_factory=dict)


def load_market_data(config: RunConfig) -> MarketData:
    """Read the configured instruments and bars from the Parquet catalog.

    Raises
    ------
    DataError
        If the catalog is missing, or lacks an instrument or a bar type (the message says how to
        build it).
    """
    path = Path(config.data.catalog)
    hint = "run `python -m catalog.ingest --config configs/catalog/sample.toml` (or `make run`) first"
    if not path.is_dir():
        raise DataError(f"catalog {path} does not exist: {hint}")
    catalog = ParquetDataCatalog(str(path))
    wanted = set(config.data.instruments) | {
        str(BarType.from_str(b).instrument_id) for b in config.data.bar_types
    }
    instruments = catalog.instruments(instrument_ids=sorted(wanted))
    found = {str(instrument.id) for instrument in instruments}
    missing = sorted(wanted - found)
    if missing:
        raise DataError(f"catalog {path} has no instrument {', '.join(missing)}: {hint}")
    bars: list[Bar] = []
    for bar_type in config.data.bar_types:
        series = catalog.bars(bar_types=[bar_type], start=config.data.start, end=config.data.end)
        if not series:
            raise DataError(
                f"catalog {path} has no bars for {bar_type} "
                f"between {config.data.start} and {config.data.end}: {hint}"
            )
        bars.extend(series)
    funding: dict[str, FundingSeries] = {}
    if config.carry is not None and config.carry.funding:
        for instrument in instruments:
            series_of = load_funding(path, str(instrument.id))
            if series_of is not None:
                funding[str(instrument.id)] = series_of
    options = load_option_data(catalog, config.data.option_chains, config.data.start, config.data.end)
    return MarketData(instruments=instruments, bars=bars, funding=funding, options=options)


def venue_kwargs(venue: VenueSection, seed: int) -> dict[str, Any]:
    """Translate a venue section into ``BacktestEngine.add_venue`` keyword arguments.

    The fill model is :class:`engine.fills.GapFillModel` with its :class:`engine.fills.BarTape`
    module (``modules``), built from their importable configs by nautilus' factories as a paper
    sandbox builds them: a stop-market gapped over fills at the bar's open unless the section's
    ``fill_model.stop_gap_fill`` is ``"trigger"``.
    """
    fill_config, tape_config = importable_configs(
        prob_fill_on_limit=venue.fill_model.prob_fill_on_limit,
        prob_slippage=venue.fill_model.prob_slippage,
        random_seed=seed,
        stop_gap_fill=venue.fill_model.stop_gap_fill,
    )
    balances = [
        Money(Decimal(amount), Currency.from_str(code))
        for amount, code in (b.split() for b in venue.starting_balances)
    ]
    fee_model = (
        FixedFeeModel(Money.from_str(venue.fees.fixed_commission))
        if venue.fees.model == "fixed" and venue.fees.fixed_commission
        else MakerTakerFeeModel()
    )
    latency = venue.latency
    latency_model = None
    if latency.base_ms or latency.insert_ms or latency.update_ms or latency.cancel_ms:
        latency_model = LatencyModel(
            base_latency_nanos=int(latency.base_ms * NANOS_PER_MS),
            insert_latency_nanos=int(latency.insert_ms * NANOS_PER_MS),
            update_latency_nanos=int(latency.update_ms * NANOS_PER_MS),
            cancel_latency_nanos=int(latency.cancel_ms * NANOS_PER_MS),
        )
    return {
        "venue": Venue(venue.name),
        "oms_type": OmsType[venue.oms_type],
        "account_type": AccountType[venue.account_type],
        "starting_balances": balances,
        "base_currency": Currency.from_str(venue.base_currency) if venue.base_currency else None,
        "default_leverage": Decimal(repr(venue.default_leverage)),
        "fill_model": FillModelFactory.create(fill_config),
        "modules": [ActorFactory.create(tape_config)] if venue.fill_model.stop_gap_fill == "open" else [],
        "fee_model": fee_model,
        "latency_model": latency_model,
        "bar_execution": True,
        "bar_adaptive_high_low_ordering": venue.bar_adaptive_high_low_ordering,
    }


def build_strategies(config: RunConfig) -> list[Strategy]:
    """Instantiate every configured strategy from its import paths and config values."""
    built: list[Strategy] = []
    for index, section in enumerate(config.strategies):
        strategy_cls = resolve(section.path, f"strategies[{index}].path")
        config_cls = resolve(section.config_path, f"strategies[{index}].config_path")
        try:
            strategy_config = config_cls.parse(json.dumps(section.config))
        except Exception as exc:
            raise ConfigError(
                f"`strategies[{index}].config` is invalid for {section.config_path}: {exc}"
            ) from exc
        built.append(strategy_cls(strategy_config))
    return built


def load_desk(config: RunConfig) -> DeskConfig:
    """Read the budgets, risk and sizing files the run config's ``[desk]`` section names."""
    section = config.desk
    return load_desk_config(section.budgets, section.risk, section.sizing, section.overrides)


def wallet_totals(config: RunConfig) -> dict[str, float]:
    """Sum each wallet's USD-like starting balances (percent allocations are fractions of these)."""
    totals: dict[str, float] = {}
    for venue in config.venues:
        wallet = "bybit" if venue.name == "BYBIT" else "ibkr"
        for amount, code in (b.split() for b in venue.starting_balances):
            if code in USD_LIKE:
                totals[wallet] = totals.get(wallet, 0.0) + float(amount)
    return totals


def assemble(
    config: RunConfig,
    data: MarketData,
    *,
    desk_config: DeskConfig | None = None,
    journal: Journal | None = None,
) -> AssembledBacktest:
    """Build the kernel: venues, instruments, data, the risk desk and its bridge, the sampler, strategies.

    Parameters
    ----------
    config : RunConfig
        The validated run config.
    data : MarketData
        Instruments and bars.
    desk_config : DeskConfig, optional
        Budgets, guards and sizing (default: the files ``config.desk`` names).
    journal : Journal, optional
        The trade journal the desk writes (none: the run is not journaled).
    """
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId(config.run.trader_id),
            logging=LoggingConfig(
                log_level=config.run.log_level, bypass_logging=config.run.log_level == "OFF"
            ),
            risk_engine=RiskEngineConfig(bypass=False),
        )
    )
    option_bar_types = data.options.bar_types if data.options is not None else []
    market = KernelMarket(engine.cache, [*config.data.bar_types, *option_bar_types])
    option_instruments = data.options.instruments if data.options is not None else []
    option_venues = {instrument.id.venue.value for instrument in option_instruments}
    venue_links: dict[str, carry_lib.VenueLink] = {}
    expiries: dict[str, OptionExpiry] = {}
    for venue in config.venues:
        kwargs = venue_kwargs(venue, config.run.seed)
        modules: list[Any] = list(kwargs.get("modules", []))
        if config.carry is not None:  # carry books payments into the venue account through this module
            venue_links[venue.name] = carry_lib.VenueLink(venue.base_currency or "USD")
            modules.append(venue_links[venue.name])
        if venue.name in option_venues:  # settles option positions at intrinsic value at expiry
            expiries[venue.name] = OptionExpiry(market.settlement_bar)
            modules.append(expiries[venue.name])
        if modules:
            kwargs["modules"] = modules
        engine.add_venue(**kwargs)
    venue_names = {venue.name for venue in config.venues}
    desk_config = desk_config or load_desk(config)
    desk = RiskDesk(
        desk_config,
        mode=config.desk.mode,
        market=market,
        broker=KernelBroker(engine.cache),
        journal=journal,
        wallet_usd=wallet_totals(config),
    )
    for instrument in [*data.instruments, *option_instruments]:
        if instrument.id.venue.value not in venue_names:
            raise ConfigError(
                f"instrument {instrument.id} trades on {instrument.id.venue}, which `venues` does not define"
            )
        engine.add_instrument(instrument)
        if str(instrument.id) in config.data.reference_instruments:
            continue  # data only (e.g. an option's underlying): no sub-ledger, never traded
        try:
            desk.register_instrument(terms_from_instrument(instrument))
        except LedgerError as exc:
            raise ConfigError(str(exc)) from exc
    engine.add_data(data.bars, sort=True)
    if data.options is not None and data.options.bars:
        engine.add_data(data.options.bars, sort=True)
    if data.options is not None and data.options.greeks:
        engine.add_data(wrap_greeks(data.options.greeks), client_id=CHAIN_CLIENT_ID, sort=True)
    engine.add_actor(DeskBridge(desk, market, engine.kernel.risk_engine.set_trading_state))
    sampler = EquitySampler(
        EquitySamplerConfig(
            venues=tuple(sorted(venue_names)),
            interval_minutes=config.report.equity_sample_minutes,
        )
    )
    engine.add_actor(sampler)
    carry_actor = _carry_actor(config, data, desk, market, venue_links)
    if carry_actor is not None:
        engine.add_actor(carry_actor)
    strategies = build_strategies(config)
    for strategy in strategies:
        if not isinstance(strategy, RiskDeskClient):
            raise ConfigError(
                f"{type(strategy).__name__} does not accept a risk desk; "
                "extend strategies.base.SignalStrategy"
            )
        strategy.bind_risk_desk(desk)
        engine.add_strategy(strategy)
    return AssembledBacktest(
        config, engine, desk, journal, sampler, strategies, len(data.bars), carry_actor, expiries
    )


def _carry_actor(
    config: RunConfig,
    data: MarketData,
    desk: RiskDesk,
    market: KernelMarket,
    venue_links: dict[str, carry_lib.VenueLink],
) -> carry_lib.CarryActor | None:
    """Build the carry actor the run config's ``[carry]`` section asks for (docs/carry.md)."""
    section = config.carry
    if section is None:
        return None
    carry_config = carry_lib.load_carry_config(section.config)
    window = (min(b.ts_event for b in data.bars), max(b.ts_event for b in data.bars)) if data.bars else None
    carry_lib.check_carry_inputs(
        data.instruments,
        data.funding,
        carry_config if section.fx_swaps else carry_lib.CarryConfig(funding=carry_config.funding),
        charge_funding=section.funding,
        window_ns=window,
        origin=section.config,
    )
    return carry_lib.CarryActor(
        desk,
        market,
        data.funding if section.funding else {},
        carry_config,
        adjusters={name: link.adjust for name, link in venue_links.items()},
        fx_swaps=section.fx_swaps,
    )


def equity_frame(sampler: EquitySampler) -> pd.DataFrame:
    """Return the equity summed over venues per sample time (``ts_ns``, ``equity``, ``timestamp``)."""
    frame = pd.DataFrame(sampler.samples, columns=["ts_ns", "venue", "equity"])
    if frame.empty:
        return frame
    total = frame.groupby("ts_ns", sort=True)["equity"].sum().reset_index()
    total["timestamp"] = pd.to_datetime(total["ts_ns"], unit="ns", utc=True)
    return total


def starting_equity(config: RunConfig) -> float:
    """Return the sum of every venue's starting balances (the equity a run starts from)."""
    return sum(float(balance.split()[0]) for venue in config.venues for balance in venue.starting_balances)


def run_backtest(config: RunConfig, out_dir: Path) -> dict[str, Any]:
    """Run one backtest and write its run folder.

    Parameters
    ----------
    config : RunConfig
        The validated run config.
    out_dir : Path
        The run folder (created; existing files are overwritten).

    Returns
    -------
    dict
        The content of ``summary.json``.
    """
    started = time.perf_counter()
    desk_config = load_desk(config)
    data = load_market_data(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    journal_path = Path(config.desk.journal) if config.desk.journal else out_dir / "journal.sqlite"
    journal = Journal(
        journal_path, run_id=config.run.name, mode=config.desk.mode, fresh=config.desk.journal is None
    )
    assembled = assemble(config, data, desk_config=desk_config, journal=journal)
    engine = assembled.engine
    engine.run()
    journal.flush()
    wall_seconds = time.perf_counter() - started

    trader = engine.trader
    fills = results.fills_table(trader)
    orders = results.orders_table(trader)
    positions = results.positions_table(trader, orders)
    equity = equity_frame(assembled.sampler)
    for name, frame in (("fills", fills), ("orders", orders), ("positions", positions), ("equity", equity)):
        results.write_table(frame, out_dir / f"{name}.parquet")

    start_equity = starting_equity(config)
    periods = metrics_lib.PERIODS_PER_YEAR[config.report.asset_class]
    days, daily_returns = metrics_lib.daily_returns_from_equity(
        equity["ts_ns"].to_numpy(), equity["equity"].to_numpy(), start_equity
    )
    trade_pnls = results.closed_trade_pnls(positions)
    fees = float(sum(results.money_to_float(value) for value in fills.get("commission", [])))
    metric_values = metrics_lib.compute_metrics(daily_returns, trade_pnls, fees, periods)

    tearsheet_path: str | None = None
    if config.report.tearsheet:
        renderer = resolve(config.report.renderer, "report.renderer")
        series = pd.Series(daily_returns, index=pd.to_datetime(days, utc=True), name=config.run.name)
        tearsheet_path = str(renderer(series, out_dir / "tearsheet.html", config.run.name, periods))

    final_equity = float(equity["equity"].iloc[-1]) if not equity.empty else start_equity
    executed = [*data.bars, *(data.options.bars if data.options is not None else [])]
    summary: dict[str, Any] = {
        "run": config.run.name,
        "fingerprint": results.fingerprint(fills),
        "metrics": metric_values,
        # closed trades whose exit bar touched both stop and target (docs/backtest-fill-rules.md)
        "both_levels_touched": both_levels_touched(positions, orders, executed).as_dict(),
        "fills": len(fills),
        "orders": len(orders),
        "starting_equity": start_equity,
        "final_equity": round(final_equity, 8),
        "bars_processed": assembled.bars_processed,
        "wall_seconds": round(wall_seconds, 3),
        "approvals": assembled.desk.approvals,
        "denials": dict(sorted(assembled.desk.denials.items())),
        "refused_fills": assembled.desk.refused_fills,
        "ledgers": {
            asset: values
            for asset, values in assembled.desk.ledger_summary().items()
            if values["trades"] or asset in _traded_assets(assembled)
        },
        "journal": str(journal_path),
        "tearsheet": tearsheet_path,
    }
    carry_report = (
        assembled.carry.summary() if assembled.carry is not None else carry_lib.off_summary(data.instruments)
    )
    summary["funding"] = carry_report["funding"]  # source (recorded / constant / off), payments, total_usd
    summary["fx_swaps"] = carry_report["fx_swaps"]
    if assembled.expiries:  # option positions settled at intrinsic value at expiry
        summary["option_settlements"] = [item for e in assembled.expiries.values() for item in e.settled]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    engine.dispose()
    journal.close()
    return summary


def _traded_assets(assembled: AssembledBacktest) -> set[str]:
    return {
        terms.asset
        for instrument in assembled.engine.cache.instruments()
        if (terms := assembled.desk.terms(str(instrument.id))) is not None
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the backtest CLI; print where the report is. Return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m engine.backtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="run config (TOML)")
    parser.add_argument("--out", help="run folder (default: <state_dir>/runs/<run name>)")
    args = parser.parse_args(argv)
    try:
        config = load_run_config(args.config)
        out_dir = Path(args.out) if args.out else Path(config.run.state_dir) / "runs" / config.run.name
        summary = run_backtest(config, out_dir)
    except (ConfigError, DataError, DeskConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    metrics = summary["metrics"]
    print(
        f"{summary['run']}: {metrics['trades']} trades, total return {metrics['total_return']:.4%}, "
        f"sharpe {metrics['sharpe']}, max drawdown {metrics['max_drawdown']}, "
        f"{summary['bars_processed']} bars in {summary['wall_seconds']} s"
    )
    print(f"summary:   {out_dir / 'summary.json'}")
    print(f"tearsheet: {summary['tearsheet']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
