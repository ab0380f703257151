"""What every asset class module provides: identity, instrument match, config schemas and desk rules.

An asset class is one module under ``engine/assets`` (or anywhere importable) exposing ``ASSET``, an
instance of an :class:`AssetClass` subclass. The desk, the journal, the gates and the validation read
asset classes only through this interface, so a new class is one module plus its config entries
(``docs/architecture.md``, "Asset classes as data").

Each class owns:

- its name (the ledger, config table and journal key), the broker wallet it is funded from, and how
  many trading days a year annualise its returns;
- :meth:`AssetClass.matches`: which nautilus instruments book into its ledger;
- the schema of its ``[assets.<name>]`` table in ``risk.toml`` (:class:`engine.risk.config.AssetRisk`
  plus its own fields, with its own defaults) and its default sizing numbers;
- :class:`AssetPolicy`, the desk-side rules bound to those settings: entry guards, sizing clamps,
  quantity rounding and the stop trigger.
"""

from __future__ import annotations

from typing import ClassVar

from nautilus_trader.model.instruments import Instrument

from engine.risk.config import AssetRisk, AssetSizing
from engine.risk.policy import AssetPolicy, EntryContext

__all__ = ["AssetClass", "AssetPolicy", "EntryContext"]


class AssetClass:
    """Describe one asset class; subclasses set the class variables and :meth:`matches`.

    Class variables
    ---------------
    name : str
        Ledger, config-table and journal key (``crypto_spot``).
    wallet : str
        The broker wallet its percent allocation is a fraction of (``bybit``, ``ibkr``).
    periods_per_year : int
        Trading days a year, for annualised ratios (365 for crypto, 252 for exchange-hours markets).
    risk_schema : type[AssetRisk]
        The schema of its ``[assets.<name>]`` table in ``risk.toml``, with the class's defaults.
    sizing_defaults : AssetSizing
        Its sizing numbers when ``sizing.toml`` has no ``[assets.<name>]`` table.
    policy_class : type[AssetPolicy]
        The desk rules bound to the risk settings.
    """

    name: ClassVar[str]
    wallet: ClassVar[str]
    periods_per_year: ClassVar[int]
    risk_schema: ClassVar[type[AssetRisk]] = AssetRisk
    sizing_defaults: ClassVar[AssetSizing]
    policy_class: ClassVar[type[AssetPolicy]] = AssetPolicy

    def matches(self, instrument: Instrument) -> bool:
        """Return True when ``instrument`` books into this class's ledger."""
        raise NotImplementedError

    def policy(self, risk: AssetRisk) -> AssetPolicy:
        """Return the desk rules of this class bound to its risk settings."""
        return self.policy_class(risk)

    def check_risk(self, risk: AssetRisk, origin: str) -> None:
        """Reject settings the schema allows but the class cannot honour (raise ``DeskConfigError``)."""

    def __repr__(self) -> str:
        return f"<asset class {self.name}>"
