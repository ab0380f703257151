"""Crypto spot: cash accounts on Bybit, long only, no leverage (docs/risk-desk.md)."""

from __future__ import annotations

from typing import ClassVar

from nautilus_trader.model.enums import CurrencyType
from nautilus_trader.model.instruments import CurrencyPair, Instrument

from engine.assets.base import AssetClass
from engine.risk.config import AssetRisk, AssetSizing


class SpotRisk(AssetRisk, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Guard crypto spot entries: no short, no leverage."""

    max_concurrent: int = 5
    daily_loss_cap_pct: float = 0.03
    leverage_cap: float = 1.0
    allow_short: bool = False


class CryptoSpot(AssetClass):
    """Book currency pairs with a crypto leg (``BTCUSDT-SPOT.BYBIT``) into the spot ledger."""

    name: ClassVar[str] = "crypto_spot"
    wallet: ClassVar[str] = "bybit"
    periods_per_year: ClassVar[int] = 365
    risk_schema: ClassVar[type[AssetRisk]] = SpotRisk
    sizing_defaults: ClassVar[AssetSizing] = AssetSizing(
        risk_fraction=0.0075,
        risk_fraction_min=0.0025,
        risk_fraction_max=0.0075,
        base_risk_pct=0.02,
        percent_above_threshold=0.0075,
    )

    def matches(self, instrument: Instrument) -> bool:
        """Return True for a currency pair whose base or quote currency is a crypto currency."""
        if not isinstance(instrument, CurrencyPair):
            return False
        crypto = CurrencyType.CRYPTO
        return crypto in (instrument.base_currency.currency_type, instrument.quote_currency.currency_type)


ASSET = CryptoSpot()
