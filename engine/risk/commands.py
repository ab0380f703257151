"""Operator commands to a running desk, through one thread-safe queue.

The dashboard, Telegram or a test thread calls :meth:`CommandQueue.submit` from any thread and gets a
future; the desk applies the commands on the kernel's own thread (``RiskDesk.apply_commands``, which
the engine's desk bridge calls on a timer and at start), so its books are never touched from two
threads at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kill:
    """Put one asset class (None: all) into close-only; ``close_profitable`` exits winners."""

    asset: str | None
    operator: str
    reason: str
    close_profitable: bool = False


@dataclass(frozen=True, slots=True)
class Resume:
    """Lift close-only for one asset class (None: the global switch)."""

    asset: str | None
    operator: str


@dataclass(frozen=True, slots=True)
class Reallocate:
    """Move an asset class's allocation by a whole number of reallocation steps (USD, signed)."""

    asset: str
    delta_usd: float
    operator: str


Command = Kill | Resume | Reallocate


class CommandQueue:
    """Hand commands from any thread to the kernel's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: deque[tuple[Command, Future[None]]] = deque()

    def submit(self, command: Command) -> Future[None]:
        """Queue ``command``; the future completes (or fails with the desk's error) once it is applied."""
        future: Future[None] = Future()
        with self._lock:
            self._pending.append((command, future))
        return future

    def __len__(self) -> int:
        return len(self._pending)

    def drain(self, apply: Callable[[Command], None]) -> int:
        """Apply every queued command in order with ``apply``; return how many were applied."""
        applied = 0
        while True:
            with self._lock:
                if not self._pending:
                    return applied
                command, future = self._pending.popleft()
            try:
                apply(command)
            except Exception as exc:  # the caller's future carries the desk's refusal
                future.set_exception(exc)
            else:
                future.set_result(None)
            applied += 1
