"""Exceptions raised by the catalog package; each maps to one CLI exit code."""

from __future__ import annotations


class CatalogError(Exception):
    """Base class of every error the catalog package raises on purpose."""

    exit_code: int = 2


class CatalogConfigError(CatalogError):
    """Signal a config that cannot be loaded; the message names file, field and value."""

    exit_code = 2


class SourceError(CatalogError):
    """Signal a source file that cannot be read as configured (missing file or column)."""

    exit_code = 2


class BadDataError(CatalogError):
    """Signal that a source's share of bad rows exceeds its ``max_bad_fraction``."""

    exit_code = 3
