"""The kill switch: close-only per asset class or for everything, persisted across restarts.

nautilus' RiskEngine boots ``ACTIVE`` every time, so the state is kept in the journal's desk state
and re-applied when a desk is built; :meth:`KillSwitch.refresh` re-reads it, so a switch set by another
process (an operator's tool writing the same journal) reaches a running desk.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.journal import Journal

STATE_KEY = "kill_switch"

CloseOnlyListener = Callable[[str | None, bool, bool], None]


class KillSwitch:
    """Hold which asset classes are close-only; tell listeners about every change.

    Parameters
    ----------
    journal : Journal, optional
        Where the state persists (none: it lives as long as the object).
    """

    def __init__(self, journal: Journal | None) -> None:
        self._journal = journal
        self.all = False
        self.assets: set[str] = set()
        self._listeners: list[CloseOnlyListener] = []
        self._seen: tuple[bool, tuple[str, ...]] | None = None
        self.refresh()

    def add_listener(self, listener: CloseOnlyListener) -> None:
        """Call ``listener(asset or None, close_only, close_profitable)`` on every change."""
        self._listeners.append(listener)

    def is_close_only(self, asset: str) -> bool:
        """Return True when ``asset`` takes no new entries (its own or the global switch)."""
        return self.all or asset in self.assets

    def set(self, asset: str | None, close_only: bool, *, ts_ns: int, close_profitable: bool = False) -> None:
        """Switch one asset class (or all, with None) to close-only or back; persist and notify."""
        if asset is None:
            self.all = close_only
        elif close_only:
            self.assets.add(asset)
        else:
            self.assets.discard(asset)
        self._persist(ts_ns)
        self._notify(asset, close_only, close_profitable)

    def refresh(self) -> bool:
        """Re-read the persisted state; apply and announce what changed. Return True on a change."""
        if self._journal is None:
            return False
        state = self._journal.get_state(STATE_KEY) or {}
        stored_all = bool(state.get("all", False))
        assets = state.get("assets", [])
        stored = {str(a) for a in assets} if isinstance(assets, list) else set()
        snapshot = (stored_all, tuple(sorted(stored)))
        if snapshot == self._seen:
            return False
        first = self._seen is None
        self._seen = snapshot
        changes: list[tuple[str | None, bool]] = []
        if stored_all != self.all:
            changes.append((None, stored_all))
        changes += [(asset, True) for asset in sorted(stored - self.assets)]
        changes += [(asset, False) for asset in sorted(self.assets - stored)]
        self.all, self.assets = stored_all, stored
        if not first:
            for asset, close_only in changes:
                self._notify(asset, close_only, False)
        return bool(changes)

    def restore(self, state: dict[str, object]) -> None:
        """Set the switch to a stored state without persisting or announcing it (a resumed run's start)."""
        assets = state.get("assets", [])
        self.all = bool(state.get("all", False))
        self.assets = {str(a) for a in assets} if isinstance(assets, list) else set()

    def state(self) -> dict[str, object]:
        """Return the switch as stored: ``{"all": bool, "assets": [...]}``."""
        return {"all": self.all, "assets": sorted(self.assets)}

    def _persist(self, ts_ns: int) -> None:
        self._seen = (self.all, tuple(sorted(self.assets)))
        if self._journal is not None:
            self._journal.set_state(STATE_KEY, {**self.state(), "ts": ts_ns})

    def _notify(self, asset: str | None, close_only: bool, close_profitable: bool) -> None:
        for listener in self._listeners:
            listener(asset, close_only, close_profitable)
