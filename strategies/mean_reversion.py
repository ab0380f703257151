"""RSI / Bollinger-band mean reversion with an ATR stop and a target at the middle band."""

from __future__ import annotations

from nautilus_trader.indicators import AverageTrueRange, BollingerBands, RelativeStrengthIndex
from nautilus_trader.indicators.base import Indicator
from nautilus_trader.model.data import Bar
from nautilus_trader.model.enums import OrderSide

from catalog.tomlconfig import at_least, below, fail, non_negative, positive
from engine.risk import SignalStrength
from strategies.base import Signal, SignalStrategy, SignalStrategyConfig


class MeanReversionConfig(SignalStrategyConfig, frozen=True, kw_only=True):
    """Configure :class:`MeanReversion`.

    Parameters
    ----------
    bb_period : int
        Bollinger band length in bars.
    bb_k : float
        Band width in standard deviations.
    rsi_period : int
        RSI length in bars.
    rsi_oversold, rsi_overbought : float
        RSI levels on a 0-100 scale that confirm a stretched market.
    atr_period : int
        ATR length in bars.
    sl_atr : float
        Stop distance beyond the signal close, in ATRs.
    min_target_atr : float
        Skip setups whose distance to the middle band is under this many ATRs (not worth the fees).
    """

    bb_period: int = 20
    bb_k: float = 2.0
    rsi_period: int = 14
    rsi_oversold: float = 30.0
    rsi_overbought: float = 70.0
    atr_period: int = 14
    sl_atr: float = 1.5
    min_target_atr: float = 0.5

    def __post_init__(self) -> None:
        """Require periods >= 1 (bands >= 2), positive widths, 0 < oversold < overbought < 100."""
        super().__post_init__()
        at_least(self, 2, "bb_period")
        at_least(self, 1, "rsi_period", "atr_period")
        positive(self, "bb_k", "sl_atr", "rsi_oversold", "rsi_overbought")
        non_negative(self, "min_target_atr")
        below(self, "rsi_oversold", "rsi_overbought")
        if not self.rsi_overbought < 100.0:
            fail("rsi_overbought", self.rsi_overbought, "RSI levels are on a 0-100 scale: must be below 100")


class MeanReversion(SignalStrategy):
    """Fade closes outside the Bollinger bands when RSI confirms; target the middle band."""

    def __init__(self, config: MeanReversionConfig) -> None:
        super().__init__(config)
        self._bands = BollingerBands(config.bb_period, config.bb_k)
        self._rsi = RelativeStrengthIndex(config.rsi_period)
        self._atr = AverageTrueRange(config.atr_period)
        # nautilus' RSI reports on a 0-1 scale
        self._oversold = config.rsi_oversold / 100.0
        self._overbought = config.rsi_overbought / 100.0
        self._sl_atr = config.sl_atr
        self._min_target_atr = config.min_target_atr

    def indicators(self) -> list[Indicator]:
        """Return the Bollinger bands, the RSI and the ATR."""
        return [self._bands, self._rsi, self._atr]

    def signal(self, bar: Bar) -> Signal | None:
        """Signal long below the lower band with RSI oversold, short above the upper with RSI overbought."""
        close = bar.close.as_double()
        atr = self._atr.value
        middle = self._bands.middle
        if atr <= 0.0 or abs(middle - close) < self._min_target_atr * atr:
            return None
        rsi = self._rsi.value
        if close < self._bands.lower and rsi < self._oversold:
            strength = SignalStrength.STRONG if rsi < self._oversold / 2.0 else SignalStrength.NORMAL
            return Signal(OrderSide.BUY, close - self._sl_atr * atr, middle, strength)
        if close > self._bands.upper and rsi > self._overbought:
            strength = (
                SignalStrength.STRONG if rsi > (1.0 + self._overbought) / 2.0 else SignalStrength.NORMAL
            )
            return Signal(OrderSide.SELL, close + self._sl_atr * atr, middle, strength)
        return None
