"""Build both sides of a replay comparison: a catalog replay node and a BacktestEngine on the same bars.

Both run ``research.bench:BaselineEMACross`` (a plain nautilus strategy: EMA cross, market entry
with a stop-market and a limit target as a bracket) with the same venue models, so their fills
must be identical.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from nautilus_trader.backtest.config import ImportableFillModelConfig, ImportableLatencyModelConfig
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.backtest.models import FillModel, LatencyModel, MakerTakerFeeModel
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.actor import Actor
from nautilus_trader.config import (
    ActorConfig,
    ImportableActorConfig,
    ImportableStrategyConfig,
    LoggingConfig,
    TradingNodeConfig,
)
from nautilus_trader.core.data import Data
from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.data import Bar, BarType, QuoteTick
from nautilus_trader.model.enums import AccountType, OmsType, order_side_to_str, order_type_to_str
from nautilus_trader.model.events import OrderFilled
from nautilus_trader.model.identifiers import InstrumentId, TraderId, Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from adapters.replay.data import CATCHUP_DONE_TOPIC, ReplayCatchupDone, ReplayDataClientConfig
from adapters.replay.runner import (
    STOP_TOPIC,
    replay_data_engine_config,
    replay_exec_engine_config,
    replay_risk_engine_config,
)
from adapters.replay.sandbox import ReplaySandboxExecClientConfig
from research.bench import BaselineEMACross, BaselineEMACrossConfig

BTC_BARS = "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"
EURUSD_BID = "EUR/USD.IDEALPRO-1-HOUR-BID-EXTERNAL"
EURUSD_ASK = "EUR/USD.IDEALPRO-1-HOUR-ASK-EXTERNAL"
SEED = 42


@dataclass(frozen=True)
class Market:
    """Describe one venue, its instrument and bars, and the strategy's signal bars."""

    venue: str
    instrument_id: str
    bar_types: tuple[str, ...]
    balance: str
    prob_slippage: float

    @property
    def signal_bars(self) -> str:
        """Return the bar type the strategy trades on (the first one)."""
        return self.bar_types[0]


BTC = Market("BYBIT", "BTCUSDT-LINEAR.BYBIT", (BTC_BARS,), "10000 USDT", prob_slippage=0.5)
EURUSD = Market("IDEALPRO", "EUR/USD.IDEALPRO", (EURUSD_BID, EURUSD_ASK), "10000 USD", prob_slippage=0.0)


@dataclass(frozen=True)
class Fill:
    """One fill, as both sides must report it."""

    side: str
    order_type: str
    quantity: str
    price: str
    commission: str
    ts_event: int


def fills(cache: Cache) -> list[Fill]:
    """Return every fill in the cache in time order (ties: order creation order)."""
    found = [
        Fill(
            side=order_side_to_str(event.order_side),
            order_type=order_type_to_str(event.order_type),
            quantity=str(event.last_qty),
            price=str(event.last_px),
            commission=str(event.commission),
            ts_event=event.ts_event,
        )
        for order in cache.orders()
        for event in order.events
        if isinstance(event, OrderFilled)
    ]
    return sorted(found, key=lambda f: f.ts_event)


def window(catalog_path: str, bar_type: str, count: int, skip: int = 0) -> tuple[str, str]:
    """Return the ISO start and end (inclusive) of ``count`` bars after the first ``skip``."""
    bars = ParquetDataCatalog(catalog_path).bars(bar_types=[bar_type])[skip : skip + count]
    return (
        pd.Timestamp(bars[0].ts_init, unit="ns", tz="UTC").isoformat(),
        pd.Timestamp(bars[-1].ts_init, unit="ns", tz="UTC").isoformat(),
    )


def with_quotes(source: str, target: str, market: Market, start: str, end: str) -> None:
    """Write ``market``'s instrument, bars and one quote tick per bid/ask bar pair into ``target``.

    The quotes are the bars' closes (bid from the bid bar, ask from the ask bar), stamped at the
    bars' time: real prices, in the shape of a quote feed.
    """
    catalog = ParquetDataCatalog(source)
    (instrument,) = catalog.instruments(instrument_ids=[market.instrument_id])
    bid, ask = (catalog.bars(bar_types=[b], start=start, end=end) for b in market.bar_types)
    size = instrument.make_qty(1_000_000)
    quotes = [
        QuoteTick(instrument.id, b.close, a.close, size, size, b.ts_event, b.ts_init)
        for b, a in zip(bid, ask, strict=True)
    ]
    out = ParquetDataCatalog(target)
    out.write_data([instrument])
    out.write_data(bid)
    out.write_data(ask)
    out.write_data(quotes)


def strategy_params(market: Market) -> dict[str, Any]:
    """Return the baseline strategy's parameters for ``market``."""
    return {
        "instrument_id": market.instrument_id,
        "bar_type": market.signal_bars,
        "fast_period": 20,
        "slow_period": 60,
        "atr_period": 14,
        "sl_atr": 2.0,
        "tp_atr": 4.0,
        "risk_fraction": 0.01,
        "max_position_fraction": 0.1,
    }


def _currency(market: Market) -> str:
    return market.balance.split()[1]


def backtest_fills(
    catalog_path: str, market: Market, start: str, end: str, latency_ns: int = 0, quotes: bool = False
) -> list[Fill]:
    """Run the baseline through a BacktestEngine on the catalog's bars (and quotes); return its fills."""
    catalog = ParquetDataCatalog(catalog_path)
    engine = BacktestEngine(
        BacktestEngineConfig(
            trader_id=TraderId("BACKTEST-001"),
            logging=LoggingConfig(log_level="ERROR", bypass_logging=True),
        )
    )
    engine.add_venue(
        venue=Venue(market.venue),
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        starting_balances=[Money.from_str(market.balance)],
        base_currency=Currency.from_str(_currency(market)),
        default_leverage=Decimal(1),
        fill_model=FillModel(prob_fill_on_limit=1.0, prob_slippage=market.prob_slippage, random_seed=SEED),
        fee_model=MakerTakerFeeModel(),
        latency_model=LatencyModel(base_latency_nanos=latency_ns) if latency_ns else None,
        bar_execution=True,
    )
    for instrument in catalog.instruments(instrument_ids=[market.instrument_id]):
        engine.add_instrument(instrument)
    data: list[Data] = []
    if quotes:  # first: at equal ts_init the replay sends quote ticks before bars
        data.extend(catalog.quote_ticks(instrument_ids=[market.instrument_id], start=start, end=end))
    for bar_type in market.bar_types:
        data.extend(catalog.bars(bar_types=[bar_type], start=start, end=end))
    engine.add_data(data, sort=True)
    params = strategy_params(market)
    params["instrument_id"] = InstrumentId.from_str(params["instrument_id"])
    params["bar_type"] = BarType.from_str(params["bar_type"])
    engine.add_strategy(BaselineEMACross(BaselineEMACrossConfig(**params)))
    engine.run()
    result = fills(engine.cache)
    engine.dispose()
    return result


def sandbox_config(market: Market, latency_ns: int = 0) -> ReplaySandboxExecClientConfig:
    """Return the sandbox venue configured like :func:`backtest_fills`' venue."""
    latency = (
        ImportableLatencyModelConfig(
            latency_model_path="nautilus_trader.backtest.models:LatencyModel",
            config_path="nautilus_trader.backtest.config:LatencyModelConfig",
            config={"base_latency_nanos": latency_ns},
        )
        if latency_ns
        else None
    )
    return ReplaySandboxExecClientConfig(
        venue=market.venue,
        starting_balances=[market.balance],
        base_currency=_currency(market),
        oms_type="NETTING",
        account_type="MARGIN",
        fill_model=ImportableFillModelConfig(
            fill_model_path="nautilus_trader.backtest.models:FillModel",
            config_path="nautilus_trader.backtest.config:FillModelConfig",
            config={"prob_fill_on_limit": 1.0, "prob_slippage": market.prob_slippage, "random_seed": SEED},
        ),
        latency_model=latency,
    )


def replay_config(
    catalog_path: str,
    market: Market | None,
    *,
    bar_types: Sequence[str] | None = None,
    actors: Sequence[ImportableActorConfig] = (),
    latency_ns: int = 0,
    **data: Any,
) -> TradingNodeConfig:
    """Return a replay node config: the catalog replay, the sandbox and the baseline (if ``market``)."""
    types = list(bar_types if bar_types is not None else (market.bar_types if market else ()))
    strategies = (
        [
            ImportableStrategyConfig(
                strategy_path="research.bench:BaselineEMACross",
                config_path="research.bench:BaselineEMACrossConfig",
                config=strategy_params(market),
            )
        ]
        if market
        else []
    )
    return TradingNodeConfig(
        trader_id=TraderId("REPLAY-001"),
        logging=LoggingConfig(log_level="ERROR"),
        data_engine=replay_data_engine_config(),
        exec_engine=replay_exec_engine_config(),
        risk_engine=replay_risk_engine_config(),
        data_clients={"REPLAY": ReplayDataClientConfig(catalog_path=catalog_path, bar_types=types, **data)},
        exec_clients={market.venue: sandbox_config(market, latency_ns)} if market else {},
        strategies=strategies,
        actors=list(actors),
        timeout_connection=20.0,
        timeout_post_stop=0.05,
        timeout_disconnection=5.0,
    )


class RecordBarsConfig(ActorConfig, frozen=True):
    """Configure :class:`RecordBars`."""

    bar_types: list[str] = []


class RecordBars(Actor):
    """Record every bar's ``ts_init`` and every catch-up message, in the order they arrive."""

    def __init__(self, config: RecordBarsConfig) -> None:
        super().__init__(config)
        self.bar_types = [BarType.from_str(b) for b in config.bar_types]
        self.seen: list[int | ReplayCatchupDone] = []

    def on_start(self) -> None:
        """Subscribe to the bars and the catch-up topic."""
        for bar_type in self.bar_types:
            self.subscribe_bars(bar_type)
        self.msgbus.subscribe(topic=CATCHUP_DONE_TOPIC, handler=self.seen.append)

    def on_bar(self, bar: Bar) -> None:
        """Record the bar's ``ts_init``."""
        self.seen.append(bar.ts_init)


class StopAfterBarsConfig(ActorConfig, frozen=True):
    """Configure :class:`StopAfterBars`: on which bar, and how (``sigint``, ``topic`` or ``raise``)."""

    bar_type: str
    count: int
    how: str = "sigint"


class StopAfterBars(Actor):
    """Interrupt the replay on the ``count``-th bar.

    ``sigint`` sends this process SIGINT (an operator's Ctrl-C), ``topic`` publishes on the
    runner's stop topic (an operator command), ``raise`` raises (a buggy strategy).
    """

    def __init__(self, config: StopAfterBarsConfig) -> None:
        super().__init__(config)
        self.bar_type = BarType.from_str(config.bar_type)
        self.count = config.count
        self.how = config.how
        self.bars = 0

    def on_start(self) -> None:
        """Subscribe to the bars."""
        self.subscribe_bars(self.bar_type)

    def on_bar(self, bar: Bar) -> None:
        """Count the bar; interrupt on the configured one."""
        self.bars += 1
        if self.bars != self.count:
            return
        if self.how == "sigint":
            os.kill(os.getpid(), signal.SIGINT)
        elif self.how == "topic":
            self.msgbus.publish(topic=STOP_TOPIC, msg=f"stop after {self.bars} bars")
        else:
            raise RuntimeError(f"strategy bug on bar {self.bars}")


def actor(cls: type, config_cls: type, **config: Any) -> ImportableActorConfig:
    """Return an importable config for an actor of this module."""
    return ImportableActorConfig(
        actor_path=f"{__name__}:{cls.__name__}",
        config_path=f"{__name__}:{config_cls.__name__}",
        config=config,
    )
