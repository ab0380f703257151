"""Write a run folder, the same for a backtest and a replay: tables, tearsheet and ``summary.json``.

``summary.json`` keys: ``run``, ``fingerprint``, ``content_fingerprint``, ``metrics``,
``both_levels_touched``, ``fills``,
``orders``, ``starting_equity``, ``final_equity``, ``bars_processed``, ``wall_seconds``,
``approvals``, ``denials``, ``refused_fills``, ``ledgers``, ``journal``, ``tearsheet``, ``funding``,
``fx_swaps`` and, for option runs, ``option_settlements``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from nautilus_trader.model.data import Bar
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.trading.trader import Trader

from engine import carry as carry_lib
from engine.assets.registry import load_registry
from engine.configs import RunConfig
from engine.importing import resolve
from engine.results import RunResult, collect, write_table
from engine.wiring import Components


def collect_run(
    trader: Trader,
    components: Components,
    config: RunConfig,
    *,
    instruments: Sequence[Instrument],
    bars: Sequence[Bar],
    bar_days: Iterable[int],
    since_ns: int = 0,
) -> RunResult:
    """Collect a kernel that ran with the engine's one set of result rules, in any mode.

    ``instruments`` are every instrument of the run (reference instruments are left out of the
    annualisation here), ``bars`` the bars it executed on, ``bar_days`` its trading days.
    """
    reference = set(config.data.reference_instruments)
    result = collect(
        trader,
        samples=components.sampler.samples,
        starting_equity=starting_equity(config),
        bar_days=bar_days,
        instruments=[i for i in instruments if str(i.id) not in reference],
        assets=load_registry(tuple(config.desk.asset_classes)),
        bars=bars,
        evidence_ts=components.bridge.evidence_ts,
        since_ns=since_ns,
    )
    return attach_desk(result, components, instruments)


def starting_equity(config: RunConfig) -> float:
    """Return the sum of every venue's starting balances (the equity a run starts from)."""
    return sum(float(balance.split()[0]) for venue in config.venues for balance in venue.starting_balances)


def attach_desk(result: RunResult, components: Components, instruments: Sequence[Instrument]) -> RunResult:
    """Return ``result`` with the desk's counters, the traded ledgers, carry and option settlements."""
    desk = components.desk
    traded = {terms.asset for terms in desk.book.terms.values()}
    carry = components.carry.summary() if components.carry is not None else carry_lib.off_summary(instruments)
    return dataclasses.replace(
        result,
        approvals=desk.approvals,
        denials=dict(sorted(desk.denials.items())),
        refused_fills=desk.refused_fills,
        ledgers={
            asset: values
            for asset, values in desk.ledger_summary().items()
            if values["trades"] or asset in traded
        },
        carry=carry,
        option_settlements=list(components.bridge.settlements),
    )


def summary(
    result: RunResult,
    config: RunConfig,
    *,
    bars_processed: int,
    wall_seconds: float,
    journal: Path | None,
    tearsheet: str | None,
) -> dict[str, Any]:
    """Return the content of ``summary.json``."""
    body: dict[str, Any] = {
        "run": config.run.name,
        "fingerprint": result.fingerprint,
        "content_fingerprint": result.content_fingerprint,
        "metrics": result.metrics,
        # closed trades whose exit bar touched both stop and target (docs/backtest-fill-rules.md)
        "both_levels_touched": result.both_levels.as_dict(),
        "fills": len(result.fills),
        "orders": len(result.orders),
        "starting_equity": result.starting_equity,
        "final_equity": round(result.final_equity, 8),
        "bars_processed": bars_processed,
        "wall_seconds": round(wall_seconds, 3),
        "approvals": result.approvals,
        "denials": result.denials,
        "refused_fills": result.refused_fills,
        "ledgers": result.ledgers,
        "journal": str(journal) if journal is not None else None,
        "tearsheet": tearsheet,
        "funding": result.carry.get("funding", {}),  # source (recorded / constant / off), payments, total
        "fx_swaps": result.carry.get("fx_swaps", {}),
    }
    if result.option_settlements:  # option positions settled at intrinsic value at expiry
        body["option_settlements"] = result.option_settlements
    return body


def write(
    result: RunResult,
    config: RunConfig,
    out_dir: Path,
    *,
    bars_processed: int,
    wall_seconds: float,
    journal: Path | None,
) -> dict[str, Any]:
    """Write the run folder (tables, tearsheet, ``summary.json``); return the summary."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("fills", "orders", "positions", "equity"):
        write_table(getattr(result, name), out_dir / f"{name}.parquet")
    tearsheet: str | None = None
    if config.report.tearsheet:
        renderer = resolve(config.report.renderer, "report.renderer")
        series = result.daily_series(config.run.name)
        tearsheet = str(
            renderer(series, out_dir / "tearsheet.html", config.run.name, result.periods_per_year)
        )
    body = summary(
        result,
        config,
        bars_processed=bars_processed,
        wall_seconds=wall_seconds,
        journal=journal,
        tearsheet=tearsheet,
    )
    write_summary(body, out_dir)
    return body


def write_summary(body: dict[str, Any], out_dir: Path) -> None:
    """Write ``summary.json`` into the run folder."""
    (out_dir / "summary.json").write_text(json.dumps(body, indent=2, allow_nan=False) + "\n")


def print_summary(body: dict[str, Any], out_dir: Path) -> None:
    """Print a run's one-line result and where its summary and tearsheet are."""
    metrics = body["metrics"]
    print(
        f"{body['run']}: {metrics['trades']} trades, total return {metrics['total_return']:.4%}, "
        f"sharpe {metrics['sharpe']}, max drawdown {metrics['max_drawdown']}, "
        f"{body['bars_processed']} bars in {body['wall_seconds']} s"
    )
    print(f"summary:   {out_dir / 'summary.json'}")
    print(f"tearsheet: {body['tearsheet']}")
