"""Resolve ``"package.module:Name"`` import paths from configs (as nautilus' importable configs do)."""

from __future__ import annotations

import importlib
from typing import Any

from nautilus_trader.common.config import ImportableActorConfig

from engine.errors import ConfigError


def resolve(path: str, field: str) -> Any:
    """Import ``module:attribute`` and return the attribute.

    Parameters
    ----------
    path : str
        The import path, e.g. ``"strategies.ema_cross:EMACross"``.
    field : str
        The config field the path came from, named in the error.

    Raises
    ------
    ConfigError
        If the path is malformed, the module cannot be imported, or the attribute is missing.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"`{field}` must look like 'package.module:Name' (value: {path!r})")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"`{field}`: cannot import {module_name!r} (value: {path!r}): {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ConfigError(f"`{field}`: {module_name!r} has no {attribute!r} (value: {path!r})") from exc


def importable_actor(cls: type, config: Any) -> ImportableActorConfig:
    """Return the nautilus importable config that builds ``cls(config)`` (a node lists these)."""
    return ImportableActorConfig(
        actor_path=f"{cls.__module__}:{cls.__name__}",
        config_path=f"{type(config).__module__}:{type(config).__name__}",
        config=config.dict(),
    )
