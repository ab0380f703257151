"""The entry router through the real engine: entries outside the allowed sessions or regimes are
denied and journaled with their reason; exits, stops and targets still fill.

BTCUSDT perpetual at 100,000 with a 10,000 USDT wallet; timestamps are UTC on 2025-06-01/02.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from nautilus_trader.model.data import Bar, BarType

from tests.scenarios.kit import BAR_TYPE, btcusdt_perpetual, run_scenario

FLAT = (100_000.0, 100_050.0, 99_950.0, 100_000.0)
UP = (100_000.0, 100_400.0, 99_900.0, 100_300.0)
TO_TARGET = (100_300.0, 101_200.0, 100_200.0, 101_100.0)  # trades through a long's 101,000 target
LONG = ["BUY", 99_000.0, 101_000.0]
SHORT = ["SELL", 101_000.0, 99_000.0]
WALLET = "10000 USDT"


def _bars(rows: list[tuple[str, tuple[float, float, float, float]]]) -> list[Bar]:
    instrument = btcusdt_perpetual()
    bar_type = BarType.from_str(BAR_TYPE)
    bars = []
    for stamp, (o, h, low, c) in rows:
        ts = int(datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()) * 1_000_000_000
        prices = (instrument.make_price(x) for x in (o, h, low, c))
        bars.append(Bar(bar_type, *prices, instrument.make_qty(100), ts, ts))
    return bars


def _exits(result):
    closed = result.positions[result.positions["ts_closed"].notna()]
    return list(zip(closed["exit_reason"], closed["avg_px_close"].astype(float), strict=True))


def test_asia_only_strategy_is_denied_in_the_us_session_while_its_exits_fill(tmp_path):
    bars = _bars(
        [
            ("2025-06-01T06:50", FLAT),
            ("2025-06-01T06:51", FLAT),  # 1: ASIA long, approved
            ("2025-06-01T13:01", UP),
            ("2025-06-01T13:02", TO_TARGET),  # its target fills in the US session
            ("2025-06-01T13:03", FLAT),  # 4: US long, denied
            ("2025-06-01T13:04", FLAT),
            ("2025-06-01T23:30", FLAT),  # 6: ASIA long, approved
            ("2025-06-01T23:31", FLAT),
            ("2025-06-02T14:00", FLAT),  # 8: EU+US short: the long exits, the short is denied
            ("2025-06-02T14:01", FLAT),
        ]
    )
    result = run_scenario(
        [],
        {1: LONG, 4: LONG, 6: LONG, 8: SHORT},
        bars=bars,
        balance=WALLET,
        journal_path=tmp_path / "journal.sqlite",
        strategy_options={"allowed_sessions": ["ASIA"]},
    )
    try:
        assert result.denials == {"session_not_allowed": 2}
        assert _exits(result) == [("TP", pytest.approx(101_000.0)), ("SIGNAL_EXIT", pytest.approx(100_000.0))]
        assert result.positions["ts_closed"].notna().all()  # no short was opened
        decisions = result.journal.rows("decisions")
        assert [(row["approved"], row["reason"]) for row in decisions] == [
            (1, "ok"),
            (0, "session_not_allowed"),
            (1, "ok"),
            (0, "session_not_allowed"),
        ]
        sessions = [json.loads(str(row["inputs"]))["session"] for row in decisions]
        assert sessions == ["ASIA", "EU+US", "ASIA", "EU+US"]
        signals = result.journal.rows("signals")
        assert [row["side"] for row in signals] == ["BUY", "BUY", "BUY", "SELL"]
    finally:
        result.journal.close()


def test_regime_restricted_strategy_is_denied_while_the_classifier_warms_up(tmp_path):
    # 30 bars are far below the regime warm-up: every bar is UNKNOWN, which this strategy excludes
    bars = _bars([(f"2025-06-01T10:{minute:02d}", FLAT) for minute in range(30)])
    result = run_scenario(
        [],
        {5: LONG, 20: LONG},
        bars=bars,
        balance=WALLET,
        journal_path=tmp_path / "journal.sqlite",
        strategy_options={"disallowed_regimes": ["UNKNOWN"]},
    )
    try:
        assert result.denials == {"regime_not_allowed": 2}
        assert result.fills.empty
        inputs = [json.loads(str(row["inputs"])) for row in result.journal.rows("decisions")]
        assert [(i["session"], i["regime"]) for i in inputs] == [("EU", "UNKNOWN")] * 2
    finally:
        result.journal.close()


def test_unknown_session_name_fails_at_assembly():
    with pytest.raises(ValueError, match=r"allowed_sessions = \[.LONDON.\]: unknown"):
        run_scenario([FLAT], {}, strategy_options={"allowed_sessions": ["LONDON"]})
