"""The replay node (`python -m engine.live`) against a backtest of the same config, on the real sample.

The replay streams the catalog as a live feed into a sandbox venue built like the backtest's; every
engine component is the same. For each example the sandbox can run, a replay writes the same journal
content as a backtest over the same bars (signals, sizing decisions and their inputs, orders, fills,
closes, epochs; only wall-clock fields differ, tests/scenarios/journal_content.py) and the same
``content_fingerprint``; for the default config the whole month replays. Options are not replayed
(the feed does not stream option chains): that is pinned here too.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from engine.backtest import run_backtest
from engine.configs import NodeSection, RunConfig, load_run_config
from engine.journal import Journal
from engine.live import main as live_main
from engine.live import run_node
from engine.risk.config import deep_merge
from tests.scenarios.journal_content import differences

REPO = Path(__file__).resolve().parents[2]
REPLAY = REPO / "configs" / "live" / "replay.toml"


def _with(config: RunConfig, catalog: Path, folder: Path, **data: str) -> RunConfig:
    node = config.node or NodeSection(adapter="adapters.replay.node:ReplayAdapter")
    return msgspec.structs.replace(
        config,
        data=msgspec.structs.replace(config.data, catalog=str(catalog), **data),
        report=msgspec.structs.replace(config.report, tearsheet=False),
        node=msgspec.structs.replace(node, journal=str(folder / "node.sqlite"), progress_seconds=30.0),
    )


def _as_paper(name: str) -> RunConfig:
    """Return a backtest example as a paper config: its ledger starts at its backtest allocation."""
    config = load_run_config(REPO / "configs" / "backtest" / f"{name}.toml")
    overrides = deep_merge(config.desk.overrides, {"budgets": {"paper": {"start_equity_usd": 10_000.0}}})
    desk = msgspec.structs.replace(config.desk, mode="paper", overrides=overrides)
    return msgspec.structs.replace(
        config, desk=desk, run=msgspec.structs.replace(config.run, name=f"paper_{name}")
    )


def _both(config: RunConfig, folder: Path) -> tuple[dict, dict]:
    backtest = run_backtest(config, folder / "backtest")
    replay = run_node(config, folder / "replay", fresh=True, printer=lambda line: None)
    return backtest, replay


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # run configs name their files relative to the repo root


def test_the_default_replay_is_the_backtest_of_the_whole_month(sample_catalog: Path, tmp_path: Path) -> None:
    config = _with(load_run_config(REPLAY), sample_catalog, tmp_path)
    backtest, replay = _both(config, tmp_path)
    assert replay["bars_processed"] == backtest["bars_processed"] == 43_200
    assert replay["content_fingerprint"] == backtest["content_fingerprint"]
    assert replay["fills"] == backtest["fills"] == 1616
    for key in (
        "metrics",
        "final_equity",
        "ledgers",
        "denials",
        "approvals",
        "both_levels_touched",
        "funding",
    ):
        assert replay[key] == backtest[key], key
    assert set(replay) == set(backtest)  # the same summary keys
    assert differences(tmp_path / "backtest" / "journal.sqlite", tmp_path / "node.sqlite") == {}
    # and it trades as the backtest example it copies (same strategy, same 10,000 ledger)
    example = load_run_config(REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml")
    example = _with(example, sample_catalog, tmp_path / "example")
    assert run_backtest(example, tmp_path / "example")["content_fingerprint"] == replay["content_fingerprint"]


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("mean_reversion_ethusdt_5m", "2025-05-01", "2025-05-10"),
        ("mean_reversion_ethusdt_spot_5m", "2025-05-01", "2025-05-10"),
        ("ema_cross_eurusd_1h", "2015-01-01", "2015-04-01"),  # bid/ask bars, the forex calendar, weekends
        ("perp_trend_btcusdt", "2025-06-01", "2025-06-10"),  # funding charged on data time
    ],
)
def test_each_example_replays_like_its_backtest(
    sample_catalog: Path, tmp_path: Path, name: str, start: str, end: str
) -> None:
    config = _with(_as_paper(name), sample_catalog, tmp_path, start=start, end=end)
    backtest, replay = _both(config, tmp_path)
    assert backtest["fills"] > 20
    assert replay["content_fingerprint"] == backtest["content_fingerprint"]
    for key in (
        "metrics",
        "final_equity",
        "ledgers",
        "denials",
        "funding",
        "fx_swaps",
        "both_levels_touched",
    ):
        assert replay[key] == backtest[key], key
    assert differences(tmp_path / "backtest" / "journal.sqlite", tmp_path / "node.sqlite") == {}


def test_options_are_not_replayed_and_the_node_says_why(sample_catalog: Path, tmp_path: Path, capsys) -> None:
    config = REPO / "configs" / "backtest" / "long_premium_aapl_2014.toml"
    text = config.read_text().replace('catalog = "var/catalog"', f'catalog = "{sample_catalog}"')
    text += '\n[node]\nadapter = "adapters.replay.node:ReplayAdapter"\n'
    path = tmp_path / "options_replay.toml"
    path.write_text(text)
    assert live_main(["--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "not option chains" in err and "Traceback" not in err


def test_a_config_without_a_node_section_fails_at_startup(capsys) -> None:
    assert live_main(["--config", str(REPO / "configs" / "backtest" / "ema_cross_btcusdt_1m.toml")]) == 2
    assert "[node] is missing" in capsys.readouterr().err


def test_the_summary_has_the_backtest_keys(sample_catalog: Path, tmp_path: Path) -> None:
    config = _with(load_run_config(REPLAY), sample_catalog, tmp_path, start="2025-06-01", end="2025-06-03")
    replay = run_node(config, tmp_path / "replay", fresh=True, printer=lambda line: None)
    written = json.loads((tmp_path / "replay" / "summary.json").read_text())
    assert written == replay
    assert {path.name for path in (tmp_path / "replay").iterdir()} >= {
        "summary.json", "fills.parquet", "orders.parquet", "positions.parquet", "equity.parquet"
    }  # fmt: skip


def test_an_operator_command_from_another_thread_reaches_the_running_node(
    sample_catalog: Path, tmp_path: Path
) -> None:
    config = _with(load_run_config(REPLAY), sample_catalog, tmp_path, start="2025-06-01", end="2025-06-02")
    script = {
        "100": ["SUBMIT_KILL", "crypto_futures"],
        **{str(i): ["BUY", 90_000.0, 120_000.0] for i in range(400, 1400, 50)},
    }
    strategy = msgspec.structs.replace(
        config.strategies[0],
        path="tests.scenarios.scripted:ScriptedSignals",
        config_path="tests.scenarios.scripted:ScriptedSignalsConfig",
        config={
            "instrument_id": "BTCUSDT-LINEAR.BYBIT",
            "bar_type": "BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL",
            "order_id_tag": "OPS",
            "script": script,
        },
    )
    node = msgspec.structs.replace(config.node, speed=20_000.0, command_interval_ms=50)  # a day in ~4 s
    config = msgspec.structs.replace(config, strategies=[strategy], node=node)
    summary = run_node(config, tmp_path / "run", fresh=True, printer=lambda line: None)
    with Journal(tmp_path / "node.sqlite", run_id=config.run.name, mode="paper") as journal:
        (kill,) = journal.rows("operator_actions", action="kill")
        decisions = journal.rows("decisions")
    assert kill["operator"] == "dashboard" and kill["asset"] == "crypto_futures"
    killed_at = int(kill["ts"])
    assert all(row["reason"] == "close_only" for row in decisions if int(row["ts"]) > killed_at)
    assert summary["denials"]["close_only"] == sum(1 for row in decisions if int(row["ts"]) > killed_at) > 10
