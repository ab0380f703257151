"""Load equity option data for a run: contracts, their bars and the chain snapshots (greeks).

The engine streams an option chain as three things the catalog holds (:mod:`catalog.options`):
``OptionContract`` instruments, daily bars per contract (``MID`` from the chains, ``BID``/``ASK``
where quotes exist) and nautilus ``GreeksData``, one per contract and session. The greeks reach a
strategy as custom data from the client :data:`CHAIN_CLIENT_ID`; strategies never read the catalog.

Expiry: nautilus' ``OrderMatchingEngine`` closes every open position of an expiring instrument at
market when the first data at or after ``expiration_ns`` arrives (tag ``EXPIRATION_<venue>_CLOSE``);
this is the settlement path a backtest uses, so the fill reaches the risk desk like any other.
:func:`expiry_value` is the contract's intrinsic value, the value that fill is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

from nautilus_trader.model.data import Bar, BarType, CustomData, DataType
from nautilus_trader.model.greeks_data import GreeksData
from nautilus_trader.model.identifiers import ClientId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from catalog.options import chain_greeks, option_contracts

CHAIN_CLIENT_ID = ClientId("OPTION_CHAINS")


@dataclass
class OptionData:
    """Hold the option contracts of a run, their bars and bar types, and the chain snapshots."""

    instruments: list[Instrument]
    bars: list[Bar]
    bar_types: list[str]
    greeks: list[GreeksData]


def load_option_data(
    catalog: ParquetDataCatalog, roots: list[str], start: str | None, end: str | None
) -> OptionData:
    """Read every contract of the given underlyings with its bars and greeks from the catalog."""
    instruments: list[Instrument] = []
    bars: list[Bar] = []
    bar_types: list[str] = []
    greeks: list[GreeksData] = []
    for root in roots:
        contracts = {str(c.id): c for c in option_contracts(catalog, root)}
        greeks.extend(chain_greeks(catalog, contracts, start, end))
        wanted = [str(mid_bar_type(identifier)) for identifier in contracts]
        series = catalog.bars(bar_types=wanted, start=start, end=end) if wanted else []
        present = sorted({str(bar.bar_type) for bar in series})
        bars.extend(series)
        bar_types.extend(present)
        instruments.extend(contracts[t.split("-", 1)[0]] for t in present)
    return OptionData(instruments, bars, bar_types, greeks)


def expiry_value(is_call: bool, strike: float, underlying: float) -> float:
    """Return the intrinsic value of a contract at expiry: exercised if in the money, else 0."""
    return max(0.0, underlying - strike) if is_call else max(0.0, strike - underlying)


def mid_bar_type(instrument_id: str) -> BarType:
    """Return the daily MID bar type of a contract (the series option fills trade against)."""
    return BarType.from_str(f"{instrument_id}-1-DAY-MID-EXTERNAL")


def wrap_greeks(greeks: list[GreeksData]) -> list[CustomData]:
    """Wrap chain snapshots as nautilus ``CustomData`` so the data engine routes them to subscribers."""
    data_type = DataType(GreeksData)
    return [CustomData(data_type, item) for item in greeks]
