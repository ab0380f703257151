"""Purged / embargoed CV splitters: no leakage, partitions, CPCV paths, KFold equivalence, sklearn use."""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_score

from research.validation.splits import (
    CombinatorialPurgedKFold,
    PurgedKFold,
    block_span,
    purge_and_embargo,
)

PROPERTY = settings(derandomize=True, max_examples=150, deadline=None)


def labels(starts: list[int], horizons: list[int]) -> pd.Series:
    """Label windows ``[start, start + horizon]`` on an integer nanosecond index."""
    t0 = np.asarray(starts, dtype=np.int64)
    return pd.Series(t0 + np.asarray(horizons, dtype=np.int64), index=pd.Index(t0))


@st.composite
def label_sets(draw: st.DrawFn, min_size: int = 2, max_size: int = 60) -> tuple[pd.Series, int]:
    """Sorted label starts (ties allowed), random horizons, and an embargo, all in nanoseconds."""
    n = draw(st.integers(min_size, max_size))
    gaps = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    horizons = draw(st.lists(st.integers(0, 25), min_size=n, max_size=n))
    embargo = draw(st.integers(0, 12))
    return labels(list(np.cumsum(gaps)), horizons), embargo


def leaks(
    train: np.ndarray, blocks: list[np.ndarray], starts: np.ndarray, ends: np.ndarray, embargo: int
) -> list[tuple[int, int, str]]:
    """Every (train sample, block, reason) where a training label touches a test span or its embargo.

    Written with plain Python loops, independent of the module under test.
    """
    found = []
    for b, block in enumerate(blocks):
        span_start = min(int(starts[j]) for j in block)
        span_end = max(int(ends[j]) for j in block)
        for i in train:
            s, e = int(starts[i]), int(ends[i])
            if s <= span_end and e >= span_start:
                found.append((int(i), b, "overlap"))
            elif span_end < s <= span_end + embargo:
                found.append((int(i), b, "embargo"))
    return found


def reference_train(
    n: int, blocks: list[np.ndarray], starts: np.ndarray, ends: np.ndarray, embargo: int
) -> list[int]:
    """The largest leak-free training set: every non-test sample that leaks into no block."""
    in_test = {int(j) for block in blocks for j in block}
    candidates = np.array([i for i in range(n) if i not in in_test], dtype=np.intp)
    dropped = {i for i, _, _ in leaks(candidates, blocks, starts, ends, embargo)}
    return [int(i) for i in candidates if int(i) not in dropped]


def split_blocks(cv: PurgedKFold | CombinatorialPurgedKFold, split_no: int) -> list[np.ndarray]:
    """The test groups of one split, as arrays of positions."""
    groups = cv.group_indices()
    if isinstance(cv, CombinatorialPurgedKFold):
        return [groups[g] for g in cv.test_groups()[split_no]]
    return [groups[split_no]]


def arrays(label_end: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    return label_end.index.to_numpy(dtype=np.int64), label_end.to_numpy(dtype=np.int64)


# --- the acceptance point: no training label overlaps a test fold or its embargo -----------------------


@PROPERTY
@given(data=label_sets(), n_splits=st.integers(2, 8))
def test_purged_kfold_never_leaks_and_purges_no_more_than_needed(
    data: tuple[pd.Series, int], n_splits: int
) -> None:
    label_end, embargo = data
    n_splits = min(n_splits, len(label_end))
    cv = PurgedKFold(n_splits, label_end=label_end, embargo=embargo)
    starts, ends = arrays(label_end)
    n = len(label_end)
    for k, (train, test) in enumerate(cv.split(np.zeros((n, 1)))):
        blocks = split_blocks(cv, k)
        assert leaks(train, blocks, starts, ends, embargo) == []
        assert np.intersect1d(train, test).size == 0
        assert train.tolist() == reference_train(n, blocks, starts, ends, embargo)


@PROPERTY
@given(data=label_sets(min_size=3), n_splits=st.integers(3, 7), n_test=st.integers(1, 6))
def test_cpcv_never_leaks_around_any_test_group(
    data: tuple[pd.Series, int], n_splits: int, n_test: int
) -> None:
    label_end, embargo = data
    n_splits = min(n_splits, len(label_end))
    n_test = min(n_test, n_splits - 1)
    cv = CombinatorialPurgedKFold(n_splits, n_test, label_end=label_end, embargo=embargo)
    starts, ends = arrays(label_end)
    n = len(label_end)
    produced = list(cv.split(np.zeros((n, 1))))
    assert len(produced) == comb(n_splits, n_test) == cv.get_n_splits()
    for k, (train, test) in enumerate(produced):
        blocks = split_blocks(cv, k)
        assert leaks(train, blocks, starts, ends, embargo) == []
        assert test.tolist() == sorted(int(j) for block in blocks for j in block)
        assert train.tolist() == reference_train(n, blocks, starts, ends, embargo)


def test_leak_check_catches_plain_kfold_on_overlapping_labels() -> None:
    """The property above can fail: unpurged KFold leaks as soon as labels span several samples."""
    label_end = labels(list(range(20)), [3] * 20)
    starts, ends = arrays(label_end)
    found = []
    for train, test in KFold(4).split(np.zeros((20, 1))):
        found += leaks(train, [test], starts, ends, embargo=2)
    assert {reason for _, _, reason in found} == {"overlap", "embargo"}


def test_purged_kfold_hand_computed_split() -> None:
    # Samples at t = 0..9, each label ends one tick later; fold 2 is samples 4 and 5, span [4, 6].
    label_end = labels(list(range(10)), [1] * 10)
    no_embargo = list(PurgedKFold(5, label_end=label_end).split(np.zeros((10, 1))))
    train, test = no_embargo[2]
    assert test.tolist() == [4, 5]
    # 3 ends at 4 (overlap), 6 starts at 6 (overlap): both purged.
    assert train.tolist() == [0, 1, 2, 7, 8, 9]
    train, _ = list(PurgedKFold(5, label_end=label_end, embargo=2).split(np.zeros((10, 1))))[2]
    # The embargo (6, 8] also drops 7 and 8.
    assert train.tolist() == [0, 1, 2, 9]


def test_embargo_in_time_units_matches_nanoseconds() -> None:
    t0 = pd.date_range("2024-03-01", periods=40, freq="min", tz="UTC")
    horizon = pd.Series(np.random.default_rng(7).integers(0, 6, 40), index=t0)
    by_time = pd.Series(t0 + pd.to_timedelta(horizon.to_numpy(), unit="min"), index=t0)
    ns = pd.Series(pd.DatetimeIndex(by_time).asi8, index=t0.asi8)
    a = list(PurgedKFold(4, label_end=by_time, embargo="3min").split(np.zeros((40, 1))))
    b = list(PurgedKFold(4, label_end=ns, embargo=180_000_000_000).split(np.zeros((40, 1))))
    c = list(PurgedKFold(4, label_end=by_time, embargo=pd.Timedelta(0)).split(np.zeros((40, 1))))
    assert [(x.tolist(), y.tolist()) for x, y in a] == [(x.tolist(), y.tolist()) for x, y in b]
    assert sum(len(x) for x, _ in a) < sum(len(x) for x, _ in c)


# --- partitions and CPCV paths ------------------------------------------------------------------------


@PROPERTY
@given(data=label_sets(), n_splits=st.integers(2, 10))
def test_purged_kfold_test_folds_partition_the_samples(data: tuple[pd.Series, int], n_splits: int) -> None:
    label_end, embargo = data
    n_splits = min(n_splits, len(label_end))
    cv = PurgedKFold(n_splits, label_end=label_end, embargo=embargo)
    tests = [test for _, test in cv.split(np.zeros((len(label_end), 1)))]
    assert len(tests) == cv.get_n_splits() == n_splits
    assert np.concatenate(tests).tolist() == list(range(len(label_end)))
    assert all(np.all(np.diff(t) == 1) for t in tests)  # contiguous, in time order


@PROPERTY
@given(n=st.integers(2, 40), n_splits=st.integers(2, 8), n_test=st.integers(1, 7))
def test_cpcv_counts_and_paths(n: int, n_splits: int, n_test: int) -> None:
    n_splits = min(n_splits, n)
    n_test = min(n_test, n_splits - 1)
    cv = CombinatorialPurgedKFold(n_splits, n_test, label_end=labels(list(range(n)), [2] * n), embargo=1)
    splits = list(cv.split(np.zeros((n, 1))))
    n_paths = cv.get_n_paths()
    assert len(splits) == cv.get_n_splits() == comb(n_splits, n_test)
    assert n_paths * n_splits == n_test * comb(n_splits, n_test)  # phi = k / N * C(N, k)
    # Each sample is tested in C(N - 1, k - 1) = phi splits: once per backtest path.
    counts = np.bincount(np.concatenate([test for _, test in splits]), minlength=n)
    assert counts.tolist() == [n_paths] * n
    assert cv.test_groups() == list(combinations(range(n_splits), n_test))

    paths = cv.backtest_paths()
    groups = cv.group_indices()
    assert paths.shape == (n_paths, n_splits)
    for p in range(n_paths):
        for g in range(n_splits):
            assert np.isin(groups[g], splits[paths[p, g]][1]).all()  # that split really tests group g
    # Every (split, test group) pair is used by exactly one path.
    used = sorted((int(paths[p, g]), g) for p in range(n_paths) for g in range(n_splits))
    assert used == sorted((s, g) for s, gs in enumerate(cv.test_groups()) for g in gs)


def test_cpcv_six_groups_two_test_gives_fifteen_splits_five_paths() -> None:
    cv = CombinatorialPurgedKFold(6, 2, label_end=labels(list(range(60)), [0] * 60))
    assert cv.get_n_splits() == 15
    assert cv.get_n_paths() == 5
    assert cv.backtest_paths()[:, 0].tolist() == [0, 1, 2, 3, 4]  # (0,1) (0,2) (0,3) (0,4) (0,5)
    assert cv.backtest_paths()[0].tolist() == [0, 0, 1, 2, 3, 4]
    assert cv.backtest_paths()[4].tolist() == [4, 8, 11, 13, 14, 14]


# --- zero horizon and zero embargo: plain contiguous KFold ---------------------------------------------


@PROPERTY
@given(n=st.integers(2, 80), n_splits=st.integers(2, 10), gap=st.integers(1, 10**9))
def test_zero_horizon_zero_embargo_is_kfold(n: int, n_splits: int, gap: int) -> None:
    n_splits = min(n_splits, n)
    label_end = labels([i * gap for i in range(n)], [0] * n)
    x = np.zeros((n, 2))
    expected = [(a.tolist(), b.tolist()) for a, b in KFold(n_splits, shuffle=False).split(x)]
    purged = PurgedKFold(n_splits, label_end=label_end)
    single = CombinatorialPurgedKFold(n_splits, 1, label_end=label_end)
    assert [(a.tolist(), b.tolist()) for a, b in purged.split(x)] == expected
    assert [(a.tolist(), b.tolist()) for a, b in single.split(x)] == expected


def test_zero_horizon_on_datetimes_is_kfold() -> None:
    t0 = pd.date_range("2024-01-01", periods=23, freq="D", tz="Europe/Berlin")
    x = pd.DataFrame({"x": np.arange(23.0)}, index=t0)
    got = [(a.tolist(), b.tolist()) for a, b in PurgedKFold(4, label_end=pd.Series(t0, index=t0)).split(x)]
    assert got == [(a.tolist(), b.tolist()) for a, b in KFold(4).split(x)]


# --- scikit-learn integration --------------------------------------------------------------------------


def classification_frame(n: int = 240) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(3)
    t0 = pd.date_range("2024-01-01", periods=n, freq="5min")
    x = pd.DataFrame(rng.normal(size=(n, 3)), index=t0, columns=["a", "b", "c"])
    y = pd.Series((x["a"] + 0.5 * rng.normal(size=n) > 0).astype(int), index=t0)
    label_end = pd.Series(t0 + pd.to_timedelta(rng.integers(0, 12, n) * 5, unit="min"), index=t0)
    return x, y, label_end


def test_cross_val_score_with_purged_kfold() -> None:
    x, y, label_end = classification_frame()
    cv = PurgedKFold(n_splits=5, label_end=label_end, embargo="30min")
    scores = cross_val_score(LogisticRegression(), x, y, cv=cv)
    assert scores.shape == (5,)
    assert np.all((scores > 0.5) & (scores <= 1.0))  # the signal in column "a" is learnt out of sample


def test_cross_val_score_with_cpcv_on_numpy_input() -> None:
    x, y, label_end = classification_frame()
    cv = CombinatorialPurgedKFold(n_splits=6, n_test_splits=2, label_end=label_end, embargo="10min")
    scores = cross_val_score(DummyClassifier(strategy="most_frequent"), x.to_numpy(), y.to_numpy(), cv=cv)
    assert scores.shape == (15,)
    assert np.all((scores >= 0.0) & (scores <= 1.0))


def test_repr_is_short() -> None:
    _, _, label_end = classification_frame()
    text = repr(CombinatorialPurgedKFold(6, 2, label_end=label_end, embargo="10min"))
    assert (
        text
        == "CombinatorialPurgedKFold(n_splits=6, n_test_splits=2, label_end=<240 labels>, embargo='10min')"
    )


# --- the pure helpers -----------------------------------------------------------------------------------


def test_purge_and_embargo_interval_edges_are_closed() -> None:
    starts = np.array([0, 5, 10, 20, 21, 23, 24], dtype=np.int64)
    ends = np.array([9, 10, 12, 20, 22, 30, 24], dtype=np.int64)
    # Test span [10, 20], embargo (20, 23].
    kept = purge_and_embargo([0, 1, 3, 4, 5, 6], starts, ends, test_start=10, test_end=20, embargo=3)
    # 0 ends at 9 < 10: kept. 1 ends at 10: purged. 3 inside: purged. 4 and 5 start at 21 and 23: embargoed.
    assert kept.tolist() == [0, 6]
    assert purge_and_embargo([4, 5, 6], starts, ends, 10, 20, embargo=0).tolist() == [4, 5, 6]


def test_purge_and_embargo_does_not_overflow_near_int64_max() -> None:
    big = np.iinfo(np.int64).max
    starts = np.array([0, big - 1], dtype=np.int64)
    ends = np.array([1, big], dtype=np.int64)
    assert purge_and_embargo([1], starts, ends, 0, 1, embargo=big).tolist() == []


def test_block_span() -> None:
    starts = np.array([0, 5, 10], dtype=np.int64)
    ends = np.array([50, 6, 11], dtype=np.int64)
    assert block_span([1, 2], starts, ends) == (5, 11)
    assert block_span(np.array([0, 1]), starts, ends) == (0, 50)
    with pytest.raises(ValueError, match="test_indices"):
        block_span([], starts, ends)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"test_start": 5, "test_end": 4}, "test_end=4 must not precede test_start=5"),
        ({"embargo": -1}, "embargo=-1"),
        ({"label_end": np.array([1, 2], dtype=np.int64)}, "label_end.shape"),
    ],
)
def test_purge_and_embargo_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {
        "train_indices": [0],
        "label_start": np.array([0, 1, 2], dtype=np.int64),
        "label_end": np.array([0, 1, 2], dtype=np.int64),
        "test_start": 0,
        "test_end": 1,
        "embargo": 0,
    }
    with pytest.raises(ValueError, match=match):
        purge_and_embargo(**{**args, **kwargs})  # type: ignore[arg-type]


# --- input validation -----------------------------------------------------------------------------------

GOOD = labels([0, 1, 2, 3, 4, 5], [1] * 6)


@pytest.mark.parametrize("cls", [PurgedKFold, CombinatorialPurgedKFold])
@pytest.mark.parametrize(
    ("n_splits", "label_end", "embargo", "error", "match"),
    [
        (1, GOOD, 0, ValueError, r"n_splits must be >= 2, got n_splits=1"),
        (2.0, GOOD, 0, TypeError, r"n_splits must be an integer, got n_splits=2\.0"),
        (7, GOOD, 0, ValueError, r"n_splits=7 must not exceed the number of samples, len\(label_end\)=6"),
        (
            2,
            labels([0, 1, 2], [1, -1, 0]),
            0,
            ValueError,
            r"label_end\.iloc\[1\]=0 is before label_end\.index\[1\]=1",
        ),
        (2, labels([0, 2, 1], [0, 0, 0]), 0, ValueError, r"sorted.*label_end\.index\[2\]=1 precedes"),
        (2, GOOD, -5, ValueError, r"embargo must be >= 0, got embargo=-5"),
        (2, GOOD, "soon", TypeError, r"embargo=.soon."),
        (2, GOOD.to_numpy(), 0, TypeError, r"label_end must be a pandas\.Series"),
        (2, pd.Series([1.0, 2.0], index=[0.0, 1.0]), 0, TypeError, r"label_end\.index must hold datetimes"),
        (2, pd.Series([pd.NaT, pd.Timestamp(0)], index=pd.to_datetime([0, 1])), 0, ValueError, r"NaT"),
    ],
)
def test_constructor_rejects_bad_input(
    cls: type, n_splits: object, label_end: object, embargo: object, error: type[Exception], match: str
) -> None:
    kwargs = {"n_test_splits": 1} if cls is CombinatorialPurgedKFold else {}
    with pytest.raises(error, match=match):
        cls(n_splits, label_end=label_end, embargo=embargo, **kwargs)


@pytest.mark.parametrize("n_test", [0, 3, 4])
def test_cpcv_rejects_n_test_splits_out_of_range(n_test: int) -> None:
    with pytest.raises(
        ValueError, match=rf"n_test_splits must be in \[1, n_splits - 1\].*n_test_splits={n_test}"
    ):
        CombinatorialPurgedKFold(3, n_test, label_end=GOOD)


def test_split_rejects_misaligned_x() -> None:
    cv = PurgedKFold(3, label_end=GOOD)
    with pytest.raises(ValueError, match="X has 5 rows but label_end has 6 labels"):
        next(cv.split(np.zeros((5, 1))))
    shifted = pd.DataFrame({"x": np.zeros(6)}, index=GOOD.index + 1)
    with pytest.raises(ValueError, match=r"X\.index must equal label_end\.index"):
        next(cv.split(shifted))
