"""A fifth asset class is one module plus its config entries: a toy equity class trades SPY daily.

The module is tests/scenarios/toy_equity.py; the run config only lists it in ``desk.asset_classes``
and adds its entries to the desk files (an allocation, its ``[assets.equity]`` guards). Nothing in
the engine names it. The bars are the bundled real SPY daily bars.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine.assets import BUILTIN_ASSET_CLASSES
from engine.backtest import assemble, collect_backtest, load_market_data
from engine.configs import ConfigError, RunConfig
from engine.risk import DeskConfigError

REPO = Path(__file__).resolve().parents[2]
TOY = "tests.scenarios.toy_equity"


def _config(catalog: Path, *, classes: list[str], risk: dict[str, Any] | None = None) -> RunConfig:
    raw = {
        "run": {"name": "toy-equity", "log_level": "OFF"},
        "data": {
            "catalog": str(catalog),
            "instruments": ["SPY.ARCA"],
            "bar_types": ["SPY.ARCA-1-DAY-LAST-EXTERNAL"],
            "start": "2010-01-01",
            "end": "2016-01-01",
        },
        "venues": [{"name": "ARCA", "base_currency": "USD", "starting_balances": ["10000 USD"]}],
        "desk": {
            "asset_classes": classes,
            "budgets": str(REPO / "configs" / "budgets.toml"),
            "risk": str(REPO / "configs" / "risk.toml"),
            "sizing": str(REPO / "configs" / "sizing.toml"),
            "overrides": {
                "budgets": {"alloc": {"equity": 10000.0}},
                "risk": {"assets": {"equity": {"lot_shares": 5.0, **(risk or {})}}},
                "sizing": {"fixed_until_equity_usd": 0.0},
            },
        },
        "report": {"tearsheet": False},
        "strategies": [
            {
                "path": "strategies.ema_cross:EMACross",
                "config_path": "strategies.ema_cross:EMACrossConfig",
                "config": {
                    "order_id_tag": "SPY1D",
                    "instrument_id": "SPY.ARCA",
                    "bar_type": "SPY.ARCA-1-DAY-LAST-EXTERNAL",
                    "fast_period": 10,
                    "slow_period": 40,
                    "reverse_on_opposite": False,
                },
            }
        ],
    }
    return msgspec.convert(raw, RunConfig)


def _run(config: RunConfig):
    assembled = assemble(config, load_market_data(config))
    assembled.engine.run()
    result = collect_backtest(assembled)
    desk = assembled.desk
    assembled.engine.dispose()
    return result, desk


def test_without_its_module_an_equity_has_no_ledger(sample_catalog):
    config = _config(sample_catalog, classes=list(BUILTIN_ASSET_CLASSES))
    with pytest.raises(ConfigError, match=r"SPY\.ARCA \(Equity\) has no sub-ledger"):
        assemble(config, load_market_data(config))


def test_the_toy_class_trades_through_the_desk_with_its_own_rules(sample_catalog):
    config = _config(sample_catalog, classes=[*BUILTIN_ASSET_CLASSES, TOY])
    result, desk = _run(config)
    assert result.metrics["trades"] > 10
    assert result.periods_per_year == 252  # the class's own annualisation
    assert desk.book.terms["SPY.ARCA"].asset == "equity"
    ledger = desk.ledgers["equity"]
    assert ledger.trades == result.metrics["trades"] and ledger.fills == len(result.fills)
    assert all(other.fills == 0 for name, other in desk.ledgers.items() if name != "equity")
    quantities = [float(q) for q in result.fills["last_qty"]]
    assert quantities and all(q % 5.0 == 0 for q in quantities)  # its own lot grid: whole 5-share lots
    assert desk.denials.get("no_short", 0) > 0  # its own default: long only

    guarded, guarded_desk = _run(
        _config(sample_catalog, classes=[*BUILTIN_ASSET_CLASSES, TOY], risk={"min_price_usd": 1e6})
    )
    assert guarded.metrics["trades"] == 0 and guarded_desk.approvals == 0
    # every long signal now meets the class's own guard (shorts still meet no_short first)
    assert set(guarded_desk.denials) == {"no_short", "below_min_price"}
    assert guarded_desk.denials["below_min_price"] >= desk.approvals


def test_its_config_entries_are_validated_like_any_class(sample_catalog):
    bad = _config(sample_catalog, classes=[*BUILTIN_ASSET_CLASSES, TOY], risk={"lot_shares": 0.0})
    with pytest.raises(DeskConfigError, match=r"assets\.equity\.lot_shares = 0\.0: must be positive"):
        assemble(bad, load_market_data(bad))
    typo = _config(sample_catalog, classes=[*BUILTIN_ASSET_CLASSES, TOY], risk={"lot_share": 1.0})
    with pytest.raises(DeskConfigError, match=r"assets\.equity\.lot_share"):
        assemble(typo, load_market_data(typo))
