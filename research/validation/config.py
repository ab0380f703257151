"""The validation config (``configs/validation/<name>.toml``): what to validate and how.

One file names the backtest run config of the strategy under test (its data, venue, fees, desk and
strategy class), the walk-forward windows, the parameter grid searched on each training window, the
executor, the stress suite and the gates file. Bad values fail at load, naming file, field, value.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any, Literal

import msgspec

from catalog.tomlconfig import describe_validation_error, read_toml
from engine.assets import AssetClassError, load_registry
from engine.configs import ConfigError, load_run_config, strategy_specs


class ValidationConfigError(ValueError):
    """Raised when a validation config is missing, unreadable or holds an impossible value."""


class _Struct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class WindowsSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Walk-forward windows, in days of the data (rolling or anchored training windows).

    ``purge_bars`` ends each training window that many signal bars before its test window, so no
    training trade's outcome (its label) can reach into the test data: set it to the strategy's
    longest holding period (its time stop). ``embargo_bars`` drops that many bars after each test
    window from any later training window. ``warmup_bars`` bars before a window feed the
    indicators without trading (``trade_from_ns``).
    """

    mode: Literal["rolling", "anchored"] = "rolling"
    train_days: float
    test_days: float
    step_days: float | None = None
    purge_bars: int = 0
    embargo_bars: int = 0
    warmup_bars: int = 0


class SearchSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The parameter grid searched on each training window and the objective that picks the best."""

    objective: Literal["sharpe", "sortino", "expectancy", "total_return", "profit_factor"] = "sharpe"
    params: dict[str, list[Any]] = msgspec.field(default_factory=dict)


class ExecutorSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where fold backtests run: a local process pool (default) or Ray; ``workers`` 1 runs in-process."""

    kind: Literal["process", "ray"] = "process"
    workers: int = 1


class StressSection(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The stress suite: Monte Carlo runs, cost and latency shocks, parameter perturbations."""

    monte_carlo_runs: int = 1000
    fee_multipliers: list[float] = msgspec.field(default_factory=lambda: [2.0, 3.0])
    slippage_bps: float = 2.0
    latency_ms: float = 250.0
    perturbations: list[float] = msgspec.field(default_factory=lambda: [0.1, 0.2])


class ValidationConfig(_Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Everything ``python -m research.validate`` needs for one strategy."""

    strategy_id: str
    backtest: str
    asset_class: str
    gates: str = "configs/gates.toml"
    output: str = "reports/validation"
    seed: int = 42
    lookahead_check: bool = True
    windows: WindowsSection
    search: SearchSection = msgspec.field(default_factory=SearchSection)
    executor: ExecutorSection = msgspec.field(default_factory=ExecutorSection)
    stress: StressSection = msgspec.field(default_factory=StressSection)


def load_validation_config(path: str | Path) -> ValidationConfig:
    """Read and check a validation config.

    Raises
    ------
    ValidationConfigError
        If the file is missing, is not TOML, breaks the schema or holds an impossible value; the
        message names the file, the field and the value.
    """
    raw = read_toml(path, ValidationConfigError)
    try:
        config = msgspec.convert(raw, ValidationConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationConfigError(
            describe_validation_error(str(path), raw, exc, schema=ValidationConfig)
        ) from exc
    _check(config, str(path))
    return config


def _fail(origin: str, field: str, value: object, why: str) -> None:
    raise ValidationConfigError(f"{origin}: {field} = {value!r}: {why}")


def _check(config: ValidationConfig, origin: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", config.strategy_id):
        _fail(
            origin,
            "strategy_id",
            config.strategy_id,
            "names the report folder: letters, digits, '_', '.', '-'",
        )
    if config.seed < 0:
        _fail(origin, "seed", config.seed, "must be >= 0")
    windows = config.windows
    for field in ("train_days", "test_days"):
        if not getattr(windows, field) > 0:
            _fail(origin, f"windows.{field}", getattr(windows, field), "must be positive")
    if windows.step_days is not None and not windows.step_days > 0:
        _fail(origin, "windows.step_days", windows.step_days, "must be positive")
    for field in ("purge_bars", "embargo_bars", "warmup_bars"):
        if getattr(windows, field) < 0:
            _fail(origin, f"windows.{field}", getattr(windows, field), "must be >= 0")
    if config.executor.workers < 1:
        _fail(origin, "executor.workers", config.executor.workers, "must be >= 1")
    for name, values in config.search.params.items():
        if not values:
            _fail(origin, f"search.params.{name}", values, "needs at least one value")
    if config.stress.monte_carlo_runs < 1:
        _fail(origin, "stress.monte_carlo_runs", config.stress.monte_carlo_runs, "must be >= 1")
    for value in config.stress.fee_multipliers:
        if not (math.isfinite(value) and value > 0):
            _fail(origin, "stress.fee_multipliers", config.stress.fee_multipliers, "each must be positive")
    for name in ("slippage_bps", "latency_ms"):
        value = getattr(config.stress, name)
        if not (math.isfinite(value) and value >= 0):
            _fail(origin, f"stress.{name}", value, "must be a finite number >= 0")
    for value in config.stress.perturbations:
        if not 0 < value < 1:
            _fail(origin, "stress.perturbations", config.stress.perturbations, "each must be in (0, 1)")
    if not Path(config.backtest).is_file():
        _fail(origin, "backtest", config.backtest, "no such run config")
    _check_grid(config, origin)


def _check_grid(config: ValidationConfig, origin: str) -> None:
    """Load the run config and parse its strategies with every grid point (a typo fails here)."""
    try:
        run_config = load_run_config(config.backtest)
        registry = load_registry(tuple(run_config.desk.asset_classes))
    except (ConfigError, AssetClassError) as exc:
        raise ValidationConfigError(f"{origin}: backtest = {config.backtest!r}: {exc}") from exc
    if config.asset_class not in registry:
        _fail(
            origin,
            "asset_class",
            config.asset_class,
            f"unknown asset class (known: {', '.join(registry.names)})",
        )
    names = sorted(config.search.params)
    for values in itertools.product(*(config.search.params[name] for name in names)):
        point = dict(zip(names, values, strict=True))
        try:
            strategy_specs(run_config, origin=config.backtest, overrides=point)
        except ConfigError as exc:
            raise ValidationConfigError(
                f"{origin}: search.params = {point!r}: this grid point is not a valid strategy config: {exc}"
            ) from exc
