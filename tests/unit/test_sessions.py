"""Sessions: UTC windows (midnight crossing, overlaps), the bitmask, the config file and its errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from strategies.features.config import (
    FeatureConfigError,
    SessionsConfig,
    SessionWindow,
    load_sessions_config,
    sessions_config_from_raw,
)
from strategies.features.router import SESSION_NOT_ALLOWED, EntryRouter
from strategies.features.sessions import session_columns, session_mask, session_names, sessions_at

REPO = Path(__file__).resolve().parents[2]
WINDOWS = SessionsConfig().sessions


def _ns(hour: int, minute: int = 0, day: int = 2) -> int:
    return int(datetime(2025, 6, day, hour, minute, tzinfo=UTC).timestamp()) * 1_000_000_000


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [
        (23, 0, {"ASIA"}),  # start is inclusive
        (23, 59, {"ASIA"}),
        (0, 0, {"ASIA"}),  # across midnight
        (3, 30, {"ASIA"}),
        (6, 59, {"ASIA"}),
        (7, 0, {"EU"}),  # end is exclusive
        (12, 59, {"EU"}),
        (13, 0, {"EU", "US"}),  # the overlap
        (14, 59, {"EU", "US"}),
        (15, 0, {"US"}),
        (20, 59, {"US"}),
        (21, 0, set()),  # between sessions
        (22, 59, set()),
    ],
)
def test_sessions_at_each_boundary(hour, minute, expected):
    assert sessions_at(_ns(hour, minute), WINDOWS) == frozenset(expected)


def test_columns_mask_and_scalar_helper_agree_over_two_days():
    stamps = np.arange(_ns(0), _ns(0, day=4), 60_000_000_000 * 7, dtype=np.int64)
    columns = session_columns(stamps, WINDOWS)
    mask = session_mask(stamps, WINDOWS)
    assert mask.dtype == np.uint32
    for index, ts in enumerate(stamps.tolist()):
        names = sessions_at(ts, WINDOWS)
        assert session_names(int(mask[index]), WINDOWS) == names
        assert {name for name, column in columns.items() if column[index]} == names
    assert int(np.count_nonzero(columns["EU"] & columns["US"])) > 0
    assert int(np.count_nonzero(mask == 0)) > 0


def test_bit_order_follows_the_config_order():
    assert session_mask([_ns(2)], WINDOWS).tolist() == [1]  # ASIA is bit 0
    assert session_mask([_ns(13, 30)], WINDOWS).tolist() == [2 | 4]
    swapped = {"US": WINDOWS["US"], "ASIA": WINDOWS["ASIA"]}
    assert session_mask([_ns(2), _ns(16)], swapped).tolist() == [2, 1]


def test_custom_window_crossing_midnight_with_minutes():
    windows = {"LATE": SessionWindow("22:30", "01:15")}
    assert sessions_at(_ns(22, 29), windows) == frozenset()
    assert sessions_at(_ns(22, 30), windows) == {"LATE"}
    assert sessions_at(_ns(1, 14), windows) == {"LATE"}
    assert sessions_at(_ns(1, 15), windows) == frozenset()


def test_shipped_file_equals_the_built_in_defaults():
    assert load_sessions_config(REPO / "configs" / "sessions.toml") == SessionsConfig()


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"sessions": {"ASIA": {"start": "25:00", "end": "07:00"}}}, "sessions.ASIA.start = '25:00': hour"),
        ({"sessions": {"EU": {"start": "07:00", "end": "15:60"}}}, "sessions.EU.end = '15:60': minute"),
        ({"sessions": {"EU": {"start": "7am", "end": "15:00"}}}, "sessions.EU.start = '7am'"),
        ({"sessions": {"EU": {"start": "07:00", "end": "07:00"}}}, "sessions.EU.end = '07:00'"),
        ({"sessions": {"eu": {"start": "07:00", "end": "15:00"}}}, "sessions.eu"),
        ({"sessions": {"EU": {"start": 7, "end": "15:00"}}}, "sessions.EU.start = 7"),
        ({"sessions": {"EU": {"start": "07:00", "end": "15:00", "tz": "CET"}}}, "tz"),
        ({"regimes": {"adx_period": 0}}, "regimes.adx_period = 0"),
        ({"regimes": {"high_vol_percentile": 120.0}}, "regimes.high_vol_percentile = 120.0"),
        ({"regimes": {"range_adx_max": 25.0}}, "regimes.range_adx_max = 25.0"),
        ({"regimes": {"percentile_window": 1}}, "regimes.percentile_window = 1"),
        ({"regime": {}}, "regime"),
    ],
)
def test_bad_values_fail_naming_file_field_and_value(raw, fragment):
    with pytest.raises(FeatureConfigError) as error:
        sessions_config_from_raw(raw, "sessions.toml")
    assert str(error.value).startswith("sessions.toml: ")
    assert fragment in str(error.value)


def test_bad_file_fails_at_load(tmp_path):
    path = tmp_path / "sessions.toml"
    path.write_text('[sessions.ASIA]\nstart = "25:00"\nend = "07:00"\n', encoding="utf-8")
    with pytest.raises(FeatureConfigError, match=r"sessions\.toml: sessions\.ASIA\.start = '25:00'"):
        load_sessions_config(path)
    with pytest.raises(FeatureConfigError, match="not found"):
        load_sessions_config(tmp_path / "missing.toml")


def test_router_session_allowlist():
    router = EntryRouter(SessionsConfig(), allowed_sessions=["ASIA", "EU"])
    assert router.refusal(_ns(3)) == ""
    assert router.refusal(_ns(13, 30)) == ""  # EU and US: one allowed session is enough
    assert router.refusal(_ns(16)) == SESSION_NOT_ALLOWED
    assert router.refusal(_ns(22)) == SESSION_NOT_ALLOWED  # in no session at all
    assert not router.tracks_regimes
    assert EntryRouter(SessionsConfig()).refusal(_ns(22)) == ""


def test_router_rejects_unknown_session_names():
    with pytest.raises(ValueError, match=r"allowed_sessions = \['LONDON'\]"):
        EntryRouter(SessionsConfig(), allowed_sessions=["LONDON"])
