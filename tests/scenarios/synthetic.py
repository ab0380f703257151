"""Seeded synthetic price series written to a Parquet catalog, for testing the validation manager.

``random_walk`` has no edge by construction: log returns are i.i.d. normal, so no rule on past bars
can predict the next move and every strategy's expectancy is its fees. ``planted_range_edge`` plants
a known, modest pattern: calm stretches where price mean-reverts around a slowly wandering level
(an Ornstein-Uhlenbeck deviation on top of a random walk) alternate with trending stretches (a
random walk with drift), so a band-fading strategy has an edge in the calm range and loses in the
trends. Bars are built from sub-steps (open, high, low and close of ``substeps`` points) and stamped
at their close, like the ingested sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.persistence.catalog import ParquetDataCatalog

START_NS = 1_748_736_000_000_000_000  # 2025-06-01 00:00 UTC
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Segment:
    """One stretch of a planted series: its kind and its first and last bar (inclusive, exclusive)."""

    kind: str
    start: int
    end: int


def random_walk(bars: int, sigma: float, seed: int, substeps: int = 6) -> FloatArray:
    """Return log prices at ``bars x substeps + 1`` points; ``sigma`` is the per-bar log-return std."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, sigma / np.sqrt(substeps), bars * substeps)
    return np.concatenate([[0.0], np.cumsum(steps)])


def planted_range_edge(
    bars: int,
    seed: int,
    *,
    range_sigma: float,
    trend_sigma: float,
    substeps: int = 6,
    range_bars: tuple[int, int] = (600, 1200),
    trend_bars: tuple[int, int] = (150, 300),
    half_life_bars: float = 8.0,
    level_share: float = 0.15,
    drift_sigmas: float = 0.2,
) -> tuple[FloatArray, list[Segment]]:
    """Return log prices (as :func:`random_walk`) with a mean-reverting range edge, and the segments.

    Calm range segments and volatile trend segments alternate, each as long as a uniform draw from
    its range. In a range segment the log price is ``level + deviation``: the level is a random walk
    carrying ``level_share`` of the variance of a bar's move (std ``range_sigma``), the deviation an
    Ornstein-Uhlenbeck process with the given half-life carrying the rest, so a stretch away from
    the level tends to come back. In a trend segment the price is a random walk with per-bar std
    ``trend_sigma`` drifting ``drift_sigmas x trend_sigma`` per bar, up or down at random.
    """
    rng = np.random.default_rng(seed)
    dt = 1.0 / substeps
    kappa = np.log(2.0) / half_life_bars
    deviation_sigma = range_sigma * np.sqrt((1.0 - level_share) / (2.0 * kappa))
    diffusion = deviation_sigma * np.sqrt(1.0 - np.exp(-2.0 * kappa * dt))
    decay = np.exp(-kappa * dt)
    level_step = range_sigma * np.sqrt(level_share * dt)
    trend_step = trend_sigma * np.sqrt(dt)
    path = np.zeros(bars * substeps + 1)
    level, deviation = 0.0, 0.0
    segments: list[Segment] = []
    bar, kind = 0, "range"
    while bar < bars:
        low, high = range_bars if kind == "range" else trend_bars
        end = min(bars, bar + int(rng.integers(low, high + 1)))
        drift = drift_sigmas * trend_sigma * dt * (1.0 if rng.random() < 0.5 else -1.0)
        for point in range(bar * substeps + 1, end * substeps + 1):
            if kind == "range":
                level += rng.normal(0.0, level_step)
                deviation = deviation * decay + rng.normal(0.0, diffusion)
                path[point] = level + deviation
            else:
                path[point] = path[point - 1] + drift + rng.normal(0.0, trend_step)
        if kind == "trend":
            level, deviation = float(path[end * substeps]), 0.0
        segments.append(Segment(kind, bar, end))
        bar, kind = end, ("trend" if kind == "range" else "range")
    return path, segments


def bars_from_path(
    log_path: FloatArray,
    substeps: int,
    first_price: float,
    bar_type: BarType,
    instrument: Instrument,
    bar_ns: int,
    start_ns: int = START_NS,
) -> list[Bar]:
    """Turn sub-step log prices into nautilus bars stamped at their close."""
    prices = first_price * np.exp(log_path)
    count = (len(prices) - 1) // substeps
    points = prices[: count * substeps + 1]
    blocks = np.lib.stride_tricks.sliding_window_view(points, substeps + 1)[::substeps]
    opens, closes = blocks[:, 0], blocks[:, -1]
    highs, lows = blocks.max(axis=1), blocks.min(axis=1)
    volume = np.full(count, 100.0)
    ts = np.array([start_ns + (i + 1) * bar_ns for i in range(count)], dtype=np.uint64)
    return Bar.from_raw_arrays_to_list(
        bar_type,
        instrument.price_precision,
        instrument.size_precision,
        *(np.ascontiguousarray(a, dtype=np.float64) for a in (opens, highs, lows, closes, volume)),
        ts,
        ts.copy(),
    )


def write_catalog(folder: Path, instrument: Instrument, bars: list[Bar]) -> Path:
    """Write one instrument and its bars into a fresh Parquet catalog; return its folder."""
    folder.mkdir(parents=True, exist_ok=True)
    catalog = ParquetDataCatalog(str(folder))
    catalog.write_data([instrument])
    catalog.write_data(bars)
    return folder


def sample_instrument(catalog: Path, instrument_id: str) -> Instrument:
    """Return the instrument ``instrument_id`` of an ingested catalog (the real venue definition)."""
    found = ParquetDataCatalog(str(catalog)).instruments(instrument_ids=[instrument_id])
    if not found:
        raise LookupError(f"{catalog} has no instrument {instrument_id}")
    return found[0]
