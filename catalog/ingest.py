"""Ingest configured bar files into a nautilus ParquetDataCatalog.

Run ``python -m catalog.ingest --config configs/catalog/sample.toml``. Every source is read and
validated before anything is written; a source whose bad-row share exceeds its
``max_bad_fraction`` stops the run (exit 3) with nothing written. Otherwise each configured
instrument and bar type is replaced in the catalog (its directory is removed, then written), so a
rerun gives the same catalog. Quarantined rows go to ``<quarantine_dir>/<source>.csv`` and reported
gaps to ``<quarantine_dir>/<source>.gaps.csv`` (stale files of clean sources are removed). Volumes
finer than the instrument's size precision are rounded half to even and counted per source
(``rounded_volume``); prices are never rounded. The last line on stdout is one JSON object:
catalog, instruments, bars, quarantined, gaps, rounded_volume.

Exit codes: 0 success, 2 config or source error, 3 too many bad rows.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

import msgspec
import numpy as np
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.persistence.funcs import class_to_filename, urisafe_identifier

from catalog.config import CatalogConfig, SourceSpec, load_catalog_config
from catalog.errors import BadDataError, CatalogError
from catalog.funding import build_funding, write_funding
from catalog.instruments import build_instrument
from catalog.readers import read_source
from catalog.validate import ValidationResult, validate_bars

_LOG = logging.getLogger("catalog.ingest")
_MAX_MESSAGES = 10


class IngestReport(msgspec.Struct, frozen=True):
    """Summary of one ingest run.

    Attributes
    ----------
    catalog : str
        Absolute catalog directory.
    instruments : list of str
        Instrument ids written.
    bars : dict of str to int
        Bars written per bar type.
    quarantined : dict of str to int
        Quarantined rows per source name.
    gaps : dict of str to int
        Reported gaps per source name.
    off_tick : dict of str to int
        Kept rows per source with a price off the instrument's tick grid (within precision).
    rounded_volume : dict of str to int
        Kept rows per source whose volume was rounded (half to even) to the size precision.
    quarantine_dir : str
        Directory of the quarantine and gap reports.
    """

    catalog: str
    instruments: list[str]
    bars: dict[str, int]
    quarantined: dict[str, int]
    gaps: dict[str, int]
    off_tick: dict[str, int] = {}
    rounded_volume: dict[str, int] = {}
    quarantine_dir: str = ""
    funding: dict[str, str] = {}

    def to_json_line(self) -> str:
        """Return the one-line JSON summary the CLI prints."""
        summary = {
            "catalog": self.catalog,
            "instruments": self.instruments,
            "bars": self.bars,
            "quarantined": self.quarantined,
            "gaps": self.gaps,
            "rounded_volume": self.rounded_volume,
        }
        return msgspec.json.encode(summary).decode()


def ingest(config: CatalogConfig) -> IngestReport:
    """Validate every source, then write instruments and bars into the catalog.

    Parameters
    ----------
    config : CatalogConfig
        The loaded config.

    Returns
    -------
    IngestReport

    Raises
    ------
    CatalogConfigError
        If an instrument cannot be built.
    SourceError
        If a source file or column is missing.
    BadDataError
        If a source's bad-row share exceeds its ``max_bad_fraction``; nothing is written.
    """
    instruments = {spec.id: build_instrument(spec) for spec in config.instruments}
    results = [_validate_source(config, source, instruments[source.instrument]) for source in config.sources]
    _raise_if_too_bad(config, results)
    funding = [build_funding(spec) for spec in config.funding]  # read and checked before any write

    bars = {
        source.bar_type: _to_bars(source, result, instruments[source.instrument])
        for source, result in zip(config.sources, results, strict=True)
    }
    catalog_dir = config.catalog_path().resolve()
    quarantine_dir = config.quarantine_path().resolve()
    _write_catalog(catalog_dir, list(instruments.values()), bars)
    for result in results:
        _write_reports(quarantine_dir, result)
    for series in funding:
        path = write_funding(catalog_dir, series)
        _LOG.info("%s: funding series (%s) written to %s", series.instrument_id, series.source, path)

    return IngestReport(
        catalog=str(catalog_dir),
        instruments=list(instruments),
        bars={bar_type: len(items) for bar_type, items in bars.items()},
        quarantined={r.source_name: r.bad_rows for r in results},
        gaps={r.source_name: r.gaps.height for r in results},
        off_tick={r.source_name: r.off_tick_rows for r in results},
        rounded_volume={r.source_name: r.rounded_volumes for r in results},
        quarantine_dir=str(quarantine_dir),
        funding={series.instrument_id: series.source for series in funding},
    )


def _validate_source(config: CatalogConfig, source: SourceSpec, instrument: Instrument) -> ValidationResult:
    frame = read_source(source)
    gap_bars = (
        source.gap_report_bars if source.gap_report_bars is not None else config.catalog.gap_report_bars
    )
    result = validate_bars(
        frame,
        source.name,
        source.interval_ns,
        file=source.path,
        gap_report_bars=gap_bars,
        price_precision=instrument.price_precision,
        size_precision=instrument.size_precision,
        price_increment=float(instrument.price_increment),
        timestamp_hint=f"timestamp_format={source.timestamp_format!r}, timezone={source.timezone!r}",
    )
    _LOG.info(
        "%s: %d rows, %d kept, %d quarantined (%.3f%%), %d gaps over %d bars",
        source.name,
        result.rows,
        result.kept.height,
        result.bad_rows,
        100 * result.bad_fraction,
        result.gaps.height,
        gap_bars,
    )
    if result.off_tick_rows:
        _LOG.warning(
            "%s: %d kept rows have prices off the tick grid %s (kept unchanged; precision fits), e.g. %s",
            source.name,
            result.off_tick_rows,
            instrument.price_increment,
            result.off_tick_example,
        )
    if result.rounded_volumes:
        _LOG.warning(
            "%s: %d kept rows had volumes finer than size precision %d, rounded half to even, e.g. %s",
            source.name,
            result.rounded_volumes,
            instrument.size_precision,
            result.rounded_volume_example,
        )
    return result


def _raise_if_too_bad(config: CatalogConfig, results: list[ValidationResult]) -> None:
    failures = []
    for source, result in zip(config.sources, results, strict=True):
        limit = (
            source.max_bad_fraction
            if source.max_bad_fraction is not None
            else config.catalog.max_bad_fraction
        )
        if result.bad_fraction > limit:
            lines = result.messages(_MAX_MESSAGES)
            more = result.quarantine.height - len(lines)
            failures.append(
                f"{result.file}: {result.bad_rows} of {result.rows} rows ({result.bad_fraction:.2%}) "
                f"failed validation, above max_bad_fraction={limit} (source {source.name!r}):\n  "
                + "\n  ".join(lines)
                + (f"\n  ... and {more} more" if more > 0 else "")
            )
    if failures:
        raise BadDataError("nothing was written.\n" + "\n".join(failures))


def _to_bars(source: SourceSpec, result: ValidationResult, instrument: Instrument) -> list[Bar]:
    kept = result.kept
    if kept.height == 0:
        return []
    # Writable copies: the Cython signature takes typed memoryviews, which reject read-only buffers.
    ts = np.array(kept.get_column("ts_event").to_numpy(), dtype=np.uint64)
    columns = [
        np.array(kept.get_column(f).to_numpy(), dtype=np.float64)
        for f in ("open", "high", "low", "close", "volume")
    ]
    return Bar.from_raw_arrays_to_list(
        BarType.from_str(source.bar_type),
        instrument.price_precision,
        instrument.size_precision,
        *columns,
        ts,
        ts.copy(),
    )


def _write_catalog(catalog_dir: Path, instruments: list[Instrument], bars: dict[str, list[Bar]]) -> None:
    catalog_dir.mkdir(parents=True, exist_ok=True)
    catalog = ParquetDataCatalog(str(catalog_dir))
    for instrument in instruments:
        _remove_series(catalog_dir, type(instrument), instrument.id.value)
        catalog.write_data([instrument])
    for bar_type, items in bars.items():
        _remove_series(catalog_dir, Bar, bar_type)
        if items:
            catalog.write_data(items)


def _remove_series(catalog_dir: Path, data_cls: type, identifier: str) -> None:
    directory = catalog_dir / "data" / class_to_filename(data_cls) / urisafe_identifier(identifier)
    if directory.exists():
        shutil.rmtree(directory)


def _write_reports(quarantine_dir: Path, result: ValidationResult) -> None:
    for path, frame in (
        (quarantine_dir / f"{result.source_name}.csv", result.quarantine),
        (quarantine_dir / f"{result.source_name}.gaps.csv", result.gaps),
    ):
        if frame.height:
            quarantine_dir.mkdir(parents=True, exist_ok=True)
            frame.write_csv(path)
        elif path.exists():
            path.unlink()


def main(argv: list[str] | None = None) -> int:
    """Run the ingest CLI and print the JSON summary line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on a config or source error, 3 when a source has too many bad rows.
    """
    parser = argparse.ArgumentParser(prog="python -m catalog.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="catalog TOML, e.g. configs/catalog/sample.toml")
    parser.add_argument("--catalog", help="override [catalog].path")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(levelname)s: %(message)s")
    try:
        config = load_catalog_config(args.config)
        if args.catalog:
            config = config.with_catalog_path(args.catalog)
        report = ingest(config)
    except CatalogError as exc:
        print(f"catalog.ingest: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(report.to_json_line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
