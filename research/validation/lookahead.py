"""Lookahead and warm-up analysis: rerun a strategy on cut data and compare what it decided.

Usage::

    python -m research.validation.lookahead --config configs/backtest/ema_cross_btcusdt_1m.toml \
        [--check both|lookahead|warmup] [--cuts 3] [--bars-limit N] \
        [--declared-warmup-bars N] [--extra-bars N]

prints one JSON line (``{"config", "flagged", "lookahead", "warmup"}``) and exits 0 when nothing is
flagged, 1 when a check flags the strategy and 2 on bad input (config, catalog, arguments).

How the strategy's decisions are captured
-----------------------------------------
Every run goes through the real engine (:func:`engine.backtest.assemble`: nautilus kernel, risk desk,
strategy base class) on bars held in memory: the catalog is read once with
:func:`engine.backtest.load_market_data` and the truncated series are slices of that list. Before a
run starts, each strategy instance gets two instance attributes that shadow its class methods:
``signal`` calls the class's own ``signal(bar)`` and records ``(strategy id, bar type, bar.ts_event,
result)`` before returning the result unchanged; ``indicators`` records the indicators the strategy
registers so their values can be read at each signal bar. The strategy's class, config, id and code
stay as they are (no dynamic subclass has to be importable by path, no shipped file is touched).
A bar on which ``signal`` is not called (indicators not warm yet, a position closed by the time
stop) is recorded as absent. Each run also journals to a throw-away SQLite journal (never the one
the config names), whose ``decisions`` rows joined to their ``signals`` rows are the desk's
decisions: side, strength, entry, stop, target, approval, reason, binding rule, quantity, inputs.

Lookahead check
---------------
The bar timeline is the sorted distinct ``ts_event`` of the configured bars (bars sharing a
timestamp, e.g. the bid and ask bars of one hour, are always kept or dropped together), limited to
the first ``bars_limit`` timestamps if given. ``cuts`` cut points split it evenly: cut ``i`` keeps
the first ``floor(n * i / (cuts + 1))`` timestamps. The strategy runs once on the whole timeline
and once per cut on the kept prefix (option bars and chain snapshots are cut at the same time).
The engine is causal and deterministic (seeded fill model, kernel clock), so a strategy that only
uses the past decides exactly the same on every bar of the prefix in both runs: every recorded
signal and every desk decision stamped at or before the cut's last bar is compared for exact
equality (floats included) and any difference is a flag carrying the cut, the bar, both values and
how many bars before the cut the bar is (0: the last kept bar).

The last kept bar is compared too, deliberately. Bars are stamped at their close and delivered
complete, the venue matches orders on a bar before the strategy sees it, and ``signal(bar)`` runs
synchronously on that bar, so nothing a causal strategy sees on the last bar depends on whether
more bars follow. A strategy that peeks ``h`` bars ahead (``close.shift(-1)``, a feature computed
over the whole data set, a bar stamped at its open) differs precisely on the last ``h`` bars before a
cut: excluding the last bar would hide the most common leak, the one-bar one. What legitimately
differs after the cut (orders placed on the last bar never fill in the cut run) is never compared.

Warm-up check
-------------
A strategy declares its warm-up in bars through a ``warmup_bars`` field of its strategy config.
Without one (the shipped strategies have none), the declaration is the largest ``*_period`` field
of its config, which is also when the base class starts calling ``signal`` (once every registered
indicator reports itself initialized). ``declared_warmup_bars`` overrides both. With ``S`` the
``extra_bars``-th timestamp of the timeline, the strategy runs from ``S`` (short history) and from
the first timestamp (``extra_bars`` more history). Bars from offset ``declared_warmup_bars`` after
``S`` on must see the same signal SIDE (BUY, SELL or none) in both runs; any difference flags the
strategy as needing more warm-up than declared, with the first differing bar. Recursive indicators
(EMA, Wilder RSI, ATR) converge only asymptotically, so float values are never compared exactly:
the report gives, per indicator, the relative difference between the two runs at the first compared
bar and the offset after which it stays within ``rtol`` (``converged_after_bars``), and suggests a
warm-up covering both the indicators and the last differing signal. Stops and targets are not
compared here: they move with the same tiny indicator differences.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from nautilus_trader.indicators.base import Indicator
from nautilus_trader.model.data import Bar

from engine.backtest import DataError, MarketData, assemble, load_desk, load_market_data
from engine.configs import ConfigError, RunConfig, load_run_config, strategy_specs
from engine.journal import Journal
from engine.risk import DeskConfigError
from strategies.base import Signal, SignalStrategy

DEFAULT_CUTS = 3
DEFAULT_EXTRA_BARS = 1000
DEFAULT_RTOL = 1e-6
MAX_FLAGS_SHOWN = 50
_INDICATOR_FIELDS = ("value", "upper", "middle", "lower")


# -- reports -----------------------------------------------------------------------------------


def _iso(ts: int) -> str:
    return pd.Timestamp(ts, unit="ns", tz="UTC").isoformat()


@dataclass(frozen=True)
class LookaheadFlag:
    """One bar at or before a cut where the full run and the cut run disagree.

    ``kind`` is ``"signal"`` (what ``signal(bar)`` returned; None: no signal, ``"absent"``: not
    called) or ``"decision"`` (the desk decisions journaled at that timestamp).
    """

    kind: str
    cut_ts: int
    ts: int
    bars_before_cut: int
    strategy_id: str
    bar_type: str
    full: Any
    truncated: Any

    def to_dict(self) -> dict[str, Any]:
        """Return the flag as JSON-ready values (timestamps in ns and ISO 8601 UTC)."""
        return {
            "kind": self.kind,
            "cut_ts": self.cut_ts,
            "cut": _iso(self.cut_ts),
            "ts": self.ts,
            "time": _iso(self.ts),
            "bars_before_cut": self.bars_before_cut,
            "strategy_id": self.strategy_id,
            "bar_type": self.bar_type,
            "full": self.full,
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class CutResult:
    """Describe one cut: how many timestamps it kept, its last bar and what was compared."""

    bars_kept: int
    cut_ts: int
    signals_compared: int
    decisions_compared: int
    flags: int

    def to_dict(self) -> dict[str, Any]:
        """Return the cut as JSON-ready values."""
        return {
            "bars_kept": self.bars_kept,
            "cut_ts": self.cut_ts,
            "cut": _iso(self.cut_ts),
            "signals_compared": self.signals_compared,
            "decisions_compared": self.decisions_compared,
            "flags": self.flags,
        }


@dataclass(frozen=True)
class LookaheadReport:
    """Hold the outcome of :func:`check_lookahead`; ``flagged`` is True when any bar disagreed."""

    run: str
    bars: int
    first_ts: int
    last_ts: int
    cuts: list[CutResult]
    flags: list[LookaheadFlag]
    signals_full_run: int
    wall_seconds: float

    @property
    def flagged(self) -> bool:
        """Return True when a signal or decision before a cut changed with the cut."""
        return bool(self.flags)

    @property
    def horizon_bars(self) -> int:
        """Return how far ahead the strategy looks at least, in bars (0 when nothing is flagged)."""
        return max((flag.bars_before_cut + 1 for flag in self.flags), default=0)

    def to_dict(self, max_flags: int = MAX_FLAGS_SHOWN) -> dict[str, Any]:
        """Return the report as JSON-ready values, listing at most ``max_flags`` flags."""
        return {
            "check": "lookahead",
            "run": self.run,
            "flagged": self.flagged,
            "bars": self.bars,
            "first": _iso(self.first_ts),
            "last": _iso(self.last_ts),
            "signals_full_run": self.signals_full_run,
            "horizon_bars": self.horizon_bars,
            "cuts": [cut.to_dict() for cut in self.cuts],
            "flags_total": len(self.flags),
            "flags": [flag.to_dict() for flag in self.flags[:max_flags]],
            "wall_seconds": round(self.wall_seconds, 3),
        }


@dataclass(frozen=True)
class WarmupFlag:
    """One bar past the declared warm-up whose signal side depends on how much history preceded it."""

    ts: int
    offset: int
    strategy_id: str
    bar_type: str
    long_history: str | None
    short_history: str | None
    indicator_rel_diff: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Return the flag as JSON-ready values."""
        return {
            "ts": self.ts,
            "time": _iso(self.ts),
            "offset": self.offset,
            "strategy_id": self.strategy_id,
            "bar_type": self.bar_type,
            "long_history": self.long_history,
            "short_history": self.short_history,
            "indicator_rel_diff": self.indicator_rel_diff,
        }


@dataclass(frozen=True)
class IndicatorDivergence:
    """Compare one indicator between the long- and the short-history run.

    ``rel_diff_at_declared`` is the relative difference at the first bar past the declared warm-up
    where both runs have a value; ``converged_after_bars`` the offset from the short run's start
    after which it stays within ``rtol`` (None: it never does within the data).
    """

    name: str
    first_offset: int
    rel_diff_at_declared: float | None
    max_rel_diff_after_declared: float | None
    converged_after_bars: int | None

    def to_dict(self) -> dict[str, Any]:
        """Return the divergence as JSON-ready values."""
        return {
            "name": self.name,
            "first_offset": self.first_offset,
            "rel_diff_at_declared": self.rel_diff_at_declared,
            "max_rel_diff_after_declared": self.max_rel_diff_after_declared,
            "converged_after_bars": self.converged_after_bars,
        }


@dataclass(frozen=True)
class WarmupReport:
    """Hold the outcome of :func:`check_warmup`; ``flagged`` is True when a signal past the warm-up moved."""

    run: str
    declared_warmup_bars: int
    declared_source: str
    extra_bars: int
    start_ts: int
    first_compared_ts: int | None
    bars_compared: int
    flags: list[WarmupFlag]
    indicators: list[IndicatorDivergence]
    rtol: float
    wall_seconds: float

    @property
    def flagged(self) -> bool:
        """Return True when the strategy needs more warm-up than it declares."""
        return bool(self.flags)

    @property
    def suggested_warmup_bars(self) -> int | None:
        """Return a warm-up covering the last differing signal and every indicator's convergence.

        None when an indicator never converges within the data.
        """
        needed = max((flag.offset + 1 for flag in self.flags), default=0)
        for indicator in self.indicators:
            if indicator.converged_after_bars is None:
                return None
            needed = max(needed, indicator.converged_after_bars)
        return needed

    def to_dict(self, max_flags: int = MAX_FLAGS_SHOWN) -> dict[str, Any]:
        """Return the report as JSON-ready values, listing at most ``max_flags`` flags."""
        first = self.flags[0] if self.flags else None
        return {
            "check": "warmup",
            "run": self.run,
            "flagged": self.flagged,
            "declared_warmup_bars": self.declared_warmup_bars,
            "declared_source": self.declared_source,
            "extra_bars": self.extra_bars,
            "start": _iso(self.start_ts),
            "first_compared": _iso(self.first_compared_ts) if self.first_compared_ts is not None else None,
            "bars_compared": self.bars_compared,
            "first_difference": first.to_dict() if first is not None else None,
            "suggested_warmup_bars": self.suggested_warmup_bars,
            "rtol": self.rtol,
            "indicators": [indicator.to_dict() for indicator in self.indicators],
            "flags_total": len(self.flags),
            "flags": [flag.to_dict() for flag in self.flags[:max_flags]],
            "wall_seconds": round(self.wall_seconds, 3),
        }


# -- running and recording ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Observation:
    strategy_id: str
    bar_type: str
    ts: int
    signal: dict[str, Any] | None
    indicators: dict[str, float]


@dataclass
class _Trace:
    observations: list[_Observation] = field(default_factory=list)
    decisions: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)


def _describe(signal: Signal | None) -> dict[str, Any] | None:
    if signal is None:
        return None
    return {
        "side": signal.side.name,
        "strength": getattr(signal.strength, "name", str(signal.strength)),
        "stop": signal.stop_price,
        "take_profit": signal.take_profit_price,
    }


def _indicator_values(indicators: list[Indicator]) -> dict[str, float]:
    values: dict[str, float] = {}
    for indicator in indicators:
        for name in _INDICATOR_FIELDS:
            value = getattr(indicator, name, None)
            if isinstance(value, float):
                values[f"{indicator!r}.{name}"] = value
    return values


def _record(strategy: SignalStrategy, trace: _Trace, with_indicators: bool) -> None:
    """Shadow ``signal`` and ``indicators`` on the instance so every call is recorded."""
    own_signal: Callable[[Bar], Signal | None] = strategy.signal
    own_indicators: Callable[[], list[Indicator]] = strategy.indicators
    registered: list[Indicator] = []
    strategy_id = str(strategy.id)

    def indicators() -> list[Indicator]:
        result = own_indicators()
        registered[:] = result
        return result

    def signal(bar: Bar) -> Signal | None:
        result = own_signal(bar)
        values = _indicator_values(registered) if with_indicators else {}
        trace.observations.append(
            _Observation(strategy_id, str(bar.bar_type), bar.ts_event, _describe(result), values)
        )
        return result

    strategy.indicators = indicators  # type: ignore[method-assign]
    strategy.signal = signal  # type: ignore[method-assign]


def _journal_decisions(journal: Journal) -> dict[tuple[str, int], list[dict[str, Any]]]:
    signals = {row["signal_id"]: row for row in journal.rows("signals")}
    decisions: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in journal.rows("decisions"):
        source = signals.get(row["signal_id"], {})
        decisions[(str(row["strategy_id"]), int(str(row["ts"])))].append(
            {
                "instrument_id": row["instrument_id"],
                "side": source.get("side"),
                "strength": source.get("strength"),
                "entry": source.get("entry_price"),
                "stop": source.get("stop_price"),
                "take_profit": source.get("take_profit_price"),
                "approved": bool(row["approved"]),
                "reason": row["reason"],
                "bound_by": row["bound_by"],
                "quantity": row["quantity"],
                "inputs": row["inputs"],
            }
        )
    return dict(decisions)


def _run(
    config: RunConfig,
    data: MarketData,
    *,
    journal_dir: Path | None,
    label: str,
    with_indicators: bool = False,
) -> _Trace:
    """Run the engine once on ``data`` and return what the strategies signalled and the desk decided."""
    path = journal_dir / f"{label}.sqlite" if journal_dir is not None else None
    trace = _Trace()
    assembled = assemble(config, data, journal=path)
    try:
        for strategy in assembled.components.strategies:
            if not isinstance(strategy, SignalStrategy):
                raise ConfigError(f"{type(strategy).__name__} is not a SignalStrategy; cannot record it")
            _record(strategy, trace, with_indicators)
        assembled.engine.run()
    finally:
        assembled.engine.dispose()
    if path is not None:
        with Journal(path, run_id=config.run.name, mode=config.desk.mode) as journal:
            trace.decisions = _journal_decisions(journal)
    return trace


def _timeline(data: MarketData, bars_limit: int | None) -> list[int]:
    stamps = sorted({bar.ts_event for bar in data.bars})
    if bars_limit is not None:
        if bars_limit < 1:
            raise ValueError(f"bars_limit must be at least 1 (value: {bars_limit})")
        stamps = stamps[:bars_limit]
    return stamps


def _window(data: MarketData, first_ts: int, last_ts: int) -> MarketData:
    """Return the bars (and option bars and chain snapshots) stamped in ``[first_ts, last_ts]``."""

    def keep(ts: int) -> bool:
        return first_ts <= ts <= last_ts

    options = data.options
    if options is not None:
        options = replace(
            options,
            bars=[bar for bar in options.bars if keep(bar.ts_event)],
            greeks=[greeks for greeks in options.greeks if keep(greeks.ts_event)],
        )
    return MarketData(
        instruments=data.instruments,
        bars=[bar for bar in data.bars if keep(bar.ts_event)],
        funding=data.funding,
        options=options,
    )


# -- lookahead ---------------------------------------------------------------------------------


_ABSENT = "absent"


def _by_key(trace: _Trace, last_ts: int) -> dict[tuple[str, str, int, int], dict[str, Any] | None]:
    """Key observations up to ``last_ts`` by (strategy, bar type, ts, ordinal within that ts)."""
    keyed: dict[tuple[str, str, int, int], dict[str, Any] | None] = {}
    seen: dict[tuple[str, str, int], int] = defaultdict(int)
    for item in trace.observations:
        if item.ts > last_ts:
            continue
        base = (item.strategy_id, item.bar_type, item.ts)
        keyed[(*base, seen[base])] = item.signal
        seen[base] += 1
    return keyed


def check_lookahead(
    config: RunConfig,
    *,
    cuts: int = DEFAULT_CUTS,
    bars_limit: int | None = None,
    data: MarketData | None = None,
    compare_decisions: bool = True,
) -> LookaheadReport:
    """Rerun the configured strategies on data cut at ``cuts`` points and flag decisions that changed.

    Parameters
    ----------
    config : RunConfig
        The run config (its strategies, venues and desk; its journal is never written).
    cuts : int
        How many evenly spaced cut points to test.
    bars_limit : int, optional
        Use only the first ``bars_limit`` bar timestamps of the data.
    data : MarketData, optional
        Instruments and bars to use (default: read from the config's catalog).
    compare_decisions : bool
        Also compare the desk decisions journaled before each cut.

    Returns
    -------
    LookaheadReport
        The cuts, what was compared and every flagged bar.

    Raises
    ------
    ValueError
        If ``cuts`` is below 1 or the data has too few bars for that many cuts.
    """
    started = time.perf_counter()
    if cuts < 1:
        raise ValueError(f"cuts must be at least 1 (value: {cuts})")
    data = data if data is not None else load_market_data(config)
    stamps = _timeline(data, bars_limit)
    n = len(stamps)
    if n < 2 * (cuts + 1):
        raise ValueError(f"{n} bar timestamps are too few for {cuts} cuts (need {2 * (cuts + 1)})")
    position = {ts: index for index, ts in enumerate(stamps)}
    with tempfile.TemporaryDirectory(prefix="lookahead-") as tmp:
        journal_dir = Path(tmp) if compare_decisions else None
        full = _run(config, _window(data, stamps[0], stamps[-1]), journal_dir=journal_dir, label="full")
        results: list[CutResult] = []
        flags: list[LookaheadFlag] = []
        for i in range(1, cuts + 1):
            kept = n * i // (cuts + 1)
            cut_ts = stamps[kept - 1]
            cut = _run(
                config,
                _window(data, stamps[0], cut_ts),
                journal_dir=journal_dir,
                label=f"cut{i}",
            )
            found = _compare_cut(full, cut, cut_ts, kept, position)
            decisions_compared = sum(len(rows) for (_, ts), rows in full.decisions.items() if ts <= cut_ts)
            signals_compared = sum(1 for item in full.observations if item.ts <= cut_ts)
            results.append(CutResult(kept, cut_ts, signals_compared, decisions_compared, len(found)))
            flags.extend(found)
    return LookaheadReport(
        run=config.run.name,
        bars=n,
        first_ts=stamps[0],
        last_ts=stamps[-1],
        cuts=results,
        flags=flags,
        signals_full_run=len(full.observations),
        wall_seconds=time.perf_counter() - started,
    )


def _compare_cut(
    full: _Trace, cut: _Trace, cut_ts: int, kept: int, position: dict[int, int]
) -> list[LookaheadFlag]:
    flags: list[LookaheadFlag] = []

    def before(ts: int) -> int:
        return kept - 1 - position.get(ts, kept - 1)

    full_signals, cut_signals = _by_key(full, cut_ts), _by_key(cut, cut_ts)
    for key in sorted(set(full_signals) | set(cut_signals), key=lambda k: (k[2], k[0], k[1], k[3])):
        a = full_signals.get(key, _ABSENT)
        b = cut_signals.get(key, _ABSENT)
        if a != b:
            strategy_id, bar_type, ts, _ = key
            flags.append(LookaheadFlag("signal", cut_ts, ts, before(ts), strategy_id, bar_type, a, b))
    full_decisions = {key: rows for key, rows in full.decisions.items() if key[1] <= cut_ts}
    cut_decisions = {key: rows for key, rows in cut.decisions.items() if key[1] <= cut_ts}
    for strategy_id, ts in sorted(set(full_decisions) | set(cut_decisions), key=lambda k: (k[1], k[0])):
        a_rows = full_decisions.get((strategy_id, ts), [])
        b_rows = cut_decisions.get((strategy_id, ts), [])
        if a_rows != b_rows:
            flags.append(LookaheadFlag("decision", cut_ts, ts, before(ts), strategy_id, "", a_rows, b_rows))
    return flags


# -- warm-up -----------------------------------------------------------------------------------


def declared_warmup(config: RunConfig) -> tuple[int, str]:
    """Return the warm-up the configured strategies declare, in bars, and where it comes from.

    A strategy config's ``warmup_bars`` field is its declaration; without one, the largest
    ``*_period`` field stands for it (0 when there is none). The run's declaration is the largest
    over its strategies.

    Raises
    ------
    ConfigError
        If a strategy config cannot be built from its section.
    """
    best, source = 0, "none"
    for spec in strategy_specs(config):
        index, strategy_config = spec.index, spec.config
        names: tuple[str, ...] = getattr(strategy_config, "__struct_fields__", ())
        declared = getattr(strategy_config, "warmup_bars", None)
        if isinstance(declared, int):
            bars, origin = declared, f"strategies[{index}].config.warmup_bars"
        else:
            periods = {
                name: value
                for name in names
                if name.endswith("_period") and isinstance(value := getattr(strategy_config, name), int)
            }
            if not periods:
                continue
            name = max(periods, key=lambda key: periods[key])
            bars, origin = periods[name], f"strategies[{index}].config.{name} (largest period)"
        if bars >= best:
            best, source = bars, origin
    return best, source


def _rel_diff(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0.0 else 0.0


class DataTooShortError(ValueError):
    """Raised when the data holds too few bars for the extra history and the warm-up to compare."""


def _default_extra_bars(declared: int, stamps: int) -> int:
    """Return ten declared warm-ups (at least 1000 bars), or half the bars after the warm-up if fewer."""
    extra = max(DEFAULT_EXTRA_BARS, 10 * declared)
    return extra if stamps > extra + declared else (stamps - declared) // 2


def check_warmup(
    config: RunConfig,
    *,
    declared_warmup_bars: int | None = None,
    extra_bars: int | None = None,
    bars_limit: int | None = None,
    data: MarketData | None = None,
    rtol: float = DEFAULT_RTOL,
) -> WarmupReport:
    """Run the strategies with and without ``extra_bars`` more history and flag signals that moved.

    Parameters
    ----------
    config : RunConfig
        The run config.
    declared_warmup_bars : int, optional
        The warm-up to test (default: the declaration :func:`declared_warmup` finds in the config).
    extra_bars : int, optional
        How many more bars of history the long run gets (default: ten declared warm-ups, at least
        1000 bars; on data too short for that, such as half a year of daily bars, half the bars
        after the declared warm-up).
    bars_limit : int, optional
        Use only the first ``bars_limit`` bar timestamps of the data.
    data : MarketData, optional
        Instruments and bars to use (default: read from the config's catalog).
    rtol : float
        Relative tolerance under which two indicator values count as converged.

    Returns
    -------
    WarmupReport
        The bars compared, every bar whose signal side differs, and the indicators' divergence.

    Raises
    ------
    ValueError
        If an argument is negative.
    DataTooShortError
        If the data is too short for the extra history and the warm-up.
    """
    started = time.perf_counter()
    if declared_warmup_bars is not None:
        declared, source = declared_warmup_bars, "argument"
    else:
        declared, source = declared_warmup(config)
    if declared < 0 or (extra_bars is not None and extra_bars < 1):
        raise ValueError(
            f"need declared_warmup_bars >= 0 and extra_bars >= 1 (values: {declared}, {extra_bars})"
        )
    data = data if data is not None else load_market_data(config)
    stamps = _timeline(data, bars_limit)
    extra = extra_bars if extra_bars is not None else _default_extra_bars(declared, len(stamps))
    if extra < 1 or len(stamps) <= extra + declared:
        raise DataTooShortError(
            f"{len(stamps)} bar timestamps are too few for {extra} extra bars and a warm-up of {declared} "
            f"({source}; lower extra_bars or use more data)"
        )
    start_ts = stamps[extra]
    offset = {ts: index - extra for index, ts in enumerate(stamps) if index >= extra}
    long_run = _run(
        config,
        _window(data, stamps[0], stamps[-1]),
        journal_dir=None,
        label="long",
        with_indicators=True,
    )
    short_run = _run(
        config,
        _window(data, start_ts, stamps[-1]),
        journal_dir=None,
        label="short",
        with_indicators=True,
    )

    def index(trace: _Trace) -> dict[tuple[str, str, int], _Observation]:
        return {
            (item.strategy_id, item.bar_type, item.ts): item
            for item in trace.observations
            if item.ts >= start_ts
        }

    long_obs, short_obs = index(long_run), index(short_run)
    flags: list[WarmupFlag] = []
    compared: set[int] = set()
    for key in sorted(set(long_obs) | set(short_obs), key=lambda k: (k[2], k[0], k[1])):
        strategy_id, bar_type, ts = key
        if offset[ts] < declared:
            continue
        compared.add(ts)
        a, b = long_obs.get(key), short_obs.get(key)
        side_a = a.signal["side"] if a is not None and a.signal is not None else None
        side_b = b.signal["side"] if b is not None and b.signal is not None else None
        if side_a != side_b:
            diffs = (
                {
                    name: _rel_diff(value, b.indicators[name])
                    for name, value in a.indicators.items()
                    if name in b.indicators
                }
                if a is not None and b is not None
                else {}
            )
            flags.append(WarmupFlag(ts, offset[ts], strategy_id, bar_type, side_a, side_b, diffs))
    first_compared = stamps[extra + declared]
    return WarmupReport(
        run=config.run.name,
        declared_warmup_bars=declared,
        declared_source=source,
        extra_bars=extra,
        start_ts=start_ts,
        first_compared_ts=first_compared,
        bars_compared=sum(1 for ts in stamps if ts >= first_compared),
        flags=flags,
        indicators=_divergence(long_obs, short_obs, offset, declared, rtol),
        rtol=rtol,
        wall_seconds=time.perf_counter() - started,
    )


def _divergence(
    long_obs: dict[tuple[str, str, int], _Observation],
    short_obs: dict[tuple[str, str, int], _Observation],
    offset: dict[int, int],
    declared: int,
    rtol: float,
) -> list[IndicatorDivergence]:
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for key in sorted(short_obs, key=lambda k: k[2]):
        short, long = short_obs[key], long_obs.get(key)
        if long is None:
            continue
        for name, value in short.indicators.items():
            if name in long.indicators:
                series[f"{key[0]}:{name}"].append((offset[key[2]], _rel_diff(long.indicators[name], value)))
    divergences: list[IndicatorDivergence] = []
    for name, points in sorted(series.items()):
        after = [diff for at, diff in points if at >= declared]
        violations = [at for at, diff in points if diff > rtol]
        converged: int | None = max(points[0][0], violations[-1] + 1) if violations else points[0][0]
        if violations and violations[-1] == points[-1][0]:
            converged = None
        divergences.append(
            IndicatorDivergence(
                name=name,
                first_offset=points[0][0],
                rel_diff_at_declared=after[0] if after else None,
                max_rel_diff_after_declared=max(after) if after else None,
                converged_after_bars=converged,
            )
        )
    return divergences


# -- CLI ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the checks named on the command line, print one JSON line and return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m research.validation.lookahead", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--config", required=True, help="run config (TOML)")
    parser.add_argument("--check", choices=["both", "lookahead", "warmup"], default="both")
    parser.add_argument("--cuts", type=int, default=DEFAULT_CUTS)
    parser.add_argument("--bars-limit", type=int, default=None, help="use only the first N bar timestamps")
    parser.add_argument("--declared-warmup-bars", type=int, default=None)
    parser.add_argument("--extra-bars", type=int, default=None)
    args = parser.parse_args(argv)
    output: dict[str, Any] = {"config": args.config}
    try:
        config = load_run_config(args.config)
        load_desk(config)  # a bad desk file fails before any data is read
        data = load_market_data(config)
        flagged = False
        if args.check in ("both", "lookahead"):
            lookahead = check_lookahead(config, cuts=args.cuts, bars_limit=args.bars_limit, data=data)
            output["lookahead"] = lookahead.to_dict()
            flagged |= lookahead.flagged
        if args.check in ("both", "warmup"):
            warmup = check_warmup(
                config,
                declared_warmup_bars=args.declared_warmup_bars,
                extra_bars=args.extra_bars,
                bars_limit=args.bars_limit,
                data=data,
            )
            output["warmup"] = warmup.to_dict()
            flagged |= warmup.flagged
    except (ConfigError, DataError, DeskConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    output["flagged"] = flagged
    print(json.dumps(output, default=str))
    return 1 if flagged else 0


if __name__ == "__main__":
    raise SystemExit(main())
