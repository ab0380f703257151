"""Stop a replay mid-run (SIGTERM, then SIGKILL) and start it again: it resumes where it stopped.

The replay runs in a real ``python -m engine.live`` process. Its paper ledger tops up often here (a
$20 top-up whenever equity falls to 9,990), so epochs are numbered while it runs. After the restart
the journal holds exactly what an uninterrupted run's holds (no fill twice, no entry twice, the
same epochs), and the summaries are equal.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.configs import load_run_config
from engine.live import run_node
from tests.scenarios.journal_content import differences, journal_content

REPO = Path(__file__).resolve().parents[2]
FILLS = re.compile(r", (\d+) fills, ")


def _config(sample_catalog: Path, folder: Path, journal: str) -> Path:
    text = (REPO / "configs" / "live" / "replay.toml").read_text()
    text = text.replace('catalog = "var/catalog"', f'catalog = "{sample_catalog}"')
    bars = 'bar_types = ["BTCUSDT-LINEAR.BYBIT-1-MINUTE-LAST-EXTERNAL"]\n'
    text = text.replace(bars, f'{bars}start = "2025-06-01"\nend = "2025-06-11"\n')
    text = text.replace("start_equity_usd = 10000.0", (
        "start_equity_usd = 10000.0\nauto_topup_threshold_usd = 9990.0\nauto_topup_amount_usd = 20.0"
    ))  # fmt: skip
    text = text.replace("tearsheet = true", "tearsheet = false")
    text = text.replace("progress_seconds = 2.0", "progress_seconds = 0.3")
    text = text.replace("checkpoint_seconds = 2.0", "checkpoint_seconds = 0.3")
    text = text.replace('speed = "max"', f'speed = 150000.0\njournal = "{folder / journal}"')
    path = folder / f"{journal}.toml"
    path.write_text(text)
    return path


def _interrupt(config: Path, out: Path, sig: signal.Signals, after_fills: int) -> str:
    """Run the replay in a child process and send it ``sig`` once it has booked ``after_fills`` fills."""
    command = [sys.executable, "-m", "engine.live", "--config", str(config), "--out", str(out), "--fresh"]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert child.stdout is not None
    lines = []
    deadline = time.monotonic() + 120
    for line in child.stdout:
        lines.append(line)
        found = FILLS.search(line)
        if found and int(found.group(1)) >= after_fills:
            child.send_signal(sig)
            break
        assert time.monotonic() < deadline, "".join(lines)
    rest, _ = child.communicate(timeout=120)
    output = "".join(lines) + rest
    if sig == signal.SIGTERM:
        assert child.returncode == 0, output
        assert "stopped before the end of the data" in output
    else:
        assert child.returncode == -signal.SIGKILL, output
    return output


def _restart(config: Path, out: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "engine.live", "--config", str(config), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming from the checkpoint" in done.stdout
    assert "Traceback" not in done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def straight(sample_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """Run the replay once without interruption (in-process, as fast as possible)."""
    folder = tmp_path_factory.mktemp("straight")
    config = load_run_config(_config(sample_catalog, folder, "straight"))
    cwd = Path.cwd()
    os.chdir(REPO)
    try:
        summary = run_node(config, folder / "run", speed="max", fresh=True, printer=lambda line: None)
    finally:
        os.chdir(cwd)
    return summary, folder / "straight"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_stopped_replay_resumes_without_a_duplicate_fill_or_entry(
    sample_catalog: Path, tmp_path: Path, straight: tuple[dict, Path], sig: signal.Signals
) -> None:
    expected, expected_journal = straight
    assert expected["ledgers"]["crypto_futures"]["epochs"] > 3  # the top-ups happened
    config = _config(sample_catalog, tmp_path, "interrupted")
    _interrupt(config, tmp_path / "first", sig, after_fills=150)
    _restart(config, tmp_path / "second")
    resumed = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert resumed["content_fingerprint"] == expected["content_fingerprint"]
    for key in ("fills", "metrics", "ledgers", "approvals", "denials", "final_equity"):
        assert resumed[key] == expected[key], key
    journal = tmp_path / "interrupted"
    assert differences(expected_journal, journal) == {}  # no fill, entry or epoch twice, none missing
    content = journal_content(journal)
    assert sum(content["fills"].values()) == expected["fills"]
    assert sum(content["epochs"].values()) == expected["ledgers"]["crypto_futures"]["epochs"] - 1
