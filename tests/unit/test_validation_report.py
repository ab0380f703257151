"""reports.validation: the report's charts have date and percent axes, and none is drawn empty."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib import dates as mdates

from reports import validation as rv

HOUR_NS = 3_600_000_000_000


def _curve(start: str, hours: int, equity: float = 10_000.0) -> list[list[float]]:
    first = pd.Timestamp(start, tz="UTC").value
    return [[first + i * HOUR_NS, equity - i] for i in range(hours)]


def _report(**overrides: Any) -> dict[str, Any]:
    fold = {
        "index": 0,
        "windows": {
            "train_start": "2025-06-01T00:00:00+00:00",
            "train_end": "2025-06-08T00:00:00+00:00",
            "test_start": "2025-06-09T00:00:00+00:00",
            "test_end": "2025-06-12T00:00:00+00:00",
        },
        "params": {"fast_period": 10},
        "test": {"trades": 3, "sharpe": -1.0, "max_drawdown": -0.01},
    }
    block = {
        "method": "monte_carlo_reorder",
        "runs": 3,
        "max_drawdown": {"p5": 0.01, "p50": 0.02, "p95": 0.03},
    }
    report: dict[str, Any] = {
        "strategy_id": "EMACross-T",
        "verdict": "fail",
        "asset_class": "crypto_futures",
        "backtest": "configs/backtest/x.toml",
        "gates": [
            {"name": "oos_trades", "value": 3.0, "threshold": 500.0, "comparison": ">=", "passed": False}
        ],
        "aggregate": {"trades": 3},
        "folds": [fold],
        "equity_curves": {"fold 0": _curve("2025-06-09", 72), "fold 1": _curve("2025-06-12", 72)},
        "stress": {"monte_carlo_reorder": block, "bootstrap_trades": dict(block, method="bootstrap_trades")},
        "allowlist": {"allowed_sessions": []},
    }
    report.update(overrides)
    return report


def _images(page: str) -> int:
    return len(re.findall(r"<img [^>]*src=\"data:image/png;base64,", page))


def test_equity_chart_has_a_utc_date_axis_over_the_windows() -> None:
    curves = _report()["equity_curves"]
    figure = rv.equity_figure(curves)
    assert figure is not None
    axis = figure.axes[0]
    assert axis.get_xlabel() == "date (UTC)" and "since 1970" not in axis.get_xlabel()
    assert axis.get_ylabel() == "equity (account currency)"
    assert "each window starts at 10,000.00" in axis.get_title()
    lo, hi = (mdates.num2date(x).replace(tzinfo=None) for x in axis.get_xlim())
    first, last = pd.Timestamp("2025-06-09"), pd.Timestamp("2025-06-14 23:00")
    assert first - pd.Timedelta(days=1) <= lo <= first and last <= hi <= last + pd.Timedelta(days=1)
    figure.canvas.draw()
    ticks = [
        (mdates.num2date(x), t.get_text())
        for x, t in zip(axis.get_xticks(), axis.get_xticklabels(), strict=True)
    ]
    assert ticks and all(
        label == f"{when:%d}" for when, label in ticks if lo <= when.replace(tzinfo=None) <= hi
    )
    assert axis.xaxis.get_major_formatter().get_offset() == "2025-Jun"  # day numbers of June 2025
    assert len(axis.get_lines()) == 2


def test_no_equity_points_means_no_equity_chart() -> None:
    assert rv.equity_figure({}) is None
    assert rv.equity_figure({"fold 0": []}) is None
    page = rv.render_validation_html(_report(equity_curves={"fold 0": []}))
    assert "No out-of-sample equity points" in page
    assert _images(page) == 0


def test_a_one_point_window_is_drawn_as_a_marker() -> None:
    figure = rv.equity_figure({"fold 0": _curve("2025-06-09", 1)})
    assert figure is not None
    assert figure.axes[0].get_lines()[0].get_marker() == "."


def test_drawdown_histogram_is_in_percent_and_only_drawn_with_samples() -> None:
    assert rv.distribution_figure("t", [], {"p95": 0.03}) is None
    figure = rv.distribution_figure("MC: max drawdown", [0.01, 0.02, 0.025, 0.03], {"p5": 0.01, "p95": None})
    assert figure is not None
    axis = figure.axes[0]
    assert "%" in axis.get_xlabel() and axis.get_ylabel() == "runs"
    figure.canvas.draw()
    assert any(t.get_text().endswith("%") for t in axis.get_xticklabels())
    assert [t.get_text() for t in axis.texts] == [" p5 1.00%"]
    # the report carries percentiles only: no histogram then, one per method with samples
    assert _images(rv.render_validation_html(_report())) == 1
    with_samples = _report()
    with_samples["stress"]["monte_carlo_reorder"] = dict(
        with_samples["stress"]["monte_carlo_reorder"], max_drawdown_samples=[0.01, 0.02, 0.03]
    )
    assert _images(rv.render_validation_html(with_samples)) == 2


@pytest.mark.parametrize("key", ["equity_curves", "stress"])
def test_page_renders_without_optional_sections(key: str, tmp_path: Path) -> None:
    report = _report()
    del report[key]
    path = rv.write_validation_html(report, tmp_path / "report.html")
    page = path.read_text(encoding="utf-8")
    assert "days since 1970" not in page and "<h2>Out-of-sample equity</h2>" in page
