"""Deliberately broken test-only strategies for the lookahead and warm-up checks (never shipped).

:class:`PeekNextClose` looks ahead: it reads the complete bar series the backtest was given and goes
long when a later close is higher, short when it is lower. It stands in for the classic research bug
of a feature computed over the whole data set (``close.shift(-1)``). To reach that series it finds
the running ``BacktestEngine`` that owns it through the garbage collector, which no real strategy
may ever do.

:class:`ShortWarmupEMACrossConfig` under-declares its warm-up: an EMA 50 / 200 cross that claims two
bars of history are enough (``warmup_bars = 2``), when EMAs need many times their period to forget
their seed.
"""

from __future__ import annotations

import gc

from nautilus_trader.backtest.engine import BacktestEngine
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide

from strategies.base import Signal, SignalStrategy, SignalStrategyConfig
from strategies.ema_cross import EMACrossConfig


class PeekNextCloseConfig(SignalStrategyConfig, frozen=True, kw_only=True):
    """Configure :class:`PeekNextClose`.

    Parameters
    ----------
    peek_bars : int
        How many bars ahead to read the close.
    stop_fraction, target_fraction : float
        Stop and target distances from the signal close, as fractions of it.
    """

    peek_bars: int = 1
    stop_fraction: float = 0.01
    target_fraction: float = 0.02


class PeekNextClose(SignalStrategy):
    """Trade toward the close ``peek_bars`` ahead, read from the backtest's own data (a lookahead)."""

    def __init__(self, config: PeekNextCloseConfig) -> None:
        super().__init__(config)
        self._peek = config.peek_bars
        self._stop_fraction = config.stop_fraction
        self._target_fraction = config.target_fraction
        self._future: dict[int, float] = {}

    def on_start(self) -> None:
        """Read every close of the signal bars the engine holds, future ones included."""
        super().on_start()
        closes = [
            (bar.ts_event, bar.close.as_double())
            for bar in _engine_of(self).data
            if isinstance(bar, Bar) and bar.bar_type == self._bar_type
        ]
        closes.sort()
        self._future = {
            ts: closes[index + self._peek][1]
            for index, (ts, _) in enumerate(closes)
            if index + self._peek < len(closes)
        }

    def signal(self, bar: Bar) -> Signal | None:
        """Go long if the close ``peek_bars`` ahead is higher, short if it is lower."""
        ahead = self._future.get(bar.ts_event)
        close = bar.close.as_double()
        if ahead is None or ahead == close:
            return None
        if ahead > close:
            return Signal(
                OrderSide.BUY, close * (1 - self._stop_fraction), close * (1 + self._target_fraction)
            )
        return Signal(OrderSide.SELL, close * (1 + self._stop_fraction), close * (1 - self._target_fraction))


def _engine_of(strategy: SignalStrategy) -> BacktestEngine:
    for candidate in gc.get_objects():
        if not isinstance(candidate, BacktestEngine):
            continue
        try:
            owned = any(other is strategy for other in candidate.trader.strategies())
        except Exception:  # a disposed engine
            continue
        if owned:
            return candidate
    raise RuntimeError(f"{strategy.id}: no running BacktestEngine owns this strategy")


class ShortWarmupEMACrossConfig(EMACrossConfig, frozen=True, kw_only=True):
    """Configure ``strategies.ema_cross.EMACross`` with a declared warm-up far too short for its EMAs."""

    fast_period: int = 50
    slow_period: int = 200
    warmup_bars: int = 2
