"""The asset classes a run trades, loaded by import path (one module per class)."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, Sequence

from nautilus_trader.model.instruments import Instrument

from engine.assets.base import AssetClass

BUILTIN_ASSET_CLASSES: tuple[str, ...] = (
    "engine.assets.crypto_spot",
    "engine.assets.crypto_futures",
    "engine.assets.forex",
    "engine.assets.options",
)


class AssetClassError(ValueError):
    """Raise when an asset class cannot be loaded, is unknown, or no class takes an instrument."""


class AssetRegistry:
    """Hold a run's asset classes in match order (the first that matches an instrument takes it).

    Parameters
    ----------
    classes : sequence of AssetClass
        The classes; names must be unique.
    """

    def __init__(self, classes: Sequence[AssetClass]) -> None:
        self._classes = tuple(classes)
        self._by_name = {asset.name: asset for asset in self._classes}
        if len(self._by_name) != len(self._classes):
            names = [asset.name for asset in self._classes]
            twice = sorted({name for name in names if names.count(name) > 1})
            raise AssetClassError(f"asset class {twice[0]!r} is listed twice")

    @property
    def names(self) -> tuple[str, ...]:
        """Return the class names in match order."""
        return tuple(self._by_name)

    def __iter__(self) -> Iterator[AssetClass]:
        return iter(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> AssetClass:
        try:
            return self._by_name[name]
        except KeyError:
            raise AssetClassError(
                f"unknown asset class {name!r} (known: {', '.join(self._by_name)})"
            ) from None

    def classify(self, instrument: Instrument) -> AssetClass:
        """Return the class whose ledger books ``instrument``.

        Raises
        ------
        AssetClassError
            When no class takes it (e.g. an equity without an equity class).
        """
        for asset in self._classes:
            if asset.matches(instrument):
                return asset
        raise AssetClassError(
            f"instrument {instrument.id} ({type(instrument).__name__}) has no sub-ledger: the desk trades "
            f"{', '.join(self._by_name)}"
        )

    def wallets(self) -> dict[str, tuple[str, ...]]:
        """Return each broker wallet's asset classes (percent allocations share one wallet)."""
        wallets: dict[str, list[str]] = {}
        for asset in self._classes:
            wallets.setdefault(asset.wallet, []).append(asset.name)
        return {wallet: tuple(names) for wallet, names in wallets.items()}


def load_asset_class(path: str) -> AssetClass:
    """Import one asset class: ``package.module`` (its ``ASSET``) or ``package.module:NAME``.

    Raises
    ------
    AssetClassError
        If the module cannot be imported or does not hold an :class:`AssetClass` instance.
    """
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AssetClassError(f"asset class {path!r}: cannot import {module_name!r}: {exc}") from exc
    value = getattr(module, attribute or "ASSET", None)
    if not isinstance(value, AssetClass):
        raise AssetClassError(
            f"asset class {path!r}: {module_name}.{attribute or 'ASSET'} is not an engine.assets.AssetClass"
        )
    return value


@functools.lru_cache(maxsize=16)
def load_registry(paths: tuple[str, ...] = BUILTIN_ASSET_CLASSES) -> AssetRegistry:
    """Return the registry of the asset classes at ``paths`` (cached per tuple of paths)."""
    return AssetRegistry([load_asset_class(path) for path in paths])


def builtin_registry() -> AssetRegistry:
    """Return the registry of the four built-in classes: crypto spot, crypto futures, forex, options."""
    return load_registry(BUILTIN_ASSET_CLASSES)
