"""The risk desk: every entry a strategy proposes is sized and checked here before it reaches nautilus."""

from engine.risk.commands import Command, Kill, Reallocate, Resume
from engine.risk.config import DeskConfig, DeskConfigError, load_desk_config
from engine.risk.desk import DeskError, RiskDesk
from engine.risk.intents import (
    BrokerView,
    MarketView,
    RiskDeskClient,
    SizingDecision,
    TradeIntent,
)
from engine.risk.ledger import ClosedTrade, InstrumentTerms, LedgerError, SubLedger
from engine.risk.signals import SignalStrength

__all__ = [
    "BrokerView",
    "ClosedTrade",
    "Command",
    "DeskConfig",
    "DeskConfigError",
    "DeskError",
    "InstrumentTerms",
    "Kill",
    "LedgerError",
    "MarketView",
    "Reallocate",
    "Resume",
    "RiskDesk",
    "RiskDeskClient",
    "SignalStrength",
    "SizingDecision",
    "SubLedger",
    "TradeIntent",
    "load_desk_config",
]
