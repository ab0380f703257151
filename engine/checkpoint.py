"""Checkpoints of a node's journal, and resuming from one by re-simulating what was replayed.

A replay node (paper trading on the catalog) keeps its journal across restarts. While it runs, the
desk bridge records, at every settled data time of the feed (:mod:`engine.clock`), the last journal
key of each table, and writes a :class:`Checkpoint` (that data time and those keys) into the
journal's desk state every few seconds and when the node stops.

A restart resumes from the checkpoint without trusting any in-memory state (docs/replay.md):

1. the journal is cut back to the checkpoint (rows written after it are deleted: they belong to
   data the node had not finished, and will be written again);
2. the feed streams the run's data from its start again, as fast as possible up to the checkpoint
   (catch-up), so the sandbox venue, the desk's ledgers and epochs, the strategies and their open
   paper positions are rebuilt exactly as they were; the journal is muted meanwhile, operator
   commands journaled before the checkpoint are applied again at their data time, and every fill
   re-simulated is checked against the one journaled (a different fill means the data or the
   config changed: the resume stops with an error);
3. after the checkpoint the journal is written again and the run goes on: no fill is booked or
   journaled twice and no position is entered again.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.journal import FillRecord, Journal
from engine.risk.commands import Command, Kill, Reallocate, Resume

CHECKPOINT_KEY = "checkpoint"
OPERATOR_ACTIONS = frozenset({"kill", "resume", "reallocate"})
ENGINE_OPERATORS = frozenset({"risk", "auto", "carry"})  # actions the re-simulation repeats itself


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Where a node's journal stands: the last settled data time and each table's last key."""

    ts: int
    tables: dict[str, int]
    start_kill_switch: dict[str, object]

    def as_state(self) -> dict[str, object]:
        """Return the checkpoint as the journal's desk state stores it."""
        return {"ts": self.ts, "tables": self.tables, "start_kill_switch": self.start_kill_switch}


def checkpoint_key(run_id: str) -> str:
    """Return the desk-state key of a run's checkpoint."""
    return f"{CHECKPOINT_KEY}:{run_id}"


def read_checkpoint(journal: Journal) -> Checkpoint | None:
    """Return the journal's checkpoint of its run, or None when it has none."""
    state = journal.get_state(checkpoint_key(journal.run_id))
    if not state:
        return None
    tables = state.get("tables", {})
    kill = state.get("start_kill_switch", {})
    return Checkpoint(
        ts=int(state["ts"]),  # type: ignore[call-overload]
        tables={str(k): int(v) for k, v in tables.items()} if isinstance(tables, dict) else {},
        start_kill_switch=dict(kill) if isinstance(kill, dict) else {},
    )


def peek_checkpoint(path: str | Path, run_id: str, mode: str) -> Checkpoint | None:
    """Return the checkpoint of ``run_id`` in the journal file at ``path`` (None: fresh start)."""
    if not Path(path).is_file():
        return None
    with Journal(path, run_id=run_id, mode=mode) as journal:
        return read_checkpoint(journal)


@dataclass
class Checkpointer:
    """Record the journal's keys at every settled data time; write them as a checkpoint on demand."""

    journal: Journal
    start_kill_switch: dict[str, object]
    settled: Checkpoint | None = None

    def settle(self, ts: int) -> None:
        """Remember that everything caused by the data up to ``ts`` has been journaled."""
        self.settled = Checkpoint(ts, self.journal.last_keys(), self.start_kill_switch)

    def write(self) -> None:
        """Flush the journal and store the last settled checkpoint (nothing before the first)."""
        if self.settled is None or self.journal.muted:
            return
        self.journal.flush()
        self.journal.set_state(
            checkpoint_key(self.journal.run_id), self.settled.as_state(), ts=self.settled.ts
        )


@dataclass
class Resumption:
    """Rebuild a node's state from its checkpoint: mute, re-apply, verify, then go on.

    Parameters
    ----------
    journal : Journal
        The node's journal (cut back to the checkpoint and muted by :meth:`begin`).
    checkpoint : Checkpoint
        Where the previous run stopped.
    apply : callable
        Applies an operator command at a data time (the desk's command path).
    """

    journal: Journal
    checkpoint: Checkpoint
    apply: Callable[[Command, int], None]
    divergences: list[str] = field(default_factory=list)
    done: bool = False
    _due: list[tuple[int, int, Command]] = field(default_factory=list)

    def begin(self) -> dict[str, int]:
        """Cut the journal back to the checkpoint, load the operator commands to re-apply, mute it."""
        removed = self.journal.truncate_after(self.checkpoint.tables)
        for order, row in enumerate(self.journal.rows("operator_actions", run_id=self.journal.run_id)):
            command = _command(row)
            if command is not None and int(row["ts"]) <= self.checkpoint.ts:  # type: ignore[call-overload]
                heapq.heappush(self._due, (int(row["ts"]), order, command))  # type: ignore[call-overload]
        self.journal.mute(True)
        return removed

    def on_feed_time(self, ts: int, settled: bool) -> bool:
        """Follow the feed; re-apply due commands; return True once the catch-up is over."""
        while self._due and (self._due[0][0] < ts or (settled and self._due[0][0] == ts)):
            when, _, command = heapq.heappop(self._due)
            self.apply(command, when)
        if not self.done and not settled and ts > self.checkpoint.ts:
            self.done = True
            self.journal.mute(False)
        return self.done

    def verify(self, fill: FillRecord) -> None:
        """Check a re-simulated fill against the journal (same trade, price and quantity)."""
        if self.done or fill.ts > self.checkpoint.ts:
            return
        row = self.journal.fill_row(fill.venue, fill.trade_id)
        if row is None or row["price"] != fill.price or row["quantity"] != fill.quantity:
            journaled = "none" if row is None else f"{row['quantity']} @ {row['price']}"
            self.divergences.append(
                f"{fill.venue} trade {fill.trade_id} at {fill.ts}: re-simulated "
                f"{fill.quantity} @ {fill.price}, journaled {journaled}"
            )


def _command(row: dict[str, object]) -> Command | None:
    """Return the operator command an audited action was, or None for the engine's own actions."""
    operator, action = str(row["operator"]), str(row["action"])
    if operator in ENGINE_OPERATORS or action not in OPERATOR_ACTIONS:
        return None
    detail = json.loads(str(row["detail"]))
    asset = str(row["asset"]) or None
    if action == "kill":
        return Kill(
            asset, operator, str(detail.get("reason", "")), bool(detail.get("close_profitable", False))
        )
    if action == "resume":
        return Resume(asset, operator)
    return Reallocate(str(asset), float(detail["delta_usd"]), operator)
