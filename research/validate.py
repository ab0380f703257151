"""Validate a strategy: walk-forward out of sample, stress suite, gates, allowlist, reports.

``python -m research.validate --config configs/validation/<name>.toml [--output DIR]`` writes
``<output>/<strategy_id>/report.json``, ``report.html`` and ``tearsheet.html`` (quantstats, the
out-of-sample daily returns) and prints one JSON line (verdict, gates failed, paths). Exit code 0
when the report was written (whatever the verdict), 2 on bad input.

Compute, render and persist are separate steps: :func:`validate` computes the report dict; the HTML
renderer (``reports.validation``) and the tearsheet (``reports.tearsheet``) are resolved by import
path, like the backtest's tearsheet, so this research-layer module never imports the reports layer.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd
from nautilus_trader.model.data import BarType

from engine.ambiguity import tally
from engine.assets import load_registry
from engine.backtest import DataError, MarketData
from engine.configs import ConfigError, RunConfig, load_run_config, strategy_specs
from engine.importing import resolve
from engine.runfolder import starting_equity
from research.validation import gates as gates_lib
from research.validation import stress as stress_lib
from research.validation.config import ValidationConfig, ValidationConfigError, load_validation_config
from research.validation.lookahead import DataTooShortError, check_lookahead, check_warmup
from research.validation.walkforward import (
    FoldOutcome,
    WindowTask,
    aggregate,
    fold_record,
    make_runner,
    market_data,
    test_task,
    walk_forward,
    with_catalog,
)
from strategies.features.config import FeatureConfigError, SessionsConfig, load_sessions_config
from strategies.features.regimes import classify_regimes, regime_label
from strategies.features.sessions import sessions_at

HTML_RENDERER = "reports.validation:write_validation_html"
TEARSHEET_RENDERER = "reports.tearsheet:write_tearsheet"
GATE_CORE = (
    "oos_trades",
    "expectancy",
    "profit_factor",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "cvar_5",
)


def _variants(params: dict[str, Any], steps: Sequence[float]) -> list[tuple[str, dict[str, Any]]]:
    """Return each numeric parameter moved up and down by every step (integers rounded, at least 1)."""
    variants = []
    for name in sorted(params):
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        for step in steps:
            for sign in (1, -1):
                moved: float | int = value * (1 + sign * step)
                if isinstance(value, int):
                    moved = max(1, round(moved))
                    if moved == value:
                        moved = value + sign if value + sign >= 1 else value
                variants.append(
                    (f"{name} {'+' if sign > 0 else '-'}{round(step * 100)}%", {**params, name: moved})
                )
    return variants


def _invalid_variants(
    run_config: RunConfig, origin: str, outcomes: list[FoldOutcome], steps: Sequence[float]
) -> dict[str, str]:
    """Return the perturbation variants some fold cannot run (e.g. a fast period moved onto the slow one).

    Such a variant is left out of every fold (its aggregate would mix folds) and reported with the
    strategy config's reason, instead of failing the whole validation mid-run.
    """
    skipped: dict[str, str] = {}
    for outcome in outcomes:
        for label, params in _variants(outcome.params, steps):
            if label in skipped:
                continue
            try:
                strategy_specs(run_config, origin=origin, overrides=params)
            except ConfigError as exc:
                skipped[label] = f"fold {outcome.fold.index}: {exc}"
    return skipped


def router_settings(run_config: RunConfig) -> tuple[SessionsConfig, str | None]:
    """Return the session windows and regime parameters the strategies' entry router uses.

    The labels of the report's session and regime slices, and so its allowlist, must mean what the
    router enforces at run time: each strategy reads its config's ``sessions_config`` file when set
    (``strategies.base.SignalStrategy``), the built-in defaults otherwise.

    Returns
    -------
    tuple of (SessionsConfig, str or None)
        The settings and the file they came from (None: the built-in defaults).

    Raises
    ------
    ValidationConfigError
        If the run config's strategies name different ``sessions_config`` files (one set of labels
        could not mean the same thing to all of them).
    FeatureConfigError
        If the named file is missing or invalid.
    """
    paths = {s.config.get("sessions_config") or None for s in run_config.strategies}
    if len(paths) > 1:
        named = sorted(str(p) for p in paths)
        raise ValidationConfigError(
            f"strategies.config.sessions_config: the strategies use different files ({named}); "
            "the report labels every trade with one set of sessions and regimes"
        )
    path = next(iter(paths), None)
    return (load_sessions_config(path) if path else SessionsConfig()), path


def label_trades(
    config: ValidationConfig, outcomes: list[FoldOutcome], catalog: str | None, settings: SessionsConfig
) -> list[dict[str, Any]]:
    """Return every out-of-sample trade with its entry's session and regime (from the signal bars).

    Sessions and regimes are classified with ``settings``, the strategy's own router settings (see
    :func:`router_settings`).
    """
    run_config, data, _ = market_data(config.backtest, catalog)
    signal = BarType.from_str(run_config.data.bar_types[0])
    bars = [b for b in data.bars if b.bar_type == signal]
    stamps = np.array([b.ts_event for b in bars], dtype=np.int64)
    flags = classify_regimes(
        [b.high.as_double() for b in bars],
        [b.low.as_double() for b in bars],
        [b.close.as_double() for b in bars],
        settings.regimes,
    )
    windows = settings.sessions
    trades = []
    for outcome in outcomes:
        for trade in outcome.test.trades:
            index = int(np.searchsorted(stamps, trade["ts_opened"], side="right")) - 1
            regime = regime_label(int(flags[index])) if index >= 0 else "UNKNOWN"
            trades.append(
                {
                    **trade,
                    "fold": outcome.fold.index,
                    "session": "+".join(sorted(sessions_at(trade["ts_opened"], windows))) or "NONE",
                    "regime": regime,
                    "volatility": stress_lib.volatility_label(regime),
                }
            )
    return trades


def _warmup_check(config: RunConfig, data: MarketData) -> dict[str, Any]:
    """Return the warm-up check, or a note that the data is too short to compare (no flag either way)."""
    try:
        return check_warmup(config, data=data).to_dict()
    except DataTooShortError as exc:
        return {"flagged": False, "checked": False, "note": str(exc)}


def _core_pass(gates: gates_lib.GatesConfig, asset: str, values: dict[str, Any]) -> bool:
    results = gates_lib.evaluate_gates(gates, asset, values, {})
    return all(r.passed for r in results if r.name in GATE_CORE)


def validate(config: ValidationConfig, *, catalog: str | None = None) -> dict[str, Any]:
    """Run the whole validation of one strategy and return the report (JSON-ready)."""
    started = time.perf_counter()
    run_config = load_run_config(config.backtest)
    assets = load_registry(tuple(run_config.desk.asset_classes))
    gates = gates_lib.load_gates(config.gates, assets)
    periods = assets[config.asset_class].periods_per_year
    start_equity = starting_equity(run_config)
    settings, settings_path = router_settings(run_config)
    run, shutdown = make_runner(config.executor.kind, config.executor.workers)
    try:
        _, outcomes = walk_forward(config, run, catalog=catalog)
        oos = aggregate([o.test for o in outcomes], periods)
        trades = label_trades(config, outcomes, catalog, settings)
        pnls = [t["pnl"] for t in trades]
        s = config.stress
        monte_carlo = stress_lib.monte_carlo_reorder(pnls, start_equity, s.monte_carlo_runs, config.seed)
        bootstrap = stress_lib.bootstrap_trades(pnls, start_equity, s.monte_carlo_runs, config.seed)
        # every shocked re-run of the test windows goes to the executor in one batch
        shocks: dict[str, dict[str, Any]] = {f"fees x{m:g}": {"fee_multiplier": m} for m in s.fee_multipliers}
        shocks["slippage 1 tick on every fill"] = {"slippage": True}
        shocks[f"latency +{s.latency_ms:g} ms"] = {"latency_ms": s.latency_ms}
        batches = {
            label: [test_task(config, o.fold, o.params, catalog, **shock) for o in outcomes]
            for label, shock in shocks.items()
        }
        variants: dict[str, list[WindowTask]] = {}
        skipped = _invalid_variants(run_config, config.backtest, outcomes, s.perturbations)
        for outcome in outcomes:
            for label, params in _variants(outcome.params, s.perturbations):
                if label not in skipped:
                    variants.setdefault(label, []).append(test_task(config, outcome.fold, params, catalog))
        batches.update(sorted(variants.items()))
        flat = [task for tasks in batches.values() for task in tasks]
        done = iter(run(flat) if flat else [])
        measured = {
            label: aggregate([next(done) for _ in tasks], periods) for label, tasks in batches.items()
        }
        reruns = {label: measured[label] for label in shocks}
        perturbation: list[dict[str, Any]] = [
            {
                "variant": label,
                "metrics": measured[label],
                "passed": _core_pass(gates, config.asset_class, measured[label]),
            }
            for label in sorted(variants)
        ]
    finally:
        shutdown()
    pass_rate = stress_lib.perturbation_pass_rate([p["passed"] for p in perturbation])
    stress: dict[str, Any] = {
        "monte_carlo_reorder": monte_carlo,
        "bootstrap_trades": bootstrap,
        "perturbation_pass_rate": pass_rate,
        "perturbation": perturbation,
        "perturbation_skipped": [{"variant": k, "reason": v} for k, v in sorted(skipped.items())],
        "reruns": reruns,
        "cost_shocks": stress_lib.cost_shock_scenarios(
            pnls,
            [t["fees"] for t in trades],
            [t["notional"] for t in trades],
            scenarios=[(1.0, 0.0), *((m, 0.0) for m in s.fee_multipliers), (1.0, s.slippage_bps)],
        ),
        "slices": {
            "session": stress_lib.slice_trades(trades, "session"),
            "regime": stress_lib.slice_trades(trades, "regime"),
            "volatility": stress_lib.slice_trades(trades, "volatility"),
        },
    }
    lookahead = None
    if config.lookahead_check:
        data = market_data(config.backtest, catalog)[1]
        checked = with_catalog(run_config, catalog)
        lookahead = {
            "lookahead": check_lookahead(checked, cuts=3, data=data).to_dict(),
            "warmup": _warmup_check(checked, data),
        }
    results = gates_lib.evaluate_gates(gates, config.asset_class, oos, stress)
    if lookahead is not None:  # a strategy that peeks at future bars fails, whatever its numbers
        flags = len(lookahead["lookahead"].get("flags", []))
        clean = not lookahead["lookahead"]["flagged"]
        results.append(gates_lib.GateResult("lookahead_flags", float(flags), 0.0, clean, "<="))
    allowlist = gates_lib.build_allowlist(
        stress["slices"]["session"],
        stress["slices"]["regime"],
        gates.allowlist,
        session_names=list(settings.sessions),
    )
    report: dict[str, Any] = {
        "strategy_id": config.strategy_id,
        "asset_class": config.asset_class,
        "backtest": config.backtest,
        "seed": config.seed,
        "windows": {
            "mode": config.windows.mode,
            "train_days": config.windows.train_days,
            "test_days": config.windows.test_days,
            "purge_bars": config.windows.purge_bars,
            "embargo_bars": config.windows.embargo_bars,
            "warmup_bars": config.windows.warmup_bars,
        },
        "search": {"objective": config.search.objective, "params": config.search.params},
        "folds": [fold_record(o) for o in outcomes],
        "aggregate": oos,
        # out-of-sample trades whose exit bar touched both stop and target (folds: per fold)
        "both_levels_touched": tally(
            [t["both_levels_touched"] for t in trades], [t["pnl"] for t in trades]
        ).as_dict(),
        "annualisation": {"periods_per_year": periods, "basis": config.asset_class},
        "stress": stress,
        "gates": [r.as_dict() for r in results],
        "verdict": gates_lib.verdict(results),
        "allowlist": dict(allowlist),
        "labels": {  # what classified the slices: the strategy's router settings
            "sessions_config": settings_path,
            "sessions": {name: [w.start, w.end] for name, w in settings.sessions.items()},
            "regimes": msgspec.structs.asdict(settings.regimes),
        },
        "lookahead": lookahead,
        "equity_curves": {f"fold {o.fold.index}": o.test.equity for o in outcomes},
        "oos_daily_returns": {
            "days": [d for o in outcomes for d in o.test.days],
            "returns": [r for o in outcomes for r in o.test.returns],
        },
        "trades": len(trades),
        "executor": {"kind": config.executor.kind, "workers": config.executor.workers},
        "wall_seconds": round(time.perf_counter() - started, 3),
    }
    return report


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return _json_ready(value.item())
    return value


def write_report(report: dict[str, Any], folder: Path, periods: int) -> dict[str, str]:
    """Persist a report: ``report.json``, ``report.html`` and the quantstats ``tearsheet.html``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": str(folder / "report.json"), "html": str(folder / "report.html")}
    daily = report["oos_daily_returns"]
    if daily["returns"]:
        series = pd.Series(daily["returns"], index=pd.to_datetime(daily["days"], unit="ns", utc=True))
        series = series.groupby(level=0).sum().sort_index()
        writer = resolve(TEARSHEET_RENDERER, "tearsheet")
        paths["tearsheet"] = str(
            writer(series, folder / "tearsheet.html", f"{report['strategy_id']} out of sample", periods)
        )
        report["tearsheet"] = paths["tearsheet"]
    ready = _json_ready(report)
    Path(paths["json"]).write_text(json.dumps(ready, indent=1, allow_nan=False) + "\n")
    resolve(HTML_RENDERER, "renderer")(ready, Path(paths["html"]))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m research.validate``."""
    parser = argparse.ArgumentParser(prog="python -m research.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="configs/validation/<name>.toml")
    parser.add_argument("--output", help="report folder root (default: the config's `output`)")
    args = parser.parse_args(argv)
    try:
        config = load_validation_config(args.config)
        report = validate(config)
    except (
        ValidationConfigError,
        gates_lib.GatesConfigError,
        ConfigError,
        FeatureConfigError,
        DataError,
        FileNotFoundError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    folder = Path(args.output or config.output) / config.strategy_id
    periods = int(report["annualisation"]["periods_per_year"])
    paths = write_report(report, folder, periods)
    failed = [g["name"] for g in report["gates"] if not g["passed"]]
    print(
        json.dumps(
            {
                "strategy_id": config.strategy_id,
                "verdict": report["verdict"],
                "oos_trades": report["trades"],
                "failed_gates": failed,
                "folds": len(report["folds"]),
                "wall_seconds": report["wall_seconds"],
                **paths,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
