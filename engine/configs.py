"""Typed run configuration, loaded from TOML into frozen msgspec structs.

A run config names the catalog, the instruments and bar types, the time range, the venue
simulation (fees, fill/slippage, latency), starting balances, the risk desk's config files and the
strategies by import path. The same structs drive every mode; a bad file fails at load time with an
error naming the file, the field and the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import msgspec
import pandas as pd
from msgspec import inspect as msgspec_inspect
from nautilus_trader.common.config import msgspec_decoding_hook
from nautilus_trader.model.data import BarType
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.trading.config import StrategyConfig
from nautilus_trader.trading.strategy import Strategy

from catalog.identifiers import (
    bar_type_instrument,
    bar_type_problem,
    currency_problem,
    instrument_id_problem,
    trader_id_problem,
    venue_of,
)
from catalog.tomlconfig import (
    FieldError,
    describe_validation_error,
    fail,
    non_negative,
    positive,
    probability,
    read_toml,
)
from engine.assets.registry import BUILTIN_ASSET_CLASSES, AssetClassError, load_registry
from engine.carry import load_carry_config
from engine.errors import ConfigError
from engine.importing import resolve
from engine.risk import DeskConfigError, RiskDeskClient, load_desk_config

__all__ = [
    "CarrySection",
    "ConfigError",
    "DataSection",
    "DeskSection",
    "FeeSection",
    "FillModelSection",
    "LatencySection",
    "ReportSection",
    "RunConfig",
    "RunSection",
    "StrategySection",
    "StrategySpec",
    "VenueSection",
    "load_run_config",
    "strategy_specs",
]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_VENUE_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class RunSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Identify a run: its name, trader id, seed and state folder."""

    name: str
    trader_id: str = "BACKTEST-001"
    seed: int = 42
    state_dir: str = "var"
    log_level: Literal["OFF", "ERROR", "WARNING", "INFO", "DEBUG"] = "ERROR"

    def __post_init__(self) -> None:
        """Reject a run name unfit for a folder, a trader id nautilus refuses and a negative seed."""
        if not _SAFE_NAME.match(self.name):
            fail("name", self.name, "names the run folder: use only letters, digits, '_', '.', '-'")
        if (problem := trader_id_problem(self.trader_id)) is not None:
            fail("trader_id", self.trader_id, problem)
        if not 0 <= self.seed < 2**63:
            fail("seed", self.seed, "must be in [0, 2**63)")
        if not self.state_dir.strip():
            fail("state_dir", self.state_dir, "must name a folder")


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

    def __post_init__(self) -> None:
        """Reject malformed ids and bar types (before nautilus parses them) and an empty window."""
        if not self.bar_types:
            fail("bar_types", self.bar_types, "must list at least one bar type")
        for field in ("instruments", "reference_instruments"):
            for index, text in enumerate(getattr(self, field)):
                if (problem := instrument_id_problem(text)) is not None:
                    fail(f"{field}[{index}]", text, problem)
        for index, text in enumerate(self.bar_types):
            if (problem := bar_type_problem(text)) is not None:
                fail(f"bar_types[{index}]", text, problem)
            if text in self.bar_types[:index]:
                fail(f"bar_types[{index}]", text, "is listed twice")
        known = set(self.instrument_ids())
        for index, text in enumerate(self.reference_instruments):
            if text not in known:
                fail(f"reference_instruments[{index}]", text, "is not in `instruments` or `bar_types`")
        for index, text in enumerate(self.option_chains):
            if not text.strip():
                fail(f"option_chains[{index}]", text, "must name an underlying, e.g. 'AAPL'")
        bounds = {name: _timestamp(name, getattr(self, name)) for name in ("start", "end")}
        if bounds["start"] is not None and bounds["end"] is not None and bounds["start"] >= bounds["end"]:
            fail("end", self.end, f"must be after start ({self.start!r})")

    def instrument_ids(self) -> list[str]:
        """Return ``instruments`` and the instruments of ``bar_types``, each once, in order."""
        ids = [*self.instruments, *(bar_type_instrument(b) for b in self.bar_types)]
        return list(dict.fromkeys(ids))


def _timestamp(field: str, text: str | None) -> pd.Timestamp | None:
    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        fail(field, text, "is not an ISO date or time, e.g. '2025-06-01' or '2025-06-01T12:00:00Z'")
    if pd.isna(stamp):
        fail(field, text, "is not an ISO date or time, e.g. '2025-06-01'")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


class FillModelSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Configure the venue's fill model (nautilus' probabilistic one, seeded, so fills stay deterministic).

    ``stop_gap_fill`` says where a stop-market fills when its bar opens beyond the trigger: at that
    open (``"open"``, the default, ``engine.fills``) or at the trigger price, as nautilus alone does
    (``"trigger"``, optimistic on gaps; docs/backtest-fill-rules.md).
    """

    prob_fill_on_limit: float = 1.0
    prob_slippage: float = 0.0
    stop_gap_fill: Literal["open", "trigger"] = "open"

    def __post_init__(self) -> None:
        """Require both probabilities in [0, 1]."""
        probability(self, "prob_fill_on_limit", "prob_slippage")


class LatencySection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Configure the simulated venue's message latency in milliseconds."""

    base_ms: float = 0.0
    insert_ms: float = 0.0
    update_ms: float = 0.0
    cancel_ms: float = 0.0

    def __post_init__(self) -> None:
        """Require every latency to be a finite number of milliseconds >= 0."""
        non_negative(self, "base_ms", "insert_ms", "update_ms", "cancel_ms")


class FeeSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Select the fee model: the instrument's maker/taker rates, or a fixed commission per fill."""

    model: Literal["maker_taker", "fixed"] = "maker_taker"
    fixed_commission: str | None = None

    def __post_init__(self) -> None:
        """Require ``fixed_commission`` (``"1.00 USD"``, >= 0) exactly when the model is ``fixed``."""
        if self.model == "fixed" and self.fixed_commission is None:
            fail("fixed_commission", None, "model = 'fixed' needs a commission per fill, e.g. '1.00 USD'")
        if self.model != "fixed" and self.fixed_commission is not None:
            fail("fixed_commission", self.fixed_commission, "is only read with model = 'fixed'")
        if self.fixed_commission is not None:
            _money("fixed_commission", self.fixed_commission, allow_zero=True)


def _money(field: str, text: str, *, allow_zero: bool = False) -> tuple[Decimal, str]:
    """Return (amount, currency) of ``"<amount> <CODE>"``, failing on a bad or non-positive amount."""
    parts = text.split()
    if len(parts) != 2:
        fail(field, text, "looks like '10000 USDT' (an amount, a space, a currency code)")
    amount_text, code = parts
    try:
        amount = Decimal(amount_text)
    except InvalidOperation:
        fail(field, text, f"the amount {amount_text!r} is not a number")
    if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero):
        fail(field, text, f"the amount must be a finite number {'>=' if allow_zero else '>'} 0")
    if (problem := currency_problem(code)) is not None:
        fail(field, text, f"the currency {code!r} is malformed: {problem}")
    return amount, code


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

    def __post_init__(self) -> None:
        """Reject a bad venue name, currency, balance or leverage (nautilus would fail mid-run)."""
        if not _VENUE_NAME.match(self.name):
            fail("name", self.name, "a venue name is letters, digits or '_', e.g. 'BYBIT'")
        if self.base_currency is not None and (problem := currency_problem(self.base_currency)):
            fail("base_currency", self.base_currency, problem)
        if not self.base_currency and self.account_type != "CASH":
            fail(
                "base_currency",
                self.base_currency,
                f"is required for a {self.account_type} account: equity, sizing and reports are "
                "valued in it; only a CASH (spot) account may omit it and is then valued in USD",
            )
        if not self.starting_balances:
            fail("starting_balances", self.starting_balances, "must not be empty")
        codes: list[str] = []
        for index, balance in enumerate(self.starting_balances):
            _, code = _money(f"starting_balances[{index}]", balance)
            if code in codes:
                fail(f"starting_balances[{index}]", balance, f"a second balance in {code}")
            codes.append(code)
        if self.base_currency and codes != [self.base_currency]:
            fail(
                "starting_balances",
                self.starting_balances,
                f"a single-currency account (base_currency {self.base_currency!r}) needs exactly one "
                f"balance in {self.base_currency}",
            )
        positive(self, "default_leverage")
        if self.default_leverage > 1 and self.account_type != "MARGIN":
            fail("default_leverage", self.default_leverage, "leverage above 1 needs account_type = 'MARGIN'")


class DeskSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Point the risk desk at its three config files, pick its mode and its journal.

    ``asset_classes`` lists the asset class modules the desk trades (``engine/assets``; a new class
    is one module plus its config entries). ``mode`` decides how ledgers are funded (``paper``: the
    paper bankroll with top-ups) and which losses count toward the auto kill switch. ``journal`` is
    the SQLite trade journal; a backtest without one writes ``journal.sqlite`` in its run folder,
    fresh on every run. Paths are relative to the working directory, like ``data.catalog``.
    ``overrides`` changes a few values of the three files for this run only
    (``[desk.overrides.risk.assets.options]`` ``max_premium_per_trade_usd = 500``), merged key by
    key before the desk config is validated.
    """

    mode: Literal["backtest", "paper", "live"] = "backtest"
    asset_classes: list[str] = msgspec.field(default_factory=lambda: list(BUILTIN_ASSET_CLASSES))
    budgets: str = "configs/budgets.toml"
    risk: str = "configs/risk.toml"
    sizing: str = "configs/sizing.toml"
    journal: str | None = None
    overrides: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        """Require override tables to name one of the three files."""
        for name in self.overrides:
            if name not in ("budgets", "risk", "sizing"):
                fail(f"overrides.{name}", self.overrides[name], "overrides name budgets, risk or sizing")


class StrategySection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Name a strategy class and its config class by import path, with the config's values.

    The values are parsed into the config class when the run config loads (:func:`strategy_specs`):
    an unknown field or a value out of the config's range fails there, before any data is read.
    """

    path: str
    config_path: str
    config: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        """Require both import paths to look like ``package.module:Name``."""
        for name in ("path", "config_path"):
            if not _IMPORT_PATH.match(getattr(self, name)):
                fail(name, getattr(self, name), "must look like 'package.module:Name'")


class ReportSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Choose the tearsheet renderer (by import path) and the equity sampling interval.

    Ratios are annualised with the traded asset classes' trading days a year (``engine/assets``).
    """

    tearsheet: bool = True
    renderer: str = "reports.tearsheet:write_tearsheet"
    equity_sample_minutes: int = 60

    def __post_init__(self) -> None:
        """Require a ``module:Name`` renderer and a sampling interval of at least a minute."""
        if not _IMPORT_PATH.match(self.renderer):
            fail("renderer", self.renderer, "must look like 'package.module:Name'")
        if self.equity_sample_minutes < 1:
            fail("equity_sample_minutes", self.equity_sample_minutes, "must be >= 1")


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


class NodeSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Run the config on a live nautilus node (``python -m engine.live``): replay, paper or live.

    ``adapter`` is the import path of the class that builds the node's data and execution clients
    (``adapters.replay.node:ReplayAdapter`` streams the catalog into a sandbox venue);
    ``options`` are its own settings. ``speed`` paces a replay feed (``"max"`` or a factor on the
    wall clock, 1.0 = real time). ``journal`` is the node's journal, kept across restarts (a
    restarted node resumes from its last checkpoint; default
    ``<state_dir>/nodes/<run name>/journal.sqlite``). Progress is printed every
    ``progress_seconds``; operator commands are applied every ``command_interval_ms`` and a
    checkpoint is written every ``checkpoint_seconds`` (wall time).
    """

    adapter: str
    speed: str | float = "max"
    journal: str | None = None
    progress_seconds: float = 5.0
    command_interval_ms: int = 200
    checkpoint_seconds: float = 5.0
    options: dict[str, Any] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        """Check the adapter path, the speed and the intervals."""
        if not _IMPORT_PATH.match(self.adapter):
            fail("adapter", self.adapter, "must look like 'package.module:Name'")
        if isinstance(self.speed, str):
            if self.speed != "max":
                fail("speed", self.speed, 'must be "max" or a positive number (1.0 = wall clock)')
        elif not (math.isfinite(self.speed) and self.speed > 0):
            fail("speed", self.speed, 'must be "max" or a positive number (1.0 = wall clock)')
        for name in ("progress_seconds", "checkpoint_seconds"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                fail(name, getattr(self, name), "must be a positive number of seconds")
        if self.command_interval_ms < 1:
            fail("command_interval_ms", self.command_interval_ms, "must be >= 1")


class RunConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold everything a backtest, a replay, a paper or a live node needs to assemble its kernel.

    ``node`` is read only by ``python -m engine.live``; a backtest ignores it.
    """

    run: RunSection
    data: DataSection
    venues: list[VenueSection]
    strategies: list[StrategySection]
    desk: DeskSection = msgspec.field(default_factory=DeskSection)
    report: ReportSection = msgspec.field(default_factory=ReportSection)
    carry: CarrySection | None = None
    node: NodeSection | None = None

    def __post_init__(self) -> None:
        """Require venues and strategies, unique venue names and a venue for every instrument."""
        if not self.venues:
            fail("venues", self.venues, "must name at least one venue")
        if not self.strategies:
            fail("strategies", self.strategies, "must name at least one strategy")
        names: list[str] = []
        for index, venue in enumerate(self.venues):
            if venue.name in names:
                fail(f"venues[{index}].name", venue.name, "is defined twice")
            names.append(venue.name)
        listed = [(f"data.instruments[{i}]", text) for i, text in enumerate(self.data.instruments)]
        listed += [(f"data.bar_types[{i}]", text) for i, text in enumerate(self.data.bar_types)]
        for field, text in listed:
            trades_on = venue_of(bar_type_instrument(text) if field.startswith("data.bar") else text)
            if trades_on not in names:
                fail(field, text, f"trades on {trades_on}, which `venues` does not define ({names})")


def load_run_config(path: str | Path) -> RunConfig:
    """Read a run config from TOML and validate it, with every file and strategy it names.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    RunConfig
        The validated, immutable config. Its strategy sections parse into their config classes
        (:func:`strategy_specs`), and its desk, carry and sessions files load; nothing reads data.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid TOML, or does not match the schema, or a strategy
        section, a referenced file or a value is invalid; the message names the file, the field
        and the offending value.
    """
    file = Path(path)
    raw = read_toml(file, ConfigError)
    try:
        config = msgspec.convert(raw, RunConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(describe_validation_error(str(file), raw, exc, schema=RunConfig)) from exc
    _check_references(file, config)
    strategy_specs(config, origin=str(file))
    return config


def _check_references(file: Path, config: RunConfig) -> None:
    """Load the desk files and the carry file the run config names (errors name both files)."""
    desk = config.desk
    for name in ("budgets", "risk", "sizing"):
        target = getattr(desk, name)
        if not Path(target).is_file():
            raise ConfigError(f"{file}: desk.{name} = {target!r}: no such file")
    try:
        assets = load_registry(tuple(desk.asset_classes))
    except AssetClassError as exc:
        raise ConfigError(f"{file}: desk.asset_classes = {list(desk.asset_classes)!r}: {exc}") from exc
    for name, table in (("budgets", "alloc"), ("risk", "assets"), ("sizing", "assets")):
        entries = desk.overrides.get(name, {}).get(table, {})
        for asset in entries if isinstance(entries, dict) else ():
            if asset not in assets:
                raise ConfigError(
                    f"{file}: desk.overrides.{name}.{table}.{asset} = {entries[asset]!r}: "
                    f"unknown asset class {asset!r} (known: {', '.join(assets.names)})"
                )
    try:
        load_desk_config(desk.budgets, desk.risk, desk.sizing, desk.overrides, assets=assets)
    except DeskConfigError as exc:
        raise ConfigError(f"{file}: [desk] {exc}") from exc
    if config.carry is not None:
        target = config.carry.config
        if not Path(target).is_file():
            raise ConfigError(f"{file}: carry.config = {target!r}: no such file")
        try:
            load_carry_config(target)
        except ConfigError as exc:
            raise ConfigError(f"{file}: carry.config = {target!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """A strategy section resolved and parsed: its class and its validated config."""

    index: int
    strategy_cls: type[Strategy]
    config: StrategyConfig

    def build(self) -> Strategy:
        """Instantiate the strategy."""
        return self.strategy_cls(self.config)


def strategy_specs(
    config: RunConfig, *, origin: str = "run config", overrides: Mapping[str, Any] | None = None
) -> list[StrategySpec]:
    """Resolve every strategy section's classes by import path and parse its values.

    This is the one place strategy sections are parsed: the loader calls it to fail early, the
    engine to build the strategies. The config class states its own rules (unknown fields are
    rejected, ranges checked in its ``__post_init__``).

    Parameters
    ----------
    config : RunConfig
        The run config.
    origin : str
        The file named in errors.
    overrides : mapping, optional
        Values laid over every section's (a parameter-grid point).

    Raises
    ------
    ConfigError
        Naming ``origin``, the field path (``strategies[0].config.fast_period``) and the value.
    """
    specs: list[StrategySpec] = []
    ids: dict[str, int] = {}
    for index, section in enumerate(config.strategies):
        where = f"strategies[{index}]"
        strategy_cls = _resolve_class(origin, f"{where}.path", section.path, Strategy)
        config_cls = _resolve_class(origin, f"{where}.config_path", section.config_path, StrategyConfig)
        if not issubclass(strategy_cls, RiskDeskClient):
            raise ConfigError(
                f"{origin}: {where}.path = {section.path!r}: does not accept a risk desk; "
                "extend strategies.base.SignalStrategy"
            )
        raw = {**section.config, **(overrides or {})}
        _precheck_identifiers(origin, f"{where}.config", raw, config_cls)
        try:
            parsed = msgspec.convert(raw, config_cls, strict=True, dec_hook=msgspec_decoding_hook)
        except msgspec.ValidationError as exc:
            message = describe_validation_error(origin, raw, exc, schema=config_cls, root=f"{where}.config")
            raise ConfigError(message) from exc
        except (FieldError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{origin}: {where}.config: {exc}") from exc
        for attr, known, listing in (
            ("instrument_id", config.data.instrument_ids(), "data.instruments or data.bar_types"),
            ("bar_type", config.data.bar_types, "data.bar_types"),
        ):
            value = getattr(parsed, attr, None)
            if value is not None and str(value) not in known:
                raise ConfigError(
                    f"{origin}: {where}.config.{attr} = {str(value)!r}: not in {listing} ({known}): "
                    "the run would load no data for it"
                )
        strategy_id = f"{parsed.strategy_id or strategy_cls.__name__}-{parsed.order_id_tag}"
        if strategy_id in ids:
            raise ConfigError(
                f"{origin}: {where}.config.order_id_tag = {parsed.order_id_tag!r}: strategy id "
                f"{strategy_id} is already used by strategies[{ids[strategy_id]}]; give each an order_id_tag"
            )
        ids[strategy_id] = index
        specs.append(StrategySpec(index, strategy_cls, parsed))
    return specs


def _resolve_class(origin: str, field: str, path: str, base: type) -> Any:
    try:
        target = resolve(path, field)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from exc
    if not (isinstance(target, type) and issubclass(target, base)):
        raise ConfigError(f"{origin}: {field} = {path!r}: is not a nautilus {base.__name__} class")
    return target


def _precheck_identifiers(origin: str, root: str, raw: Mapping[str, Any], config_cls: type) -> None:
    """Check bar type and instrument id strings first: nautilus' parser aborts on some bad ones."""
    checks = {BarType: bar_type_problem, InstrumentId: instrument_id_problem}
    info = msgspec_inspect.type_info(config_cls)
    if not isinstance(info, msgspec_inspect.StructType):
        return
    for field in info.fields:
        value = raw.get(field.encode_name)
        for kind, check in checks.items():
            if not _mentions(field.type, kind):
                continue
            for position, text in _strings(value):
                if (problem := check(text)) is not None:
                    raise ConfigError(f"{origin}: {root}.{field.encode_name}{position} = {text!r}: {problem}")


def _mentions(info: Any, kind: type) -> bool:
    if isinstance(info, msgspec_inspect.CustomType):
        return bool(info.cls is kind)
    if isinstance(info, msgspec_inspect.UnionType):
        return any(_mentions(member, kind) for member in info.types)
    item = getattr(info, "item_type", None)
    return item is not None and _mentions(item, kind)


def _strings(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [("", value)]
    if isinstance(value, list):
        return [(f"[{i}]", item) for i, item in enumerate(value) if isinstance(item, str)]
    return []
