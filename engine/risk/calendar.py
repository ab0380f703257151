"""The 24/5 spot FX calendar: when the market is open and when new entries wait (pure functions).

Spot FX trades around the clock from Sunday 17:00 to Friday 17:00 New York time. 17:00 New York is
also the daily rollover (value date change, swap booking, the thinnest liquidity of the day, spreads
widen for minutes). The times are wall-clock New York times, so in UTC the week opens at 22:00 in
northern winter and 21:00 in summer; :mod:`zoneinfo` does the DST arithmetic.

Holidays (Christmas, New Year) are not in this calendar: the market is thin but open on most of
them, and bar data simply stops where a venue closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NANOS_PER_SECOND = 1_000_000_000
FRIDAY, SATURDAY, SUNDAY = 4, 5, 6
MARKET_CLOSED = "market_closed"
FX_BLACKOUT = "fx_blackout"


@dataclass(frozen=True, slots=True)
class FxCalendar:
    """Describe the FX week and the blackout windows around its illiquid moments.

    Parameters
    ----------
    timezone : str
        IANA zone of the rollover time (``America/New_York``).
    rollover : str
        ``HH:MM`` local time of the daily rollover; the week opens Sunday and closes Friday at it.
    open_blackout_minutes : int
        New entries wait this long after the Sunday open.
    rollover_blackout_minutes : int
        New entries wait within this many minutes either side of each weekday rollover (before
        Friday's close too).
    """

    timezone: str = "America/New_York"
    rollover: str = "17:00"
    open_blackout_minutes: int = 60
    rollover_blackout_minutes: int = 5

    def __post_init__(self) -> None:
        """Fail fast on an unknown zone or a malformed time."""
        _zone(self.timezone)
        _parse_hhmm(self.rollover)
        if self.open_blackout_minutes < 0 or self.rollover_blackout_minutes < 0:
            raise ValueError("blackout minutes must not be negative")

    def is_open(self, ts_ns: int) -> bool:
        """Return True when spot FX trades at ``ts_ns`` (Sunday rollover to Friday rollover)."""
        return _is_open(_local(ts_ns, self.timezone), _parse_hhmm(self.rollover))

    def entry_block(self, ts_ns: int) -> str:
        """Return why a new entry at ``ts_ns`` must wait: ``market_closed``, ``fx_blackout`` or ``""``."""
        local = _local(ts_ns, self.timezone)
        roll = _parse_hhmm(self.rollover)
        if not _is_open(local, roll):
            return MARKET_CLOSED
        since_midnight = timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
        rollover = timedelta(hours=roll.hour, minutes=roll.minute)
        offset = since_midnight - rollover  # negative before today's rollover
        weekday = local.weekday()
        if weekday == SUNDAY and timedelta(0) <= offset < timedelta(minutes=self.open_blackout_minutes):
            return FX_BLACKOUT
        window = timedelta(minutes=self.rollover_blackout_minutes)
        if weekday != SUNDAY and window > timedelta(0) and -window <= offset <= window:
            return FX_BLACKOUT
        return ""

    def week_bounds(self, ts_ns: int) -> tuple[int, int]:
        """Return (open, close) in UTC nanoseconds of the FX week that holds or follows ``ts_ns``."""
        local = _local(ts_ns, self.timezone)
        roll = _parse_hhmm(self.rollover)
        zone = _zone(self.timezone)
        day = local.date()
        # the Sunday that opens the week holding (or following) ``local``
        days_back = (local.weekday() - SUNDAY) % 7
        sunday = day - timedelta(days=days_back)
        open_local = datetime.combine(sunday, roll, tzinfo=zone)
        if local >= open_local + timedelta(days=5):  # past Friday's close: the next week
            open_local = datetime.combine(sunday + timedelta(days=7), roll, tzinfo=zone)
        close_local = datetime.combine(open_local.date() + timedelta(days=5), roll, tzinfo=zone)
        return _ns(open_local), _ns(close_local)


def _is_open(local: datetime, roll: time) -> bool:
    weekday = local.weekday()
    clock = local.time()
    if weekday == SATURDAY:
        return False
    if weekday == FRIDAY:
        return clock < roll
    if weekday == SUNDAY:
        return clock >= roll
    return True


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=8)
def _parse_hhmm(text: str) -> time:
    try:
        hours, minutes = (int(part) for part in text.split(":"))
        return time(hours, minutes)
    except ValueError as exc:
        raise ValueError(f"time must be HH:MM (value: {text!r})") from exc


def _local(ts_ns: int, zone: str) -> datetime:
    return datetime.fromtimestamp(ts_ns / NANOS_PER_SECOND, tz=UTC).astimezone(_zone(zone))


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NANOS_PER_SECOND
