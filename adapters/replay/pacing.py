"""Pace a catalog replay: settle the live engines after each datum, and follow a speed factor.

A live node runs its data, risk and execution engines on asyncio queues. A replay that pushed
its bars without waiting would run every order after the last bar; one ``sleep(0)`` per bar
lags fills by several bars. :class:`QueuePacer` therefore waits, after each datum, until the
engines are idle: by then the strategies have seen the datum, their orders have passed the risk
and execution engines and the venue has answered.
It yields to the loop only while the engines have work, so a bar that causes no order costs
two loop turns (one for the data engine's queue put, one for its consumer).

:class:`SpeedSchedule` maps data time to wall time for a speed factor (1.0 = wall clock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

NANOS_PER_SECOND = 1_000_000_000


class Pacer(Protocol):
    """Wait until the node has handled everything the last datum caused."""

    async def settle(self) -> None:
        """Return once the node is quiet."""
        ...


class QueuePacer:
    """Wait until the live engines are idle: queues empty and no new bus traffic for a turn.

    nautilus 1.221's live engines enqueue through ``loop.call_soon_threadsafe(put_nowait)``: a
    message sent to an engine reaches its queue one loop turn later, and its consumer takes it a
    turn after that. An empty queue therefore does not prove the engines idle: the put may still
    be pending. Every such put follows a message-bus ``send``/``request``/``response``, so the
    pacer also watches the bus counters: the node is idle when, after a loop turn, every queue is
    empty and the bus has carried nothing new since the turn before.

    Parameters
    ----------
    sizes : Sequence[Callable[[], int]]
        The queue-size functions to watch (``LiveDataEngine.data_qsize`` and its kin).
    activity : Callable[[], int]
        A counter that grows with every message sent to an engine (the bus' sent, request and
        response counts).
    quiet_turns : int, default 1
        How many consecutive idle turns to require (more turns cover work deferred by other
        means than the bus, e.g. a component's own ``call_soon``).
    """

    def __init__(
        self, sizes: Sequence[Callable[[], int]], activity: Callable[[], int], quiet_turns: int = 1
    ) -> None:
        if quiet_turns < 1:
            raise ValueError(f"quiet_turns must be at least 1, was {quiet_turns}")
        self._sizes = tuple(sizes)
        self._activity = activity
        self._quiet_turns = quiet_turns
        self.settles = 0
        self.turns = 0

    @classmethod
    def for_kernel(cls, kernel: Any, quiet_turns: int = 1) -> QueuePacer:
        """Watch every queue of a live kernel's data, risk and execution engines, and its bus."""
        data, risk, execution, bus = kernel.data_engine, kernel.risk_engine, kernel.exec_engine, kernel.msgbus
        sizes = (  # the usually busy ones first
            data.data_qsize,
            risk.cmd_qsize,
            execution.cmd_qsize,
            execution.evt_qsize,
            risk.evt_qsize,
            data.cmd_qsize,
            data.req_qsize,
            data.res_qsize,
        )
        return cls(sizes, lambda: bus.sent_count + bus.req_count + bus.res_count, quiet_turns)

    async def settle(self) -> None:
        """Yield until the node has been idle for ``quiet_turns`` consecutive loop turns."""
        sizes, activity, needed = self._sizes, self._activity, self._quiet_turns
        seen = activity()
        quiet = turns = 0
        while quiet < needed:
            await asyncio.sleep(0)
            turns += 1
            now = activity()
            if now != seen:
                seen, quiet = now, 0
                continue
            quiet += 1
            for size in sizes:  # a plain loop: this runs twice per datum
                if size():
                    quiet = 0
                    break
        self.settles += 1
        self.turns += turns


class SpeedSchedule:
    """Map data timestamps to wall time for a replay speed factor.

    The first timestamp given to :meth:`delay` anchors the schedule: a datum ``dt`` seconds of
    data time later is due ``dt / factor`` wall seconds after the anchor.
    """

    def __init__(self, factor: float) -> None:
        if not factor > 0.0:
            raise ValueError(f"speed factor must be positive, was {factor}")
        self.factor = factor
        self._anchor: tuple[int, float] | None = None

    def delay(self, ts_ns: int, now_s: float) -> float:
        """Return how many seconds to wait, at wall time ``now_s``, before sending ``ts_ns``."""
        if self._anchor is None:
            self._anchor = (ts_ns, now_s)
            return 0.0
        anchor_ts, anchor_wall = self._anchor
        due = anchor_wall + (ts_ns - anchor_ts) / NANOS_PER_SECOND / self.factor
        return max(0.0, due - now_s)
