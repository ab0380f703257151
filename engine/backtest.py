"""Backtest mode: a nautilus BacktestEngine with simulated venues, wired like every other mode.

Usage::

    python -m engine.backtest --config configs/backtest/ema_cross_btcusdt_1m.toml [--out DIR]

This module owns only what is particular to a backtest: reading the run's data from the catalog, the
simulated venues (fill, fee and latency models, venue modules) and feeding the data to the engine. The
desk, journal, sampler, carry and the strategies come from :mod:`engine.wiring`; the results from
:mod:`engine.results`; the run folder from :mod:`engine.runfolder`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, RiskEngineConfig
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.identifiers import TraderId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from catalog.funding import FundingSeries, load_funding
from engine import carry as carry_lib
from engine import runfolder
from engine.assets.registry import AssetClassError, AssetRegistry, load_registry
from engine.configs import ConfigError, RunConfig, load_run_config
from engine.options import CHAIN_CLIENT_ID, OptionData, load_option_data, wrap_greeks
from engine.results import NS_PER_DAY, RunResult
from engine.risk import DeskConfig, DeskConfigError, LedgerError, load_desk_config
from engine.risk.market import terms_from_instrument
from engine.simvenue import backtest_venue_kwargs
from engine.wiring import Components, actor_configs, build_actors, build_strategies, strategy_configs, wire

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

    @property
    def all_instruments(self) -> list[Instrument]:
        """Return the run's instruments and its option contracts."""
        return [*self.instruments, *(self.options.instruments if self.options is not None else [])]


@dataclass
class AssembledBacktest:
    """Hold a ready-to-run kernel and the engine components wired into it."""

    config: RunConfig
    engine: BacktestEngine
    components: Components
    data: MarketData
    assets: AssetRegistry

    @property
    def desk(self) -> Any:
        """Return the run's risk desk."""
        return self.components.desk

    @property
    def journal(self) -> Any:
        """Return the run's journal (None when the run is not journaled)."""
        return self.components.desk.journal

    @property
    def bars_processed(self) -> int:
        """Return how many bars the run streams."""
        return len(self.data.bars)


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


def load_desk(config: RunConfig) -> DeskConfig:
    """Read the budgets, risk and sizing files the run config's ``[desk]`` section names."""
    section = config.desk
    return load_desk_config(
        section.budgets,
        section.risk,
        section.sizing,
        section.overrides,
        assets=load_registry(tuple(section.asset_classes)),
    )


def check_instruments(config: RunConfig, data: MarketData, assets: AssetRegistry) -> None:
    """Fail before the run when a traded instrument has no venue or no asset class (no ledger).

    Raises
    ------
    ConfigError
        Naming the instrument and what is missing.
    """
    venue_names = {venue.name for venue in config.venues}
    for instrument in data.all_instruments:
        if instrument.id.venue.value not in venue_names:
            raise ConfigError(
                f"instrument {instrument.id} trades on {instrument.id.venue}, which `venues` does not define"
            )
        if str(instrument.id) in config.data.reference_instruments:
            continue  # data only (e.g. an option's underlying): no sub-ledger, never traded
        try:
            terms_from_instrument(instrument, assets)
        except (LedgerError, AssetClassError) as exc:
            raise ConfigError(str(exc)) from exc


def assemble(
    config: RunConfig, data: MarketData, *, journal: str | Path | None = None, journal_fresh: bool = True
) -> AssembledBacktest:
    """Build the kernel: simulated venues, instruments, data, then the one engine wiring.

    Parameters
    ----------
    config : RunConfig
        The validated run config.
    data : MarketData
        Instruments and bars.
    journal : str or Path, optional
        The trade journal the desk writes (none: the run is not journaled).
    journal_fresh : bool, default True
        Start the journal empty.
    """
    assets = load_registry(tuple(config.desk.asset_classes))
    check_instruments(config, data, assets)
    _check_carry(config, data)
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId(config.run.trader_id),
            logging=LoggingConfig(
                log_level=config.run.log_level, bypass_logging=config.run.log_level == "OFF"
            ),
            risk_engine=RiskEngineConfig(bypass=False),
        )
    )
    option_venues = {i.id.venue.value for i in (data.options.instruments if data.options else [])}
    for venue in config.venues:
        engine.add_venue(**backtest_venue_kwargs(config, venue, lists_options=venue.name in option_venues))
    for instrument in data.all_instruments:
        engine.add_instrument(instrument)
    engine.add_data(data.bars, sort=True)
    if data.options is not None and data.options.bars:
        engine.add_data(data.options.bars, sort=True)
    if data.options is not None and data.options.greeks:
        engine.add_data(wrap_greeks(data.options.greeks), client_id=CHAIN_CLIENT_ID, sort=True)
    option_bar_types = data.options.bar_types if data.options is not None else []
    actors = actor_configs(
        config,
        journal=str(journal) if journal is not None else None,
        journal_fresh=journal_fresh,
        extra_bar_types=option_bar_types,
    )
    for actor in build_actors(actors):
        engine.add_actor(actor)
    for strategy in build_strategies(strategy_configs(config)):
        engine.add_strategy(strategy)
    return AssembledBacktest(config, engine, wire(engine.kernel), data, assets)


def _check_carry(config: RunConfig, data: MarketData) -> None:
    """Fail before the run when carry cannot be charged honestly (``docs/carry.md``)."""
    section = config.carry
    if section is None:
        return
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


def collect_backtest(assembled: AssembledBacktest, *, since_ns: int = 0) -> RunResult:
    """Collect a finished backtest with the engine's one set of result rules (:mod:`engine.results`)."""
    data = assembled.data
    return runfolder.collect_run(
        assembled.engine.trader,
        assembled.components,
        assembled.config,
        instruments=data.all_instruments,
        bars=[*data.bars, *(data.options.bars if data.options is not None else [])],
        bar_days=(bar.ts_event // NS_PER_DAY for bar in data.bars),
        since_ns=since_ns,
    )


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
    load_desk(config)  # a bad desk file fails before any data is read
    data = load_market_data(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    journal_path = Path(config.desk.journal) if config.desk.journal else out_dir / "journal.sqlite"
    assembled = assemble(config, data, journal=journal_path, journal_fresh=config.desk.journal is None)
    assembled.engine.run()
    result = collect_backtest(assembled)
    summary = runfolder.write(
        result,
        config,
        out_dir,
        bars_processed=assembled.bars_processed,
        wall_seconds=time.perf_counter() - started,
        journal=journal_path,
    )
    assembled.engine.dispose()
    return summary


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
    runfolder.print_summary(summary, out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
