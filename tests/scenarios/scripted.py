"""A test-only strategy that emits signals from a script (kept under tests/, never shipped)."""

from __future__ import annotations

import threading

from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide

from engine.risk import Kill, SignalStrength
from strategies.base import Signal, SignalStrategy, SignalStrategyConfig


class ScriptedSignalsConfig(SignalStrategyConfig, frozen=True, kw_only=True):
    """Map a bar index (0-based) to ``[side, stop, take_profit, strength]``.

    Operator calls are scripted too: ``["KILL", asset or "all", close_profitable]`` and
    ``["RESUME", asset or "all"]`` call the desk's kill switch at that bar; ``["SUBMIT_KILL", asset
    or "all"]`` submits a kill from another thread, as a dashboard would, through the desk's command
    queue (a running node's desk bridge applies it on the kernel's thread).
    """

    script: dict[str, list[str | float | bool]]


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
        if entry[0] in ("KILL", "RESUME", "SUBMIT_KILL"):
            self._operate(entry, bar.ts_event)
            return None
        side, stop, target, *rest = entry
        strength = SignalStrength[str(rest[0])] if rest else SignalStrength.NORMAL
        return Signal(OrderSide[str(side)], float(stop), float(target), strength)

    def _operate(self, entry: list[str | float | bool], ts_ns: int) -> None:
        asset = None if entry[1] == "all" else str(entry[1])
        if entry[0] == "SUBMIT_KILL":
            desk = self.desk
            command = Kill(asset, "dashboard", "from another thread")
            threading.Thread(target=lambda: desk.submit(command).result(timeout=60), daemon=True).start()
        elif entry[0] == "KILL":
            close_profitable = bool(entry[2]) if len(entry) > 2 else False
            self.desk.kill(
                asset, operator="test", reason="scripted", ts_ns=ts_ns, close_profitable=close_profitable
            )
        else:
            self.desk.resume(asset, operator="test", ts_ns=ts_ns)
