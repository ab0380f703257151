"""Classify UTC timestamps into trading sessions (ASIA, EU, US; overlaps allowed).

A session is a half-open window ``[start, end)`` of UTC minutes of the day; a window whose start is
after its end crosses midnight (ASIA 23:00-07:00). A timestamp may fall in several sessions (EU and
US overlap 13:00-15:00) or in none (21:00-23:00 with the default windows).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from strategies.features.config import SessionWindow

NANOS_PER_MINUTE = 60_000_000_000
MINUTES_PER_DAY = 1_440


def minute_of_day(ts_ns: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Return the UTC minute of the day (0-1439) of each nanosecond timestamp (seconds are dropped)."""
    stamps = np.asarray(ts_ns, dtype=np.int64)
    return np.floor_divide(stamps, NANOS_PER_MINUTE) % MINUTES_PER_DAY


def in_window(minutes: npt.NDArray[np.int64], window: SessionWindow) -> npt.NDArray[np.bool_]:
    """Return True where a minute of the day lies in ``window`` (midnight-crossing windows included)."""
    start, end = window.start_minute, window.end_minute
    if start < end:
        return (minutes >= start) & (minutes < end)
    return (minutes >= start) | (minutes < end)


def session_columns(
    ts_ns: npt.ArrayLike, windows: Mapping[str, SessionWindow]
) -> dict[str, npt.NDArray[np.bool_]]:
    """Return one boolean column per session: True where the timestamp lies in that session.

    Parameters
    ----------
    ts_ns : array_like of int
        UTC timestamps in nanoseconds since the epoch.
    windows : mapping
        Session name to window, e.g. ``SessionsConfig().sessions``.
    """
    minutes = minute_of_day(ts_ns)
    return {name: in_window(minutes, window) for name, window in windows.items()}


def session_mask(ts_ns: npt.ArrayLike, windows: Mapping[str, SessionWindow]) -> npt.NDArray[np.uint32]:
    """Return a bitmask per timestamp: bit ``i`` is set when it lies in the ``i``-th session of ``windows``.

    The bit order is the mapping's order (the file order of ``configs/sessions.toml``); at most 32
    sessions.
    """
    if len(windows) > 32:
        raise ValueError(f"at most 32 sessions fit a bitmask (value: {len(windows)})")
    minutes = minute_of_day(ts_ns)
    mask = np.zeros(minutes.shape, dtype=np.uint32)
    for bit, window in enumerate(windows.values()):
        mask |= in_window(minutes, window).astype(np.uint32) << np.uint32(bit)
    return mask


def session_names(mask: int, windows: Mapping[str, SessionWindow]) -> frozenset[str]:
    """Return the session names whose bits are set in one ``mask`` value."""
    return frozenset(name for bit, name in enumerate(windows) if int(mask) >> bit & 1)


def sessions_at(ts_ns: int, windows: Mapping[str, SessionWindow]) -> frozenset[str]:
    """Return the names of the sessions one UTC nanosecond timestamp lies in (empty between sessions)."""
    minute = (int(ts_ns) // NANOS_PER_MINUTE) % MINUTES_PER_DAY
    found = []
    for name, window in windows.items():
        start, end = window.start_minute, window.end_minute
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if inside:
            found.append(name)
    return frozenset(found)
