"""Promotion gates (``configs/gates.toml``): typed thresholds, gate verdicts and the slice allowlist.

A candidate is promoted when every gate passes. Gates compare the aggregate out-of-sample metrics
of :func:`engine.metrics.compute_metrics` and the stress results of
:mod:`research.validation.stress` with per-asset-class thresholds. A missing, None or non-finite
metric fails its gate: nothing passes silently.

Comparisons (documented in ``configs/gates.toml`` too): ``min_*`` thresholds pass at or above the
threshold (``>=``), ``max_*`` at or below (``<=``); the expectancy needs to be *strictly* above its
threshold (``>``: "expectancy > 0 after fees"). Drawdowns are compared as positive
depths: ``compute_metrics``' ``max_drawdown`` (negative) is negated first.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict

import msgspec

from catalog.tomlconfig import describe_validation_error, read_toml
from engine.assets import AssetRegistry, builtin_registry
from strategies.features.config import REGIME_NAMES, SessionsConfig

__all__ = [
    "PRIMARY_REGIMES",
    "Allowlist",
    "AllowlistRules",
    "AssetGates",
    "CommonGates",
    "GateResult",
    "GatesConfig",
    "GatesConfigError",
    "Thresholds",
    "build_allowlist",
    "evaluate_gates",
    "gates_config_from_raw",
    "load_gates",
    "verdict",
]

MonteCarloMethod = Literal["monte_carlo_reorder", "bootstrap_trades"]
Comparison = Literal[">=", ">", "<="]

PRIMARY_REGIMES: tuple[str, ...] = tuple(name for name in REGIME_NAMES if name != "HIGH_VOL")
"""Regime labels that may enter ``allowed_regimes`` (HIGH_VOL is a flag on top of one of them)."""


class GatesConfigError(ValueError):
    """Raise when a gates file cannot be read or breaks its schema (naming file, field and value)."""


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class CommonGates(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold the gates shared by every asset class (each may be overridden per asset)."""

    min_oos_trades: int
    min_expectancy: float
    min_profit_factor: float
    min_cvar_5: float
    monte_carlo: list[MonteCarloMethod]
    min_perturbation_pass_rate: float


class AssetGates(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold one asset class's KPI thresholds and optional overrides of the common gates."""

    min_sharpe: float
    min_sortino: float
    min_calmar: float
    max_drawdown: float
    min_oos_trades: int | None = None
    min_expectancy: float | None = None
    min_profit_factor: float | None = None
    min_cvar_5: float | None = None
    monte_carlo: list[MonteCarloMethod] | None = None
    min_perturbation_pass_rate: float | None = None


class AllowlistRules(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Decide which session and regime slices are allowed (see :func:`build_allowlist`)."""

    min_trades: int = 30
    min_expectancy: float = 0.0
    min_profit_factor: float = 1.2


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Hold the resolved thresholds of one asset class (common values with its overrides applied)."""

    asset_class: str
    min_oos_trades: int
    min_expectancy: float
    min_profit_factor: float
    min_cvar_5: float
    monte_carlo: tuple[MonteCarloMethod, ...]
    min_perturbation_pass_rate: float
    min_sharpe: float
    min_sortino: float
    min_calmar: float
    max_drawdown: float


_COMMON_FIELDS = (
    "min_oos_trades",
    "min_expectancy",
    "min_profit_factor",
    "min_cvar_5",
    "monte_carlo",
    "min_perturbation_pass_rate",
)


class GatesConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Hold the whole gates file: common gates, per-asset KPIs and the allowlist rules."""

    common: CommonGates
    assets: dict[str, AssetGates]
    allowlist: AllowlistRules = msgspec.field(default_factory=AllowlistRules)

    def thresholds(self, asset_class: str) -> Thresholds:
        """Return the thresholds of ``asset_class`` with its overrides of the common gates applied.

        Raises
        ------
        ValueError
            If the file has no table for ``asset_class``.
        """
        asset = self.assets.get(asset_class)
        if asset is None:
            raise ValueError(f"unknown asset class {asset_class!r} (known: {', '.join(self.assets)})")
        resolved: dict[str, Any] = {}
        for name in _COMMON_FIELDS:
            override = getattr(asset, name)
            resolved[name] = getattr(self.common, name) if override is None else override
        return Thresholds(
            asset_class=asset_class,
            min_oos_trades=resolved["min_oos_trades"],
            min_expectancy=resolved["min_expectancy"],
            min_profit_factor=resolved["min_profit_factor"],
            min_cvar_5=resolved["min_cvar_5"],
            monte_carlo=tuple(resolved["monte_carlo"]),
            min_perturbation_pass_rate=resolved["min_perturbation_pass_rate"],
            min_sharpe=asset.min_sharpe,
            min_sortino=asset.min_sortino,
            min_calmar=asset.min_calmar,
            max_drawdown=asset.max_drawdown,
        )


# -- loading --------------------------------------------------------------------------------------


def _fail(origin: str, field: str, value: object, problem: str) -> None:
    raise GatesConfigError(f"{origin}: {field} = {value!r}: {problem}")


def load_gates(path: str | Path, assets: AssetRegistry | None = None) -> GatesConfig:
    """Read and validate a gates file (``configs/gates.toml``).

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    GatesConfig
        The validated thresholds.

    Raises
    ------
    GatesConfigError
        If the file is missing, is not TOML, breaks the schema or holds an out-of-range value; the
        message names the file, the field and the value.
    """
    return gates_config_from_raw(read_toml(path, GatesConfigError), origin=str(path), assets=assets)


def gates_config_from_raw(
    raw: dict[str, Any], *, origin: str = "gates", assets: AssetRegistry | None = None
) -> GatesConfig:
    """Validate a raw mapping (as read from TOML) into a :class:`GatesConfig`.

    Raises
    ------
    GatesConfigError
        If the mapping breaks the schema, names an unknown asset class, lacks a table for one of
        ``assets`` (default: the built-in classes) or holds an out-of-range value (naming ``origin``,
        the field and the value).
    """
    tables = raw.get("assets", {})
    if isinstance(tables, dict):  # one table at a time, so an error names its asset class
        for name, table in tables.items():
            try:
                msgspec.convert(table, AssetGates, strict=True)
            except msgspec.ValidationError as exc:
                message = describe_validation_error(
                    origin, table, exc, schema=AssetGates, root=f"assets.{name}"
                )
                raise GatesConfigError(message) from exc
    try:
        config = msgspec.convert(raw, GatesConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise GatesConfigError(describe_validation_error(origin, raw, exc, schema=GatesConfig)) from exc
    registry = assets or builtin_registry()
    for name in config.assets:
        if name not in registry:
            _fail(
                origin,
                f"assets.{name}",
                raw["assets"][name],
                f"unknown asset class (known: {', '.join(registry.names)})",
            )
    for name in registry.names:
        if name not in config.assets:
            _fail(origin, f"assets.{name}", "<missing>", "every asset class needs its gates table")
    _check_gates_config(config, origin)
    return config


def _check_range(
    origin: str, field: str, value: float, low: float, high: float, *, open_low: bool = False
) -> None:
    """Fail unless ``low <= value <= high`` (``low < value`` with ``open_low``); NaN always fails."""
    inside = (low < value if open_low else low <= value) and value <= high
    if not inside:
        bracket = "(" if open_low else "["
        _fail(origin, field, value, f"must be in {bracket}{low:g}, {high:g}]")


def _check_gates_config(config: GatesConfig, origin: str) -> None:
    """Reject values the schema allows but a gate cannot mean (ranges, empty lists, duplicates)."""
    for asset_class, asset in config.assets.items():
        base = f"assets.{asset_class}"

        def where(name: str, asset: AssetGates = asset, base: str = base) -> str:
            return f"{base}.{name}" if getattr(asset, name) is not None else f"common.{name}"

        for name in ("min_sharpe", "min_sortino", "min_calmar"):
            _check_range(origin, f"{base}.{name}", getattr(asset, name), 0.0, 1e6)
        _check_range(origin, f"{base}.max_drawdown", asset.max_drawdown, 0.0, 1.0, open_low=True)
        limits = config.thresholds(asset_class)
        if limits.min_oos_trades < 1:
            _fail(origin, where("min_oos_trades"), limits.min_oos_trades, "must be at least 1")
        _check_range(origin, where("min_expectancy"), limits.min_expectancy, 0.0, 1e12)
        _check_range(origin, where("min_profit_factor"), limits.min_profit_factor, 1.0, 1e6)
        _check_range(origin, where("min_cvar_5"), limits.min_cvar_5, -1.0, 0.0)
        _check_range(origin, where("min_perturbation_pass_rate"), limits.min_perturbation_pass_rate, 0.0, 1.0)
        methods = limits.monte_carlo
        if not methods or len(set(methods)) != len(methods):
            _fail(origin, where("monte_carlo"), list(methods), "must name each method once, at least one")
    rules = config.allowlist
    if rules.min_trades < 1:
        _fail(origin, "allowlist.min_trades", rules.min_trades, "must be at least 1")
    _check_range(origin, "allowlist.min_expectancy", rules.min_expectancy, 0.0, 1e12)
    _check_range(origin, "allowlist.min_profit_factor", rules.min_profit_factor, 1.0, 1e6)


# -- gates ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateResult:
    """Record one gate: the measured value, the threshold, how they compare and the outcome.

    ``value`` is None when the metric was missing or undefined (the gate then fails).
    """

    name: str
    value: float | None
    threshold: float
    passed: bool
    comparison: Comparison

    def as_dict(self) -> dict[str, Any]:
        """Return the result as a JSON-ready dict."""
        return asdict(self)


def _number(value: object) -> float | None:
    """Return ``value`` as a finite float, or None (missing, None, bool, text, NaN or inf)."""
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _gate(name: str, value: object, threshold: float, comparison: Comparison) -> GateResult:
    number = _number(value)
    if number is None:
        passed = False
    elif comparison == ">=":
        passed = number >= threshold
    elif comparison == ">":
        passed = number > threshold
    else:
        passed = number <= threshold
    return GateResult(
        name=name, value=number, threshold=float(threshold), passed=passed, comparison=comparison
    )


def _mc_drawdown_p95(stress: Mapping[str, Any], method: str) -> object:
    """Return ``stress[method]["max_drawdown"]["p95"]``, or None when any level is missing.

    Resampling no trade gives flat paths, a drawdown of 0 that is no evidence: a result with
    ``trades`` 0 has no defined drawdown either, so its gate fails like any missing metric.
    """
    result = stress.get(method)
    if not isinstance(result, Mapping) or result.get("trades") == 0:
        return None
    drawdown = result.get("max_drawdown")
    return drawdown.get("p95") if isinstance(drawdown, Mapping) else None


def evaluate_gates(
    config: GatesConfig,
    asset_class: str,
    aggregate: Mapping[str, Any],
    stress: Mapping[str, Any],
) -> list[GateResult]:
    """Check a candidate's out-of-sample metrics and stress results against its asset's gates.

    Gates, in order: ``oos_trades`` (>=), ``expectancy`` (>), ``profit_factor`` (>=), ``sharpe``,
    ``sortino``, ``calmar`` (>=), ``max_drawdown`` (depth <=), ``cvar_5`` (>=), one
    ``<method>_drawdown_p95`` (<= the asset's ``max_drawdown``) per configured Monte Carlo method,
    ``perturbation_pass_rate`` (>=).

    Parameters
    ----------
    config : GatesConfig
        The gates (see :func:`load_gates`).
    asset_class : str
        ``crypto_spot``, ``crypto_futures``, ``forex`` or ``options``.
    aggregate : mapping
        :func:`engine.metrics.compute_metrics` over the out-of-sample folds (``max_drawdown`` is
        the negative fraction it reports).
    stress : mapping
        ``monte_carlo_reorder`` and ``bootstrap_trades``: the results of those functions in
        :mod:`research.validation.stress`; ``perturbation_pass_rate``: the share returned by
        :func:`research.validation.stress.perturbation_pass_rate`.

    Returns
    -------
    list of GateResult
        One result per gate; a missing or undefined metric gives ``passed=False``.

    Raises
    ------
    ValueError
        If ``asset_class`` is unknown or ``aggregate["max_drawdown"]`` is positive (not the
        negative fraction ``compute_metrics`` reports).
    """
    limits = config.thresholds(asset_class)
    drawdown = _number(aggregate.get("max_drawdown"))
    if drawdown is not None and drawdown > 0.0:
        raise ValueError(
            f"aggregate max_drawdown = {drawdown!r}: expected compute_metrics' negative fraction (<= 0)"
        )
    results = [
        _gate("oos_trades", aggregate.get("trades"), limits.min_oos_trades, ">="),
        _gate("expectancy", aggregate.get("expectancy"), limits.min_expectancy, ">"),
        _gate("profit_factor", aggregate.get("profit_factor"), limits.min_profit_factor, ">="),
        _gate("sharpe", aggregate.get("sharpe"), limits.min_sharpe, ">="),
        _gate("sortino", aggregate.get("sortino"), limits.min_sortino, ">="),
        _gate("calmar", aggregate.get("calmar"), limits.min_calmar, ">="),
        _gate("max_drawdown", None if drawdown is None else -drawdown, limits.max_drawdown, "<="),
        _gate("cvar_5", aggregate.get("cvar_5"), limits.min_cvar_5, ">="),
    ]
    for method in limits.monte_carlo:
        results.append(
            _gate(f"{method}_drawdown_p95", _mc_drawdown_p95(stress, method), limits.max_drawdown, "<=")
        )
    results.append(
        _gate(
            "perturbation_pass_rate",
            stress.get("perturbation_pass_rate"),
            limits.min_perturbation_pass_rate,
            ">=",
        )
    )
    return results


def verdict(results: Sequence[GateResult]) -> Literal["pass", "fail"]:
    """Return ``"pass"`` when there is at least one gate and every gate passed, else ``"fail"``."""
    return "pass" if results and all(result.passed for result in results) else "fail"


# -- allowlist ------------------------------------------------------------------------------------


class Allowlist(TypedDict):
    """Hold the router fields built from the slices, plus the reason for every decision.

    ``allowed_sessions``, ``allowed_regimes`` and ``disallowed_regimes`` are directly the
    strategy config fields :class:`strategies.features.router.EntryRouter` reads. An empty
    ``allowed_sessions`` or ``allowed_regimes`` list refuses every entry (nothing qualified).
    """

    allowed_sessions: list[str]
    allowed_regimes: list[str]
    disallowed_regimes: list[str]
    notes: list[str]


def _fmt(value: object) -> str:
    number = _number(value)
    return "n/a" if number is None else f"{number:.4g}"


def _judge(label: str, stats: Mapping[str, Any], rules: AllowlistRules) -> tuple[bool, bool, str]:
    """Return (qualifies, enough trades, description) of one slice under ``rules``."""
    trades = _number(stats.get("trades"))
    count = int(trades) if trades is not None else 0
    described = (
        f"{label}: {count} trades, expectancy {_fmt(stats.get('expectancy'))}, "
        f"PF {_fmt(stats.get('profit_factor'))}"
    )
    if count < rules.min_trades:
        return False, False, f"{described}: fewer than {rules.min_trades} trades, not enough evidence"
    problems = []
    if not _gate("expectancy", stats.get("expectancy"), rules.min_expectancy, ">").passed:
        problems.append(f"expectancy not > {rules.min_expectancy:g}")
    if not _gate("profit_factor", stats.get("profit_factor"), rules.min_profit_factor, ">=").passed:
        problems.append(f"PF not >= {rules.min_profit_factor:g}")
    if problems:
        return False, True, f"{described}: {', '.join(problems)}"
    return True, True, described


def build_allowlist(
    session_slices: Mapping[str, Mapping[str, Any]],
    regime_slices: Mapping[str, Mapping[str, Any]],
    rules: AllowlistRules,
    *,
    session_names: Sequence[str] | None = None,
) -> Allowlist:
    """Choose the sessions and regimes a strategy may enter in from its out-of-sample slices.

    A slice qualifies with at least ``rules.min_trades`` trades, expectancy strictly above
    ``rules.min_expectancy`` and profit factor at or above ``rules.min_profit_factor`` (an
    undefined value fails). Qualifying sessions are allowed; qualifying primary regimes
    (TREND_UP, TREND_DOWN, RANGE, UNKNOWN) are allowed. HIGH_VOL is a flag on top of a primary
    regime, so it is never put in ``allowed_regimes`` (that would admit every volatile bar whatever
    its primary regime). A regime with enough trades that does not qualify, HIGH_VOL included,
    goes to ``disallowed_regimes``; one with too few trades is only left out of the allowed list.
    Labels that are no session or regime name (``NONE``, ``LOW_VOL``) are ignored with a note.

    Parameters
    ----------
    session_slices, regime_slices : mapping of str to mapping
        Per label the slice stats of :func:`research.validation.stress.slice_trades` (``trades``,
        ``expectancy``, ``profit_factor``).
    rules : AllowlistRules
        The thresholds (``GatesConfig.allowlist``).
    session_names : sequence of str, optional
        Known session names in router order; defaults to those of the built-in sessions config
        (ASIA, EU, US).

    Returns
    -------
    Allowlist
        ``allowed_sessions``, ``allowed_regimes``, ``disallowed_regimes`` (in the known order) and
        ``notes`` (one human-readable reason per slice, e.g.
        ``"US: 212 trades, expectancy 0.41, PF 1.8: allowed"``).
    """
    known_sessions = tuple(session_names) if session_names is not None else tuple(SessionsConfig().sessions)
    notes: list[str] = []
    allowed_sessions: set[str] = set()
    for label in sorted(session_slices):
        if label not in known_sessions:
            notes.append(f"session {label}: not a session name, ignored")
            continue
        ok, _, described = _judge(label, session_slices[label], rules)
        notes.append(f"session {described}: {'allowed' if ok else 'not allowed'}")
        if ok:
            allowed_sessions.add(label)
    allowed_regimes: set[str] = set()
    disallowed_regimes: set[str] = set()
    for label in sorted(regime_slices):
        if label not in REGIME_NAMES:
            notes.append(f"regime {label}: not a regime name, ignored")
            continue
        ok, enough, described = _judge(label, regime_slices[label], rules)
        if ok and label in PRIMARY_REGIMES:
            allowed_regimes.add(label)
            notes.append(f"regime {described}: allowed")
        elif ok:
            notes.append(f"regime {described}: qualifies; a flag, not added to allowed_regimes")
        elif enough:
            disallowed_regimes.add(label)
            notes.append(f"regime {described}: disallowed")
        else:
            notes.append(f"regime {described}: not allowed")
    if not allowed_sessions:
        notes.append("no session qualified: allowed_sessions is empty, every entry is refused")
    if not allowed_regimes:
        notes.append("no regime qualified: allowed_regimes is empty, every entry is refused")
    return {
        "allowed_sessions": [name for name in known_sessions if name in allowed_sessions],
        "allowed_regimes": [name for name in REGIME_NAMES if name in allowed_regimes],
        "disallowed_regimes": [name for name in REGIME_NAMES if name in disallowed_regimes],
        "notes": notes,
    }
