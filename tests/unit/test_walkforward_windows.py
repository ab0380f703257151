"""Walk-forward windows: purge before every test window, embargo after, rolling and anchored."""

from __future__ import annotations

import pytest

from research.validation.walkforward import NS_PER_DAY, make_folds, parameter_grid

MINUTE = 60_000_000_000


@pytest.mark.parametrize("mode", ["rolling", "anchored"])
@pytest.mark.parametrize(
    ("purge", "embargo", "step"), [(0, 0, None), (60, 0, None), (60, 30, 5.0), (1440, 120, 4.0)]
)
def test_no_training_window_reaches_its_test_window_or_an_earlier_embargo(mode, purge, embargo, step):
    folds = make_folds(0, 30 * NS_PER_DAY, MINUTE, train_days=7, test_days=3, step_days=step, mode=mode,
                       purge_bars=purge, embargo_bars=embargo)  # fmt: skip
    assert folds
    for fold in folds:
        assert fold.train_end + purge * MINUTE == fold.test_start  # purge: label horizon kept out
        assert fold.train_start == (0 if mode == "anchored" else fold.test_start - 7 * NS_PER_DAY)
        assert fold.test_end - fold.test_start == 3 * NS_PER_DAY
        for earlier in folds[: fold.index]:
            embargo_end = earlier.test_end + embargo * MINUTE
            kept_in = fold.train_start < embargo_end and earlier.test_end < fold.train_end
            if embargo and kept_in:
                lo, hi = max(fold.train_start, earlier.test_end), min(fold.train_end, embargo_end)
                assert (lo, hi) in fold.excluded  # embargoed bars are cut from this training window


def test_consecutive_rolling_windows_cover_the_data_after_the_first_training_window():
    folds = make_folds(0, 30 * NS_PER_DAY, MINUTE, train_days=7, test_days=3)
    assert len(folds) == 7
    assert [f.test_start for f in folds] == [(7 + 3 * i) * NS_PER_DAY for i in range(7)]
    assert all(f.excluded == () for f in folds)  # training always precedes its test: nothing to embargo


def test_a_window_that_does_not_fit_gives_no_fold():
    assert make_folds(0, 5 * NS_PER_DAY, MINUTE, train_days=7, test_days=3) == []


def test_parameter_grid_order_is_fixed():
    grid = parameter_grid({"slow_period": [60, 120], "fast_period": [10, 20]})
    assert grid == [
        (("fast_period", 10), ("slow_period", 60)),
        (("fast_period", 10), ("slow_period", 120)),
        (("fast_period", 20), ("slow_period", 60)),
        (("fast_period", 20), ("slow_period", 120)),
    ]
