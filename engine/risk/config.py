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
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from catalog.tomlconfig import describe_validation_error, read_toml

AssetClass = Literal["crypto_spot", "crypto_futures", "forex", "options"]
ASSET_CLASSES: tuple[AssetClass, ...] = ("crypto_spot", "crypto_futures", "forex", "options")
Mode = Literal["backtest", "paper", "live"]
MODES: tuple[Mode, ...] = ("backtest", "paper", "live")

# Ledgers funded from the same broker wallet (their percent allocations share one wallet).
WALLETS: dict[str, tuple[AssetClass, ...]] = {
    "bybit": ("crypto_spot", "crypto_futures"),
    "ibkr": ("forex", "options"),
}


class DeskConfigError(ValueError):
    """Raise when a budgets, risk or sizing file cannot be read or breaks its schema."""


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


# -- budgets.toml ---------------------------------------------------------------------------------


class Allocations(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Allocate each asset class its sub-ledger: USD (absolute) or a fraction of the wallet (percent)."""

    crypto_spot: float = 0.0
    crypto_futures: float = 0.0
    forex: float = 0.0
    options: float = 0.0


class PaperBankroll(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fund paper ledgers: the session start equity and the auto top-up rule (seed 003)."""

    start_equity_usd: float = 1_000.0
    auto_topup_threshold_usd: float = 10.0
    auto_topup_amount_usd: float = 1_000.0


class BudgetsConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Set the sub-ledger budgets, profit rollover, wallet enforcement and the paper bankroll."""

    alloc_mode: Literal["absolute", "percent"] = "absolute"
    alloc: Allocations = msgspec.field(default_factory=Allocations)
    profit_rollover: bool = True
    enforce_wallet_available: bool = True
    reallocation_step_usd: float = 100.0
    paper: PaperBankroll = msgspec.field(default_factory=PaperBankroll)


# -- risk.toml ------------------------------------------------------------------------------------


class AssetRisk(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold one asset class's guards.

    ``liq_buffer_pct`` applies to perpetuals: the stop must sit at least this fraction of the
    entry-to-liquidation distance away from the liquidation price. ``max_premium_per_trade_usd`` and
    ``theta_cap_usd_per_day`` apply to options.
    """

    max_sl_pct: float = 0.15
    max_concurrent: int = 5
    daily_loss_cap_pct: float = 0.02
    leverage_cap: float = 1.0
    allow_short: bool = True
    liq_buffer_pct: float = 0.0
    maintenance_margin_rate: float = 0.005
    max_premium_per_trade_usd: float | None = None
    theta_cap_usd_per_day: float | None = None


def _spot_risk() -> AssetRisk:
    return AssetRisk(max_concurrent=5, daily_loss_cap_pct=0.03, leverage_cap=1.0, allow_short=False)


def _futures_risk() -> AssetRisk:
    return AssetRisk(max_concurrent=3, daily_loss_cap_pct=0.02, leverage_cap=3.0, liq_buffer_pct=0.20)


def _forex_risk() -> AssetRisk:
    return AssetRisk(max_concurrent=4, daily_loss_cap_pct=0.02, leverage_cap=5.0)


def _options_risk() -> AssetRisk:
    return AssetRisk(
        max_concurrent=3,
        daily_loss_cap_pct=0.02,
        leverage_cap=1.0,
        allow_short=False,
        max_premium_per_trade_usd=50.0,
        theta_cap_usd_per_day=20.0,
    )


class AssetRiskTable(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold the guards of every asset class."""

    crypto_spot: AssetRisk = msgspec.field(default_factory=_spot_risk)
    crypto_futures: AssetRisk = msgspec.field(default_factory=_futures_risk)
    forex: AssetRisk = msgspec.field(default_factory=_forex_risk)
    options: AssetRisk = msgspec.field(default_factory=_options_risk)


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


class ForexRules(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold the forex-only rules: the 24/5 calendar, blackouts, the USD-leg group and IDEALPRO lots.

    ``calendar`` refuses new forex entries while the market is closed (Friday ``rollover`` to Sunday
    ``rollover``, ``timezone`` local time), ``open_blackout_minutes`` after the Sunday open and
    ``rollover_blackout_minutes`` either side of each weekday rollover. ``usd_leg_group`` counts
    pairs holding the USD leg in the same direction (long EUR/USD and short USD/JPY are both short
    USD) as one group whose notional may not exceed ``usd_group_exposure_cap`` of the ledger's
    equity. Sizes are floored to ``lot_step_units`` (IDEALPRO takes any whole unit) and skipped
    below ``min_order_units``.
    """

    calendar: bool = True
    timezone: str = "America/New_York"
    rollover: str = "17:00"
    open_blackout_minutes: int = 60
    rollover_blackout_minutes: int = 5
    usd_leg_group: bool = True
    usd_group_exposure_cap: float = 0.15
    lot_step_units: float = 1.0
    min_order_units: float = 0.0


class PerpsRules(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold the perpetual-only rules (docs/carry.md).

    ``leverage_caps`` maps an instrument id to its own leverage cap: the instrument's notional may
    not exceed cap x the ledger's equity (the crypto_futures ``leverage_cap`` still bounds the ledger).
    ``margin_mode`` (``isolated`` or ``cross``) is recorded and validated; the liquidation price the
    ``liq_buffer`` guard checks is the isolated one, which cross margin can only push further away.
    ``sl_tp_trigger`` is the nautilus ``TriggerType`` name for perpetual stops and targets (venues
    trigger on it; backtests on bar data trigger on the bar, there is no separate mark series).
    ``funding_filter_rate`` denies entries (``funding_filter``) while the latest settled funding rate
    against the trade's direction exceeds it (longs pay a positive rate, shorts a negative one);
    0 turns the filter off.
    """

    margin_mode: Literal["isolated", "cross"] = "isolated"
    sl_tp_trigger: Literal["MARK_PRICE", "LAST_PRICE", "INDEX_PRICE", "DEFAULT"] = "MARK_PRICE"
    funding_filter_rate: float = 0.0
    leverage_caps: dict[str, float] = msgspec.field(default_factory=dict)


class RiskConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Set the guards: per-asset rails, cooldown after risk events, correlation and the kill switch.

    A risk event is a daily-loss-cap breach, a trade whose price loss (before fees) exceeds
    ``per_trade_breach_multiple`` times the risk planned at entry (a stop that slipped or gapped), or
    a kill-switch trip; after one, the ledger takes no new entries
    for ``cooldown_seconds``.
    """

    cooldown_seconds: int = 900
    per_trade_breach_multiple: float = 1.5
    correlation: CorrelationConfig = msgspec.field(default_factory=CorrelationConfig)
    kill_switch: KillSwitchConfig = msgspec.field(default_factory=KillSwitchConfig)
    assets: AssetRiskTable = msgspec.field(default_factory=AssetRiskTable)
    forex: ForexRules = msgspec.field(default_factory=ForexRules)
    perps: PerpsRules = msgspec.field(default_factory=PerpsRules)


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
    """Scale risk with the ledger's realised P&L over the last ``window_days`` (seed 000's ladder)."""

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
    """Hold one asset class's risk fraction, its band (seed 003) and seed 000's r_A and q_A."""

    risk_fraction: float
    risk_fraction_min: float
    risk_fraction_max: float
    base_risk_pct: float
    percent_above_threshold: float


def _sizing(rf: float, lo: float, hi: float, r: float, q: float) -> AssetSizing:
    return AssetSizing(
        risk_fraction=rf,
        risk_fraction_min=lo,
        risk_fraction_max=hi,
        base_risk_pct=r,
        percent_above_threshold=q,
    )


class AssetSizingTable(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold the sizing numbers of every asset class."""

    crypto_spot: AssetSizing = msgspec.field(
        default_factory=lambda: _sizing(0.0075, 0.0025, 0.0075, 0.02, 0.0075)
    )
    crypto_futures: AssetSizing = msgspec.field(
        default_factory=lambda: _sizing(0.005, 0.0015, 0.005, 0.01, 0.005)
    )
    forex: AssetSizing = msgspec.field(default_factory=lambda: _sizing(0.004, 0.001, 0.004, 0.005, 0.0035))
    options: AssetSizing = msgspec.field(default_factory=lambda: _sizing(0.01, 0.0025, 0.01, 0.01, 0.005))


class SizingConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Choose the sizing policy and its numbers.

    ``risk_ladder`` (default): fixed ``fixed_notional_usd`` while the ledger's equity is below
    ``fixed_until_equity_usd``, then ``equity x risk_fraction x signal_weight x ladder / |entry - stop|``.
    ``notional_cap``: seed 000's BaseCap / PercentCap notional policy.
    """

    policy: Literal["risk_ladder", "notional_cap"] = "risk_ladder"
    fixed_notional_usd: float = 10.0
    fixed_until_equity_usd: float = 1_000.0
    pair_cap_fraction: float = 0.10
    notional_cap_threshold_usd: float = 1_000.0
    ladder: LadderConfig = msgspec.field(default_factory=LadderConfig)
    drawdown: DrawdownThrottle = msgspec.field(default_factory=DrawdownThrottle)
    assets: AssetSizingTable = msgspec.field(default_factory=AssetSizingTable)


@dataclass(frozen=True, slots=True)
class DeskConfig:
    """Bundle the three desk configs and where they came from."""

    budgets: BudgetsConfig
    risk: RiskConfig
    sizing: SizingConfig
    origin: str = "<defaults>"

    def asset_risk(self, asset: AssetClass) -> AssetRisk:
        """Return the guards of ``asset``."""
        rails: AssetRisk = getattr(self.risk.assets, asset)
        return rails

    def asset_sizing(self, asset: AssetClass) -> AssetSizing:
        """Return the sizing numbers of ``asset``."""
        numbers: AssetSizing = getattr(self.sizing.assets, asset)
        return numbers


T = TypeVar("T", bound=_Struct)


def convert_section(raw: dict[str, Any], schema: type[T], origin: str) -> T:
    """Convert a raw mapping into ``schema``, raising :class:`DeskConfigError` naming field and value."""
    try:
        return msgspec.convert(raw, schema, strict=True)
    except msgspec.ValidationError as exc:
        raise DeskConfigError(describe_validation_error(origin, raw, exc, schema=schema)) from exc


def load_desk_config(
    budgets: str | Path,
    risk: str | Path,
    sizing: str | Path,
    overrides: Mapping[str, dict[str, Any]] | None = None,
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

    Raises
    ------
    DeskConfigError
        If a file is missing, is not TOML, breaks its schema or holds an impossible value; the
        message names the file, the field and the value.
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
    return desk_config_from_raw(*raws, origins=(origins[0], origins[1], origins[2]))


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
) -> DeskConfig:
    """Validate raw budgets, risk and sizing mappings (as read from TOML) into a :class:`DeskConfig`."""
    config = DeskConfig(
        budgets=convert_section(budgets, BudgetsConfig, origins[0]),
        risk=convert_section(risk, RiskConfig, origins[1]),
        sizing=convert_section(sizing, SizingConfig, origins[2]),
        origin=", ".join(origins),
    )
    check_desk_config(config, origins)
    return config


def check_desk_config(
    config: DeskConfig, origins: tuple[str, str, str] = ("budgets", "risk", "sizing")
) -> None:
    """Reject values the schema allows but the desk cannot honour (ranges, orderings, sums)."""
    budgets_file, risk_file, sizing_file = origins
    budgets = config.budgets
    for asset in ASSET_CLASSES:
        value = getattr(budgets.alloc, asset)
        if not (math.isfinite(value) and value >= 0):
            _fail(budgets_file, f"alloc.{asset}", value, "must be a finite number >= 0")
        if budgets.alloc_mode == "percent" and value > 1.0:
            _fail(budgets_file, f"alloc.{asset}", value, "is a fraction of the wallet in percent mode: 0..1")
    if budgets.alloc_mode == "percent":
        for wallet, members in WALLETS.items():
            total = sum(getattr(budgets.alloc, asset) for asset in members)
            if total > 1.0 + 1e-12:
                _fail(
                    budgets_file,
                    "alloc",
                    total,
                    f"fractions of the {wallet} wallet ({', '.join(members)}) sum > 1",
                )
    if not budgets.reallocation_step_usd > 0:
        _fail(budgets_file, "reallocation_step_usd", budgets.reallocation_step_usd, "must be positive")
    paper = budgets.paper
    if not (
        paper.start_equity_usd > 0 and paper.auto_topup_amount_usd > 0 and paper.auto_topup_threshold_usd >= 0
    ):
        _fail(budgets_file, "paper", paper, "start equity and top-up must be positive, threshold >= 0")

    risk = config.risk
    for asset in ASSET_CLASSES:
        rails = config.asset_risk(asset)
        for name in ("max_sl_pct", "daily_loss_cap_pct"):
            value = getattr(rails, name)
            if not 0.0 < value <= 1.0:
                _fail(risk_file, f"assets.{asset}.{name}", value, "must be in (0, 1]")
        if not 0.0 <= rails.liq_buffer_pct < 1.0:
            _fail(risk_file, f"assets.{asset}.liq_buffer_pct", rails.liq_buffer_pct, "must be in [0, 1)")
        if not (math.isfinite(rails.leverage_cap) and rails.leverage_cap > 0):
            _fail(risk_file, f"assets.{asset}.leverage_cap", rails.leverage_cap, "must be positive")
        if not 0.0 <= rails.maintenance_margin_rate < 1.0:
            _fail(
                risk_file,
                f"assets.{asset}.maintenance_margin_rate",
                rails.maintenance_margin_rate,
                "must be in [0, 1)",
            )
        for name in ("max_premium_per_trade_usd", "theta_cap_usd_per_day"):
            cap = getattr(rails, name)
            if cap is not None and not (math.isfinite(cap) and cap > 0):
                _fail(risk_file, f"assets.{asset}.{name}", cap, "must be positive (or left out)")
        if rails.max_concurrent < 1:
            _fail(risk_file, f"assets.{asset}.max_concurrent", rails.max_concurrent, "must be at least 1")
    if risk.cooldown_seconds < 0:
        _fail(risk_file, "cooldown_seconds", risk.cooldown_seconds, "must not be negative")
    if not risk.per_trade_breach_multiple > 0.0:
        _fail(risk_file, "per_trade_breach_multiple", risk.per_trade_breach_multiple, "must be positive")
    correlation = risk.correlation
    if not 0.0 < correlation.threshold <= 1.0:
        _fail(risk_file, "correlation.threshold", correlation.threshold, "must be in (0, 1]")
    if correlation.window_bars < 3 or not 3 <= correlation.min_overlap_bars <= correlation.window_bars:
        _fail(
            risk_file,
            "correlation.min_overlap_bars",
            correlation.min_overlap_bars,
            "must be in [3, window_bars]",
        )
    if not (math.isfinite(correlation.group_exposure_cap) and correlation.group_exposure_cap > 0):
        _fail(risk_file, "correlation.group_exposure_cap", correlation.group_exposure_cap, "must be positive")
    if risk.kill_switch.consecutive_losses < 1:
        _fail(
            risk_file, "kill_switch.consecutive_losses", risk.kill_switch.consecutive_losses, "must be >= 1"
        )
    _check_forex_rules(risk.forex, risk_file)
    _check_perps_rules(risk.perps, risk_file)

    sizing = config.sizing
    if not 0.0 < sizing.pair_cap_fraction <= 1.0:
        _fail(sizing_file, "pair_cap_fraction", sizing.pair_cap_fraction, "must be in (0, 1]")
    for name in ("fixed_notional_usd", "notional_cap_threshold_usd"):
        if not (math.isfinite(getattr(sizing, name)) and getattr(sizing, name) > 0):
            _fail(sizing_file, name, getattr(sizing, name), "must be positive")
    if not (math.isfinite(sizing.fixed_until_equity_usd) and sizing.fixed_until_equity_usd >= 0):
        _fail(sizing_file, "fixed_until_equity_usd", sizing.fixed_until_equity_usd, "must be >= 0")
    ladder = sizing.ladder
    if not 0.0 < ladder.min_multiplier <= 1.0 <= ladder.max_multiplier:
        _fail(sizing_file, "ladder", (ladder.min_multiplier, ladder.max_multiplier), "needs min <= 1 <= max")
    if ladder.window_days < 1:
        _fail(sizing_file, "ladder.window_days", ladder.window_days, "must be >= 1")
    for index, rung in enumerate(ladder.rungs):
        if not ladder.min_multiplier <= rung.multiplier <= ladder.max_multiplier:
            _fail(
                sizing_file,
                f"ladder.rungs[{index}].multiplier",
                rung.multiplier,
                f"must lie in [{ladder.min_multiplier}, {ladder.max_multiplier}] (min/max_multiplier)",
            )
    drawdown = sizing.drawdown
    if not 0.0 < drawdown.step_drawdown <= 1.0:
        _fail(sizing_file, "drawdown.step_drawdown", drawdown.step_drawdown, "must be in (0, 1]")
    if not 0.0 <= drawdown.risk_reduction < 1.0:
        _fail(sizing_file, "drawdown.risk_reduction", drawdown.risk_reduction, "must be in [0, 1)")
    if not 0.0 < drawdown.floor <= 1.0:
        _fail(sizing_file, "drawdown.floor", drawdown.floor, "must be in (0, 1]")
    thresholds = [rung.profit_usd for rung in ladder.rungs]
    if thresholds != sorted(thresholds) or len(set(thresholds)) != len(thresholds):
        _fail(sizing_file, "ladder.rungs", thresholds, "profit thresholds must be strictly increasing")
    for asset in ASSET_CLASSES:
        numbers = config.asset_sizing(asset)
        if not 0.0 < numbers.risk_fraction_min <= numbers.risk_fraction <= numbers.risk_fraction_max <= 1.0:
            _fail(
                sizing_file,
                f"assets.{asset}.risk_fraction",
                numbers.risk_fraction,
                f"must lie in its band [{numbers.risk_fraction_min}, {numbers.risk_fraction_max}]",
            )
        for name in ("base_risk_pct", "percent_above_threshold"):
            if not 0.0 < getattr(numbers, name) <= 1.0:
                _fail(sizing_file, f"assets.{asset}.{name}", getattr(numbers, name), "must be in (0, 1]")


def _check_forex_rules(forex: ForexRules, risk_file: str) -> None:
    try:
        ZoneInfo(forex.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        _fail(risk_file, "forex.timezone", forex.timezone, "is not an IANA time zone")
    hours, _, minutes = forex.rollover.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
        _fail(risk_file, "forex.rollover", forex.rollover, "must be HH:MM")
    for name in ("open_blackout_minutes", "rollover_blackout_minutes"):
        value = getattr(forex, name)
        if not 0 <= value < 24 * 60:
            _fail(risk_file, f"forex.{name}", value, "must be in [0, 1440)")
    if not forex.usd_group_exposure_cap > 0.0:
        _fail(risk_file, "forex.usd_group_exposure_cap", forex.usd_group_exposure_cap, "must be positive")
    if not forex.lot_step_units > 0.0:
        _fail(risk_file, "forex.lot_step_units", forex.lot_step_units, "must be positive")
    if forex.min_order_units < 0.0:
        _fail(risk_file, "forex.min_order_units", forex.min_order_units, "must not be negative")


def _check_perps_rules(perps: PerpsRules, risk_file: str) -> None:
    if not 0.0 <= perps.funding_filter_rate < 0.01:
        _fail(risk_file, "perps.funding_filter_rate", perps.funding_filter_rate, "must be in [0, 0.01)")
    for instrument_id, cap in perps.leverage_caps.items():
        if not 0.0 < cap <= 100.0:  # above assets.crypto_futures.leverage_cap it never binds
            _fail(risk_file, f"perps.leverage_caps.{instrument_id}", cap, "must be in (0, 100]")


def _fail(origin: str, field: str, value: object, problem: str) -> None:
    raise DeskConfigError(f"{origin}: {field} = {value!r}: {problem}")
