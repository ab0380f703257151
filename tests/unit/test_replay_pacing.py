"""Pacing of the catalog replay: when the pacer lets the next datum go, and the speed schedule."""

from __future__ import annotations

import asyncio

import pytest

from adapters.replay.pacing import QueuePacer, SpeedSchedule

SECOND = 1_000_000_000


class Node:
    """Live engines in miniature: a consumer that takes one queued item per loop turn.

    Handling an item sends the next hop's message (a bar leads to an order, the order to the
    execution engine): the bus counter grows at once, but the put lands on the queue one turn
    later, as with nautilus' ``call_soon_threadsafe`` enqueue.
    """

    def __init__(self, queued: int, hops: int) -> None:
        self.queued, self.hops, self.sent = queued, hops, 0
        self.put_pending = False
        self.alive = True

    async def run(self) -> None:
        while self.alive:
            await asyncio.sleep(0)
            if self.put_pending:
                self.put_pending, self.queued = False, self.queued + 1
            elif self.queued:
                self.queued -= 1
                if self.hops:
                    self.hops, self.sent, self.put_pending = self.hops - 1, self.sent + 1, True


def _settle(node: Node, quiet_turns: int = 1) -> QueuePacer:
    pacer = QueuePacer([lambda: node.queued], lambda: node.sent, quiet_turns)

    async def main() -> None:
        worker = asyncio.get_running_loop().create_task(node.run())
        await pacer.settle()
        node.alive = False
        await worker

    asyncio.run(main())
    return pacer


def test_the_pacer_waits_for_queued_work_and_for_bus_traffic() -> None:
    node = Node(queued=1, hops=2)
    pacer = _settle(node)
    assert (node.queued, node.hops, node.put_pending) == (0, 0, False)
    assert pacer.settles == 1


def test_an_idle_node_costs_one_turn_per_quiet_turn() -> None:
    assert _settle(Node(0, 0)).turns == 1
    assert _settle(Node(0, 0), quiet_turns=3).turns == 3


def test_quiet_turns_must_be_positive() -> None:
    with pytest.raises(ValueError, match="quiet_turns must be at least 1, was 0"):
        QueuePacer([], lambda: 0, quiet_turns=0)


def test_the_speed_schedule_maps_data_time_to_wall_time() -> None:
    schedule = SpeedSchedule(10.0)
    assert schedule.delay(100 * SECOND, now_s=5.0) == 0.0  # the first datum anchors the schedule
    assert schedule.delay(160 * SECOND, now_s=5.0) == pytest.approx(6.0)  # a minute at x10
    assert schedule.delay(160 * SECOND, now_s=12.0) == 0.0  # late: no wait, no catching up by sleeping less
    assert SpeedSchedule(1.0).delay(0, 0.0) == 0.0


def test_the_speed_factor_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"speed factor must be positive, was 0\.0"):
        SpeedSchedule(0.0)
