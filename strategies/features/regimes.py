"""Classify bars into market regimes, vectorised and bar by bar with identical labels.

Rules (``docs/sessions-regimes.md``; every number is a :class:`RegimeParams` field):

- TREND_UP / TREND_DOWN: ADX >= ``trend_adx_min`` and the EMA's per-bar slope
  ``(ema_t - ema_{t-1}) / ema_{t-1}`` has magnitude >= ``trend_slope_min``; its sign gives the side.
- RANGE: otherwise, ADX < ``range_adx_max``, ``|slope|`` < ``range_slope_max`` and the Bollinger band
  width ranks below ``range_width_percentile`` in its rolling window.
- UNKNOWN: neither (including every warm-up bar).
- HIGH_VOL: ATR / close ranks at or above ``high_vol_percentile`` in its rolling window. It is a flag
  on top of the primary label (a bar can be TREND_UP | HIGH_VOL); warm-up bars are UNKNOWN only.

A rank is the share of the other ``percentile_window - 1`` values in the window strictly below the
current value. Ranks are counts, and the recursions (Wilder averages, EMA) run in the same order in
both implementations, so :func:`classify_regimes` and :class:`RegimeClassifier` agree bar for bar.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from enum import IntFlag

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from strategies.features.config import RegimeParams

FloatArray = npt.NDArray[np.float64]


class Regime(IntFlag):
    """Regime flags of one bar: one primary label (trend, range or unknown) plus HIGH_VOL."""

    TREND_UP = 1
    TREND_DOWN = 2
    RANGE = 4
    HIGH_VOL = 8
    UNKNOWN = 16


_NAMED = (Regime.TREND_UP, Regime.TREND_DOWN, Regime.RANGE, Regime.HIGH_VOL, Regime.UNKNOWN)


def regime_names(flags: int) -> frozenset[str]:
    """Return the names of the regime flags set in ``flags`` (e.g. ``{"TREND_UP", "HIGH_VOL"}``)."""
    return frozenset(str(flag.name) for flag in _NAMED if int(flags) & flag)


def regime_label(flags: int) -> str:
    """Return the flags as one sorted ``+``-joined text, e.g. ``"HIGH_VOL+TREND_UP"`` (for journals)."""
    return "+".join(sorted(regime_names(flags)))


def warmup_bars(params: RegimeParams) -> int:
    """Return the index of the first bar that can be classified (every earlier bar is UNKNOWN)."""
    window = params.percentile_window
    return max(
        2 * params.adx_period - 1,
        params.ema_period,
        params.bb_period - 1 + window - 1,
        params.atr_period + window - 1,
    )


# -- vectorised -----------------------------------------------------------------------------------


def _wilder(values: FloatArray, period: int, first: int) -> FloatArray:
    """Return Wilder's average of ``values[first:]``: seeded by the mean of the first ``period``."""
    out = np.full(values.shape, np.nan)
    seed_at = first + period - 1
    if seed_at >= len(values):
        return out
    total = 0.0
    for value in values[first : seed_at + 1].tolist():
        total += value
    average = total / period
    out[seed_at] = average
    for index in range(seed_at + 1, len(values)):
        average = average + (float(values[index]) - average) / period
        out[index] = average
    return out


def _directional(
    high: FloatArray, low: FloatArray, close: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return true range, +DM and -DM per bar (NaN on the first bar)."""
    n = len(close)
    tr = np.full(n, np.nan)
    plus = np.full(n, np.nan)
    minus = np.full(n, np.nan)
    if n < 2:
        return tr, plus, minus
    previous_close = close[:-1]
    tr[1:] = np.maximum(
        high[1:] - low[1:], np.maximum(np.abs(high[1:] - previous_close), np.abs(low[1:] - previous_close))
    )
    up = high[1:] - high[:-1]
    down = low[:-1] - low[1:]
    plus[1:] = np.where((up > down) & (up > 0.0), up, 0.0)
    minus[1:] = np.where((down > up) & (down > 0.0), down, 0.0)
    return tr, plus, minus


def _adx(high: FloatArray, low: FloatArray, close: FloatArray, period: int) -> tuple[FloatArray, FloatArray]:
    """Return (ADX, true range) per bar; ADX is NaN for the first ``2 x period - 1`` bars."""
    tr, plus, minus = _directional(high, low, close)
    tr_avg = _wilder(tr, period, 1)
    plus_avg = _wilder(plus, period, 1)
    minus_avg = _wilder(minus, period, 1)
    dx = np.full(len(close), np.nan)
    for index in range(period, len(close)):
        dx[index] = _dx(float(tr_avg[index]), float(plus_avg[index]), float(minus_avg[index]))
    return _wilder(dx, period, period), tr


def _dx(tr_avg: float, plus_avg: float, minus_avg: float) -> float:
    if tr_avg <= 0.0:
        return 0.0
    plus_di = 100.0 * plus_avg / tr_avg
    minus_di = 100.0 * minus_avg / tr_avg
    total = plus_di + minus_di
    return 0.0 if total <= 0.0 else 100.0 * abs(plus_di - minus_di) / total


def _ema_slope(close: FloatArray, period: int) -> FloatArray:
    """Return the EMA's per-bar fractional slope; NaN for the first ``period`` bars."""
    out = np.full(len(close), np.nan)
    if len(close) == 0:
        return out
    alpha = 2.0 / (period + 1.0)
    values = close.tolist()
    ema = values[0]
    for index in range(1, len(values)):
        previous = ema
        ema = previous + alpha * (values[index] - previous)
        if index >= period:
            out[index] = (ema - previous) / previous
    return out


def _band_width(close: FloatArray, period: int, num_std: float) -> FloatArray:
    """Return the Bollinger band width ``2 x num_std x std / mean`` (population std) per bar."""
    out = np.full(len(close), np.nan)
    if len(close) < period:
        return out
    windows = sliding_window_view(close, period)
    out[period - 1 :] = (2.0 * num_std) * windows.std(axis=1) / windows.mean(axis=1)
    return out


def rolling_rank(values: FloatArray, window: int, chunk: int = 8192) -> FloatArray:
    """Return each value's rank in its trailing ``window`` (itself included): the share of the others below.

    NaN values at the start are skipped: the first rank comes ``window - 1`` bars after the first
    finite value. Later NaN values are not allowed.
    """
    out = np.full(len(values), np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    if len(finite) == 0:
        return out
    first = int(finite[0])
    series = values[first:]
    if not np.all(np.isfinite(series)):
        raise ValueError("rolling_rank: NaN after the warm-up")
    if len(series) < window:
        return out
    windows = sliding_window_view(series, window)
    ranks = np.empty(len(windows))
    for begin in range(0, len(windows), chunk):
        block = windows[begin : begin + chunk]
        below = np.count_nonzero(block < block[:, -1:], axis=1)
        ranks[begin : begin + chunk] = below / (window - 1)
    out[first + window - 1 :] = ranks
    return out


def regime_features(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, params: RegimeParams
) -> dict[str, FloatArray]:
    """Return the per-bar inputs of the classifier: ``adx``, ``slope``, ``band_width``, ``width_rank``,
    ``vol`` (ATR / close) and ``vol_rank`` (NaN while warming up).
    """
    h, lo, c = (np.ascontiguousarray(x, dtype=np.float64) for x in (high, low, close))
    if not len(h) == len(lo) == len(c):
        raise ValueError(f"high, low and close differ in length ({len(h)}, {len(lo)}, {len(c)})")
    adx, tr = _adx(h, lo, c, params.adx_period)
    vol = _wilder(tr, params.atr_period, 1) / c
    width = _band_width(c, params.bb_period, params.bb_std)
    return {
        "adx": adx,
        "slope": _ema_slope(c, params.ema_period),
        "band_width": width,
        "width_rank": rolling_rank(width, params.percentile_window),
        "vol": vol,
        "vol_rank": rolling_rank(vol, params.percentile_window),
    }


def classify_regimes(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, params: RegimeParams | None = None
) -> npt.NDArray[np.uint8]:
    """Return the :class:`Regime` flags of every bar (``UNKNOWN`` alone while warming up).

    Parameters
    ----------
    high, low, close : array_like of float
        The bars, oldest first.
    params : RegimeParams, optional
        Periods and thresholds (the shipped defaults when omitted).
    """
    params = params or RegimeParams()
    f = regime_features(high, low, close, params)
    adx, slope, width_rank, vol_rank = f["adx"], f["slope"], f["width_rank"], f["vol_rank"]
    warm = np.isfinite(adx) & np.isfinite(slope) & np.isfinite(width_rank) & np.isfinite(vol_rank)
    magnitude = np.abs(slope)
    trend = warm & (adx >= params.trend_adx_min) & (magnitude >= params.trend_slope_min)
    ranging = (
        warm
        & ~trend
        & (adx < params.range_adx_max)
        & (magnitude < params.range_slope_max)
        & (width_rank < params.range_width_percentile / 100.0)
    )
    flags = np.full(len(adx), int(Regime.UNKNOWN), dtype=np.uint8)
    flags[trend & (slope >= 0.0)] = int(Regime.TREND_UP)
    flags[trend & (slope < 0.0)] = int(Regime.TREND_DOWN)
    flags[ranging] = int(Regime.RANGE)
    high_vol = warm & (vol_rank >= params.high_vol_percentile / 100.0)
    flags[high_vol] |= np.uint8(Regime.HIGH_VOL)
    return flags


# -- incremental ----------------------------------------------------------------------------------


class _Wilder:
    """Wilder's average, one value at a time (the same arithmetic as :func:`_wilder`)."""

    __slots__ = ("_period", "_seed", "value")

    def __init__(self, period: int) -> None:
        self._period = period
        self._seed: list[float] = []
        self.value = math.nan

    def update(self, x: float) -> float:
        if len(self._seed) < self._period:
            self._seed.append(x)
            if len(self._seed) == self._period:
                total = 0.0
                for v in self._seed:
                    total += v
                self.value = total / self._period
            return self.value
        self.value = self.value + (x - self.value) / self._period
        return self.value


class _RollingRank:
    """The rank of the newest value among the last ``window`` values (as :func:`rolling_rank`)."""

    __slots__ = ("_recent", "_sorted", "_window")

    def __init__(self, window: int) -> None:
        self._window = window
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []

    def update(self, x: float) -> float:
        self._recent.append(x)
        bisect.insort(self._sorted, x)
        if len(self._recent) > self._window:
            old = self._recent.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        if len(self._recent) < self._window:
            return math.nan
        return bisect.bisect_left(self._sorted, x) / (self._window - 1)


class RegimeClassifier:
    """Classify bars one at a time, as a nautilus strategy sees them; labels equal :func:`classify_regimes`.

    Parameters
    ----------
    params : RegimeParams, optional
        Periods and thresholds (the shipped defaults when omitted).
    """

    def __init__(self, params: RegimeParams | None = None) -> None:
        self.params = params = params or RegimeParams()
        self._alpha = 2.0 / (params.ema_period + 1.0)
        self._tr = _Wilder(params.adx_period)
        self._plus = _Wilder(params.adx_period)
        self._minus = _Wilder(params.adx_period)
        self._adx = _Wilder(params.adx_period)
        self._atr = _Wilder(params.atr_period)
        self._closes: deque[float] = deque(maxlen=params.bb_period)
        self._width_rank = _RollingRank(params.percentile_window)
        self._vol_rank = _RollingRank(params.percentile_window)
        self._previous: tuple[float, float, float] | None = None
        self._ema = math.nan
        self.count = 0
        self.flags = int(Regime.UNKNOWN)

    def update(self, high: float, low: float, close: float) -> int:
        """Feed the next bar and return its :class:`Regime` flags (also kept in :attr:`flags`)."""
        params = self.params
        index = self.count
        self.count += 1
        adx = slope = width_rank = vol_rank = math.nan
        previous = self._previous
        self._previous = (high, low, close)
        self._closes.append(close)
        if previous is None:
            self._ema = close
        else:
            prev_high, prev_low, prev_close = previous
            tr = max(high - low, max(abs(high - prev_close), abs(low - prev_close)))
            up, down = high - prev_high, prev_low - low
            tr_avg = self._tr.update(tr)
            plus_avg = self._plus.update(up if (up > down and up > 0.0) else 0.0)
            minus_avg = self._minus.update(down if (down > up and down > 0.0) else 0.0)
            if index >= params.adx_period:
                adx = self._adx.update(_dx(tr_avg, plus_avg, minus_avg))
            atr = self._atr.update(tr)
            if not math.isnan(atr):
                vol_rank = self._vol_rank.update(atr / close)
            ema_before = self._ema
            self._ema = ema_before + self._alpha * (close - ema_before)
            if index >= params.ema_period:
                slope = (self._ema - ema_before) / ema_before
        if len(self._closes) == params.bb_period:
            window = np.array(self._closes)
            width = (2.0 * params.bb_std) * window.std() / window.mean()
            width_rank = self._width_rank.update(float(width))
        self.flags = _label(params, adx, slope, width_rank, vol_rank)
        return self.flags

    @property
    def names(self) -> frozenset[str]:
        """Return the names of the current bar's regime flags."""
        return regime_names(self.flags)


def _label(params: RegimeParams, adx: float, slope: float, width_rank: float, vol_rank: float) -> int:
    if math.isnan(adx) or math.isnan(slope) or math.isnan(width_rank) or math.isnan(vol_rank):
        return int(Regime.UNKNOWN)
    magnitude = abs(slope)
    if adx >= params.trend_adx_min and magnitude >= params.trend_slope_min:
        flags = int(Regime.TREND_UP if slope >= 0.0 else Regime.TREND_DOWN)
    elif (
        adx < params.range_adx_max
        and magnitude < params.range_slope_max
        and width_rank < params.range_width_percentile / 100.0
    ):
        flags = int(Regime.RANGE)
    else:
        flags = int(Regime.UNKNOWN)
    if vol_rank >= params.high_vol_percentile / 100.0:
        flags |= int(Regime.HIGH_VOL)
    return flags
