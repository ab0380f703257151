"""Build the sample catalog once per session from the bundled real data."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from catalog.config import parse_catalog_config
from catalog.ingest import ingest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def sample_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ingest configs/catalog/sample.toml into a fresh temporary catalog and return its path."""
    root = tmp_path_factory.mktemp("sample")
    raw = tomllib.loads((REPO / "configs" / "catalog" / "sample.toml").read_text())
    raw["catalog"]["path"] = str(root / "catalog")
    raw["catalog"]["quarantine_dir"] = str(root / "quarantine")
    ingest(parse_catalog_config(raw, "sample.toml"))
    return root / "catalog"
