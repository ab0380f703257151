"""reports.tearsheet: offline quantstats HTML, degenerate series, compute/render/persist split."""

from __future__ import annotations

import re
import socket
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import tearsheet as ts
from reports import tearsheet_charts as tsc


def _series(values: np.ndarray | list[float], start: str = "2024-01-01") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="D", tz="UTC")
    return pd.Series(np.asarray(values, dtype=float), index=index)


@pytest.fixture
def seeded_200_days() -> pd.Series:
    rng = np.random.default_rng(42)
    values = rng.normal(0.001, 0.02, 200)
    values[60:90] -= 0.01  # a visible drawdown
    return _series(values)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to open a connection or resolve a host name."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_writes_full_tearsheet_offline(seeded_200_days: pd.Series, tmp_path: Path) -> None:
    target = tmp_path / "out" / "btc_tearsheet.html"
    written = ts.write_tearsheet(seeded_200_days, target, "BTC EMA cross", 365)
    assert written == target
    assert target.is_file()
    page = target.read_text(encoding="utf-8")
    assert len(page) > 50_000
    assert page.lstrip().lower().startswith(("<!doctype html", "<!--"))
    assert "</html>" in page
    assert "BTC EMA cross" in page
    assert "<title>BTC EMA cross</title>" in page
    assert "Sharpe" in page and "Sortino" in page and "Max Drawdown" in page
    assert "<svg" in page  # charts are inlined
    assert "Periods/Year: 365" in page
    assert "qtpylib.io" not in page  # the template's external favicon is stripped
    assert "<script" not in page.lower()
    assert "Traceback" not in page
    assert not list(target.parent.glob("*.tmp"))  # atomic write left no temp file


def test_render_uses_agg_backend(seeded_200_days: pd.Series) -> None:
    import matplotlib

    ts.render_tearsheet_html(ts.prepare_returns(seeded_200_days), "agg", 252)
    assert matplotlib.get_backend().lower() == "agg"


def test_title_is_escaped(seeded_200_days: pd.Series) -> None:
    page = ts.render_tearsheet_html(ts.prepare_returns(seeded_200_days), "A & B <i>x</i>", 252)
    assert "A &amp; B &lt;i&gt;x&lt;/i&gt;" in page
    assert "<i>x</i>" not in page


@pytest.mark.parametrize(
    "values",
    [
        pytest.param([], id="empty"),
        pytest.param([0.01], id="one-day"),
        pytest.param([0.01, -0.02], id="two-days"),
        pytest.param(np.zeros(200), id="all-zero-no-trades"),
    ],
)
def test_degenerate_series_get_a_minimal_page(values: list[float], tmp_path: Path) -> None:
    target = ts.write_tearsheet(_series(values), tmp_path / "t.html", "Degenerate run", 365)
    page = target.read_text(encoding="utf-8")
    assert "<html" in page and "</html>" in page
    assert "Degenerate run" in page
    assert "No full tearsheet" in page
    assert "Traceback" not in page


def test_short_but_sufficient_series_renders_quantstats(tmp_path: Path) -> None:
    values = [0.01, -0.02, 0.015, 0.0, -0.005]
    page = ts.write_tearsheet(_series(values), tmp_path / "t.html", "Five days", 365).read_text()
    assert "No full tearsheet" not in page
    assert "Sharpe" in page


def test_render_and_write_produce_the_same_page(seeded_200_days: pd.Series, tmp_path: Path) -> None:
    rendered = ts.render_tearsheet_html(ts.prepare_returns(seeded_200_days), "Same", 365)
    written = ts.write_tearsheet(seeded_200_days, tmp_path / "same.html", "Same", 365)
    assert written.read_text(encoding="utf-8") == rendered


class TestPrepareReturns:
    def test_converts_to_tz_naive_utc_sorted_finite(self) -> None:
        index = pd.DatetimeIndex(
            ["2024-01-02 00:00", "2024-01-01 00:00", "2024-01-03 00:00"], tz="Europe/Berlin"
        )
        raw = pd.Series([0.02, 0.01, np.nan], index=index)
        out = ts.prepare_returns(raw)
        assert out.index.tz is None
        assert out.index.tolist() == [pd.Timestamp("2023-12-31 23:00"), pd.Timestamp("2024-01-01 23:00")]
        assert out.tolist() == [0.01, 0.02]
        assert out.dtype == np.float64
        assert out.name == "Strategy"
        assert raw.index.tz is not None  # input untouched

    def test_naive_index_is_taken_as_utc(self) -> None:
        raw = pd.Series([0.01, 0.02], index=pd.date_range("2024-01-01", periods=2, freq="D"))
        assert ts.prepare_returns(raw).index.equals(raw.index)

    def test_rejects_non_datetime_index(self) -> None:
        with pytest.raises(TypeError):
            ts.prepare_returns(pd.Series([0.01, 0.02]))

    def test_rejects_duplicate_days(self) -> None:
        index = pd.DatetimeIndex(["2024-01-01", "2024-01-01"], tz="UTC")
        with pytest.raises(ValueError):
            ts.prepare_returns(pd.Series([0.01, 0.02], index=index))


def test_degenerate_reason() -> None:
    assert ts.degenerate_reason(ts.prepare_returns(_series([0.01] * 10))) is None
    assert "zero" in (ts.degenerate_reason(ts.prepare_returns(_series(np.zeros(30)))) or "")
    assert "only 2" in (ts.degenerate_reason(ts.prepare_returns(_series([0.01, 0.02]))) or "")


# ---------------------------------------------------------------------------------- every figure

_METRIC_ROW = re.compile(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>")
_DATE_TICK = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$")


def _metric_rows(page: str) -> dict[str, str]:
    right = page[page.index('<div id="right">') :]
    return dict(_METRIC_ROW.findall(right[: right.index("</table>")]))


def _worst_drawdown_rows(page: str) -> list[list[str]]:
    block = page[page.index('<div id="ddinfo">') :]
    body = block[block.index("<tbody>") : block.index("</tbody>")]
    return [re.findall(r"<td>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body)]


def _charts(page: str) -> dict[str, str]:
    left = page[page.index('<div id="left">') : page.index('<div id="right">')]
    return dict(re.findall(r'<div id="(\w+)">(.*?)</div>', left, flags=re.DOTALL))


def _svg_texts(svg: str) -> list[str]:
    """matplotlib writes each text element's string as an SVG comment before its glyphs."""
    return re.findall(r"<!-- (.*?) -->", svg)


def _assert_date_ticks_within(page: str, returns: pd.Series) -> None:
    first, last = returns.index[0], returns.index[-1]
    for chart_id, svg in _charts(page).items():
        for text in _svg_texts(svg):
            match = _DATE_TICK.match(text)
            if match is None or not 1990 <= int(match[1]) <= 2100:
                continue
            tick = pd.Timestamp(text)
            if match[3] is None:  # a year or a month label: compare the period
                lo = first.to_period("M" if match[2] else "Y").start_time
                assert lo <= tick <= last, (chart_id, text)
            else:
                assert first.normalize() <= tick <= last, (chart_id, text)


@pytest.fixture
def default_run_shape() -> pd.Series:
    """31 days under water from the first day, never back at the start (the default backtest)."""
    rng = np.random.default_rng(7)
    values = -np.abs(rng.normal(0.0025, 0.0015, 31))
    values[[5, 17]] = 0.0001  # two small up days, far from recovering
    return _series(values, start="2025-05-30")


def test_default_run_shape_fills_every_metric_row(default_run_shape: pd.Series) -> None:
    returns = ts.prepare_returns(default_run_shape)
    page = ts.render_tearsheet_html(returns, "ema", 365)
    rows = _metric_rows(page)
    assert len(rows) > 60
    for name, value in rows.items():
        assert value.strip() not in {"", "-", "%", "nan", "nan%"}, name
    from engine.metrics import max_drawdown

    assert rows["Max Drawdown"] == f"{round(max_drawdown(returns.to_numpy()) * 100, 2)}%"
    assert rows["Max DD Period Start"] == "2025-05-30"
    assert rows["Max DD Period End"] == "2025-06-29 (last sample, not recovered)"
    assert rows["Max DD Date"] == "2025-06-29"  # the last day is the lowest
    assert rows["Longest DD Days"] == "31"
    assert rows["Avg. Drawdown"] == rows["Max Drawdown"] and rows["Avg. Drawdown Days"] == "31"
    assert rows["Avg. Up Month"] == "n/a (no up month)"
    names = list(rows)
    assert names.index("Avg. Drawdown") + 1 == names.index("Avg. Drawdown Days")
    assert names.index("Avg. Drawdown Days") + 1 == names.index("Recovery Factor")
    assert _worst_drawdown_rows(page) == [
        ["2025-05-30", "not recovered (last sample 2025-06-29)", rows["Max Drawdown"][:-1], "31"]
    ]


def test_default_run_shape_leaves_out_the_charts_it_cannot_fill(default_run_shape: pd.Series) -> None:
    returns = ts.prepare_returns(default_run_shape)
    page = ts.render_tearsheet_html(returns, "ema", 365)
    charts = _charts(page)
    for chart_id in ("rolling_vol", "rolling_sharpe", "rolling_sortino", "monthly_dist"):
        assert "<svg" not in charts[chart_id] and 'class="omitted"' in charts[chart_id], chart_id
    assert "at least 184 daily returns" in charts["rolling_vol"]
    drawn = [cid for cid, svg in charts.items() if "<svg" in svg]
    assert {"dd_periods", "dd_plot", "monthly_heatmap", "returns_dist", "log_returns"} <= set(drawn)
    for chart_id in drawn:
        years = [t for t in _svg_texts(charts[chart_id]) if re.fullmatch(r"20[01]\d", t)]
        assert not years, (chart_id, years)  # matplotlib's empty date axis is 2000-2010
    _assert_date_ticks_within(page, returns)
    heatmap = _svg_texts(charts["monthly_heatmap"])
    assert "MAY" in heatmap and "JUN" in heatmap and "JAN" not in heatmap
    assert "0.00" not in heatmap  # no invented zero months
    assert "Quarterly, Yearly left out: fewer than two periods" in _svg_texts(charts["returns_dist"])
    assert "Strategy - Worst Drawdown Period" in _svg_texts(charts["dd_periods"])


def test_long_series_keeps_the_rolling_charts_within_its_dates(seeded_200_days: pd.Series) -> None:
    returns = ts.prepare_returns(seeded_200_days)
    page = ts.render_tearsheet_html(returns, "long", 365)
    charts = _charts(page)
    for chart_id in ("rolling_vol", "rolling_sharpe", "rolling_sortino", "monthly_dist"):
        assert "<svg" in charts[chart_id], chart_id
    _assert_date_ticks_within(page, returns)
    rows = _metric_rows(page)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import quantstats as qs

        theirs = qs.stats.drawdown_details(qs.stats.to_drawdown_series(returns))
    worst = theirs.sort_values("max drawdown").iloc[0]
    assert rows["Max Drawdown"] == f"{round(worst['max drawdown'], 2)}%"
    assert rows["Max DD Period Start"] == worst["start"] and rows["Max DD Date"] == worst["valley"]
    assert len(_worst_drawdown_rows(page)) == min(10, len(theirs))


def test_a_series_without_drawdown_says_so() -> None:
    page = ts.render_tearsheet_html(ts.prepare_returns(_series([0.001] * 40)), "up", 365)
    rows = _metric_rows(page)
    assert rows["Max Drawdown"] == "0.0%"
    assert rows["Max DD Date"] == "none (no drawdown)" and rows["Longest DD Days"] == "0"
    assert "-" not in rows.values() and "" not in rows.values()
    assert _worst_drawdown_rows(page) == []


class TestOmittedCharts:
    @pytest.mark.parametrize(
        ("n", "periods", "omitted"),
        [(183, 365, True), (184, 365, False), (126, 252, True), (127, 252, False)],
    )
    def test_rolling_charts_need_one_return_more_than_their_window(
        self, n: int, periods: int, omitted: bool
    ) -> None:
        reasons = tsc.omitted_charts(ts.prepare_returns(_series(np.full(n, 0.001))), periods)
        assert ("rolling_sharpe" in reasons) is omitted

    def test_monthly_distribution_needs_six_months(self) -> None:
        five = ts.prepare_returns(_series(np.full(150, 0.001), start="2024-01-01"))  # Jan..May
        six = ts.prepare_returns(_series(np.full(160, 0.001), start="2024-01-01"))  # Jan..Jun
        assert "covers 5" in tsc.omitted_charts(five, 252)["monthly_dist"]
        assert "monthly_dist" not in tsc.omitted_charts(six, 252)


class TestRedrawnCharts:
    def test_heatmap_has_only_the_months_of_the_data(self) -> None:
        returns = ts.prepare_returns(_series(np.full(80, 0.001), start="2024-11-15"))
        figure = tsc.monthly_heatmap_figure(returns)
        axis = figure.axes[0]
        assert [t.get_text() for t in axis.get_xticklabels()] == ["JAN", "FEB", "NOV", "DEC"]
        assert [t.get_text() for t in axis.get_yticklabels()] == ["2024", "2025"]
        assert len(axis.texts) == 4  # Nov, Dec 2024 and Jan, Feb 2025; the other cells stay blank

    def test_return_quantiles_take_one_value_per_period(self) -> None:
        values = np.zeros(91)
        values[0] = 0.10
        values[40] = -0.05
        returns = ts.prepare_returns(_series(values, start="2024-01-01"))  # Jan..Mar 31: one quarter
        groups = tsc.period_returns(returns)
        assert groups["Monthly"] == pytest.approx([0.10, -0.05, 0.0])
        assert groups["Quarterly"] == pytest.approx([1.10 * 0.95 - 1.0])
        assert groups["Yearly"].size == 1 and groups["Daily"].size == 91
        assert groups["Weekly"].size == 13  # Mon 1 Jan .. Sun 31 Mar: 13 calendar weeks
        axis = tsc.return_quantiles_figure(returns).axes[0]
        assert [t.get_text() for t in axis.get_xticklabels()] == ["Daily", "Weekly", "Monthly"]
        assert "Quarterly, Yearly" in axis.get_xlabel()

    def test_drawdown_chart_shades_the_worst_five_within_the_data(self) -> None:
        values = np.tile([0.02, -0.01, -0.01, 0.03], 10)
        returns = ts.prepare_returns(_series(values))
        axis = tsc.drawdown_periods_figure(returns).axes[0]
        assert len(axis.patches) == 5
        import matplotlib.dates as mdates

        lo, hi = axis.get_xlim()
        assert (mdates.num2date(lo).date(), mdates.num2date(hi).date()) == (
            returns.index[0].date(),
            returns.index[-1].date(),
        )
