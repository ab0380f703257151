"""The replay as an ``engine.live`` node adapter: the catalog feed and sandbox venues of a run config.

``python -m engine.live`` names this class in a run config's ``[node] adapter``. It turns the run
config's ``[data]`` into one :class:`~adapters.replay.data.ReplayDataClientConfig` and each
``[[venues]]`` section into a :class:`~adapters.replay.sandbox.ReplaySandboxExecClientConfig` built
from :mod:`engine.simvenue`'s importable configs, the very ones a backtest builds its simulated
venues from (fill model with the gap tape, fee and latency models, carry and option-expiry
modules), and runs the node with :func:`~adapters.replay.runner.run_replay`.

Options (``[node.options]``): ``quote_ticks`` (stream the catalog's quote ticks too, default true).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from nautilus_trader.live.node import TradingNode

from adapters.replay.data import ReplayDataClientConfig
from adapters.replay.runner import (
    replay_data_engine_config,
    replay_exec_engine_config,
    replay_risk_engine_config,
    run_replay,
)
from adapters.replay.sandbox import ReplaySandboxExecClientConfig
from engine.clock import ClockSource
from engine.configs import RunConfig
from engine.live import NodeOutcome, NodeParts
from engine.simvenue import fee_model_config, fill_model_config, latency_model_config, module_configs

DATA_CLIENT = "REPLAY"


class ReplayAdapter:
    """Build a replay node's clients from a run config and run it (``engine.live.NodeAdapter``).

    Parameters
    ----------
    options : mapping
        ``[node.options]``: ``quote_ticks`` (bool).

    Raises
    ------
    ValueError
        On an unknown option or a wrong type.
    """

    clock: ClassVar[ClockSource] = "feed"  # strategies' clocks are wall time: follow the feed's data time

    def __init__(self, options: Mapping[str, Any]) -> None:
        unknown = sorted(set(options) - {"quote_ticks"})
        if unknown:
            raise ValueError(f"unknown replay option {unknown[0]!r} (known: quote_ticks)")
        quote_ticks = options.get("quote_ticks", True)
        if not isinstance(quote_ticks, bool):
            raise ValueError(f"quote_ticks must be true or false (value: {quote_ticks!r})")
        self.quote_ticks = quote_ticks

    def parts(self, config: RunConfig, *, speed: str | float, catchup_until_ns: int | None) -> NodeParts:
        """Return the replay feed and one sandbox venue per ``[[venues]]`` section."""
        data = config.data
        if data.option_chains:
            raise ValueError(
                "the replay feed streams bars and quote ticks, not option chains (contracts, their bars "
                "and greeks): options run in backtests only for now (docs/replay.md)"
            )
        feed = ReplayDataClientConfig(
            catalog_path=data.catalog,
            instrument_ids=sorted(data.instrument_ids()),
            bar_types=list(data.bar_types),
            quote_ticks=self.quote_ticks,
            start=data.start,
            end=data.end,
            speed=speed,
            catchup_until_ns=catchup_until_ns,
        )
        venues = {}
        for venue in config.venues:
            latency = latency_model_config(venue)
            venues[venue.name] = ReplaySandboxExecClientConfig(
                venue=venue.name,
                starting_balances=list(venue.starting_balances),
                base_currency=venue.base_currency,
                oms_type=venue.oms_type,
                account_type=venue.account_type,
                default_leverage=Decimal(repr(venue.default_leverage)),
                bar_execution=True,
                fill_model=fill_model_config(venue, config.run.seed),
                fee_model=fee_model_config(venue),
                latency_model=latency,
                modules=module_configs(config, venue, lists_options=False),
                bar_adaptive_high_low_ordering=venue.bar_adaptive_high_low_ordering,
            )
        return NodeParts(
            data_clients={DATA_CLIENT: feed},
            exec_clients=venues,
            engines={
                "data_engine": replay_data_engine_config(),
                "risk_engine": replay_risk_engine_config(),
                "exec_engine": replay_exec_engine_config(),
            },
        )

    def run(
        self,
        config: Any,
        *,
        on_built: Callable[[TradingNode], None],
        collect: Callable[[TradingNode], Any],
        on_progress: Callable[[TradingNode], None],
        progress_seconds: float,
    ) -> NodeOutcome:
        """Run the replay node to the end of its data (or SIGINT/SIGTERM) and collect it."""
        result = run_replay(
            config,
            collect=collect,
            on_built=on_built,
            on_progress=on_progress,
            progress_seconds=progress_seconds,
        )
        streamed = sum(progress.bars for progress in result.progress)
        return NodeOutcome(
            stopped_early=result.stopped_early, collected=result.collected, data_streamed=streamed
        )
