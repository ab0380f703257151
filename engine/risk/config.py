"""Typed budgets, risk and sizing configs for the risk desk (``configs/{budgets,risk,sizing}.toml``).

One file per concern, read into frozen msgspec structs that forbid unknown fields. Every rule the
desk applies is a value here; a bad value fails at load time with an error naming the file, the field
and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import msgspec

from catalog.tomlconfig import describe_validation_error, read_toml

if TYPE_CHECKING:
    from engine.assets.registry import AssetRegistry

Mode = Literal["backtest", "paper", "live"]
MODES: tuple[Mode, ...] = ("backtest", "paper", "live")


class DeskConfigError(ValueError):
    """Raise when a budgets, risk or sizing file cannot be read or breaks its schema."""


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


# -- budgets.toml ---------------------------------------------------------------------------------


class PaperBankroll(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fund paper ledgers: the session start equity and the auto top-up rule (docs/risk-desk.md)."""

    start_equity_usd: float = 1_000.0
    auto_topup_threshold_usd: float = 10.0
    auto_topup_amount_usd: float = 1_000.0


class BudgetsConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Set the sub-ledger budgets, profit rollover, wallet enforcement and the paper bankroll.

    ``alloc`` maps an asset class to its allocation: USD (``absolute``) or a fraction of its broker
    wallet (``percent``); a class without an entry gets 0.
    """

    alloc_mode: Literal["absolute", "percent"] = "absolute"
    alloc: dict[str, float] = msgspec.field(default_factory=dict)
    profit_rollover: bool = True
    enforce_wallet_available: bool = True
    reallocation_step_usd: float = 100.0
    paper: PaperBankroll = msgspec.field(default_factory=PaperBankroll)


# -- risk.toml ------------------------------------------------------------------------------------


class AssetRisk(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold the guards every asset class has; each class's module extends it with its own rules.

    The ``[assets.<class>]`` tables of ``risk.toml`` are read with the class's own schema
    (``engine/assets``), whose defaults may differ from these.
    """

    max_sl_pct: float = 0.15
    max_concurrent: int = 5
    daily_loss_cap_pct: float = 0.02
    leverage_cap: float = 1.0
    allow_short: bool = True


class CorrelationConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Group instruments whose rolling return correlation exceeds ``threshold`` under one exposure cap.

    ``group_exposure_cap`` is the notional the whole group may hold, as a fraction of the ledger's
    equity (the per-pair cap still applies to each member).
    """

    enabled: bool = True
    threshold: float = 0.8
    window_bars: int = 240
    min_overlap_bars: int = 60
    group_exposure_cap: float = 0.15


class KillSwitchConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Trip close-only for an asset after this many consecutive losing trades in the listed modes."""

    consecutive_losses: int = 3
    modes: list[Mode] = msgspec.field(default_factory=lambda: ["live"])
    close_profitable_on_trip: bool = False


class RiskConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Set the guards shared by every asset class: cooldown after risk events, correlation, kill switch.

    A risk event is a daily-loss-cap breach, a trade whose price loss (before fees) exceeds
    ``per_trade_breach_multiple`` times the risk planned at entry (a stop that slipped or gapped), or
    a kill-switch trip; after one, the ledger takes no new entries for ``cooldown_seconds``. The
    per-class guards (``[assets.<class>]``) are read by :func:`desk_config_from_raw` with each class's
    schema.
    """

    cooldown_seconds: int = 900
    per_trade_breach_multiple: float = 1.5
    correlation: CorrelationConfig = msgspec.field(default_factory=CorrelationConfig)
    kill_switch: KillSwitchConfig = msgspec.field(default_factory=KillSwitchConfig)


# -- sizing.toml ----------------------------------------------------------------------------------


class LadderRung(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Apply ``multiplier`` once the ledger's rolling P&L reaches ``profit_usd``."""

    profit_usd: float
    multiplier: float


def _default_rungs() -> list[LadderRung]:
    return [
        LadderRung(profit_usd=200.0, multiplier=1.2),
        LadderRung(profit_usd=500.0, multiplier=1.5),
        LadderRung(profit_usd=1_000.0, multiplier=2.0),
    ]


class LadderConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Scale risk with the ledger's realised P&L over the last ``window_days`` (the equity ladder)."""

    enabled: bool = True
    window_days: int = 7
    min_multiplier: float = 0.5
    max_multiplier: float = 5.0
    rungs: list[LadderRung] = msgspec.field(default_factory=_default_rungs)


class DrawdownThrottle(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Cut ``risk_reduction`` of risk fraction for every ``step_drawdown`` of ledger drawdown."""

    step_drawdown: float = 0.05
    risk_reduction: float = 0.0025
    floor: float = 0.0025


class AssetSizing(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold one asset class's risk fraction and its band, and the notional-cap policy's r_A and q_A."""

    risk_fraction: float
    risk_fraction_min: float
    risk_fraction_max: float
    base_risk_pct: float
    percent_above_threshold: float


class SizingConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Choose the sizing policy and its numbers.

    ``risk_ladder`` (default): fixed ``fixed_notional_usd`` while the ledger's equity is below
    ``fixed_until_equity_usd``, then ``equity x risk_fraction x signal_weight x ladder / |entry - stop|``.
    ``notional_cap``: the BaseCap / PercentCap notional policy (docs/risk-desk.md). ``assets`` holds
    each class's numbers; a class without a table uses its module's defaults.
    """

    policy: Literal["risk_ladder", "notional_cap"] = "risk_ladder"
    fixed_notional_usd: float = 10.0
    fixed_until_equity_usd: float = 1_000.0
    pair_cap_fraction: float = 0.10
    notional_cap_threshold_usd: float = 1_000.0
    ladder: LadderConfig = msgspec.field(default_factory=LadderConfig)
    drawdown: DrawdownThrottle = msgspec.field(default_factory=DrawdownThrottle)
    assets: dict[str, AssetSizing] = msgspec.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeskConfig:
    """Bundle the three desk configs, the asset classes they were read for, and where they came from.

    ``risk_by_asset`` and ``sizing_by_asset`` hold every class of ``assets``, read with the class's
    own schema and defaults.
    """

    budgets: BudgetsConfig
    risk: RiskConfig
    sizing: SizingConfig
    assets: AssetRegistry
    risk_by_asset: Mapping[str, AssetRisk]
    sizing_by_asset: Mapping[str, AssetSizing]
    origin: str = "<defaults>"

    def asset_risk(self, asset: str) -> AssetRisk:
        """Return the guards of ``asset`` (of its class's own schema)."""
        return self.risk_by_asset[asset]

    def asset_sizing(self, asset: str) -> AssetSizing:
        """Return the sizing numbers of ``asset``."""
        return self.sizing_by_asset[asset]

    def allocation(self, asset: str) -> float:
        """Return the configured allocation of ``asset`` (USD, or a wallet fraction in percent mode)."""
        return self.budgets.alloc.get(asset, 0.0)


T = TypeVar("T", bound=msgspec.Struct)


def convert_section(
    raw: dict[str, Any],
    schema: type[T],
    origin: str,
    *,
    at: tuple[str, ...] = (),
) -> T:
    """Convert a raw mapping into ``schema``, raising :class:`DeskConfigError` naming field and value.

    ``at`` is the mapping's path inside its file, so a nested table's error names its full field
    path (``assets.forex.timezone``).
    """
    try:
        return msgspec.convert(raw, schema, strict=True)
    except msgspec.ValidationError as exc:
        root = ".".join(at)
        raise DeskConfigError(describe_validation_error(origin, raw, exc, schema=schema, root=root)) from exc


def load_desk_config(
    budgets: str | Path,
    risk: str | Path,
    sizing: str | Path,
    overrides: Mapping[str, dict[str, Any]] | None = None,
    assets: AssetRegistry | None = None,
) -> DeskConfig:
    """Read and validate ``budgets.toml``, ``risk.toml`` and ``sizing.toml``.

    Parameters
    ----------
    budgets, risk, sizing : str or Path
        The three files.
    overrides : mapping, optional
        Tables merged key by key over the files' content before validation, by file name
        (``{"risk": {"assets": {"options": {"max_premium_per_trade_usd": 500.0}}}}``): how a run
        config changes a few values without copying a whole file.
    assets : AssetRegistry, optional
        The asset classes to read the per-class tables for (default: the built-in four).

    Raises
    ------
    DeskConfigError
        If a file is missing, is not TOML, breaks its schema, names an unknown asset class or holds
        an impossible value; the message names the file, the field and the value.
    """
    overrides = overrides or {}
    unknown = sorted(set(overrides) - {"budgets", "risk", "sizing"})
    if unknown:
        raise DeskConfigError(f"desk overrides: unknown file {unknown[0]!r} (budgets, risk or sizing)")
    raws = []
    origins = []
    for name, path in (("budgets", budgets), ("risk", risk), ("sizing", sizing)):
        raw = read_toml(path, DeskConfigError)
        if overrides.get(name):
            raw = deep_merge(raw, overrides[name])
            path = f"{path} (with the run config's desk overrides)"
        raws.append(raw)
        origins.append(str(path))
    return desk_config_from_raw(*raws, origins=(origins[0], origins[1], origins[2]), assets=assets)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``override`` merged in, nested tables merged key by key."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def desk_config_from_raw(
    budgets: dict[str, Any],
    risk: dict[str, Any],
    sizing: dict[str, Any],
    *,
    origins: tuple[str, str, str] = ("budgets", "risk", "sizing"),
    assets: AssetRegistry | None = None,
) -> DeskConfig:
    """Validate raw budgets, risk and sizing mappings (as read from TOML) into a :class:`DeskConfig`."""
    if assets is None:
        from engine.assets.registry import builtin_registry  # the registry imports this module

        assets = builtin_registry()
    budgets_file, risk_file, sizing_file = origins
    risk_tables = risk.get("assets", {})
    if not isinstance(risk_tables, dict):
        fail(risk_file, "assets", risk_tables, "must be a table of asset classes")
    _known(assets, risk_tables, risk_file, "assets")
    risk_by_asset: dict[str, AssetRisk] = {}
    for asset in assets:
        table = risk_tables.get(asset.name, {})
        risk_by_asset[asset.name] = convert_section(
            table, asset.risk_schema, risk_file, at=("assets", asset.name)
        )
    budgets_config = convert_section(budgets, BudgetsConfig, budgets_file)
    _known(assets, budgets_config.alloc, budgets_file, "alloc")
    sizing_config = convert_section(sizing, SizingConfig, sizing_file)
    _known(assets, sizing_config.assets, sizing_file, "assets")
    config = DeskConfig(
        budgets=budgets_config,
        risk=convert_section({k: v for k, v in risk.items() if k != "assets"}, RiskConfig, risk_file),
        sizing=sizing_config,
        assets=assets,
        risk_by_asset=risk_by_asset,
        sizing_by_asset={
            asset.name: sizing_config.assets.get(asset.name, asset.sizing_defaults) for asset in assets
        },
        origin=", ".join(origins),
    )
    check_desk_config(config, origins)
    return config


def _known(assets: AssetRegistry, table: Mapping[str, Any], origin: str, field: str) -> None:
    for name, value in table.items():
        if name not in assets:
            fail(
                origin,
                f"{field}.{name}",
                value,
                f"unknown asset class {name!r} (known: {', '.join(assets.names)})",
            )


def check_desk_config(
    config: DeskConfig, origins: tuple[str, str, str] = ("budgets", "risk", "sizing")
) -> None:
    """Reject values the schema allows but the desk cannot honour (ranges, orderings, sums, NaN)."""
    budgets_file, risk_file, sizing_file = origins
    budgets = config.budgets
    for asset, value in budgets.alloc.items():
        if not (math.isfinite(value) and value >= 0):
            fail(budgets_file, f"alloc.{asset}", value, "must be a finite number >= 0")
        if budgets.alloc_mode == "percent" and value > 1.0:
            fail(budgets_file, f"alloc.{asset}", value, "is a fraction of the wallet in percent mode: 0..1")
    if budgets.alloc_mode == "percent":
        for wallet, members in config.assets.wallets().items():
            total = sum(config.allocation(asset) for asset in members)
            if total > 1.0 + 1e-12:
                fail(
                    budgets_file,
                    "alloc",
                    total,
                    f"fractions of the {wallet} wallet ({', '.join(members)}) sum > 1",
                )
    if not budgets.reallocation_step_usd > 0:
        fail(budgets_file, "reallocation_step_usd", budgets.reallocation_step_usd, "must be positive")
    paper = budgets.paper
    if not (
        paper.start_equity_usd > 0 and paper.auto_topup_amount_usd > 0 and paper.auto_topup_threshold_usd >= 0
    ):
        fail(budgets_file, "paper", paper, "start equity and top-up must be positive, threshold >= 0")

    risk = config.risk
    for asset_class in config.assets:
        name_of = asset_class.name
        rails = config.asset_risk(name_of)
        for name in ("max_sl_pct", "daily_loss_cap_pct"):
            value = getattr(rails, name)
            if not 0.0 < value <= 1.0:
                fail(risk_file, f"assets.{name_of}.{name}", value, "must be in (0, 1]")
        if not (math.isfinite(rails.leverage_cap) and rails.leverage_cap > 0):
            fail(risk_file, f"assets.{name_of}.leverage_cap", rails.leverage_cap, "must be positive")
        if rails.max_concurrent < 1:
            fail(risk_file, f"assets.{name_of}.max_concurrent", rails.max_concurrent, "must be at least 1")
        asset_class.check_risk(rails, risk_file)
    if risk.cooldown_seconds < 0:
        fail(risk_file, "cooldown_seconds", risk.cooldown_seconds, "must not be negative")
    if not risk.per_trade_breach_multiple > 0.0:
        fail(risk_file, "per_trade_breach_multiple", risk.per_trade_breach_multiple, "must be positive")
    correlation = risk.correlation
    if not 0.0 < correlation.threshold <= 1.0:
        fail(risk_file, "correlation.threshold", correlation.threshold, "must be in (0, 1]")
    if not (math.isfinite(correlation.group_exposure_cap) and correlation.group_exposure_cap > 0):
        fail(risk_file, "correlation.group_exposure_cap", correlation.group_exposure_cap, "must be positive")
    if correlation.window_bars < 3 or not 3 <= correlation.min_overlap_bars <= correlation.window_bars:
        fail(
            risk_file,
            "correlation.min_overlap_bars",
            correlation.min_overlap_bars,
            "must be in [3, window_bars]",
        )
    if risk.kill_switch.consecutive_losses < 1:
        fail(risk_file, "kill_switch.consecutive_losses", risk.kill_switch.consecutive_losses, "must be >= 1")

    sizing = config.sizing
    if not 0.0 < sizing.pair_cap_fraction <= 1.0:
        fail(sizing_file, "pair_cap_fraction", sizing.pair_cap_fraction, "must be in (0, 1]")
    for name in ("fixed_notional_usd", "notional_cap_threshold_usd"):
        if not (math.isfinite(getattr(sizing, name)) and getattr(sizing, name) > 0):
            fail(sizing_file, name, getattr(sizing, name), "must be positive")
    if not (math.isfinite(sizing.fixed_until_equity_usd) and sizing.fixed_until_equity_usd >= 0):
        fail(sizing_file, "fixed_until_equity_usd", sizing.fixed_until_equity_usd, "must be >= 0")
    ladder = sizing.ladder
    if not 0.0 < ladder.min_multiplier <= 1.0 <= ladder.max_multiplier:
        fail(sizing_file, "ladder", (ladder.min_multiplier, ladder.max_multiplier), "needs min <= 1 <= max")
    if ladder.window_days < 1:
        fail(sizing_file, "ladder.window_days", ladder.window_days, "must be >= 1")
    thresholds = [rung.profit_usd for rung in ladder.rungs]
    if thresholds != sorted(thresholds) or len(set(thresholds)) != len(thresholds):
        fail(sizing_file, "ladder.rungs", thresholds, "profit thresholds must be strictly increasing")
    for index, rung in enumerate(ladder.rungs):
        if not ladder.min_multiplier <= rung.multiplier <= ladder.max_multiplier:
            fail(
                sizing_file,
                f"ladder.rungs[{index}].multiplier",
                rung.multiplier,
                f"must lie in [{ladder.min_multiplier}, {ladder.max_multiplier}] (min/max_multiplier)",
            )
    drawdown = sizing.drawdown
    if not 0.0 < drawdown.step_drawdown <= 1.0:
        fail(sizing_file, "drawdown.step_drawdown", drawdown.step_drawdown, "must be in (0, 1]")
    if not 0.0 <= drawdown.risk_reduction < 1.0:
        fail(sizing_file, "drawdown.risk_reduction", drawdown.risk_reduction, "must be in [0, 1)")
    if not 0.0 < drawdown.floor <= 1.0:
        fail(sizing_file, "drawdown.floor", drawdown.floor, "must be in (0, 1]")
    for asset_class in config.assets:
        numbers = config.asset_sizing(asset_class.name)
        if not 0.0 < numbers.risk_fraction_min <= numbers.risk_fraction <= numbers.risk_fraction_max <= 1.0:
            fail(
                sizing_file,
                f"assets.{asset_class.name}.risk_fraction",
                numbers.risk_fraction,
                f"must lie in its band [{numbers.risk_fraction_min}, {numbers.risk_fraction_max}]",
            )
        for name in ("base_risk_pct", "percent_above_threshold"):
            if not 0.0 < getattr(numbers, name) <= 1.0:
                fail(
                    sizing_file,
                    f"assets.{asset_class.name}.{name}",
                    getattr(numbers, name),
                    "must be in (0, 1]",
                )


def fail(origin: str, field: str, value: object, problem: str) -> None:
    """Raise :class:`DeskConfigError` as ``<file>: <field> = <value>: <problem>``."""
    raise DeskConfigError(f"{origin}: {field} = {value!r}: {problem}")
