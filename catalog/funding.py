"""Perpetual funding-rate series beside the catalog: recorded Bybit history or an explicit constant.

A ``[[funding]]`` entry of the catalog config names a perpetual and where its funding rates come
from: a recorded Bybit V5 ``GET /v5/market/funding/history`` payload (``bybit_funding_history``,
fields ``symbol``, ``fundingRate``, ``fundingRateTimestamp``) or a ``constant_rate`` the user states
explicitly (``0.0`` included) because no recorded series covers the period. The ingest writes one
Parquet file per instrument to ``<catalog>/funding/<instrument id>.parquet`` (columns ``ts_ns`` =
settlement time in UTC nanoseconds and ``rate`` = the rate settled then; key-value metadata
``source`` = ``recorded`` or ``constant``, ``constant_rate``, ``interval_hours``, ``origin``). A
constant series has no rows. :func:`load_funding` reads it back as a :class:`FundingSeries`, which
never presents a constant as recorded data: its ``source`` says which it is.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from catalog.bybit import read_bybit_list
from catalog.errors import CatalogConfigError, SourceError

NANOS_PER_MS = 1_000_000
NANOS_PER_HOUR = 3_600_000_000_000
FUNDING_DIR = "funding"


class FundingSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One instrument's funding source, as a ``[[funding]]`` entry of the catalog config.

    Parameters
    ----------
    instrument : str
        A perpetual defined in ``[[instruments]]`` (e.g. ``"BTCUSDT-LINEAR.BYBIT"``).
    bybit_funding_history : str, optional
        Recorded Bybit V5 funding-history payload (JSON); the rows of ``symbol`` are kept.
    symbol : str, optional
        Venue symbol to keep from the payload; default: the instrument id's symbol without ``-LINEAR``.
    constant_rate : float, optional
        An explicit constant rate per settlement (e.g. ``0.0001`` = 0.01%), for periods no recorded
        series covers. Exactly one of ``bybit_funding_history`` and ``constant_rate`` is required.
    interval_hours : int
        Hours between settlements (Bybit linear: 8, at 00:00, 08:00 and 16:00 UTC).
    note : str
        Why this source was chosen; copied into the series' metadata.
    """

    instrument: str
    bybit_funding_history: str | None = None
    symbol: str | None = None
    constant_rate: float | None = None
    interval_hours: int = 8
    note: str = ""

    @property
    def venue_symbol(self) -> str:
        """Return the payload symbol this entry keeps."""
        if self.symbol:
            return self.symbol
        return self.instrument.split(".")[0].removesuffix("-LINEAR")


@dataclass(frozen=True)
class FundingSeries:
    """An instrument's funding rates: recorded settlements or an explicit constant.

    Attributes
    ----------
    instrument_id : str
        The perpetual.
    source : {"recorded", "constant"}
        Where the rates come from.
    interval_hours : int
        Hours between settlements.
    constant_rate : float or None
        The rate of every settlement when ``source == "constant"``.
    ts_ns, rates : tuple
        Settlement times (UTC nanoseconds, ascending) and their rates (recorded series only).
    origin : str
        The payload file (recorded) or the config note (constant).
    """

    instrument_id: str
    source: str
    interval_hours: int = 8
    constant_rate: float | None = None
    ts_ns: tuple[int, ...] = ()
    rates: tuple[float, ...] = ()
    origin: str = ""

    @classmethod
    def constant(
        cls, instrument_id: str, rate: float, interval_hours: int = 8, origin: str = ""
    ) -> FundingSeries:
        """Return a constant series (state it explicitly: it is not recorded data)."""
        return cls(instrument_id, "constant", interval_hours, float(rate), origin=origin)

    @property
    def interval_ns(self) -> int:
        """Return the settlement interval in nanoseconds."""
        return self.interval_hours * NANOS_PER_HOUR

    def rate_at(self, ts_ns: int) -> float | None:
        """Return the rate settled at ``ts_ns`` (None when a recorded series has no such row)."""
        if self.source == "constant":
            return self.constant_rate
        index = bisect_right(self.ts_ns, ts_ns) - 1
        if index >= 0 and self.ts_ns[index] == ts_ns:
            return self.rates[index]
        return None

    def last_settled(self, ts_ns: int) -> float | None:
        """Return the latest rate settled at or before ``ts_ns`` (no lookahead), or None."""
        if self.source == "constant":
            return self.constant_rate
        index = bisect_right(self.ts_ns, ts_ns) - 1
        return self.rates[index] if index >= 0 else None

    def covers(self, start_ns: int, end_ns: int) -> bool:
        """Return True when the series has a rate for every settlement in ``[start_ns, end_ns]``."""
        if self.source == "constant":
            return True
        if not self.ts_ns:
            return False
        return self.ts_ns[0] <= start_ns and self.ts_ns[-1] + self.interval_ns > end_ns

    def describe(self) -> dict[str, object]:
        """Return the source description a run summary reports."""
        if self.source == "constant":
            return {"source": "constant", "rate": self.constant_rate, "note": self.origin}
        return {
            "source": "recorded",
            "file": self.origin,
            "first_ts": self.ts_ns[0] if self.ts_ns else None,
            "last_ts": self.ts_ns[-1] if self.ts_ns else None,
        }


def read_bybit_funding_history(path: str | Path, symbol: str) -> list[tuple[int, float]]:
    """Read ``symbol``'s rows of a Bybit V5 funding-history payload, oldest first.

    Parameters
    ----------
    path : str or Path
        The JSON payload (``{"retCode": 0, "result": {"list": [{"symbol", "fundingRate",
        "fundingRateTimestamp"}, ...]}}``; Bybit lists newest first).
    symbol : str
        The venue symbol to keep.

    Returns
    -------
    list of (int, float)
        (settlement time in UTC nanoseconds, rate), ascending.

    Raises
    ------
    SourceError
        If the file is missing, is not the payload format, holds a non-finite or unparseable rate or
        timestamp, a duplicate timestamp, or no row of ``symbol``.
    """
    file = Path(path)
    rows = read_bybit_list(file, SourceError)
    series: dict[int, float] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict) or row.get("symbol") != symbol:
            continue
        where = f"{file}: result.list[{index}]"
        try:
            ts_ns = int(row["fundingRateTimestamp"]) * NANOS_PER_MS
            rate = float(row["fundingRate"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"{where}: bad fundingRate / fundingRateTimestamp ({row!r}): {exc}") from exc
        if not math.isfinite(rate) or abs(rate) >= 1.0:
            raise SourceError(f"{where}.fundingRate = {row['fundingRate']!r}: not a rate in (-1, 1)")
        if ts_ns in series:
            raise SourceError(f"{where}.fundingRateTimestamp = {row['fundingRateTimestamp']!r}: duplicate")
        series[ts_ns] = rate
    if not series:
        raise SourceError(f"{file}: no funding rows for symbol {symbol!r}")
    return sorted(series.items())


def check_funding_specs(specs: Sequence[FundingSpec], perpetuals: Iterable[str], origin: str) -> None:
    """Reject ``[[funding]]`` entries that name no perpetual, both or neither source, or bad numbers.

    Raises
    ------
    CatalogConfigError
        Naming the file, the field and the value.
    """
    known = set(perpetuals)
    seen: set[str] = set()
    for index, spec in enumerate(specs):
        where = f"funding[{index}]"
        if spec.instrument not in known:
            raise CatalogConfigError(
                f"{origin}: {where}.instrument = {spec.instrument!r}: not a crypto_perpetual in "
                f"[[instruments]] {sorted(known)}"
            )
        if spec.instrument in seen:
            raise CatalogConfigError(
                f"{origin}: {where}.instrument = {spec.instrument!r}: funding defined twice"
            )
        seen.add(spec.instrument)
        if (spec.bybit_funding_history is None) == (spec.constant_rate is None):
            raise CatalogConfigError(
                f"{origin}: {where} = {spec.instrument!r}: give exactly one of bybit_funding_history "
                "(recorded) or constant_rate (explicit, e.g. 0.0 when no recorded series covers the period)"
            )
        if spec.constant_rate is not None and not (
            math.isfinite(spec.constant_rate) and abs(spec.constant_rate) < 0.01
        ):
            raise CatalogConfigError(
                f"{origin}: {where}.constant_rate = {spec.constant_rate!r}: must be a rate per settlement "
                "in (-0.01, 0.01)"
            )
        if not 1 <= spec.interval_hours <= 24:
            raise CatalogConfigError(
                f"{origin}: {where}.interval_hours = {spec.interval_hours!r}: must be in [1, 24]"
            )


def build_funding(spec: FundingSpec) -> FundingSeries:
    """Read one ``[[funding]]`` entry into a series (payloads are read and checked here).

    Raises
    ------
    SourceError
        If a recorded payload cannot be read (see :func:`read_bybit_funding_history`).
    """
    if spec.constant_rate is not None:
        return FundingSeries.constant(spec.instrument, spec.constant_rate, spec.interval_hours, spec.note)
    assert spec.bybit_funding_history is not None
    rows = read_bybit_funding_history(spec.bybit_funding_history, spec.venue_symbol)
    return FundingSeries(
        instrument_id=spec.instrument,
        source="recorded",
        interval_hours=spec.interval_hours,
        ts_ns=tuple(ts for ts, _ in rows),
        rates=tuple(rate for _, rate in rows),
        origin=spec.bybit_funding_history,
    )


def funding_path(catalog_dir: str | Path, instrument_id: str) -> Path:
    """Return where an instrument's funding series lives: ``<catalog>/funding/<id>.parquet``."""
    safe = instrument_id.replace("/", "_")
    return Path(catalog_dir) / FUNDING_DIR / f"{safe}.parquet"


def write_funding(catalog_dir: str | Path, series: FundingSeries) -> Path:
    """Write (replace) an instrument's funding series beside the catalog; return the file."""
    path = funding_path(catalog_dir, series.instrument_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "instrument_id": series.instrument_id,
        "source": series.source,
        "interval_hours": str(series.interval_hours),
        "constant_rate": "" if series.constant_rate is None else repr(series.constant_rate),
        "origin": series.origin,
        "origin_sha256": _sha256(series.origin) if series.source == "recorded" else "",
    }
    table = pa.table(
        {"ts_ns": pa.array(series.ts_ns, pa.int64()), "rate": pa.array(series.rates, pa.float64())}
    ).replace_schema_metadata(metadata)
    pq.write_table(table, path)
    return path


def load_funding(catalog_dir: str | Path, instrument_id: str) -> FundingSeries | None:
    """Read an instrument's funding series from beside the catalog (None when it has none)."""
    path = funding_path(catalog_dir, instrument_id)
    if not path.is_file():
        return None
    table = pq.read_table(path)
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    constant = meta.get("constant_rate", "")
    return FundingSeries(
        instrument_id=meta.get("instrument_id", instrument_id),
        source=meta.get("source", "recorded"),
        interval_hours=int(meta.get("interval_hours", "8")),
        constant_rate=float(constant) if constant else None,
        ts_ns=tuple(int(v) for v in table.column("ts_ns").to_pylist()),
        rates=tuple(float(v) for v in table.column("rate").to_pylist()),
        origin=meta.get("origin", ""),
    )


def _sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""
