"""Typed run configuration, loaded from TOML into frozen msgspec structs.

A run config names the catalog, the instruments and bar types, the time range, the venue
simulation (fees, fill/slippage, latency), starting balances, the risk desk's config files and the
strategies by import path. The same structs drive every mode; a bad file fails at load time with an
error naming the file, the field and the value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec

from catalog.tomlconfig import describe_validation_error, read_toml


class ConfigError(ValueError):
    """Raise when a config file cannot be read or does not match its schema."""


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class RunSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Identify a run: its name, trader id, seed and state folder."""

    name: str
    trader_id: str = "BACKTEST-001"
    seed: int = 42
    state_dir: str = "var"
    log_level: Literal["OFF", "ERROR", "WARNING", "INFO", "DEBUG"] = "ERROR"


class DataSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Name the catalog, the instruments and bar types to load, and the time window."""

    catalog: str = "var/catalog"
    instruments: list[str] = msgspec.field(default_factory=list)
    bar_types: list[str] = msgspec.field(default_factory=list)
    start: str | None = None
    end: str | None = None
    # Options (docs/options.md): underlyings whose OptionContracts, MID bars and chain greeks are
    # loaded from the catalog; and instruments streamed as data only (no sub-ledger, never traded).
    option_chains: list[str] = msgspec.field(default_factory=list)
    reference_instruments: list[str] = msgspec.field(default_factory=list)


class FillModelSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Configure the venue's fill model (nautilus' probabilistic one, seeded, so fills stay deterministic).

    ``stop_gap_fill`` says where a stop-market fills when its bar opens beyond the trigger: at that
    open (``"open"``, the default, ``engine.fills``) or at the trigger price, as nautilus alone does
    (``"trigger"``, optimistic on gaps; docs/backtest-fill-rules.md).
    """

    prob_fill_on_limit: float = 1.0
    prob_slippage: float = 0.0
    stop_gap_fill: Literal["open", "trigger"] = "open"


class LatencySection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Configure the simulated venue's message latency in milliseconds."""

    base_ms: float = 0.0
    insert_ms: float = 0.0
    update_ms: float = 0.0
    cancel_ms: float = 0.0


class FeeSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Select the fee model: the instrument's maker/taker rates, or a fixed commission per fill."""

    model: Literal["maker_taker", "fixed"] = "maker_taker"
    fixed_commission: str | None = None


class VenueSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Describe one simulated venue: account, balances, leverage, bar ordering and cost models."""

    name: str
    oms_type: Literal["NETTING", "HEDGING"] = "NETTING"
    account_type: Literal["MARGIN", "CASH"] = "MARGIN"
    base_currency: str | None = None
    starting_balances: list[str] = msgspec.field(default_factory=list)
    default_leverage: float = 1.0
    bar_adaptive_high_low_ordering: bool = False
    fill_model: FillModelSection = msgspec.field(default_factory=FillModelSection)
    latency: LatencySection = msgspec.field(default_factory=LatencySection)
    fees: FeeSection = msgspec.field(default_factory=FeeSection)


class DeskSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Point the risk desk at its three config files, pick its mode and its journal.

    ``mode`` decides how ledgers are funded (``paper``: the paper bankroll with top-ups) and which
    losses count toward the auto kill switch. ``journal`` is the SQLite trade journal; a backtest
    without one writes ``journal.sqlite`` in its run folder, fresh on every run. Paths are relative
    to the working directory, like ``data.catalog``. ``overrides`` changes a few values of the three
    files for this run only (``[desk.overrides.risk.assets.options]`` ``max_premium_per_trade_usd =
    500``), merged key by key before the desk config is validated.
    """

    mode: Literal["backtest", "paper", "live"] = "backtest"
    budgets: str = "configs/budgets.toml"
    risk: str = "configs/risk.toml"
    sizing: str = "configs/sizing.toml"
    journal: str | None = None
    overrides: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)


class StrategySection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Name a strategy class and its config class by import path, with the config's values."""

    path: str
    config_path: str
    config: dict[str, Any] = msgspec.field(default_factory=dict)


class ReportSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Choose the asset class for annualisation and the tearsheet renderer (by import path)."""

    asset_class: Literal["crypto", "fx", "equity", "options"] = "crypto"
    tearsheet: bool = True
    renderer: str = "reports.tearsheet:write_tearsheet"
    equity_sample_minutes: int = 60


class CarrySection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Charge carry during the run: perpetual funding and FX swaps (docs/carry.md).

    ``funding`` charges every open perpetual at each settlement from its funding series in the
    catalog (``<catalog>/funding/``; a perpetual without one fails the run at assembly). ``fx_swaps``
    charges the daily FX rollover of the pairs ``config`` lists. ``config`` is the carry file
    (settlement schedule and swap rates), relative to the working directory.
    """

    funding: bool = True
    fx_swaps: bool = True
    config: str = "configs/carry.toml"


class RunConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold everything a backtest (or any other mode) needs to assemble its kernel."""

    run: RunSection
    data: DataSection
    venues: list[VenueSection]
    strategies: list[StrategySection]
    desk: DeskSection = msgspec.field(default_factory=DeskSection)
    report: ReportSection = msgspec.field(default_factory=ReportSection)
    carry: CarrySection | None = None


def load_run_config(path: str | Path) -> RunConfig:
    """Read a run config from TOML and validate it.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    RunConfig
        The validated, immutable config.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid TOML, or does not match the schema; the message names
        the file, the field and the offending value.
    """
    file = Path(path)
    raw = read_toml(file, ConfigError)
    try:
        config = msgspec.convert(raw, RunConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(describe_validation_error(str(file), raw, str(exc))) from exc
    _check_semantics(file, config)
    return config


def _check_semantics(file: Path, config: RunConfig) -> None:
    if not config.venues:
        raise ConfigError(f"{file}: `venues` must name at least one venue (value: [])")
    if not config.strategies:
        raise ConfigError(f"{file}: `strategies` must name at least one strategy (value: [])")
    if not config.data.bar_types:
        raise ConfigError(f"{file}: `data.bar_types` must list at least one bar type (value: [])")
    for index, venue in enumerate(config.venues):
        if not venue.base_currency and venue.account_type != "CASH":
            raise ConfigError(
                f"{file}: `venues[{index}].base_currency` is required for a {venue.account_type} account: "
                f"equity, sizing and reports are valued in it (value: {venue.base_currency!r}); only a "
                "CASH (spot) account may omit it and is then valued in USD"
            )
        if not venue.starting_balances:
            raise ConfigError(f"{file}: `venues[{index}].starting_balances` must not be empty (value: [])")
        for balance in venue.starting_balances:
            parts = balance.split()
            if len(parts) != 2:
                raise ConfigError(
                    f"{file}: `venues[{index}].starting_balances` entries look like '10000 USDT' "
                    f"(value: {balance!r})"
                )
