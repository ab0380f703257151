"""The risk desk: every entry a strategy proposes is sized and checked here before it reaches nautilus."""

from engine.risk.config import ASSET_CLASSES, AssetClass, DeskConfig, DeskConfigError, load_desk_config
from engine.risk.desk import (
    BrokerView,
    DeskError,
    FillRecord,
    MarketView,
    RiskDesk,
    RiskDeskClient,
    SizingDecision,
    TradeIntent,
)
from engine.risk.ledger import ClosedTrade, InstrumentTerms, LedgerError, SubLedger
from engine.risk.signals import SignalStrength

__all__ = [
    "ASSET_CLASSES",
    "AssetClass",
    "BrokerView",
    "ClosedTrade",
    "DeskConfig",
    "DeskConfigError",
    "DeskError",
    "FillRecord",
    "InstrumentTerms",
    "LedgerError",
    "MarketView",
    "RiskDesk",
    "RiskDeskClient",
    "SignalStrength",
    "SizingDecision",
    "SubLedger",
    "TradeIntent",
    "load_desk_config",
]
