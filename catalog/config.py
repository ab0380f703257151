"""Typed config of the ingest: which files feed which bar types, and which instruments exist.

The TOML file is read into frozen msgspec Structs that reject unknown fields. Every error raised
while loading names the config file, the field (as a path such as ``sources[2].bar_spec``) and the
offending value, so a user bringing their own history only ever edits TOML.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import msgspec

from catalog.errors import CatalogConfigError
from catalog.funding import FundingSpec, check_funding_specs
from catalog.identifiers import currency_problem, instrument_id_problem
from catalog.tomlconfig import describe_validation_error, read_toml

InstrumentKind = Literal["crypto_perpetual", "crypto_spot", "currency_pair", "equity"]

TIMESTAMP_KEYWORDS = ("iso", "native", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns")

# Checked with a regex before nautilus sees it: nautilus' parser aborts the process on a bad enum.
_BAR_SPEC = re.compile(r"^([1-9][0-9]*)-(SECOND|MINUTE|HOUR|DAY|WEEK)-(BID|ASK|MID|LAST)$")
_AGGREGATION_NS = MappingProxyType(
    {
        "SECOND": 1_000_000_000,
        "MINUTE": 60_000_000_000,
        "HOUR": 3_600_000_000_000,
        "DAY": 86_400_000_000_000,
        "WEEK": 604_800_000_000_000,
    }
)
_POLARS_UNIT = MappingProxyType({"SECOND": "s", "MINUTE": "m", "HOUR": "h", "DAY": "d", "WEEK": "w"})
_DEFAULT_VENUE = MappingProxyType(
    {
        "crypto_perpetual": "BYBIT",
        "crypto_spot": "BYBIT",
        "currency_pair": "IDEALPRO",
        "equity": "ARCA",
    }
)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class CatalogSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the catalog and the validation reports go, and the default thresholds.

    Parameters
    ----------
    path : str
        Directory of the nautilus ``ParquetDataCatalog`` (relative paths resolve against the
        current working directory).
    quarantine_dir : str, optional
        Directory of the quarantine and gap reports; default ``<path>/../quarantine``.
    max_bad_fraction : float
        Default share of rows a source may lose to validation before the run fails.
    gap_report_bars : int
        Default gap threshold: holes longer than this many bar intervals are reported.
    """

    path: str = "var/catalog"
    quarantine_dir: str | None = None
    max_bad_fraction: float = 0.01
    gap_report_bars: int = 1


class ColumnMap(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Map our bar fields to a file's column names, or to 0-based positions.

    ``volume`` is optional: a file without volume yields bars with volume 0.
    """

    timestamp: str | int
    open: str | int
    high: str | int
    low: str | int
    close: str | int
    volume: str | int | None = None


class SourceSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One file feeding one bar type.

    Parameters
    ----------
    name : str
        Unique source name, used for the quarantine and gap report file names.
    path : str
        CSV, gzipped CSV or Parquet file (relative paths resolve against the working directory).
    instrument : str
        Instrument id, defined in ``[[instruments]]`` (e.g. ``"BTCUSDT-LINEAR.BYBIT"``).
    bar_spec : str
        Nautilus bar specification ``<step>-<SECOND|MINUTE|HOUR|DAY|WEEK>-<price type>``.
    columns : ColumnMap
        Column names (or 0-based positions) of timestamp, open, high, low, close, volume.
    file_format : {"auto", "csv", "parquet"}
        ``auto`` picks Parquet for ``.parquet``/``.pq`` and CSV for everything else.
    has_header : bool
        Whether the CSV's first line holds column names.
    timestamp_format : str
        ``iso``, ``native`` (a Parquet datetime column), ``epoch_s|ms|us|ns`` or a strptime
        pattern such as ``"%Y%m%d %H:%M"``.
    timezone : str
        IANA zone of naive timestamps (e.g. ``"UTC"``, ``"America/New_York"``).
    timestamp_is : {"open", "close"}
        Which end of the bar the file stamps; ``open`` stamps are shifted by one interval so
        ``ts_event`` is the bar close (no lookahead).
    price_divisor : float
        Stored prices are divided by this (LEAN equity files store price x 10000).
    start, end : datetime, optional
        Keep rows with ``start <= file timestamp < end``; naive values are read in ``timezone``.
    max_bad_fraction, gap_report_bars : optional
        Per-source overrides of the ``[catalog]`` defaults.
    """

    name: str
    path: str
    instrument: str
    bar_spec: str
    columns: ColumnMap
    file_format: Literal["auto", "csv", "parquet"] = "auto"
    has_header: bool = True
    timestamp_format: str = "iso"
    timezone: str = "UTC"
    timestamp_is: Literal["open", "close"] = "open"
    price_divisor: float = 1.0
    start: datetime | None = None
    end: datetime | None = None
    max_bad_fraction: float | None = None
    gap_report_bars: int | None = None

    @property
    def bar_type(self) -> str:
        """Return the nautilus bar type string of this source (always ``EXTERNAL``)."""
        return f"{self.instrument}-{self.bar_spec}-EXTERNAL"

    @property
    def interval_ns(self) -> int:
        """Return the bar interval in nanoseconds."""
        step, aggregation = _split_bar_spec(self.bar_spec)
        return step * _AGGREGATION_NS[aggregation]

    @property
    def interval_offset(self) -> str:
        """Return the bar interval as a polars duration string (calendar-aware for days)."""
        step, aggregation = _split_bar_spec(self.bar_spec)
        return f"{step}{_POLARS_UNIT[aggregation]}"


class InstrumentSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One instrument definition; payload values are read first, inline values override them.

    Parameters
    ----------
    kind : {"crypto_perpetual", "crypto_spot", "currency_pair", "equity"}
        Nautilus class built: ``CryptoPerpetual``, ``CurrencyPair``, ``CurrencyPair``, ``Equity``.
    symbol : str
        Venue symbol: ``BTCUSDT``, ``EUR/USD``, ``SPY``.
    venue : str, optional
        Defaults: ``BYBIT`` (crypto), ``IDEALPRO`` (currency_pair), ``ARCA`` (equity).
    instrument_id : str, optional
        Override of the derived id (``BTCUSDT-LINEAR.BYBIT`` and ``BTCUSDT-SPOT.BYBIT`` as nautilus'
        Bybit adapter names them, ``EUR/USD.IDEALPRO``, ``SPY.ARCA``).
    bybit_instruments_info, bybit_fee_rate : str, optional
        Recorded Bybit V5 ``instruments-info`` and ``fee-rate`` payloads (JSON files).
    """

    kind: InstrumentKind
    symbol: str
    venue: str | None = None
    instrument_id: str | None = None
    bybit_instruments_info: str | None = None
    bybit_fee_rate: str | None = None
    base_currency: str | None = None
    quote_currency: str | None = None
    settlement_currency: str | None = None
    tick_size: Decimal | None = None
    qty_step: Decimal | None = None
    min_qty: Decimal | None = None
    max_qty: Decimal | None = None
    min_notional: Decimal | None = None
    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None
    lot_size: Decimal | None = None
    margin_init: Decimal = Decimal("0.10")
    margin_maint: Decimal = Decimal("0.05")

    @property
    def id(self) -> str:
        """Return the nautilus instrument id string."""
        if self.instrument_id is not None:
            return self.instrument_id
        venue = self.venue or _DEFAULT_VENUE[self.kind]
        suffix = {"crypto_perpetual": "-LINEAR", "crypto_spot": "-SPOT"}.get(self.kind, "")
        return f"{self.symbol}{suffix}.{venue}"


class CatalogConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The whole ingest config: catalog location, instruments and sources."""

    instruments: tuple[InstrumentSpec, ...]
    sources: tuple[SourceSpec, ...]
    catalog: CatalogSection = CatalogSection()
    funding: tuple[FundingSpec, ...] = ()

    def with_catalog_path(self, path: str | Path) -> CatalogConfig:
        """Return a copy writing to another catalog directory.

        The quarantine directory follows it unless ``quarantine_dir`` is set explicitly.
        """
        section = msgspec.structs.replace(self.catalog, path=str(path))
        return msgspec.structs.replace(self, catalog=section)

    def catalog_path(self) -> Path:
        """Return the catalog directory."""
        return Path(self.catalog.path)

    def quarantine_path(self) -> Path:
        """Return the directory of the quarantine and gap reports."""
        if self.catalog.quarantine_dir:
            return Path(self.catalog.quarantine_dir)
        return Path(self.catalog.path).parent / "quarantine"

    def instrument(self, instrument_id: str) -> InstrumentSpec:
        """Return the instrument spec with the given id."""
        for spec in self.instruments:
            if spec.id == instrument_id:
                return spec
        raise KeyError(instrument_id)


def load_catalog_config(path: str | Path) -> CatalogConfig:
    """Read and check a catalog TOML file.

    Parameters
    ----------
    path : str or Path
        The TOML file.

    Returns
    -------
    CatalogConfig

    Raises
    ------
    CatalogConfigError
        If the file is missing, is not TOML, or any field has a wrong type or value; the message
        names the file, the field and the value.
    """
    return parse_catalog_config(read_toml(path, CatalogConfigError), origin=str(path))


def parse_catalog_config(raw: dict[str, Any], origin: str = "<config>") -> CatalogConfig:
    """Convert an already-parsed TOML mapping into a checked `CatalogConfig`.

    Parameters
    ----------
    raw : dict
        The mapping ``tomllib`` returns.
    origin : str
        File name used in error messages.

    Returns
    -------
    CatalogConfig
    """
    try:
        config = msgspec.convert(raw, CatalogConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise CatalogConfigError(describe_validation_error(origin, raw, exc, schema=CatalogConfig)) from exc
    _check_semantics(config, origin)
    return config


def _fail(origin: str, field: str, value: object, reason: str) -> CatalogConfigError:
    return CatalogConfigError(f"{origin}: {field} = {value!r}: {reason}")


def _check_semantics(config: CatalogConfig, origin: str) -> None:
    section = config.catalog
    if not 0.0 <= section.max_bad_fraction <= 1.0:
        raise _fail(origin, "catalog.max_bad_fraction", section.max_bad_fraction, "must be in [0, 1]")
    if section.gap_report_bars < 1:
        raise _fail(origin, "catalog.gap_report_bars", section.gap_report_bars, "must be >= 1")

    ids: set[str] = set()
    for i, inst in enumerate(config.instruments):
        where = f"instruments[{i}]"
        if inst.id in ids:
            raise _fail(origin, f"{where}.symbol", inst.symbol, f"instrument {inst.id} is defined twice")
        ids.add(inst.id)
        if inst.kind == "currency_pair" and "/" not in inst.symbol:
            raise _fail(origin, f"{where}.symbol", inst.symbol, "a currency_pair symbol looks like 'EUR/USD'")
        for name in ("tick_size", "qty_step", "lot_size", "min_qty", "max_qty", "min_notional"):
            value = getattr(inst, name)
            if value is not None and value <= 0:
                raise _fail(origin, f"{where}.{name}", str(value), "must be positive")
        for name in ("maker_fee", "taker_fee"):
            value = getattr(inst, name)
            if value is not None and not Decimal(-1) < value < Decimal(1):
                raise _fail(origin, f"{where}.{name}", str(value), "must be a rate in (-1, 1)")
        for name in ("margin_init", "margin_maint"):
            value = getattr(inst, name)
            if not Decimal(0) <= value <= Decimal(1):
                raise _fail(origin, f"{where}.{name}", str(value), "must be a margin rate in [0, 1]")
        if inst.margin_maint > inst.margin_init:
            raise _fail(
                origin,
                f"{where}.margin_maint",
                str(inst.margin_maint),
                f"must not exceed margin_init ({inst.margin_init})",
            )
        if inst.min_qty is not None and inst.max_qty is not None and inst.min_qty > inst.max_qty:
            raise _fail(
                origin, f"{where}.max_qty", str(inst.max_qty), f"must not be below min_qty ({inst.min_qty})"
            )
        for name in ("base_currency", "quote_currency", "settlement_currency"):
            value = getattr(inst, name)
            if value is not None and (problem := currency_problem(value)) is not None:
                raise _fail(origin, f"{where}.{name}", value, problem)
        if (problem := instrument_id_problem(inst.id)) is not None:
            raise _fail(
                origin,
                f"{where}.instrument_id" if inst.instrument_id else f"{where}.symbol",
                inst.id,
                problem,
            )

    names: set[str] = set()
    bar_types: set[str] = set()
    for i, src in enumerate(config.sources):
        where = f"sources[{i}]"
        if not _SAFE_NAME.match(src.name):
            raise _fail(origin, f"{where}.name", src.name, "use only letters, digits, '_', '.', '-'")
        if src.name in names:
            raise _fail(origin, f"{where}.name", src.name, "source names must be unique")
        names.add(src.name)
        if src.instrument not in ids:
            raise _fail(
                origin, f"{where}.instrument", src.instrument, f"not defined in [[instruments]] {sorted(ids)}"
            )
        _check_bar_spec(origin, f"{where}.bar_spec", src.bar_spec)
        if src.bar_type in bar_types:
            raise _fail(origin, f"{where}.bar_spec", src.bar_spec, f"bar type {src.bar_type} has two sources")
        bar_types.add(src.bar_type)
        fmt = src.timestamp_format
        if fmt not in TIMESTAMP_KEYWORDS and "%" not in fmt:
            raise _fail(
                origin,
                f"{where}.timestamp_format",
                fmt,
                f"use one of {TIMESTAMP_KEYWORDS} or a strptime pattern",
            )
        try:
            zoneinfo.ZoneInfo(src.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise _fail(origin, f"{where}.timezone", src.timezone, "not an IANA time zone") from exc
        if src.price_divisor <= 0:
            raise _fail(origin, f"{where}.price_divisor", src.price_divisor, "must be positive")
        if src.max_bad_fraction is not None and not 0.0 <= src.max_bad_fraction <= 1.0:
            raise _fail(origin, f"{where}.max_bad_fraction", src.max_bad_fraction, "must be in [0, 1]")
        if src.gap_report_bars is not None and src.gap_report_bars < 1:
            raise _fail(origin, f"{where}.gap_report_bars", src.gap_report_bars, "must be >= 1")
        if src.start and src.end and src.start >= src.end:
            raise _fail(origin, f"{where}.end", src.end.isoformat(), "must be after start")
        for column in ("timestamp", "open", "high", "low", "close", "volume"):
            value = getattr(src.columns, column)
            if isinstance(value, int) and value < 0:
                raise _fail(origin, f"{where}.columns.{column}", value, "positions are 0-based, >= 0")
            if isinstance(value, str) and not src.has_header:
                raise _fail(
                    origin,
                    f"{where}.columns.{column}",
                    value,
                    "has_header = false needs 0-based column positions",
                )
    perpetuals = [inst.id for inst in config.instruments if inst.kind == "crypto_perpetual"]
    check_funding_specs(config.funding, perpetuals, origin)


def _split_bar_spec(value: str) -> tuple[int, str]:
    match = _BAR_SPEC.match(value)
    if match is None:
        raise ValueError(value)
    return int(match.group(1)), match.group(2)


def _check_bar_spec(origin: str, field: str, value: str) -> None:
    if _BAR_SPEC.match(value) is None:
        raise _fail(
            origin,
            field,
            value,
            "not a bar spec '<step>-<SECOND|MINUTE|HOUR|DAY|WEEK>-<BID|ASK|MID|LAST>', e.g. '1-MINUTE-LAST'",
        )
