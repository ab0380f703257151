"""The error every engine config loader raises (its own module, so loaders can share it freely)."""

from __future__ import annotations


class ConfigError(ValueError):
    """Raise when a config file cannot be read or does not match its schema."""
