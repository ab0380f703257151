"""engine.metrics against quantstats, hand-computed values, edge cases and properties."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
import quantstats as qs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine import metrics as m
from engine.assets import builtin_registry

ROOT = Path(__file__).resolve().parents[2]
BTC_5M = ROOT / "data" / "sample" / "bybit" / "BTCUSDT_5m.parquet"


def _close(expected: float) -> object:
    """Match quantstats within 1e-6 absolute (or 1e-9 relative for large values)."""
    return pytest.approx(expected, rel=1e-9, abs=1e-6)


def _daily_index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2023-01-01", periods=n, freq="D", tz="UTC")


def _synthetic(name: str) -> pd.Series:
    rng = np.random.default_rng(20240601)
    if name == "normal":
        values = rng.normal(0.0008, 0.02, 400)
    elif name == "drawdown":
        values = rng.normal(0.001, 0.015, 500)
        values[150:230] -= 0.012  # a long slide of about -60 %
    elif name == "fat_tails":
        values = 0.01 * rng.standard_t(3, 730)
    elif name == "low_vol_with_flat_days":
        values = rng.normal(0.0003, 0.002, 300)
        values[rng.random(300) < 0.2] = 0.0  # flat days: zero returns
    else:
        raise ValueError(name)
    return pd.Series(values, index=_daily_index(values.size))


def _btc_daily_returns() -> pd.Series:
    df = pl.read_parquet(BTC_5M, columns=["timestamp", "close"]).sort("timestamp")
    ts = df["timestamp"].dt.epoch("ns").to_numpy()
    close = df["close"].to_numpy()
    days, rets = m.daily_returns_from_equity(ts, close)
    return pd.Series(rets, index=pd.to_datetime(days, utc=True))


SERIES = ["normal", "drawdown", "fat_tails", "low_vol_with_flat_days", "btc_daily"]


@pytest.fixture(scope="module", params=SERIES)
def returns(request: pytest.FixtureRequest) -> pd.Series:
    if request.param == "btc_daily":
        return _btc_daily_returns()
    return _synthetic(request.param)


@pytest.fixture(params=[365, 252], ids=["crypto365", "equity252"])
def periods(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def _qs(func, *args, **kwargs):
    """Call a quantstats function with its warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(func(*args, **kwargs))


# --------------------------------------------------------------------------- quantstats parity


class TestAgainstQuantstats:
    def test_sharpe(self, returns: pd.Series, periods: int) -> None:
        expected = _qs(qs.stats.sharpe, returns, rf=0.0, periods=periods, annualize=True)
        assert m.sharpe(returns, periods) == _close(expected)

    def test_sharpe_with_risk_free_rate(self, returns: pd.Series, periods: int) -> None:
        expected = _qs(qs.stats.sharpe, returns, rf=0.04, periods=periods, annualize=True)
        assert m.sharpe(returns, periods, rf=0.04) == _close(expected)

    def test_sortino(self, returns: pd.Series, periods: int) -> None:
        expected = _qs(qs.stats.sortino, returns, rf=0.0, periods=periods, annualize=True)
        assert m.sortino(returns, periods) == _close(expected)

    def test_sortino_with_risk_free_rate(self, returns: pd.Series, periods: int) -> None:
        expected = _qs(qs.stats.sortino, returns, rf=0.04, periods=periods, annualize=True)
        assert m.sortino(returns, periods, rf=0.04) == _close(expected)

    def test_max_drawdown(self, returns: pd.Series) -> None:
        assert m.max_drawdown(returns) == _close(_qs(qs.stats.max_drawdown, returns))

    def test_total_return(self, returns: pd.Series) -> None:
        assert m.total_return(returns) == _close(_qs(qs.stats.comp, returns))

    def test_cagr(self, returns: pd.Series, periods: int) -> None:
        expected = _qs(qs.stats.cagr, returns, rf=0.0, compounded=True, periods=periods)
        assert m.cagr(returns, periods) == _close(expected)

    def test_calmar(self, returns: pd.Series, periods: int) -> None:
        expected = _qs(qs.stats.calmar, returns, periods=periods)
        assert m.calmar(returns, periods) == _close(expected)

    def test_cvar_historical(self, returns: pd.Series) -> None:
        expected = _qs(qs.stats.cvar, returns, confidence=0.95, method="historical")
        assert m.cvar(returns, 0.05) == _close(expected)

    def test_cvar_parametric_is_quantstats_default(self, returns: pd.Series) -> None:
        expected = _qs(qs.stats.cvar, returns)  # quantstats' default: parametric, 95 %
        assert m.cvar(returns, 0.05, method="parametric") == _close(expected)

    def test_win_rate_shared_core(self, returns: pd.Series) -> None:
        # quantstats counts wins among non-zero period returns; ours over trades. Same core with
        # exclude_breakeven=True on the same vector.
        expected = _qs(qs.stats.win_rate, returns)
        assert m.win_rate(returns, exclude_breakeven=True) == _close(expected)

    def test_profit_factor_same_vector(self, returns: pd.Series) -> None:
        expected = _qs(qs.stats.profit_factor, returns)
        assert m.profit_factor(returns) == _close(expected)

    def test_series_with_gaps_matches_quantstats(self) -> None:
        r = _synthetic("drawdown").copy()
        r.iloc[[3, 50, 51, 300]] = np.nan
        assert m.sharpe(r, 365) == _close(_qs(qs.stats.sharpe, r, periods=365))
        assert m.sortino(r, 365) == _close(_qs(qs.stats.sortino, r, periods=365))
        assert m.max_drawdown(r) == _close(_qs(qs.stats.max_drawdown, r))

    def test_win_rate_differs_from_quantstats_with_breakeven(self) -> None:
        r = pd.Series([0.01, 0.0, -0.02, 0.0], index=_daily_index(4))
        assert _qs(qs.stats.win_rate, r) == pytest.approx(0.5)
        assert m.win_rate(r, exclude_breakeven=True) == pytest.approx(0.5)
        assert m.win_rate(r) == pytest.approx(0.25)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(
            st.floats(min_value=-0.5, max_value=0.5, allow_nan=False, allow_subnormal=False),
            min_size=3,
            max_size=120,
        )
    )
    def test_random_series_match_quantstats(self, values: list[float]) -> None:
        r = pd.Series(values, index=_daily_index(len(values)))
        assume(float(np.std(values)) > 1e-6)
        assert m.sharpe(r, 365) == _close(_qs(qs.stats.sharpe, r, periods=365))
        assert m.max_drawdown(r) == _close(_qs(qs.stats.max_drawdown, r))
        assert m.total_return(r) == _close(_qs(qs.stats.comp, r))
        expected_sortino = _qs(qs.stats.sortino, r, periods=365)
        if math.isfinite(expected_sortino):
            assert m.sortino(r, 365) == _close(expected_sortino)
        else:
            assert math.isnan(m.sortino(r, 365))


# --------------------------------------------------------------------------- hand-computed values


class TestHandComputed:
    def test_sharpe(self) -> None:
        r = [0.01, -0.01, 0.02]  # mean 0.00666..., sample std 0.0152752523
        expected = (0.02 / 3) / math.sqrt(((1 / 3) ** 2 + (5 / 3) ** 2 + (4 / 3) ** 2) / 2 / 1e4)
        assert m.sharpe(r, 1) == pytest.approx(expected, rel=1e-12)
        assert m.sharpe(r, 365) == pytest.approx(expected * math.sqrt(365), rel=1e-12)

    def test_sortino(self) -> None:
        r = [0.03, -0.01, 0.02, -0.02]  # downside sqrt((1e-4 + 4e-4) / 4)
        expected = 0.005 / math.sqrt(5e-4 / 4) * math.sqrt(252)
        assert m.sortino(r, 252) == pytest.approx(expected, rel=1e-12)

    def test_max_drawdown(self) -> None:
        assert m.max_drawdown([0.1, -0.5, 0.2]) == pytest.approx(-0.5)
        assert m.max_drawdown([0.1, 0.1, -0.1, -0.1, 0.5]) == pytest.approx(0.9 * 0.9 - 1)

    def test_max_drawdown_counts_a_first_period_loss(self) -> None:
        assert m.max_drawdown([-0.1, 0.05]) == pytest.approx(-0.1)

    def test_total_return_and_cagr(self) -> None:
        # two years of 365 daily returns compounding to +21 %: CAGR 10 %
        daily = 1.21 ** (1 / 730) - 1
        r = np.full(730, daily)
        assert m.total_return(r) == pytest.approx(0.21, rel=1e-10)
        assert m.cagr(r, 365) == pytest.approx(0.10, rel=1e-10)
        # the same 730 returns read as equity days (252 a year) span 2.897 years
        assert m.cagr(r, 252) == pytest.approx(1.21 ** (252 / 730) - 1, rel=1e-10)

    def test_calmar(self) -> None:
        r = [0.1, -0.5, 0.2, 0.0]  # total -34 % over 4 days; drawdown -50 %
        expected_cagr = 0.66 ** (4 / 4) - 1
        assert m.calmar(r, 4) == pytest.approx(expected_cagr / 0.5)

    def test_cvar_historical(self) -> None:
        r = np.arange(-10, 10) / 100  # 5 % quantile (linear): -0.1 + 0.95 * 0.01 = -0.0905
        assert m.cvar(r, 0.05) == pytest.approx(-0.10)
        assert m.cvar(r, 0.10) == pytest.approx(-0.095)  # quantile -0.081: {-0.10, -0.09}

    def test_cvar_parametric(self) -> None:
        r = np.array([0.01, -0.02, 0.03, -0.01, 0.02])
        mu, sd = r.mean(), r.std(ddof=1)
        phi_q = math.exp(-(1.6448536269514722**2) / 2) / math.sqrt(2 * math.pi)
        assert m.cvar(r, 0.05, method="parametric") == pytest.approx(mu - sd * phi_q / 0.05, rel=1e-9)

    def test_trade_metrics(self) -> None:
        pnls = [10.0, -5.0, 20.0, -5.0]
        assert m.profit_factor(pnls) == pytest.approx(3.0)
        assert m.win_rate(pnls) == pytest.approx(0.5)
        assert m.expectancy(pnls) == pytest.approx(5.0)

    def test_win_rate_counts_breakeven_trades(self) -> None:
        assert m.win_rate([10.0, 0.0, -5.0]) == pytest.approx(1 / 3)
        assert m.win_rate([10.0, 0.0, -5.0], exclude_breakeven=True) == pytest.approx(0.5)

    def test_compute_metrics(self) -> None:
        r = [0.1, -0.5, 0.2, 0.0]
        pnls = [10.0, -5.0, 20.0, -5.0]
        out = m.compute_metrics(r, pnls, [0.5, 0.5, 1.0, 1.0], 365)
        assert tuple(out) == m.METRIC_KEYS
        assert out["trades"] == 4 and isinstance(out["trades"], int)
        assert out["fees"] == pytest.approx(3.0)
        assert out["profit_factor"] == pytest.approx(3.0)
        assert out["expectancy"] == pytest.approx(5.0)
        assert out["max_drawdown"] == pytest.approx(-0.5)
        assert out["total_return"] == pytest.approx(-0.34)
        assert out["sharpe"] == pytest.approx(m.sharpe(r, 365))
        assert out["cvar_5"] == pytest.approx(m.cvar(r, 0.05))


# --------------------------------------------------------------------------- edge cases


class TestEdgeCases:
    def test_empty_everything(self) -> None:
        out = m.compute_metrics([], [], 0.0, 365)
        assert out == {
            "total_return": 0.0,
            "sharpe": None,
            "sortino": None,
            "calmar": None,
            "max_drawdown": 0.0,
            "profit_factor": None,
            "win_rate": None,
            "expectancy": None,
            "cvar_5": None,
            "trades": 0,
            "fees": 0.0,
        }
        json.dumps(out, allow_nan=False)

    def test_individual_functions_on_empty_input(self) -> None:
        assert math.isnan(m.sharpe([], 365))
        assert math.isnan(m.sortino([], 365))
        assert math.isnan(m.cagr([], 365))
        assert math.isnan(m.calmar([], 365))
        assert math.isnan(m.cvar([]))
        assert math.isnan(m.profit_factor([]))
        assert math.isnan(m.win_rate([]))
        assert math.isnan(m.expectancy([]))
        assert m.total_return([]) == 0.0
        assert m.max_drawdown([]) == 0.0

    def test_single_return(self) -> None:
        out = m.compute_metrics([0.01], [1.0], 0.1, 365)
        assert out["sharpe"] is None
        assert out["sortino"] is None
        assert out["calmar"] is None
        assert out["total_return"] == pytest.approx(0.01)
        assert out["cvar_5"] == pytest.approx(0.01)

    @pytest.mark.parametrize("value", [0.0, 0.001, -0.001])
    def test_zero_variance(self, value: float) -> None:
        r = np.full(50, value)
        assert math.isnan(m.sharpe(r, 365))
        out = m.compute_metrics(r, [], 0.0, 365)
        assert out["sharpe"] is None
        json.dumps(out, allow_nan=False)
        if value < 0:
            assert out["sortino"] == pytest.approx(-math.sqrt(365))
        else:
            assert out["sortino"] is None
            assert out["calmar"] is None  # no drawdown

    def test_no_losing_trades(self) -> None:
        assert m.profit_factor([1.0, 2.0, 0.0]) == math.inf
        out = m.compute_metrics([0.01, 0.02], [1.0, 2.0], 0.0, 365)
        assert out["profit_factor"] is None
        assert out["win_rate"] == 1.0

    def test_only_breakeven_trades(self) -> None:
        assert math.isnan(m.profit_factor([0.0, 0.0]))
        assert _qs(qs.stats.profit_factor, pd.Series([0.0, 0.0], index=_daily_index(2))) == 0.0
        assert m.win_rate([0.0, 0.0]) == 0.0
        assert math.isnan(m.win_rate([0.0, 0.0], exclude_breakeven=True))

    def test_only_losing_trades(self) -> None:
        assert m.profit_factor([-1.0, -2.0]) == 0.0
        assert m.win_rate([-1.0, -2.0]) == 0.0

    def test_no_trades(self) -> None:
        out = m.compute_metrics(_synthetic("normal"), [], 0.0, 365)
        assert out["trades"] == 0
        assert out["profit_factor"] is None and out["win_rate"] is None and out["expectancy"] is None
        assert out["sharpe"] is not None

    def test_total_loss(self) -> None:
        r = [0.1, -1.0, 0.5]
        assert m.max_drawdown(r) == -1.0
        assert m.total_return(r) == pytest.approx(-1.0)
        assert m.cagr(r, 365) == -1.0
        json.dumps(m.compute_metrics(r, [], 0.0, 365), allow_nan=False)

    def test_non_finite_returns_are_dropped(self) -> None:
        r = np.array([0.01, np.nan, -0.02, np.inf, 0.03, -np.inf])
        clean = [0.01, -0.02, 0.03]
        assert m.compute_metrics(r, [1.0, np.nan], 0.0, 365) == m.compute_metrics(clean, [1.0], 0.0, 365)

    def test_pandas_and_numpy_inputs_agree(self) -> None:
        r = _synthetic("drawdown")
        assert m.compute_metrics(r, pd.Series([1.0, -2.0]), 0.0, 365) == m.compute_metrics(
            r.to_numpy(), np.array([1.0, -2.0]), 0.0, 365
        )

    def test_explosive_growth_stays_json_safe(self) -> None:
        out = m.compute_metrics(np.full(3, 10.0), [], 0.0, 365)
        json.dumps(out, allow_nan=False)
        assert out["max_drawdown"] == 0.0

    def test_bad_arguments(self) -> None:
        with pytest.raises(ValueError):
            m.cvar([0.01], level=0.0)
        with pytest.raises(ValueError):
            m.cvar([0.01], method="gaussian")  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            m.compute_metrics([0.01], [], 0.0, 0)

    def test_each_asset_class_names_its_trading_days_a_year(self) -> None:
        assets = builtin_registry()
        assert [assets[name].periods_per_year for name in assets.names] == [365, 365, 252, 252]

    def test_handles_100k_returns(self) -> None:
        rng = np.random.default_rng(1)
        r = rng.normal(0.0, 0.01, 100_000)
        pnls = rng.normal(1.0, 10.0, 100_000)
        result = m.compute_metrics(r, pnls, 1.0, 365)
        assert result["trades"] == 100_000
        assert json.dumps(result, allow_nan=False)


# --------------------------------------------------------------------------- daily returns


class TestDailyReturnsFromEquity:
    DAY = m.NS_PER_DAY
    HOUR = 3_600_000_000_000

    def test_hand_example(self) -> None:
        t0 = 1_700_000_000_000_000_000 // self.DAY * self.DAY  # a UTC midnight
        ts = [t0 + self.HOUR, t0 + 20 * self.HOUR, t0 + self.DAY + self.HOUR, t0 + 3 * self.DAY]
        eq = [101.0, 110.0, 99.0, 108.9]
        days, rets = m.daily_returns_from_equity(ts, eq, starting_equity=100.0)
        assert days.dtype == np.int64
        assert days.tolist() == [t0, t0 + self.DAY, t0 + 3 * self.DAY]
        assert rets == pytest.approx([0.10, -0.10, 0.10])

    def test_default_start_is_first_observation(self) -> None:
        t0 = 10 * self.DAY
        _, rets = m.daily_returns_from_equity([t0, t0 + 5 * self.HOUR, t0 + self.DAY], [100.0, 105.0, 84.0])
        assert rets == pytest.approx([0.05, -0.2])

    def test_fill_gaps(self) -> None:
        t0 = 10 * self.DAY
        days, rets = m.daily_returns_from_equity(
            [t0, t0 + 3 * self.DAY], [110.0, 121.0], starting_equity=100.0, fill_gaps=True
        )
        assert days.tolist() == [t0 + k * self.DAY for k in range(4)]
        assert rets == pytest.approx([0.1, 0.0, 0.0, 0.1])

    def test_empty(self) -> None:
        days, rets = m.daily_returns_from_equity([], [])
        assert days.size == 0 and rets.size == 0

    def test_matches_pandas_resample_on_btc(self) -> None:
        df = pl.read_parquet(BTC_5M, columns=["timestamp", "close"]).sort("timestamp")
        close = pd.Series(
            df["close"].to_numpy(), index=pd.to_datetime(df["timestamp"].dt.epoch("ns").to_numpy(), utc=True)
        )
        start = 80_000.0
        days, rets = m.daily_returns_from_equity(close.index.asi8, close.to_numpy(), starting_equity=start)
        eod = close.resample("1D").last().dropna()
        expected = eod / eod.shift(1, fill_value=start) - 1
        assert days.tolist() == eod.index.asi8.tolist()
        np.testing.assert_allclose(rets, expected.to_numpy(), rtol=1e-12, atol=1e-15)
        assert len(rets) >= 80

    @pytest.mark.parametrize(
        ("ts", "eq", "start"),
        [
            ([2, 1], [1.0, 1.0], None),  # decreasing timestamps
            ([1, 2], [1.0], None),  # length mismatch
            ([1, 2], [1.0, np.nan], None),  # non-finite equity
            ([1], [1.0], 0.0),  # non-positive start
            ([1, m.NS_PER_DAY + 1, 2 * m.NS_PER_DAY + 1], [1.0, 0.0, 1.0], None),  # equity hits zero
        ],
    )
    def test_rejects_bad_input(self, ts: list[int], eq: list[float], start: float | None) -> None:
        with pytest.raises(ValueError):
            m.daily_returns_from_equity(ts, eq, starting_equity=start)


# --------------------------------------------------------------------------- properties

returns_lists = st.lists(
    st.floats(min_value=-1.0, max_value=10.0, allow_nan=False, allow_infinity=False), max_size=200
)
pnl_lists = st.lists(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False), max_size=200
)


@settings(max_examples=300, deadline=None)
@given(r=returns_lists, pnls=pnl_lists, fees=st.floats(0.0, 1e6), n=st.sampled_from([365, 252]))
def test_compute_metrics_is_finite_or_none_and_json_safe(
    r: list[float], pnls: list[float], fees: float, n: int
) -> None:
    out = m.compute_metrics(r, pnls, fees, n)
    assert tuple(out) == m.METRIC_KEYS
    for key, value in out.items():
        assert value is None or math.isfinite(value), key
    json.dumps(out, allow_nan=False)
    mdd = out["max_drawdown"]
    assert mdd is not None and -1.0 <= mdd <= 0.0
    pf = out["profit_factor"]
    assert pf is None or pf >= 0.0
    wr = out["win_rate"]
    assert wr is None or 0.0 <= wr <= 1.0
    assert out["trades"] == len(pnls)


@settings(max_examples=300, deadline=None)
@given(r=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=100))
def test_max_drawdown_bounded_for_any_float_input(r: list[float]) -> None:
    mdd = m.max_drawdown(r)
    assert -1.0 <= mdd <= 0.0


@settings(max_examples=300, deadline=None)
@given(p=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=100))
def test_trade_metrics_well_formed_for_any_float_input(p: list[float]) -> None:
    pf = m.profit_factor(p)
    assert math.isnan(pf) or pf >= 0.0
    wr = m.win_rate(p)
    assert math.isnan(wr) or 0.0 <= wr <= 1.0
    json.dumps(m.compute_metrics([], p, 0.0, 365), allow_nan=False)


def _days_ns(n: int, start: str = "2025-05-30") -> np.ndarray:
    return pd.date_range(start, periods=n, freq="D", tz="UTC").asi8


def _day(ns: int) -> str:
    return f"{pd.Timestamp(ns, tz='UTC'):%Y-%m-%d}"


class TestDrawdownPeriods:
    def test_a_drawdown_from_the_first_day_that_never_recovers_ends_at_the_last_sample(self) -> None:
        # the default backtest's shape: a loss on day one, small gains later, never back at the start
        r = [-0.01, -0.02, 0.005, -0.01, 0.001]
        (period,) = m.drawdown_periods(r, _days_ns(5))
        assert (_day(period.start_ns), _day(period.valley_ns), _day(period.end_ns)) == (
            "2025-05-30",
            "2025-06-02",
            "2025-06-03",
        )
        assert period.recovered is False
        assert period.days == 5  # through the last sample, inclusive
        assert period.depth == pytest.approx(m.max_drawdown(r), abs=1e-15)

    def test_recovered_drawdowns_end_on_the_recovery_day(self) -> None:
        r = [0.1, -0.1, -0.05, 0.2, 0.01, -0.02, 0.03]
        first, second = m.drawdown_periods(r, _days_ns(7, "2024-01-01"))
        assert (_day(first.start_ns), _day(first.valley_ns), _day(first.end_ns)) == (
            "2024-01-02",
            "2024-01-03",
            "2024-01-04",
        )
        assert first.recovered and first.days == 2
        assert first.depth == pytest.approx(0.9 * 0.95 - 1.0)
        assert (_day(second.start_ns), _day(second.end_ns), second.days) == ("2024-01-06", "2024-01-07", 1)
        assert second.recovered and second.depth == pytest.approx(-0.02)

    def test_days_count_calendar_days_across_missing_days(self) -> None:
        ts = pd.DatetimeIndex(["2024-01-05", "2024-01-08", "2024-01-09"], tz="UTC").asi8  # Fri, Mon, Tue
        (period,) = m.drawdown_periods([-0.01, 0.02, 0.0], ts)
        assert period.recovered and period.days == 3  # Friday to Monday

    def test_no_drawdown_gives_no_period(self) -> None:
        assert m.drawdown_periods([], []) == ()
        assert m.drawdown_periods([0.01, 0.0, 0.02], _days_ns(3)) == ()

    def test_a_wipe_out_is_a_full_unrecovered_drawdown(self) -> None:
        (period,) = m.drawdown_periods([0.1, -1.0, 0.5], _days_ns(3))
        assert period.depth == -1.0 and not period.recovered and period.days == 2

    def test_non_finite_returns_are_dropped_with_their_timestamps(self) -> None:
        ts = _days_ns(4)
        (period,) = m.drawdown_periods([0.01, np.nan, -0.02, np.inf], ts)
        assert period.start_ns == ts[2] and period.end_ns == ts[2]

    def test_rejects_mismatched_or_unordered_timestamps(self) -> None:
        with pytest.raises(ValueError, match="differ in length"):
            m.drawdown_periods([0.01, -0.01], _days_ns(3))
        with pytest.raises(ValueError, match="increase"):
            m.drawdown_periods([0.01, -0.01], _days_ns(2)[::-1])

    def test_agrees_with_quantstats_drawdown_details(self) -> None:
        """Same start, valley, depth and days; quantstats' end is the last day under water."""
        r = _synthetic("drawdown")
        ours = m.drawdown_periods(r.to_numpy(), r.index.asi8)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r))
        assert len(ours) == len(theirs) >= 5
        for period, (_, row) in zip(ours, theirs.iterrows(), strict=True):
            assert _day(period.start_ns) == row["start"]
            assert _day(period.valley_ns) == row["valley"]
            assert period.depth * 100 == _close(row["max drawdown"])
            assert period.days == row["days"]
            last_under_water = period.end_ns - (m.NS_PER_DAY if period.recovered else 0)
            assert _day(last_under_water) == row["end"]


@settings(max_examples=300, deadline=None)
@given(r=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=100))
def test_deepest_drawdown_period_is_the_max_drawdown(r: list[float]) -> None:
    periods = m.drawdown_periods(r, np.arange(len(r), dtype=np.int64) * m.NS_PER_DAY)
    assert min((p.depth for p in periods), default=0.0) == m.max_drawdown(r)
    for p in periods:
        assert -1.0 <= p.depth < 0.0 and p.start_ns <= p.valley_ns <= p.end_ns and p.days >= 1
