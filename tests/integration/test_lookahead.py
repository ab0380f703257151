"""The lookahead and warm-up checks through the real engine on slices of the bundled real sample.

The bars are read straight from ``data/sample/bybit`` (stamped at their close, as the catalog ingest
stamps them) and handed to the checks in memory, so no catalog is built. A deliberately leaky
strategy (``tests.scenarios.leaky``) must be flagged on exactly the bars before each cut that its
peek reaches; the shipped strategies must pass.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pandas as pd
import pytest
from nautilus_trader.model.data import Bar, BarType

from catalog.config import InstrumentSpec
from catalog.instruments import build_instrument
from engine.backtest import MarketData
from engine.configs import RunConfig, StrategySection, load_run_config
from research.validation.lookahead import check_lookahead, check_warmup, declared_warmup, main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample" / "bybit"
VENUES = REPO / "data" / "venues" / "bybit"
MINUTE_NS = 60_000_000_000


def _config(name: str) -> RunConfig:
    return load_run_config(REPO / "configs" / "backtest" / f"{name}.toml")


def _sample(config: RunConfig, file: str, minutes: int, rows: int) -> MarketData:
    """Return the first ``rows`` klines of a bundled sample file as the config's bars (real perpetual)."""
    (bar_type_str,) = config.data.bar_types
    instrument = build_instrument(
        InstrumentSpec(
            kind="crypto_perpetual",
            symbol=file.split("_")[0],
            bybit_instruments_info=str(VENUES / "http_get_instruments_linear.json"),
            bybit_fee_rate=str(VENUES / "http_get_fee_rate.json"),
        )
    )
    bar_type = BarType.from_str(bar_type_str)
    frame = pd.read_parquet(SAMPLE / file).iloc[:rows]
    bars = []
    for row in frame.itertuples():
        ts = int(row.timestamp.value) + minutes * MINUTE_NS  # the files stamp the open; ts_event is the close
        prices = (instrument.make_price(x) for x in (row.open, row.high, row.low, row.close))
        bars.append(Bar(bar_type, *prices, instrument.make_qty(row.volume), ts, ts))
    return MarketData([instrument], bars)


def _with_strategy(config: RunConfig, path: str, config_path: str, **values: Any) -> RunConfig:
    shipped = config.strategies[0].config
    section = StrategySection(
        path=path,
        config_path=config_path,
        config={
            "instrument_id": shipped["instrument_id"],
            "bar_type": shipped["bar_type"],
            "order_id_tag": "TEST",
            **values,
        },
    )
    return msgspec.structs.replace(config, strategies=[section])


@pytest.fixture(scope="module")
def btc() -> tuple[RunConfig, MarketData]:
    config = _config("ema_cross_btcusdt_1m")
    return config, _sample(config, "BTCUSDT_1m.parquet", 1, 6000)


@pytest.fixture(scope="module")
def eth() -> tuple[RunConfig, MarketData]:
    config = _config("mean_reversion_ethusdt_5m")
    return config, _sample(config, "ETHUSDT_5m.parquet", 5, 6000)


@pytest.mark.parametrize(("peek_bars", "bars"), [(1, 3000), (3, 1600)])
def test_leaky_strategy_is_flagged_on_the_bars_its_peek_reaches(btc, peek_bars, bars):
    config, data = btc
    leaky = _with_strategy(
        config,
        "tests.scenarios.leaky:PeekNextClose",
        "tests.scenarios.leaky:PeekNextCloseConfig",
        peek_bars=peek_bars,
    )
    report = check_lookahead(leaky, cuts=3, bars_limit=bars, data=data)

    closes = [bar.close.as_double() for bar in data.bars[:bars]]
    stamps = [bar.ts_event for bar in data.bars[:bars]]
    expected: dict[tuple[int, int], str] = {}  # (cut ts, bar ts) -> the side the full run saw
    for i, cut in enumerate(report.cuts, start=1):
        kept = bars * i // 4
        assert (cut.bars_kept, cut.cut_ts) == (kept, stamps[kept - 1])
        for index in range(kept - peek_bars, kept):  # the full run peeks past the cut, the cut run cannot
            ahead, close = closes[index + peek_bars], closes[index]
            if ahead != close:
                expected[(cut.cut_ts, stamps[index])] = "BUY" if ahead > close else "SELL"
    assert len(expected) >= 2  # the sample does not stand still on every cut

    signal_flags = [flag for flag in report.flags if flag.kind == "signal"]
    assert {(flag.cut_ts, flag.ts): flag.full["side"] for flag in signal_flags} == expected
    assert all(flag.truncated is None for flag in signal_flags)
    assert report.flagged
    assert report.horizon_bars == peek_bars
    assert all(0 <= flag.bars_before_cut < peek_bars for flag in report.flags)
    decision_flags = [flag for flag in report.flags if flag.kind == "decision"]
    assert {(flag.cut_ts, flag.ts) for flag in decision_flags} <= set(expected)
    assert all(flag.full and flag.truncated == [] for flag in decision_flags)
    shown = json.loads(json.dumps(report.to_dict()))
    assert shown["flagged"] is True
    assert shown["flags_total"] == len(report.flags)


@pytest.mark.parametrize("market", ["btc", "eth"])
def test_shipped_strategies_pass_the_lookahead_check(request, market):
    config, data = request.getfixturevalue(market)
    report = check_lookahead(config, cuts=3, data=data)

    assert not report.flagged, report.to_dict(max_flags=5)
    assert report.bars == 6000
    assert [cut.bars_kept for cut in report.cuts] == [1500, 3000, 4500]
    for cut in report.cuts:  # the comparison is not vacuous: the strategy signalled and traded
        assert cut.signals_compared > 1000
        assert cut.decisions_compared > 10
    assert json.loads(json.dumps(report.to_dict()))["flagged"] is False


def test_warmup_check_flags_an_under_declared_warmup(btc):
    config, data = btc
    short = _with_strategy(
        config, "strategies.ema_cross:EMACross", "tests.scenarios.leaky:ShortWarmupEMACrossConfig"
    )
    assert declared_warmup(short) == (2, "strategies[0].config.warmup_bars")

    report = check_warmup(short, extra_bars=1000, data=data)

    assert report.flagged
    assert report.declared_warmup_bars == 2
    first = report.flags[0]
    assert first.offset >= 2
    assert first.long_history != first.short_history
    suggested = report.suggested_warmup_bars
    assert suggested is not None and suggested > first.offset >= report.declared_warmup_bars
    slow = next(item for item in report.indicators if "ExponentialMovingAverage(200)" in item.name)
    assert slow.rel_diff_at_declared is not None and slow.rel_diff_at_declared > report.rtol
    assert slow.converged_after_bars is not None and slow.converged_after_bars > 200
    shown = json.loads(json.dumps(report.to_dict()))
    assert shown["first_difference"]["offset"] == first.offset


def test_warmup_check_passes_ema_cross_with_an_honest_declaration(btc):
    config, data = btc
    assert declared_warmup(config) == (60, "strategies[0].config.slow_period (largest period)")
    honest = 10 * 60  # ten slow-EMA periods: the seed weighs (59/61)^600, about 2e-9

    report = check_warmup(config, declared_warmup_bars=honest, extra_bars=2000, data=data)

    assert not report.flagged, report.to_dict(max_flags=5)
    assert report.bars_compared == 6000 - 2000 - honest
    suggested = report.suggested_warmup_bars
    assert suggested is not None and suggested <= honest
    assert all(
        item.max_rel_diff_after_declared is not None and item.max_rel_diff_after_declared <= report.rtol
        for item in report.indicators
    )


def test_bad_arguments_are_refused(btc, capsys):
    config, data = btc
    with pytest.raises(ValueError, match="cuts"):
        check_lookahead(config, cuts=0, data=data)
    with pytest.raises(ValueError, match="too few"):
        check_warmup(config, extra_bars=6000, data=data)
    assert main(["--config", str(REPO / "configs" / "backtest" / "no_such_config.toml")]) == 2
    assert "error:" in capsys.readouterr().err
