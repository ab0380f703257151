"""Pinned result of the AAPL long-premium backtest on the bundled real option sample."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pandas as pd
import pytest

from catalog.options import ingest_options, load_options_config
from engine.backtest import run_backtest
from engine.configs import RunConfig, load_run_config

REPO = Path(__file__).resolve().parents[2]
NAME = "long_premium_aapl_2014"
PINNED = {
    "trades": 1,
    "final_equity": 10021.0,
    "fingerprint": "50421c1c6bef62ca36217cd99606f8f6382c188008295341e6d395fe050a49bf",
    "exit_reasons": ["TP"],
    "denials": {"below_venue_minimum": 3},
}


@pytest.fixture(scope="module")
def options_catalog(sample_catalog: Path) -> Path:
    cwd = Path.cwd()
    try:
        os.chdir(REPO)
        config = load_options_config("configs/catalog/options.toml")
        ingest_options(config.with_catalog_path(sample_catalog))
    finally:
        os.chdir(cwd)
    return sample_catalog


def _config(catalog: Path) -> RunConfig:
    config = load_run_config(REPO / "configs" / "backtest" / f"{NAME}.toml")
    return msgspec.structs.replace(config, data=msgspec.structs.replace(config.data, catalog=str(catalog)))


@pytest.fixture(scope="module")
def run(options_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("options_run") / NAME
    cwd = Path.cwd()
    try:
        os.chdir(REPO)
        return run_backtest(_config(options_catalog), folder), folder
    finally:
        os.chdir(cwd)


def test_pinned_result(run):
    summary, folder = run
    assert summary["metrics"]["trades"] == PINNED["trades"]
    assert summary["final_equity"] == pytest.approx(PINNED["final_equity"], abs=1e-6)
    assert summary["fingerprint"] == PINNED["fingerprint"]
    assert summary["denials"] == PINNED["denials"]
    positions = pd.read_parquet(folder / "positions.parquet")
    assert positions["exit_reason"].tolist() == PINNED["exit_reasons"]
    assert set(summary["ledgers"]) == {"options"}
    assert summary["refused_fills"] == 0


def test_rerun_is_identical(run, options_catalog, tmp_path):
    first, first_folder = run
    cwd = Path.cwd()
    try:
        os.chdir(REPO)
        second = run_backtest(_config(options_catalog), tmp_path / "again")
    finally:
        os.chdir(cwd)
    assert second["fingerprint"] == first["fingerprint"]
    assert second["metrics"] == first["metrics"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(first_folder / "fills.parquet"), pd.read_parquet(tmp_path / "again" / "fills.parquet")
    )
