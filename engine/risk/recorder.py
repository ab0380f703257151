"""Write the rows the desk's parts emit into the journal (or nowhere, when the run has none)."""

from __future__ import annotations

from engine.journal import Journal, Row


class Recorder:
    """Forward typed journal rows to a :class:`~engine.journal.Journal`, if there is one.

    Parameters
    ----------
    journal : Journal, optional
        Where rows go; without one every row is dropped (``emit`` returns None).
    """

    def __init__(self, journal: Journal | None) -> None:
        self.journal = journal

    def emit(self, row: Row) -> int | None:
        """Write ``row``; return its key, or None (no journal, journal muted, or a duplicate key)."""
        if self.journal is None:
            return None
        return self.journal.write(row)

    @property
    def active(self) -> bool:
        """Return True when rows reach a journal that is not muted."""
        return self.journal is not None and not self.journal.muted
