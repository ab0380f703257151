"""Asset classes as data: one module per class, read by the desk, the journal, the gates and validation."""

from engine.assets.base import AssetClass, AssetPolicy, EntryContext
from engine.assets.registry import (
    BUILTIN_ASSET_CLASSES,
    AssetClassError,
    AssetRegistry,
    builtin_registry,
    load_asset_class,
    load_registry,
)

__all__ = [
    "BUILTIN_ASSET_CLASSES",
    "AssetClass",
    "AssetClassError",
    "AssetPolicy",
    "AssetRegistry",
    "EntryContext",
    "builtin_registry",
    "load_asset_class",
    "load_registry",
]
