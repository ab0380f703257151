"""The AAPL option sample in the catalog: contracts, greeks and bars match the source rows."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest
from nautilus_trader.model.enums import OptionKind
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from catalog.options import chain_greeks, ingest_options, load_options_config, option_contracts

REPO = Path(__file__).resolve().parents[2]
CHAINS = REPO / "data" / "sample" / "options" / "aapl_chains_20140602_20140616.csv.gz"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> ParquetDataCatalog:
    path = tmp_path_factory.mktemp("options") / "catalog"
    config = load_options_config(REPO / "configs" / "catalog" / "options.toml")
    cwd = Path.cwd()
    try:
        import os

        os.chdir(REPO)
        ingest_options(config.with_catalog_path(path))
    finally:
        os.chdir(cwd)
    return ParquetDataCatalog(str(path))


def _source_rows(day: str) -> list[dict[str, str]]:
    with gzip.open(CHAINS, "rt") as handle:
        return [r for r in csv.DictReader(handle) if r["date"] == day and r["expiry"]]


def test_chain_of_a_date_has_the_source_contracts_with_their_greeks(catalog):
    rows = [
        r for r in _source_rows("20140603") if r["expiry"] == "20140621" and r["strike"] in ("630", "640")
    ]
    assert len(rows) == 4
    contracts = {str(c.id): c for c in option_contracts(catalog, "AAPL")}
    wanted = {f"AAPL140621{r['right']}{int(float(r['strike']) * 1000):08d}.SMART": r for r in rows}
    assert set(wanted) <= set(contracts)
    greeks = chain_greeks(catalog, wanted, start="2014-06-04", end="2014-06-04T12:00")
    assert {str(g.instrument_id) for g in greeks} == set(wanted)
    for item in greeks:
        row = wanted[str(item.instrument_id)]
        contract = contracts[str(item.instrument_id)]
        assert contract.option_kind == (OptionKind.CALL if row["right"] == "C" else OptionKind.PUT)
        assert contract.strike_price.as_double() == pytest.approx(float(row["strike"]))
        assert float(contract.multiplier) == 100
        assert item.expiry == 20140621 and item.expiry_in_days == 18
        assert item.vol == pytest.approx(float(row["implied_volatility"]))
        assert item.delta == pytest.approx(float(row["delta"]))
        assert item.theta == pytest.approx(float(row["theta"]))
        assert item.price == pytest.approx(float(row["close"]))
        assert item.underlying_price == pytest.approx(628.39)


def test_mid_bars_carry_the_chain_prices_and_the_underlying_is_split_adjusted(catalog):
    bars = catalog.bars(bar_types=["AAPL140621C00630000.SMART-1-DAY-MID-EXTERNAL"])
    source = {
        r["date"]: r
        for r in _source_rows("20140602") + _source_rows("20140603")
        if r["expiry"] == "20140621" and r["strike"] == "630" and r["right"] == "C"
    }
    assert bars[0].close.as_double() == pytest.approx(float(source["20140602"]["close"]))
    underlying = catalog.bars(
        bar_types=["AAPL.SMART-1-DAY-LAST-EXTERNAL"], start="2014-06-07", end="2014-06-11"
    )  # stamped next midnight
    closes = [b.close.as_double() for b in underlying]
    assert closes[0] == pytest.approx(645.57 / 7, abs=0.006)  # 06-06, adjusted
    assert closes[1] == pytest.approx(93.70)  # 06-09, first post-split session
