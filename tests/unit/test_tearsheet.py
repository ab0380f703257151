"""reports.tearsheet: offline quantstats HTML, degenerate series, compute/render/persist split."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports import tearsheet as ts


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
