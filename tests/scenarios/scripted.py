"""A test-only strategy that emits signals from a script (kept under tests/, never shipped)."""

from __future__ import annotations

from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide

from engine.risk import SignalStrength
from strategies.base import Signal, SignalStrategy, SignalStrategyConfig


class ScriptedSignalsConfig(SignalStrategyConfig, frozen=True, kw_only=True):
    """Map a bar index (0-based) to ``[side, stop, take_profit, strength]``."""

    script: dict[str, list[str | float]]


class ScriptedSignals(SignalStrategy):
    """Emit the scripted signal on the scripted bar; nothing else."""

    def __init__(self, config: ScriptedSignalsConfig) -> None:
        super().__init__(config)
        self._script = {int(key): value for key, value in config.script.items()}
        self._index = -1

    def signal(self, bar: Bar) -> Signal | None:
        """Return the signal scripted for this bar index, if any."""
        self._index += 1
        entry = self._script.get(self._index)
        if entry is None:
            return None
        side, stop, target, *rest = entry
        strength = SignalStrength[str(rest[0])] if rest else SignalStrength.NORMAL
        return Signal(OrderSide[str(side)], float(stop), float(target), strength)
