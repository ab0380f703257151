"""One wiring for every mode: the engine's components, attached the same way to any nautilus kernel.

A run needs, besides its strategies, the desk bridge (which owns the risk desk and the journal), the
equity sampler and, when the run config asks for it, the carry actor. Each is a nautilus actor with an
importable config, so:

- a backtest builds them with nautilus' ``ActorFactory`` / ``StrategyFactory`` and adds them to its
  ``BacktestEngine`` (:mod:`engine.backtest`);
- a live or replay node lists the very same configs in its ``TradingNodeConfig`` (:mod:`engine.live`).

Either way :func:`wire` then binds the bridge's desk to every strategy and engine actor of the kernel's
trader and hands the bridge the kernel RiskEngine's trading-state switch. Instruments reach the desk
as they reach the cache (the bridge registers them), so the same wiring serves a backtest (instruments
known up front) and a live node (instruments loaded after start). Simulated-venue settings (fill, fee
and latency models, venue modules) are not here: they belong to the mode's execution side.
"""

from __future__ import annotations

from dataclasses import dataclass

from nautilus_trader.common.actor import Actor
from nautilus_trader.common.config import ActorFactory, ImportableActorConfig
from nautilus_trader.model.data import BarType
from nautilus_trader.system.kernel import NautilusKernel
from nautilus_trader.trading.config import ImportableStrategyConfig, StrategyFactory
from nautilus_trader.trading.strategy import Strategy

from engine.carry import CarryActor, CarryActorConfig
from engine.clock import ClockSource
from engine.configs import ConfigError, RunConfig
from engine.equity import EquitySampler, EquitySamplerConfig
from engine.importing import importable_actor
from engine.risk.bridge import DeskBridge, DeskBridgeConfig
from engine.risk.desk import RiskDesk
from engine.risk.intents import RiskDeskClient

BRIDGE_ID = "RiskDeskBridge"
SAMPLER_ID = "EquitySampler"
CARRY_ID = "Carry"


@dataclass
class Components:
    """The engine's components of one wired kernel."""

    bridge: DeskBridge
    sampler: EquitySampler
    carry: CarryActor | None
    strategies: list[Strategy]

    @property
    def desk(self) -> RiskDesk:
        """Return the run's risk desk."""
        return self.bridge.desk


def actor_configs(
    config: RunConfig,
    *,
    journal: str | None,
    journal_fresh: bool,
    extra_bar_types: list[str] | None = None,
    clock: ClockSource = "kernel",
    command_interval_ms: int = 0,
    checkpoint_seconds: float = 0.0,
    resume: bool = False,
) -> list[ImportableActorConfig]:
    """Return the importable configs of the engine's actors for ``config``.

    Parameters
    ----------
    config : RunConfig
        The run config (its ``[desk]``, ``[carry]``, ``[report]`` and data sections).
    journal : str, optional
        The journal file (None: not journaled).
    journal_fresh : bool
        Start the journal empty.
    extra_bar_types : list of str, optional
        Bar types streamed besides ``data.bar_types`` (option contracts found in the catalog).
    clock : {"kernel", "feed"}
        Where the time-driven actors read data time (``feed`` in a replay node, :mod:`engine.clock`).
    command_interval_ms : int
        How often the desk bridge applies operator commands (0: at start only).
    checkpoint_seconds, resume : float, bool
        A node's journal checkpoints and whether to resume from the last one (:mod:`engine.checkpoint`).
    """
    desk = config.desk
    bridge = DeskBridgeConfig(
        component_id=BRIDGE_ID,
        run_id=config.run.name,
        mode=desk.mode,
        budgets=desk.budgets,
        risk=desk.risk,
        sizing=desk.sizing,
        overrides=desk.overrides,
        asset_classes=tuple(desk.asset_classes),
        journal=journal,
        journal_fresh=journal_fresh,
        bar_types=[*config.data.bar_types, *(extra_bar_types or [])],
        reference_instruments=list(config.data.reference_instruments),
        command_interval_ms=command_interval_ms,
        clock=clock,
        checkpoint_seconds=checkpoint_seconds,
        resume=resume,
    )
    sampler = EquitySamplerConfig(
        component_id=SAMPLER_ID,
        venues=tuple(sorted(venue.name for venue in config.venues)),
        interval_minutes=config.report.equity_sample_minutes,
        clock=clock,
    )
    configs = [importable_actor(DeskBridge, bridge), importable_actor(EquitySampler, sampler)]
    if config.carry is not None:
        carry = CarryActorConfig(
            component_id=CARRY_ID,
            config=config.carry.config,
            funding=config.carry.funding,
            fx_swaps=config.carry.fx_swaps,
            catalog=config.data.catalog,
            instruments=sorted(
                {
                    *config.data.instruments,
                    *(str(BarType.from_str(text).instrument_id) for text in config.data.bar_types),
                }
            ),
            clock=clock,
        )
        configs.append(importable_actor(CarryActor, carry))
    return configs


def strategy_configs(config: RunConfig) -> list[ImportableStrategyConfig]:
    """Return the importable configs of the run's strategies (their sections, as nautilus reads them)."""
    return [
        ImportableStrategyConfig(
            strategy_path=section.path, config_path=section.config_path, config=dict(section.config)
        )
        for section in config.strategies
    ]


def build_actors(configs: list[ImportableActorConfig]) -> list[Actor]:
    """Build actors from importable configs, as a node does."""
    return [ActorFactory.create(item) for item in configs]


def build_strategies(configs: list[ImportableStrategyConfig]) -> list[Strategy]:
    """Build strategies from importable configs, as a node does.

    Raises
    ------
    ConfigError
        When a strategy section does not parse (the run config loader checks them at startup).
    """
    built = []
    for index, item in enumerate(configs):
        try:
            built.append(StrategyFactory.create(item))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"`strategies[{index}]` ({item.strategy_path}): {exc}") from exc
    return built


def wire(kernel: NautilusKernel) -> Components:
    """Bind the desk bridge's desk to the kernel's strategies and engine actors; return them.

    Raises
    ------
    ConfigError
        When the kernel has no desk bridge, or a strategy does not accept a risk desk.
    """
    trader = kernel.trader
    actors = list(trader.actors())
    bridge = next((actor for actor in actors if isinstance(actor, DeskBridge)), None)
    if bridge is None:
        raise ConfigError("the kernel has no desk bridge: build its actors with engine.wiring.actor_configs")
    bridge.bind_trading_state(kernel.risk_engine.set_trading_state)
    desk = bridge.desk
    for actor in actors:
        if actor is not bridge and isinstance(actor, RiskDeskClient):
            actor.bind_risk_desk(desk)
    strategies = list(trader.strategies())
    for strategy in strategies:
        if not isinstance(strategy, RiskDeskClient):
            raise ConfigError(
                f"{type(strategy).__name__} does not accept a risk desk; "
                "extend strategies.base.SignalStrategy"
            )
        strategy.bind_risk_desk(desk)
    sampler = next(actor for actor in actors if isinstance(actor, EquitySampler))
    carry = next((actor for actor in actors if isinstance(actor, CarryActor)), None)
    return Components(bridge=bridge, sampler=sampler, carry=carry, strategies=strategies)
