"""A simulated venue, the same in a backtest and in the paper sandbox: its models and its modules.

A run config's ``[[venues]]`` section describes a simulated venue (account, balances, leverage, bar
ordering) and its cost models (``fill_model``, ``fees``, ``latency``). This module turns it into
nautilus' own importable configs, so that a ``BacktestEngine`` venue (:func:`backtest_venue_kwargs`)
and the replay sandbox's exchange (``adapters.replay``) are built from the very same configs by
nautilus' factories, with the same simulation modules:

- :class:`engine.fills.BarTape`, so a stop gapped over fills at the bar's open
  (``fill_model.stop_gap_fill``, docs/backtest-fill-rules.md);
- :class:`engine.carry.VenueLink` when the run charges carry (payments reach the venue account);
- :class:`engine.options.OptionExpiry` on a venue listing option contracts (settlement at expiry).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nautilus_trader.backtest.config import (
    FeeModelFactory,
    FillModelFactory,
    ImportableFeeModelConfig,
    ImportableFillModelConfig,
    ImportableLatencyModelConfig,
    LatencyModelFactory,
)
from nautilus_trader.common.config import ActorFactory, ImportableActorConfig
from nautilus_trader.model.currencies import Currency
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.model.objects import Money

from engine.carry import VenueLink, VenueLinkConfig
from engine.configs import RunConfig, VenueSection
from engine.fills import importable_configs
from engine.importing import importable_actor
from engine.options import OptionExpiry, OptionExpiryConfig

NANOS_PER_MS = 1_000_000


def fill_model_config(venue: VenueSection, seed: int) -> ImportableFillModelConfig:
    """Return the venue's fill model (the gap-aware model, seeded with the run's seed)."""
    fill, _ = importable_configs(
        prob_fill_on_limit=venue.fill_model.prob_fill_on_limit,
        prob_slippage=venue.fill_model.prob_slippage,
        random_seed=seed,
        stop_gap_fill=venue.fill_model.stop_gap_fill,
    )
    return fill


def fee_model_config(venue: VenueSection) -> ImportableFeeModelConfig:
    """Return the venue's fee model: the instruments' maker/taker rates, or a fixed commission."""
    if venue.fees.model == "fixed" and venue.fees.fixed_commission:
        return ImportableFeeModelConfig(
            fee_model_path="nautilus_trader.backtest.models:FixedFeeModel",
            config_path="nautilus_trader.backtest.config:FixedFeeModelConfig",
            config={"commission": venue.fees.fixed_commission},
        )
    return ImportableFeeModelConfig(
        fee_model_path="nautilus_trader.backtest.models:MakerTakerFeeModel",
        config_path="nautilus_trader.backtest.config:MakerTakerFeeModelConfig",
        config={},
    )


def latency_model_config(venue: VenueSection) -> ImportableLatencyModelConfig | None:
    """Return the venue's latency model, or None when every latency is zero."""
    latency = venue.latency
    if not (latency.base_ms or latency.insert_ms or latency.update_ms or latency.cancel_ms):
        return None
    return ImportableLatencyModelConfig(
        latency_model_path="nautilus_trader.backtest.models:LatencyModel",
        config_path="nautilus_trader.backtest.config:LatencyModelConfig",
        config={
            "base_latency_nanos": int(latency.base_ms * NANOS_PER_MS),
            "insert_latency_nanos": int(latency.insert_ms * NANOS_PER_MS),
            "update_latency_nanos": int(latency.update_ms * NANOS_PER_MS),
            "cancel_latency_nanos": int(latency.cancel_ms * NANOS_PER_MS),
        },
    )


def module_configs(
    config: RunConfig, venue: VenueSection, *, lists_options: bool
) -> list[ImportableActorConfig]:
    """Return the venue's simulation modules: the bar tape, carry booking, option expiry."""
    modules = []
    if venue.fill_model.stop_gap_fill == "open":
        _, tape = importable_configs(stop_gap_fill="open")
        modules.append(tape)
    if config.carry is not None:
        modules.append(
            importable_actor(VenueLink, VenueLinkConfig(base_currency=venue.base_currency or "USD"))
        )
    if lists_options:
        modules.append(importable_actor(OptionExpiry, OptionExpiryConfig()))
    return modules


def backtest_venue_kwargs(
    config: RunConfig, venue: VenueSection, *, lists_options: bool = False
) -> dict[str, Any]:
    """Return ``BacktestEngine.add_venue`` keyword arguments for a venue section.

    The models and modules are built from :func:`fill_model_config`, :func:`fee_model_config`,
    :func:`latency_model_config` and :func:`module_configs` by nautilus' factories, exactly as the
    replay sandbox builds them.
    """
    latency = latency_model_config(venue)
    return {
        "venue": Venue(venue.name),
        "oms_type": OmsType[venue.oms_type],
        "account_type": AccountType[venue.account_type],
        "starting_balances": [Money.from_str(balance) for balance in venue.starting_balances],
        "base_currency": Currency.from_str(venue.base_currency) if venue.base_currency else None,
        "default_leverage": Decimal(repr(venue.default_leverage)),
        "fill_model": FillModelFactory.create(fill_model_config(venue, config.run.seed)),
        "fee_model": FeeModelFactory.create(fee_model_config(venue)),
        "latency_model": LatencyModelFactory.create(latency) if latency is not None else None,
        "modules": [
            ActorFactory.create(item) for item in module_configs(config, venue, lists_options=lists_options)
        ],
        "bar_execution": True,
        "bar_adaptive_high_low_ordering": venue.bar_adaptive_high_low_ordering,
    }
