"""Render a validation report (``report.json``'s content) as one self-contained HTML page.

Compute, render, persist are separate: :mod:`research.validate` computes the report dict, this
module only turns it into HTML (tables and matplotlib figures embedded as PNG), and the caller
writes the file. Nothing here reads market data or runs a backtest.

Figures: the out-of-sample equity of each test window on a UTC date axis, and (when the report
carries ``max_drawdown_samples``) the histogram of a Monte Carlo method's drawdown depths in
percent. A figure without data is left out and a sentence says so.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.pass { color: #0a7d22; font-weight: 600; } .fail { color: #b00020; font-weight: 600; }
img { max-width: 100%; } p.note { color: #555; font-size: 0.9em; }
"""


def _fmt(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> str:
    head = "".join(
        f'<th class="{"l" if i < left else ""}">{html.escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"l" if i < left else ""}">{cell}</td>' for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def equity_figure(curves: Mapping[str, Sequence[Sequence[float]]]) -> Figure | None:
    """Draw each test window's out-of-sample equity against its UTC dates.

    Parameters
    ----------
    curves : Mapping of str to sequence of (ts_ns, equity)
        The report's ``equity_curves``: per window, points of UTC nanoseconds and account equity.

    Returns
    -------
    matplotlib.figure.Figure or None
        The chart, or ``None`` when no window has a point.
    """
    drawn = {name: points for name, points in curves.items() if points}
    if not drawn:
        return None
    figure = Figure(figsize=(9, 3.5))
    axis = figure.subplots()
    for name, points in drawn.items():
        stamps = pd.to_datetime([int(p[0]) for p in points], utc=True).tz_localize(None)
        axis.plot(
            stamps, [p[1] for p in points], label=name, linewidth=1, marker="." if len(points) == 1 else ""
        )
    locator = mdates.AutoDateLocator()
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    axis.set_xlabel("date (UTC)")
    axis.set_ylabel("equity (account currency)")
    starts = {float(points[0][1]) for points in drawn.values()}
    subtitle = f"; each window starts at {starts.pop():,.2f}" if len(starts) == 1 else ""
    axis.set_title(f"Out-of-sample equity per test window{subtitle}")
    axis.legend(fontsize=7, ncol=4)
    return figure


def distribution_figure(
    title: str, values: Sequence[float], marks: Mapping[str, float | None]
) -> Figure | None:
    """Draw the histogram of simulated drawdown depths with their percentiles marked.

    Parameters
    ----------
    title : str
        Chart title.
    values : sequence of float
        Drawdown depths as positive fractions of the running peak
        (``research.validation.stress``'s convention).
    marks : Mapping of str to float or None
        Percentile label to depth (``None`` is skipped).

    Returns
    -------
    matplotlib.figure.Figure or None
        The chart, or ``None`` without values.
    """
    if not values:
        return None
    figure = Figure(figsize=(6, 3))
    axis = figure.subplots()
    axis.hist(values, bins=40, color="#5b8def")
    top = axis.get_ylim()[1]
    for label, value in marks.items():
        if value is not None:
            axis.axvline(value, color="#b00020", linestyle="--", linewidth=1)
            axis.text(value, top * 0.9, f" {label} {value:.2%}", fontsize=7, color="#b00020")
    axis.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    axis.set_xlabel("max drawdown depth (% of the running peak)")
    axis.set_ylabel("runs")
    axis.set_title(title)
    return figure


def render_validation_html(report: Mapping[str, Any]) -> str:
    """Return the HTML page of a validation report: verdict, gates, folds, curves, stress, allowlist."""
    verdict = report.get("verdict", "fail")
    parts = [
        f"<html><head><meta charset='utf-8'><title>Validation {html.escape(report['strategy_id'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Validation of {html.escape(report['strategy_id'])}: "
        f"<span class='{verdict}'>{verdict.upper()}</span></h1>",
        f"<p>Asset class {html.escape(str(report.get('asset_class')))}; run config "
        f"{html.escape(str(report.get('backtest')))}; {len(report.get('folds', []))} walk-forward folds.</p>",
        "<h2>Gates</h2>",
        _table(
            ["gate", "value", "threshold", "passed"],
            [
                [
                    html.escape(g["name"]),
                    _fmt(g["value"]),
                    f"{html.escape(str(g.get('comparison', '')))} {_fmt(g['threshold'])}",
                    _verdict_cell(bool(g["passed"])),
                ]
                for g in report.get("gates", [])
            ],
        ),
        "<h2>Out-of-sample aggregate</h2>",
        _table(
            ["metric", "value"], [[html.escape(k), _fmt(v)] for k, v in report.get("aggregate", {}).items()]
        ),
        _both_levels_note(report.get("both_levels_touched")),
        "<h2>Folds</h2>",
    ]
    metric_names = [
        "trades",
        "sharpe",
        "sortino",
        "max_drawdown",
        "profit_factor",
        "expectancy",
        "total_return",
    ]
    parts.append(
        _table(
            ["fold", "train", "test", "params", *[f"test {m}" for m in metric_names], "both levels"],
            [
                [
                    f["index"],
                    f"{f['windows']['train_start'][:16]} .. {f['windows']['train_end'][:16]}",
                    f"{f['windows']['test_start'][:16]} .. {f['windows']['test_end'][:16]}",
                    html.escape(", ".join(f"{k}={v}" for k, v in f["params"].items())),
                    *[_fmt(f["test"].get(m)) for m in metric_names],
                    _fmt((f.get("both_levels_touched") or {}).get("count")),
                ]
                for f in report.get("folds", [])
            ],
            left=4,
        )
    )
    parts.append("<h2>Out-of-sample equity</h2>")
    equity = equity_figure(report.get("equity_curves", {}))
    parts.append(_png(equity) if equity else "<p class='note'>No out-of-sample equity points: no chart.</p>")
    stress = report.get("stress", {})
    parts.append("<h2>Stress</h2>")
    parts.append(
        "<p class='note'>Monte Carlo and bootstrap drawdowns are positive depths of the trade-by-trade "
        "equity below its running peak (0.05 is 5 %); the aggregate's max_drawdown is the same "
        "quantity on daily equity, as a negative fraction.</p>"
    )
    for key, title in (
        ("monte_carlo_reorder", "Monte Carlo trade reordering"),
        ("bootstrap_trades", "Trade bootstrap"),
    ):
        block = stress.get(key) or {}
        parts.append(f"<h3>{html.escape(title)}</h3>")
        percentiles = block.get("max_drawdown", {}) or {}
        histogram = distribution_figure(
            f"{title}: max drawdown", block.get("max_drawdown_samples", []), dict(percentiles)
        )
        if histogram is not None:
            parts.append(_png(histogram))
        rows: list[list[str]] = []
        for name, value in block.items():
            if name.endswith("_samples"):
                continue
            if isinstance(value, Mapping):  # percentiles: one row per level
                rows.extend([f"{html.escape(name)} {html.escape(k)}", _fmt(v)] for k, v in value.items())
            else:
                rows.append([html.escape(name), _fmt(value)])
        parts.append(_table(["measure", "value"], rows))
    for key in ("cost_shocks", "reruns", "perturbation", "slices"):
        if key in stress:
            parts.append(
                f"<h3>{html.escape(key.replace('_', ' '))}</h3><pre>{html.escape(_pretty(stress[key]))}</pre>"
            )
    allowlist = report.get("allowlist", {})
    parts.append("<h2>Allowlist (enforced by the entry router)</h2>")
    parts.append(
        _table(
            ["field", "value"],
            [[html.escape(k), html.escape(_pretty(v))] for k, v in allowlist.items()],
        )
    )
    labels = report.get("labels")
    if labels:
        source = labels.get("sessions_config") or "built-in defaults (no sessions_config)"
        parts.append(
            f"<p>Sessions and regimes classified with the strategy's router settings: "
            f"{html.escape(str(source))}.</p>"
        )
    lookahead = report.get("lookahead")
    if lookahead is not None:
        parts.append(f"<h2>Lookahead and warm-up</h2><pre>{html.escape(_pretty(lookahead))}</pre>")
    tearsheet = report.get("tearsheet")
    if tearsheet:
        name = html.escape(Path(tearsheet).name)
        parts.append(f"<p>quantstats tearsheet of the out-of-sample returns: <a href='{name}'>{name}</a></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _both_levels_note(counted: Mapping[str, Any] | None) -> str:
    """Return the paragraph on the trades whose exit bar touched both stop and target."""
    if not counted:
        return ""
    share = counted.get("share")
    percent = _fmt(share * 100 if share is not None else None)
    return (
        f"<p>{_fmt(counted.get('count'))} of {_fmt(counted.get('closed_trades'))} out-of-sample trades "
        f"({percent} %, net P&amp;L {_fmt(counted.get('pnl'))}) exited on a bar that touched both their "
        "stop and their target: the open-high-low-close replay decided them (a long takes its target, a "
        "short its stop). An edge made of these trades is an assumption about the bar, not a result.</p>"
    )


def _verdict_cell(passed: bool) -> str:
    return "<span class='pass'>pass</span>" if passed else "<span class='fail'>FAIL</span>"


def _pretty(value: object) -> str:
    import json

    return json.dumps(value, indent=1, default=str)


def write_validation_html(report: Mapping[str, Any], path: Path) -> Path:
    """Render ``report`` and write it to ``path``; return the path."""
    path.write_text(render_validation_html(report), encoding="utf-8")
    return path
