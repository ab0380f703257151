"""Benchmarks that measure our engine side by side with a baseline in one process.

Usage::

    python -m research.bench engine [--config CONFIG] [--repeats N]

``engine`` runs the EMA-cross strategy through our engine (risk desk with its SQLite journal,
equity sampler, strategy base class) and through a raw nautilus ``BacktestEngine`` with a plain
nautilus strategy holding the same signal logic and the same market-entry brackets, on the same
bars, and prints one JSON line: ``ours_bars_per_s``, ``baseline_bars_per_s``, ``ratio``
(ours / baseline). Each side is run ``repeats`` times, alternating, and the best run of each is kept.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import AverageTrueRange, ExponentialMovingAverage
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.identifiers import InstrumentId, TraderId
from nautilus_trader.trading.strategy import Strategy

from engine.backtest import assemble, load_desk, load_market_data, venue_kwargs
from engine.configs import RunConfig, load_run_config
from engine.journal import Journal
from engine.risk import DeskConfig

DEFAULT_CONFIG = "configs/backtest/ema_cross_btcusdt_1m.toml"


class BaselineEMACrossConfig(StrategyConfig, frozen=True, kw_only=True):
    """Configure the baseline: the same parameters as ``strategies.ema_cross.EMACrossConfig``."""

    instrument_id: InstrumentId
    bar_type: BarType
    fast_period: int
    slow_period: int
    atr_period: int
    sl_atr: float
    tp_atr: float
    risk_fraction: float
    max_position_fraction: float


class BaselineEMACross(Strategy):
    """Hand-rolled nautilus strategy: same cross signal, same sizing formula, same brackets."""

    def __init__(self, config: BaselineEMACrossConfig) -> None:
        super().__init__(config)
        self.fast = ExponentialMovingAverage(config.fast_period)
        self.slow = ExponentialMovingAverage(config.slow_period)
        self.atr = AverageTrueRange(config.atr_period)
        self.previous: float | None = None
        self.cfg = config

    def on_start(self) -> None:
        """Register indicators and subscribe to bars."""
        self.instrument = self.cache.instrument(self.cfg.instrument_id)
        for indicator in (self.fast, self.slow, self.atr):
            self.register_indicator_for_bars(self.cfg.bar_type, indicator)
        self.subscribe_bars(self.cfg.bar_type)

    def on_bar(self, bar: Bar) -> None:
        """Enter on a fresh cross with an ATR bracket; reverse on an opposite cross."""
        if not (self.fast.initialized and self.slow.initialized and self.atr.initialized):
            return
        spread = self.fast.value - self.slow.value
        previous, self.previous = self.previous, spread
        atr = self.atr.value
        if previous is None or atr <= 0.0:
            return
        up, down = previous <= 0.0 < spread, previous >= 0.0 > spread
        if not (up or down):
            return
        side = OrderSide.BUY if up else OrderSide.SELL
        instrument_id = self.cfg.instrument_id
        net = self.portfolio.net_position(instrument_id)
        if (net > 0 and up) or (net < 0 and down):
            return
        if net != 0:
            self.cancel_all_orders(instrument_id)
            self.close_all_positions(instrument_id)
        close = bar.close.as_double()
        sign = 1.0 if up else -1.0
        stop, target = close - sign * self.cfg.sl_atr * atr, close + sign * self.cfg.tp_atr * atr
        account = self.cache.account_for_venue(instrument_id.venue)
        equity = account.balance_total(account.base_currency).as_double()
        qty = min(
            equity * self.cfg.risk_fraction / abs(close - stop),
            equity * self.cfg.max_position_fraction / close,
        )
        step = float(self.instrument.size_increment)
        qty = math.floor(qty / step + 1e-9) * step
        if qty < float(self.instrument.min_quantity):
            return
        self.submit_order_list(
            self.order_factory.bracket(
                instrument_id=instrument_id,
                order_side=side,
                quantity=self.instrument.make_qty(Decimal(repr(qty))),
                sl_trigger_price=self.instrument.make_price(stop),
                tp_price=self.instrument.make_price(target),
            )
        )


def _baseline_engine(
    config: RunConfig, desk: DeskConfig, data_instruments: list, bars: list[Bar]
) -> BacktestEngine:
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("BASELINE-001"),
            logging=LoggingConfig(log_level="ERROR", bypass_logging=True),
        )
    )
    for venue in config.venues:
        engine.add_venue(**venue_kwargs(venue, config.run.seed))
    for instrument in data_instruments:
        engine.add_instrument(instrument)
    engine.add_data(bars, sort=True)
    params = config.strategies[0].config
    engine.add_strategy(
        BaselineEMACross(
            BaselineEMACrossConfig(
                instrument_id=InstrumentId.from_str(params["instrument_id"]),
                bar_type=BarType.from_str(params["bar_type"]),
                fast_period=params.get("fast_period", 10),
                slow_period=params.get("slow_period", 30),
                atr_period=params.get("atr_period", 14),
                sl_atr=params.get("sl_atr", 2.0),
                tp_atr=params.get("tp_atr", 3.0),
                risk_fraction=desk.asset_sizing("crypto_futures").risk_fraction,
                max_position_fraction=desk.sizing.pair_cap_fraction,
            )
        )
    )
    return engine


def _timed_run(engine: BacktestEngine) -> tuple[float, int]:
    # Each engine leaves tens of thousands of objects behind; collect them first so neither side
    # pays for the other's garbage inside its timed run.
    gc.collect()
    started = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - started
    fills = len(engine.trader.generate_fills_report())
    engine.dispose()
    return elapsed, fills


def bench_engine(config_path: str, repeats: int) -> dict[str, float | int | str]:
    """Measure our engine against the raw nautilus baseline on the same bars; return the figures."""
    config = load_run_config(config_path)
    desk = load_desk(config)
    data = load_market_data(config)
    ours_best = baseline_best = math.inf
    ours_fills = baseline_fills = 0
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(repeats):
            journal = Journal(
                Path(scratch) / f"journal-{index}.sqlite", run_id=f"bench-{index}", mode="backtest"
            )
            ours_seconds, ours_fills = _timed_run(
                assemble(config, data, desk_config=desk, journal=journal).engine
            )
            journal.close()
            baseline_seconds, baseline_fills = _timed_run(
                _baseline_engine(config, desk, data.instruments, data.bars)
            )
            ours_best = min(ours_best, ours_seconds)
            baseline_best = min(baseline_best, baseline_seconds)
    bars = len(data.bars)
    ours_rate, baseline_rate = bars / ours_best, bars / baseline_best
    return {
        "bench": "engine",
        "config": config_path,
        "bars": bars,
        "ours_bars_per_s": round(ours_rate, 1),
        "baseline_bars_per_s": round(baseline_rate, 1),
        "ratio": round(ours_rate / baseline_rate, 3),
        "ours_fills": ours_fills,
        "baseline_fills": baseline_fills,
        "repeats": repeats,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the named benchmark and print its JSON line."""
    parser = argparse.ArgumentParser(prog="python -m research.bench")
    parser.add_argument("which", choices=["engine"])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(bench_engine(args.config, args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
