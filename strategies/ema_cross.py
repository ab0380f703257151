"""EMA-cross trend following with ATR-based stop-loss and take-profit."""

from __future__ import annotations

from nautilus_trader.indicators import AverageTrueRange, ExponentialMovingAverage
from nautilus_trader.indicators.base import Indicator
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide

from catalog.tomlconfig import at_least, below, non_negative, positive
from engine.risk import SignalStrength
from strategies.base import Signal, SignalStrategy, SignalStrategyConfig


class EMACrossConfig(SignalStrategyConfig, frozen=True, kw_only=True):
    """Configure :class:`EMACross`.

    Parameters
    ----------
    fast_period, slow_period : int
        EMA lengths in bars; a long signal fires when the fast EMA crosses above the slow one.
    atr_period : int
        ATR length in bars.
    sl_atr, tp_atr : float
        Stop and target distances from the signal close, in ATRs.
    strong_spread_atr : float
        A cross whose EMA spread already exceeds this many ATRs is graded STRONG.
    """

    fast_period: int = 10
    slow_period: int = 30
    atr_period: int = 14
    sl_atr: float = 2.0
    tp_atr: float = 3.0
    strong_spread_atr: float = 0.5

    def __post_init__(self) -> None:
        """Require periods >= 1 with fast below slow, positive ATR multiples and a spread >= 0."""
        super().__post_init__()
        at_least(self, 1, "fast_period", "slow_period", "atr_period")
        below(self, "fast_period", "slow_period")
        positive(self, "sl_atr", "tp_atr")
        non_negative(self, "strong_spread_atr")


class EMACross(SignalStrategy):
    """Go with the trend when a fast EMA crosses a slow EMA; bracket the entry by ATR multiples."""

    def __init__(self, config: EMACrossConfig) -> None:
        super().__init__(config)
        self._fast = ExponentialMovingAverage(config.fast_period)
        self._slow = ExponentialMovingAverage(config.slow_period)
        self._atr = AverageTrueRange(config.atr_period)
        self._sl_atr = config.sl_atr
        self._tp_atr = config.tp_atr
        self._strong_spread_atr = config.strong_spread_atr
        self._previous_spread: float | None = None

    def indicators(self) -> list[Indicator]:
        """Return the fast and slow EMAs and the ATR."""
        return [self._fast, self._slow, self._atr]

    def signal(self, bar: Bar) -> Signal | None:
        """Signal on a fresh cross of the fast EMA over (long) or under (short) the slow EMA."""
        spread = self._fast.value - self._slow.value
        previous, self._previous_spread = self._previous_spread, spread
        atr = self._atr.value
        if previous is None or atr <= 0.0:
            return None
        crossed_up = previous <= 0.0 < spread
        crossed_down = previous >= 0.0 > spread
        if not (crossed_up or crossed_down):
            return None
        close = bar.close.as_double()
        strength = (
            SignalStrength.STRONG if abs(spread) > self._strong_spread_atr * atr else SignalStrength.NORMAL
        )
        if crossed_up:
            return Signal(OrderSide.BUY, close - self._sl_atr * atr, close + self._tp_atr * atr, strength)
        return Signal(OrderSide.SELL, close + self._sl_atr * atr, close - self._tp_atr * atr, strength)
