"""Ingest equity option chains (with greeks) and their underlying into a nautilus ParquetDataCatalog.

Run ``python -m catalog.options --config configs/catalog/options.toml``. It writes, per chain:

- one nautilus ``OptionContract`` per listed contract (``AAPL140621C00630000.SMART``: OCC-style
  symbol of root, expiry, right and the contract's own listed strike), and the underlying ``Equity``;
- daily ``MID`` bars per contract from the chain's open/high/low/close (the only multi-day option
  price the data set has; see ``docs/options.md``), stamped at the next local midnight after the
  session, like every daily bar in this catalog;
- daily ``BID`` and ``ASK`` bars from the quote file for the sessions it covers;
- the chain snapshot as nautilus ``GreeksData`` (one per contract and day: strike, expiry, days to
  expiry, implied vol, delta, gamma, vega, theta per day, chain price, underlying price), stamped
  1 ns before the day's bars, so the whole snapshot is in when the session's bars arrive;
- daily ``LAST`` bars of the underlying, split-adjusted when configured.

The last line on stdout is one JSON object: catalog, instruments, bars, greeks, skipped rows.
Exit codes: 0 success, 2 config or source error.
"""

from __future__ import annotations

import argparse
import gzip
import io
import shutil
import sys
import zoneinfo
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import polars as pl
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AssetClass, OptionKind
from nautilus_trader.model.greeks_data import GreeksData
from nautilus_trader.model.identifiers import InstrumentId, Symbol
from nautilus_trader.model.instruments import Equity, Instrument, OptionContract
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.persistence.funcs import class_to_filename, urisafe_identifier

from catalog.errors import CatalogConfigError, CatalogError, SourceError
from catalog.tomlconfig import describe_validation_error, read_toml

BAR_SPEC_MID = "1-DAY-MID"
GREEKS_LEAD_NS = 1  # chains are stamped this long before the session's bars (both after the close)


class OptionsCatalogSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Name the catalog directory (relative paths resolve against the working directory)."""

    path: str = "var/catalog"


class OptionChainSource(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Describe one underlying's option chains, quotes and daily bars.

    Parameters
    ----------
    root : str
        Underlying symbol and OCC root, e.g. ``AAPL``.
    venue : str
        Venue of the contracts and the underlying (``SMART``, IB's smart router).
    chains : str
        CSV (gzip allowed): ``date,expiry,strike,right,open,high,low,close,volume,open_interest,
        implied_volatility,delta,gamma,vega,theta,rho``; rows with an empty expiry are the
        underlying of that date.
    quotes : str, optional
        CSV: ``right,strike_x10000,expiry,time,bid_open..bid_size,ask_open..ask_size``, prices x
        ``quote_price_divisor``.
    underlying : str
        LEAN daily CSV without header ``yyyyMMdd HH:mm,open,high,low,close,volume``.
    underlying_price_divisor, quote_price_divisor : float
        Stored prices are divided by these (LEAN stores price x 10000).
    timezone : str
        Zone of the session dates (bars are stamped at the next local midnight).
    split_date : date, optional
        First session after a split of the underlying.
    split_ratio : float
        New shares per old share (AAPL 2014: 7).
    adjust_underlying : bool
        Divide underlying prices before ``split_date`` by ``split_ratio`` (and multiply volume), so
        the signal series is continuous. Contracts and the chains' underlying column are never
        adjusted: a contract keeps its listed strike.
    multiplier : int
        Shares per contract.
    tick_size : Decimal
        Option and underlying price increment.
    max_dte : int
        Keep contracts with at most this many days to expiry on the chain date.
    """

    root: str
    chains: str
    underlying: str
    venue: str = "SMART"
    quotes: str | None = None
    underlying_price_divisor: float = 10000.0
    quote_price_divisor: float = 10000.0
    timezone: str = "America/New_York"
    split_date: date | None = None
    split_ratio: float = 1.0
    adjust_underlying: bool = True
    multiplier: int = 100
    tick_size: Decimal = Decimal("0.01")
    max_dte: int = 45
    underlying_start: date | None = None
    underlying_end: date | None = None


class OptionsCatalogConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Hold the catalog location and every underlying's option sources."""

    chains: tuple[OptionChainSource, ...]
    catalog: OptionsCatalogSection = OptionsCatalogSection()

    def with_catalog_path(self, path: str | Path) -> OptionsCatalogConfig:
        """Return a copy writing to another catalog directory."""
        return msgspec.structs.replace(self, catalog=OptionsCatalogSection(path=str(path)))


class OptionsIngestReport(msgspec.Struct, frozen=True):
    """Summarise one options ingest: instruments, bars per kind, greeks rows and skipped rows."""

    catalog: str
    instruments: int
    bars: dict[str, int]
    greeks: int
    skipped: dict[str, int]


def load_options_config(path: str | Path) -> OptionsCatalogConfig:
    """Read and check an options catalog TOML file.

    Raises
    ------
    CatalogConfigError
        If the file is missing or a field has a wrong type or value (file, field and value named).
    """
    raw = read_toml(path, CatalogConfigError)
    return parse_options_config(raw, origin=str(path))


def parse_options_config(raw: dict[str, Any], origin: str = "<config>") -> OptionsCatalogConfig:
    """Convert a parsed TOML mapping into a checked :class:`OptionsCatalogConfig`."""
    try:
        config = msgspec.convert(raw, OptionsCatalogConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise CatalogConfigError(
            describe_validation_error(origin, raw, exc, schema=OptionsCatalogConfig)
        ) from exc
    for index, source in enumerate(config.chains):
        where = f"chains[{index}]"
        if source.split_ratio <= 0:
            raise CatalogConfigError(f"{origin}: {where}.split_ratio = {source.split_ratio!r}: must be > 0")
        if source.multiplier <= 0:
            raise CatalogConfigError(f"{origin}: {where}.multiplier = {source.multiplier!r}: must be > 0")
        if source.tick_size <= 0:
            raise CatalogConfigError(f"{origin}: {where}.tick_size = {source.tick_size}: must be > 0")
        try:
            zoneinfo.ZoneInfo(source.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise CatalogConfigError(
                f"{origin}: {where}.timezone = {source.timezone!r}: not an IANA time zone"
            ) from exc
    return config


# -- naming and time ------------------------------------------------------------------------------


def occ_symbol(root: str, expiry: date, is_call: bool, strike: Decimal) -> str:
    """Return the OCC-style symbol ``<root><yymmdd><C|P><strike x 1000, 8 digits>``."""
    return f"{root}{expiry:%y%m%d}{'C' if is_call else 'P'}{int(strike * 1000):08d}"


def last_trading_day(expiry: date) -> date:
    """Return the session an option expiring on ``expiry`` last trades (Saturday dates -> Friday)."""
    while expiry.weekday() >= 5:
        expiry -= timedelta(days=1)
    return expiry


def session_stamp_ns(session: date, zone: str) -> int:
    """Return the bar stamp of a daily session: the next local midnight (after the close, never before)."""
    moment = datetime.combine(session + timedelta(days=1), time(0), tzinfo=zoneinfo.ZoneInfo(zone))
    return int(moment.timestamp()) * 1_000_000_000


def expiration_ns(expiry: date, zone: str) -> int:
    """Return a contract's expiration: the stamp of its last trading session's bar."""
    return session_stamp_ns(last_trading_day(expiry), zone)


def _date(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


# -- reading --------------------------------------------------------------------------------------


def _read_text(path: str) -> str:
    file = Path(path)
    if not file.is_file():
        raise SourceError(f"{file}: option source file not found")
    raw = file.read_bytes()
    return (gzip.decompress(raw) if file.suffix == ".gz" else raw).decode()


def read_chains(path: str) -> pl.DataFrame:
    """Read a chain CSV (the sample's layout) with string dates and float values.

    Returns
    -------
    polars.DataFrame
        Columns ``date`` (str yyyymmdd), ``expiry`` (str, empty for the underlying row), ``strike``
        (str as listed), ``right`` and the float columns of the file.
    """
    frame = pl.read_csv(
        io.StringIO(_read_text(path)),
        schema_overrides={"date": pl.Utf8, "expiry": pl.Utf8, "strike": pl.Utf8, "right": pl.Utf8},
    )
    floats = [c for c in frame.columns if c not in ("date", "expiry", "strike", "right")]
    return frame.with_columns([pl.col(c).cast(pl.Float64) for c in floats]).with_columns(
        pl.col("expiry").fill_null(""), pl.col("strike").fill_null(""), pl.col("right").fill_null("")
    )


def chain_on(chains: pl.DataFrame, session: str) -> pl.DataFrame:
    """Return the contract rows (not the underlying row) of one chain date."""
    return chains.filter((pl.col("date") == session) & (pl.col("expiry") != ""))


# -- building -------------------------------------------------------------------------------------


def underlying_id(source: OptionChainSource) -> InstrumentId:
    """Return the underlying's instrument id (``AAPL.SMART``)."""
    return InstrumentId.from_str(f"{source.root}.{source.venue}")


def build_underlying(source: OptionChainSource) -> Equity:
    """Build the underlying ``Equity`` instrument."""
    increment = Price.from_str(str(source.tick_size))
    return Equity(
        instrument_id=underlying_id(source),
        raw_symbol=Symbol(source.root),
        currency=USD,
        price_precision=increment.precision,
        price_increment=increment,
        lot_size=Quantity.from_int(1),
        ts_event=0,
        ts_init=0,
        info={"source": source.underlying},
    )


def build_contract(source: OptionChainSource, expiry: str, strike: str, right: str) -> OptionContract:
    """Build the ``OptionContract`` of one chain row (its own listed strike, never adjusted)."""
    expiry_date = _date(expiry)
    strike_value = Decimal(strike)
    is_call = right == "C"
    symbol = occ_symbol(source.root, expiry_date, is_call, strike_value)
    increment = Price.from_str(str(source.tick_size))
    return OptionContract(
        instrument_id=InstrumentId.from_str(f"{symbol}.{source.venue}"),
        raw_symbol=Symbol(symbol),
        asset_class=AssetClass.EQUITY,
        currency=USD,
        price_precision=increment.precision,
        price_increment=increment,
        multiplier=Quantity.from_int(source.multiplier),
        lot_size=Quantity.from_int(1),
        underlying=source.root,
        option_kind=OptionKind.CALL if is_call else OptionKind.PUT,
        strike_price=Price(float(strike_value), max(increment.precision, 2)),
        activation_ns=0,
        expiration_ns=expiration_ns(expiry_date, source.timezone),
        ts_event=0,
        ts_init=0,
        info={"source": source.chains, "listed_expiry": expiry},
    )


def _bars(bar_type: str, precision: int, rows: pl.DataFrame, columns: tuple[str, ...]) -> list[Bar]:
    ts = np.array(rows.get_column("ts").to_numpy(), dtype=np.uint64)
    values = [np.array(rows.get_column(c).to_numpy(), dtype=np.float64) for c in columns]
    return Bar.from_raw_arrays_to_list(BarType.from_str(bar_type), precision, 0, *values, ts, ts.copy())


def _valid_ohlc(prefix: str = "") -> pl.Expr:
    o, h, low, c = (pl.col(f"{prefix}{name}") for name in ("open", "high", "low", "close"))
    return (
        (low > 0)
        & (h >= low)
        & (h >= o)
        & (h >= c)
        & (low <= o)
        & (low <= c)
        & o.is_not_nan()
        & h.is_not_nan()
        & low.is_not_nan()
        & c.is_not_nan()
    )


def build_source(
    source: OptionChainSource,
) -> tuple[list[Instrument], list[Bar], list[GreeksData], dict[str, int]]:
    """Read one underlying's files and return instruments, bars, greeks and skipped-row counts."""
    zone = source.timezone
    chains = read_chains(source.chains)
    stamps = {d: session_stamp_ns(_date(d), zone) for d in chains.get_column("date").unique().to_list()}
    chains = chains.with_columns(pl.col("date").replace_strict(stamps, return_dtype=pl.Int64).alias("ts"))
    rows = chains.filter(pl.col("expiry") != "").with_columns(
        (
            (pl.col("expiry").str.to_date("%Y%m%d") - pl.col("date").str.to_date("%Y%m%d")).dt.total_days()
        ).alias("dte")
    )
    rows = rows.filter(pl.col("dte").is_between(0, source.max_dte))
    spot = chains.filter(pl.col("expiry") == "").select("date", pl.col("close").alias("underlying_close"))
    rows = rows.join(spot, on="date", how="left").sort("ts", "expiry", "right", "strike")

    contracts: dict[tuple[str, str, str], OptionContract] = {}
    for expiry, strike, right in (
        rows.select("expiry", "strike", "right").unique(maintain_order=True).iter_rows()
    ):
        contracts[(expiry, strike, right)] = build_contract(source, expiry, strike, right)
    rows = rows.with_columns(
        pl.struct("expiry", "strike", "right")
        .map_elements(
            lambda r: str(contracts[(r["expiry"], r["strike"], r["right"])].id), return_dtype=pl.Utf8
        )
        .alias("instrument_id")
    )
    skipped: dict[str, int] = {}
    bars: list[Bar] = []
    good = rows.filter(_valid_ohlc())
    skipped["chain_bars_invalid_ohlc"] = rows.height - good.height
    precision = Price.from_str(str(source.tick_size)).precision
    for (instrument_id,), group in good.group_by("instrument_id", maintain_order=True):
        bars.extend(
            _bars(
                f"{instrument_id}-{BAR_SPEC_MID}-EXTERNAL",
                precision,
                group.sort("ts").with_columns(pl.col("volume").fill_null(0.0)),
                ("open", "high", "low", "close", "volume"),
            )
        )
    greeks = [
        GreeksData(
            ts_event=int(r["ts"]) - GREEKS_LEAD_NS,
            ts_init=int(r["ts"]) - GREEKS_LEAD_NS,
            instrument_id=InstrumentId.from_str(r["instrument_id"]),
            is_call=r["right"] == "C",
            strike=float(r["strike"]),
            expiry=int(r["expiry"]),
            expiry_in_days=int(r["dte"]),
            expiry_in_years=int(r["dte"]) / 365.0,
            multiplier=float(source.multiplier),
            quantity=1.0,
            underlying_price=float(r["underlying_close"] or 0.0),
            vol=float(r["implied_volatility"] or 0.0),
            price=float(r["close"] or 0.0),
            delta=float(r["delta"] or 0.0),
            gamma=float(r["gamma"] or 0.0),
            vega=float(r["vega"] or 0.0),
            theta=float(r["theta"] or 0.0),
        )
        for r in rows.iter_rows(named=True)
    ]
    if source.quotes:
        bars.extend(_quote_bars(source, contracts, precision, skipped))
    underlying = build_underlying(source)
    bars.extend(_underlying_bars(source, precision, skipped))
    return [underlying, *contracts.values()], bars, greeks, skipped


def _quote_bars(
    source: OptionChainSource,
    contracts: dict[tuple[str, str, str], OptionContract],
    precision: int,
    skipped: dict[str, int],
) -> list[Bar]:
    assert source.quotes is not None
    frame = pl.read_csv(
        io.StringIO(_read_text(source.quotes)),
        schema_overrides={"right": pl.Utf8, "strike_x10000": pl.Int64, "expiry": pl.Utf8, "time": pl.Utf8},
    )
    by_key = {
        (expiry, round(Decimal(strike) * 10000), "call" if right == "C" else "put"): contract
        for (expiry, strike, right), contract in contracts.items()
    }
    ids = [
        str(c.id) if (c := by_key.get((e, s, r))) is not None else ""
        for e, s, r in frame.select("expiry", "strike_x10000", "right").iter_rows()
    ]
    divisor = source.quote_price_divisor
    frame = frame.with_columns(
        pl.Series("instrument_id", ids),
        pl.col("time")
        .str.slice(0, 8)
        .map_elements(lambda d: session_stamp_ns(_date(d), source.timezone), return_dtype=pl.Int64)
        .alias("ts"),
        *[
            (pl.col(f"{side}_{f}") / divisor).alias(f"{side}_{f}")
            for side in ("bid", "ask")
            for f in ("open", "high", "low", "close")
        ],
    ).filter(pl.col("instrument_id") != "")
    bars: list[Bar] = []
    for side in ("bid", "ask"):
        good = frame.filter(_valid_ohlc(f"{side}_"))
        skipped[f"quote_{side}_invalid_ohlc"] = frame.height - good.height
        for (instrument_id,), group in good.group_by("instrument_id", maintain_order=True):
            bars.extend(
                _bars(
                    f"{instrument_id}-1-DAY-{side.upper()}-EXTERNAL",
                    precision,
                    group.sort("ts").with_columns(pl.col(f"{side}_size").cast(pl.Float64)),
                    tuple(f"{side}_{f}" for f in ("open", "high", "low", "close", "size")),
                )
            )
    return bars


def read_underlying(source: OptionChainSource) -> pl.DataFrame:
    """Read the underlying's daily rows: ``session`` (date), ``ts`` and split-adjusted OHLCV."""
    frame = pl.read_csv(
        io.StringIO(_read_text(source.underlying)),
        has_header=False,
        new_columns=["time", "open", "high", "low", "close", "volume"],
        schema_overrides={"time": pl.Utf8},
    ).with_columns(pl.col("time").str.slice(0, 8).str.to_date("%Y%m%d").alias("session"))
    if source.underlying_start is not None:
        frame = frame.filter(pl.col("session") >= source.underlying_start)
    if source.underlying_end is not None:
        frame = frame.filter(pl.col("session") <= source.underlying_end)
    divisor = source.underlying_price_divisor
    factor = pl.lit(1.0)
    if source.adjust_underlying and source.split_date is not None:
        factor = pl.when(pl.col("session") < source.split_date).then(source.split_ratio).otherwise(1.0)
    prices = [(pl.col(c) / divisor / factor).alias(c) for c in ("open", "high", "low", "close")]
    return frame.with_columns(
        *prices,
        (pl.col("volume").cast(pl.Float64) * factor).alias("volume"),
        pl.col("session")
        .map_elements(lambda d: session_stamp_ns(d, source.timezone), return_dtype=pl.Int64)
        .alias("ts"),
    )


def _underlying_bars(source: OptionChainSource, precision: int, skipped: dict[str, int]) -> list[Bar]:
    frame = read_underlying(source)
    # Split-adjusted prices are rounded to the tick: the adjustment is arithmetic, not a new print.
    frame = frame.with_columns([pl.col(c).round(precision) for c in ("open", "high", "low", "close")])
    good = frame.filter(_valid_ohlc())
    skipped["underlying_invalid_ohlc"] = frame.height - good.height
    bar_type = f"{underlying_id(source)}-1-DAY-LAST-EXTERNAL"
    return _bars(bar_type, precision, good.sort("ts"), ("open", "high", "low", "close", "volume"))


# -- writing --------------------------------------------------------------------------------------


def ingest_options(config: OptionsCatalogConfig) -> OptionsIngestReport:
    """Build every configured chain and (re)write its instruments, bars and greeks into the catalog.

    Each written series replaces the one in the catalog, so a rerun gives the same catalog.
    """
    catalog_dir = Path(config.catalog.path).resolve()
    catalog_dir.mkdir(parents=True, exist_ok=True)
    catalog = ParquetDataCatalog(str(catalog_dir))
    counts: dict[str, int] = {}
    skipped_total: dict[str, int] = {}
    instruments_total = greeks_total = 0
    for source in config.chains:
        instruments, bars, greeks, skipped = build_source(source)
        for instrument in instruments:
            _remove(catalog_dir, type(instrument), instrument.id.value)
        catalog.write_data(instruments)
        by_type: dict[str, list[Bar]] = {}
        for bar in bars:
            by_type.setdefault(str(bar.bar_type), []).append(bar)
        for bar_type, items in by_type.items():
            _remove(catalog_dir, Bar, bar_type)
            catalog.write_data(items)
            kind = bar_type.split("-")[-2]
            counts[kind] = counts.get(kind, 0) + len(items)
        by_id: dict[str, list[GreeksData]] = {}
        for item in greeks:
            by_id.setdefault(str(item.instrument_id), []).append(item)
        for identifier, items in by_id.items():
            _remove(catalog_dir, GreeksData, identifier)
            catalog.write_data(items)
        instruments_total += len(instruments)
        greeks_total += len(greeks)
        for key, value in skipped.items():
            skipped_total[key] = skipped_total.get(key, 0) + value
    return OptionsIngestReport(str(catalog_dir), instruments_total, counts, greeks_total, skipped_total)


def _remove(catalog_dir: Path, data_cls: type, identifier: str) -> None:
    directory = catalog_dir / "data" / class_to_filename(data_cls) / urisafe_identifier(identifier)
    if directory.exists():
        shutil.rmtree(directory)


# -- reading back ---------------------------------------------------------------------------------


def option_contracts(catalog: ParquetDataCatalog, root: str) -> list[OptionContract]:
    """Return every ``OptionContract`` in the catalog whose underlying is ``root``, sorted by id."""
    found = [i for i in catalog.instruments(instrument_type=OptionContract) if i.underlying == root]
    return sorted(found, key=lambda i: str(i.id))


def chain_greeks(
    catalog: ParquetDataCatalog,
    instrument_ids: Iterable[str],
    start: str | None = None,
    end: str | None = None,
) -> list[GreeksData]:
    """Return the ``GreeksData`` of the given contracts, sorted by time then instrument id."""
    ids = sorted(instrument_ids)
    if not ids:
        return []
    items = [
        getattr(item, "data", item)
        for item in catalog.query(GreeksData, identifiers=ids, start=start, end=end)
    ]
    return sorted(items, key=lambda g: (g.ts_event, str(g.instrument_id)))


def main(argv: list[str] | None = None) -> int:
    """Run the options ingest CLI and print the JSON summary line; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m catalog.options", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="options TOML, e.g. configs/catalog/options.toml")
    parser.add_argument("--catalog", help="override [catalog].path")
    args = parser.parse_args(argv)
    try:
        config = load_options_config(args.config)
        if args.catalog:
            config = config.with_catalog_path(args.catalog)
        report = ingest_options(config)
    except CatalogError as exc:
        print(f"catalog.options: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(msgspec.json.encode(report).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
