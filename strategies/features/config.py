"""The typed sessions and regimes config (``configs/sessions.toml``) and its loader.

The struct defaults are the shipped file's values, so a strategy without a config file gets the
same windows and regime rules as ``configs/sessions.toml``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import msgspec

from catalog.tomlconfig import describe_validation_error, read_toml

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
REGIME_NAMES = ("TREND_UP", "TREND_DOWN", "RANGE", "HIGH_VOL", "UNKNOWN")


class FeatureConfigError(ValueError):
    """Raise when a sessions/regimes config is invalid (the message names file, field and value)."""


def clock_minutes(text: str) -> int:
    """Return the minute of the day of a ``"HH:MM"`` UTC clock time.

    Raises
    ------
    ValueError
        If ``text`` is not ``HH:MM`` with hour 0-23 and minute 0-59.
    """
    match = _CLOCK.match(text)
    if match is None:
        raise ValueError("must be a UTC clock time 'HH:MM'")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23:
        raise ValueError("hour must be 0-23")
    if minute > 59:
        raise ValueError("minute must be 0-59")
    return hour * 60 + minute


class SessionWindow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Name a session's UTC window ``[start, end)``; ``start`` after ``end`` crosses midnight.

    Parameters
    ----------
    start, end : str
        UTC clock times ``"HH:MM"``.
    """

    start: str
    end: str

    @property
    def start_minute(self) -> int:
        """Return the window's first minute of the day."""
        return clock_minutes(self.start)

    @property
    def end_minute(self) -> int:
        """Return the minute of the day the window ends before."""
        return clock_minutes(self.end)


class RegimeParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Parameterise the regime classifier (``docs/sessions-regimes.md`` states the rules).

    Parameters
    ----------
    adx_period : int
        Wilder period of the ADX (and of its +DI/-DI).
    ema_period : int
        EMA whose per-bar slope gives the trend direction.
    trend_adx_min : float
        TREND_UP/TREND_DOWN need ADX >= this.
    trend_slope_min : float
        ... and ``|slope|`` >= this, as a fraction per bar (0.0002 = 0.02% per bar).
    range_adx_max : float
        RANGE needs ADX < this ...
    range_slope_max : float
        ... ``|slope|`` < this (fraction per bar) ...
    bb_period, bb_std : int, float
        ... and the Bollinger band width ``2 x bb_std x std / mean`` over ``bb_period`` closes ...
    range_width_percentile : float
        ... ranking at or below this percentile of its rolling window.
    atr_period : int
        Wilder period of the ATR; the volatility measure is ATR / close.
    high_vol_percentile : float
        HIGH_VOL when ATR / close ranks at or above this percentile of its rolling window (80 = top 20%).
    percentile_window : int
        Bars in the rolling windows the percentile ranks are taken over (the current bar included).
    """

    adx_period: int = 14
    ema_period: int = 50
    trend_adx_min: float = 20.0
    trend_slope_min: float = 0.0002
    range_adx_max: float = 18.0
    range_slope_max: float = 0.0001
    bb_period: int = 20
    bb_std: float = 2.0
    range_width_percentile: float = 50.0
    atr_period: int = 14
    high_vol_percentile: float = 80.0
    percentile_window: int = 500


def _default_sessions() -> dict[str, SessionWindow]:
    return {
        "ASIA": SessionWindow("23:00", "07:00"),
        "EU": SessionWindow("07:00", "15:00"),
        "US": SessionWindow("13:00", "21:00"),
    }


class SessionsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Hold the session windows (UTC) and the regime parameters.

    Parameters
    ----------
    sessions : dict[str, SessionWindow]
        Session name to window, in bitmask order.
    regimes : RegimeParams
        The regime classifier's parameters.
    """

    sessions: dict[str, SessionWindow] = msgspec.field(default_factory=_default_sessions)
    regimes: RegimeParams = msgspec.field(default_factory=RegimeParams)


def check_sessions_config(config: SessionsConfig, origin: str) -> SessionsConfig:
    """Return ``config`` if every value is usable, else raise naming ``origin``, the field and the value.

    Raises
    ------
    FeatureConfigError
        On a bad clock time (e.g. hour 25), an empty window, a bad session name, or a regime
        parameter out of range.
    """
    if not config.sessions:
        raise FeatureConfigError(f"{origin}: sessions = {{}}: name at least one session")
    if len(config.sessions) > 32:
        raise FeatureConfigError(f"{origin}: sessions: at most 32 sessions (value: {len(config.sessions)})")
    for name, window in config.sessions.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            raise FeatureConfigError(
                f"{origin}: sessions.{name} = {name!r}: names are upper-case identifiers"
            )
        minutes = []
        for part in ("start", "end"):
            value = getattr(window, part)
            try:
                minutes.append(clock_minutes(value))
            except ValueError as exc:
                raise FeatureConfigError(f"{origin}: sessions.{name}.{part} = {value!r}: {exc}") from None
        if minutes[0] == minutes[1]:
            raise FeatureConfigError(
                f"{origin}: sessions.{name}.end = {window.end!r}: must differ from start {window.start!r}"
            )
    _check_regimes(config.regimes, origin)
    return config


def _check_regimes(params: RegimeParams, origin: str) -> None:
    def fail(field: str, problem: str) -> None:
        raise FeatureConfigError(f"{origin}: regimes.{field} = {getattr(params, field)!r}: {problem}")

    for field in ("adx_period", "ema_period", "bb_period", "atr_period"):
        if getattr(params, field) < 1:
            fail(field, "must be at least 1")
    if params.percentile_window < 2:
        fail("percentile_window", "must be at least 2")
    for field in ("trend_adx_min", "range_adx_max", "trend_slope_min", "range_slope_max", "bb_std"):
        value = getattr(params, field)
        if not math.isfinite(value) or value < 0.0:
            fail(field, "must be a finite number >= 0")
    for field in ("range_width_percentile", "high_vol_percentile"):
        value = getattr(params, field)
        if not (math.isfinite(value) and 0.0 <= value <= 100.0):
            fail(field, "must be a percentile in 0-100")
    if params.range_adx_max > params.trend_adx_min:
        fail("range_adx_max", f"must not exceed trend_adx_min ({params.trend_adx_min!r})")
    if params.range_slope_max > params.trend_slope_min:
        fail("range_slope_max", f"must not exceed trend_slope_min ({params.trend_slope_min!r})")


def sessions_config_from_raw(raw: dict[str, Any], origin: str) -> SessionsConfig:
    """Return the validated config in a raw TOML mapping (``origin`` names it in errors)."""
    sessions = raw.get("sessions")
    if isinstance(sessions, dict):  # msgspec does not name dict keys in its error paths: check each
        for name, window in sessions.items():
            try:
                msgspec.convert(window, SessionWindow, strict=True)
            except msgspec.ValidationError as exc:
                text, _, location = str(exc).partition(" - at `$")
                message = f"{text} - at `$.sessions.{name}{location or '`'}"
                raise FeatureConfigError(describe_validation_error(origin, raw, message)) from None
    try:
        config = msgspec.convert(raw, SessionsConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise FeatureConfigError(describe_validation_error(origin, raw, exc, schema=SessionsConfig)) from None
    return check_sessions_config(config, origin)


def load_sessions_config(path: str | Path) -> SessionsConfig:
    """Read and validate a sessions/regimes TOML file (``configs/sessions.toml``).

    Raises
    ------
    FeatureConfigError
        If the file is missing, not TOML, has an unknown field or a wrong type, or a bad value;
        the message names the file, the field and the value.
    """
    return sessions_config_from_raw(read_toml(path, FeatureConfigError), str(path))
