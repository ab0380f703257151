"""The roles an order plays, carried as its nautilus tag: one vocabulary for strategies and the engine.

The engine reads these tags to book fills (an ``ENTRY`` fill consumes its reservation), to free the
budget of an entry that ended, to name a closed trade's exit reason and to count SL/TP levels; the
strategy base class writes them.
"""

from __future__ import annotations

ENTRY_TAG = "ENTRY"
STOP_LOSS_TAG = "SL"
TAKE_PROFIT_TAG = "TP"
SIGNAL_EXIT_TAG = "SIGNAL_EXIT"
UNPROTECTED_EXIT_TAG = "UNPROTECTED_EXIT"
KILL_EXIT_TAG = "KILL_EXIT"
TIME_EXIT_TAG = "TIME_EXIT"
PROTECTIVE_TAGS = frozenset({STOP_LOSS_TAG, TAKE_PROFIT_TAG})
