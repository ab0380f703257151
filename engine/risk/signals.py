"""Signal vocabulary shared by strategies, the risk desk and the journal."""

from __future__ import annotations

from enum import Enum


class SignalStrength(Enum):
    """Grade a signal; the value is the sizing weight the desk applies."""

    WEAK = 0.5
    NORMAL = 1.0
    STRONG = 1.5
