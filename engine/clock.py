"""Time-driven work on data time, in every mode.

A backtest's kernel clock follows the data, so a timer at ``T`` fires once every datum stamped at or
before ``T`` has been processed. A replay node's components run on the wall clock instead; there the
replay feed publishes its data time on :data:`FEED_TIME_TOPIC`: ``FeedTime(ts, settled=False)`` just
before it streams the data stamped ``ts`` and ``FeedTime(ts, settled=True)`` once everything that data
caused has been handled. :class:`DataTimeAlerts` fires a component's alerts from the kernel clock
(``clock = "kernel"``) or from those messages (``clock = "feed"``) at the same points of the data, so a
replay samples equity and charges carry exactly where a backtest of the same bars does.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.events import TimeEvent

FEED_TIME_TOPIC = "engine.feed_time"
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
    """

    def __init__(self, actor: Actor, source: ClockSource, on_start: Callable[[int], None]) -> None:
        self._actor = actor
        self._source = source
        self._on_start = on_start
        self._heap: list[tuple[int, int, str, Callable[[int], None]]] = []
        self._order = 0
        self.now: int | None = None

    def start(self) -> None:
        """Begin following data time (kernel: now; feed: from its first message)."""
        if self._source == "feed":
            self._actor.msgbus.subscribe(topic=FEED_TIME_TOPIC, handler=self._on_feed_time)
            return
        self.now = self._actor.clock.timestamp_ns()
        self._on_start(self.now)

    def stop(self) -> None:
        """Stop following the feed."""
        if self._source == "feed":
            self._actor.msgbus.unsubscribe(topic=FEED_TIME_TOPIC, handler=self._on_feed_time)

    def at(self, name: str, ts_ns: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(ts_ns)`` once data time reaches ``ts_ns``."""
        if self._source == "kernel":
            self._actor.clock.set_time_alert_ns(name, ts_ns, lambda event: self._fire_kernel(event, callback))
            return
        heapq.heappush(self._heap, (ts_ns, self._order, name, callback))
        self._order += 1

    def _fire_kernel(self, event: TimeEvent, callback: Callable[[int], None]) -> None:
        self.now = event.ts_event
        callback(event.ts_event)

    def _on_feed_time(self, message: FeedTime) -> None:
        if self.now is None:
            self.now = message.ts
            self._on_start(message.ts)
        self.now = message.ts if message.settled else message.ts - 1
        heap = self._heap
        while heap and (heap[0][0] < message.ts or (message.settled and heap[0][0] == message.ts)):
            ts, _, _, callback = heapq.heappop(heap)
            callback(ts)
