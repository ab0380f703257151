"""The risk desk: every entry a strategy proposes is sized and checked here before it reaches nautilus."""

from engine.risk.desk import RiskDesk, RiskDeskClient, SizingDecision, TradeIntent
from engine.risk.signals import SignalStrength

__all__ = ["RiskDesk", "RiskDeskClient", "SignalStrength", "SizingDecision", "TradeIntent"]
