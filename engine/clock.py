"""Time-driven work on data time, in every mode.

A backtest's kernel clock follows the data: a timer at ``T`` fires once every datum stamped at or
before ``T`` has been processed. A replay node's components run on the wall clock instead; there the
replay feed publishes its data time on :data:`FEED_TIME_TOPIC`: ``FeedTime(ts, settled=False)`` just
before it streams the data stamped ``ts`` and ``FeedTime(ts, settled=True)`` once everything that data
caused has been handled.

:class:`DataTimeAlerts` fires a component's alerts at the same points of the data in both cases. Its
alerts wait in one queue; what advances that queue is the feed's messages (``clock = "feed"``) or, on
the kernel clock (``clock = "kernel"``), a periodic heartbeat timer of ``resolution_ns``: nautilus
generates every tick of a periodic timer, gaps in the data included, so a chain of alerts never lags
behind (an alert set from an alert's callback at a time the clock has already passed fires at the
same heartbeat).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.events import TimeEvent

FEED_TIME_TOPIC = "engine.feed_time"
NS_PER_DAY = 86_400 * 1_000_000_000
ClockSource = Literal["kernel", "feed"]


@dataclass(frozen=True, slots=True)
class FeedTime:
    """Tell components where a replay feed is: about to stream ``ts`` (or done with it, ``settled``)."""

    ts: int
    settled: bool


class DataTimeAlerts:
    """Fire named alerts at data times for one actor, from its kernel clock or from the feed.

    Parameters
    ----------
    actor : Actor
        The component the alerts belong to (its clock and message bus are used once it is running).
    source : {"kernel", "feed"}
        Where data time comes from.
    on_start : callable
        Called with the first data time (the kernel clock at start, or the feed's first data).
    resolution_ns : int
        On the kernel clock, the heartbeat period: every alert must fall on the start time plus a
        multiple of it (an alert between two beats fires at the next).
    """

    def __init__(
        self, actor: Actor, source: ClockSource, on_start: Callable[[int], None], resolution_ns: int
    ) -> None:
        if resolution_ns <= 0:
            raise ValueError(f"resolution_ns must be positive (value: {resolution_ns})")
        self._actor = actor
        self._source = source
        self._on_start = on_start
        self._resolution_ns = resolution_ns
        self._heap: list[tuple[int, int, Callable[[int], None]]] = []
        self._order = 0
        self.now: int | None = None
        self.days: set[int] = set()  # UTC days the feed streamed data on (feed mode)

    def start(self) -> None:
        """Begin following data time (kernel: now, with the heartbeat; feed: from its first message)."""
        if self._source == "feed":
            self._actor.msgbus.subscribe(topic=FEED_TIME_TOPIC, handler=self._on_feed_time)
            return
        now = self._actor.clock.timestamp_ns()
        self.now = now
        self._on_start(now)
        self._actor.clock.set_timer(  # beats at now + k x resolution, every one of them
            f"{self._actor.id}-data-time",
            timedelta(microseconds=self._resolution_ns / 1_000),
            callback=self._on_heartbeat,
        )

    def stop(self) -> None:
        """Stop following data time."""
        if self._source == "feed":
            self._actor.msgbus.unsubscribe(topic=FEED_TIME_TOPIC, handler=self._on_feed_time)

    def at(self, ts_ns: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(ts_ns)`` once data time reaches ``ts_ns``."""
        heapq.heappush(self._heap, (ts_ns, self._order, callback))
        self._order += 1

    def _on_heartbeat(self, event: TimeEvent) -> None:
        self._advance(event.ts_event, settled=True)

    def _on_feed_time(self, message: FeedTime) -> None:
        if self.now is None:
            self.now = message.ts
            self._on_start(message.ts)
        if not message.settled:
            self.days.add(message.ts // NS_PER_DAY)
        self._advance(message.ts, message.settled)

    def _advance(self, ts: int, settled: bool) -> None:
        """Fire the alerts due before ``ts`` (and at ``ts`` once its data is settled), in time order."""
        self.now = ts if settled else ts - 1
        heap = self._heap
        while heap and (heap[0][0] < ts or (settled and heap[0][0] == ts)):
            due, _, callback = heapq.heappop(heap)
            callback(due)
