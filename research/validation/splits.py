"""Purged and embargoed cross-validation splitters for labels that span time.

A financial label is rarely a point: a triple-barrier label decided at ``t0`` is only known at ``t1``, the
time its first barrier is touched. Plain k-fold cross-validation then leaks, because a training sample
whose label window ``[t0, t1]`` overlaps the test block has seen part of the test outcomes. The splitters
here follow M. Lopez de Prado, *Advances in Financial Machine Learning* (Wiley, 2018):

- chapter 7 (sections 7.4.1 to 7.4.3): **purging** drops every training sample whose label window overlaps
  the time span of a test block, and **embargo** also drops the training samples whose label starts within
  a short window right after the test block, against leakage through serial correlation;
- chapter 12 (section 12.4): **combinatorial purged cross-validation** (CPCV) takes every combination of
  ``k`` test groups out of ``N``, purges and embargoes around every test group, and assembles the
  out-of-sample predictions into ``phi = k / N * C(N, k)`` complete backtest paths.

Conventions, shared by every function and class below:

- timestamps are integer nanoseconds (``numpy.int64``); pandas datetimes are converted to UTC nanoseconds;
- a sample's label window is the closed interval ``[label_start, label_end]``;
- a test block is a run of consecutive samples; its span is ``[test_start, test_end]`` with ``test_start``
  the earliest label start and ``test_end`` the latest label end of its samples;
- a training sample ``i`` is dropped if its window overlaps the span (purge) or if its label start lies in
  the embargo window ``(test_end, test_end + embargo]`` (embargo). Both rules together are the single
  condition ``label_start[i] <= test_end + embargo and label_end[i] >= test_start``.

The splitters are scikit-learn cross-validators: pass one as ``cv=`` to ``cross_val_score``,
``GridSearchCV`` and the like. The samples (rows of ``X``) must be in time order, one row per label.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import combinations
from math import comb
from typing import Any, TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.model_selection import BaseCrossValidator

__all__ = [
    "CombinatorialPurgedKFold",
    "EmbargoLike",
    "PurgedKFold",
    "block_span",
    "purge_and_embargo",
]

EmbargoLike: TypeAlias = pd.Timedelta | np.timedelta64 | dt.timedelta | str | int
"""A duration accepted by ``pandas.Timedelta``; a bare integer is a number of nanoseconds."""

_INT64_MAX = int(np.iinfo(np.int64).max)


def block_span(
    test_indices: ArrayLike, label_start: NDArray[np.int64], label_end: NDArray[np.int64]
) -> tuple[int, int]:
    """Return the time span ``(test_start, test_end)`` covered by the labels of a test block.

    Named ``block_span`` rather than ``test_span`` so that pytest does not collect it when imported.

    Parameters
    ----------
    test_indices : array-like of int
        Positions of the test samples; must not be empty.
    label_start, label_end : numpy.ndarray of int64
        Label window bounds of every sample, in nanoseconds.

    Returns
    -------
    tuple of int
        The earliest label start and the latest label end among ``test_indices`` (Lopez de Prado, AFML,
        section 7.4.1: the test span runs from the first test label start to the last test label end).

    Raises
    ------
    ValueError
        If ``test_indices`` is empty.
    """
    idx = np.asarray(test_indices, dtype=np.intp)
    if idx.size == 0:
        raise ValueError("test_indices must not be empty")
    return int(label_start[idx].min()), int(label_end[idx].max())


def purge_and_embargo(
    train_indices: ArrayLike,
    label_start: NDArray[np.int64],
    label_end: NDArray[np.int64],
    test_start: int,
    test_end: int,
    embargo: int = 0,
) -> NDArray[np.intp]:
    """Drop the training samples that leak into one test block; keep the others in their order.

    Sample ``i`` is dropped (Lopez de Prado, AFML, sections 7.4.1 and 7.4.2) if

    - its label window overlaps the test span (purge):
      ``label_start[i] <= test_end and label_end[i] >= test_start``; or
    - its label starts in the embargo window after the test block (embargo):
      ``test_end < label_start[i] <= test_end + embargo``.

    All intervals are closed, so a label ending exactly at ``test_start`` is purged.

    Parameters
    ----------
    train_indices : array-like of int
        Candidate training positions into ``label_start`` and ``label_end``.
    label_start, label_end : numpy.ndarray of int64, shape (n_samples,)
        Label window bounds of every sample, in nanoseconds; ``label_end >= label_start``.
    test_start, test_end : int
        Span of the test block in nanoseconds, for instance from :func:`block_span`.
    embargo : int, default 0
        Length of the embargo window after ``test_end``, in nanoseconds.

    Returns
    -------
    numpy.ndarray of intp
        The subset of ``train_indices`` that neither overlaps the test span nor starts inside its embargo.

    Raises
    ------
    ValueError
        If the label arrays differ in shape or are not one-dimensional, if ``test_end < test_start``, or if
        ``embargo`` is negative.
    """
    starts = np.asarray(label_start, dtype=np.int64)
    ends = np.asarray(label_end, dtype=np.int64)
    if starts.ndim != 1 or starts.shape != ends.shape:
        raise ValueError(
            f"label_start and label_end must be 1-D arrays of one shape, "
            f"got label_start.shape={starts.shape} and label_end.shape={ends.shape}"
        )
    if test_end < test_start:
        raise ValueError(f"test_end={test_end} must not precede test_start={test_start}")
    if embargo < 0:
        raise ValueError(f"embargo must be >= 0 nanoseconds, got embargo={embargo}")
    idx = np.asarray(train_indices, dtype=np.intp)
    # Python ints do not overflow; clip so that the comparison stays within int64.
    horizon = min(int(test_end) + int(embargo), _INT64_MAX)
    leaks = (starts[idx] <= horizon) & (ends[idx] >= test_start)
    return idx[~leaks]


def _as_ns(values: pd.Index | pd.Series, name: str) -> NDArray[np.int64]:
    """Convert datetimes (naive or tz-aware, read as UTC) or integers to int64 nanoseconds."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = pd.DatetimeIndex(values)
        if stamps.hasnans:
            raise ValueError(f"{name} must not contain NaT, found {int(stamps.isna().sum())}")
        return np.asarray(stamps.as_unit("ns").asi8, dtype=np.int64)
    if pd.api.types.is_integer_dtype(values.dtype):
        if pd.isna(values).any():
            raise ValueError(f"{name} must not contain missing values")
        return np.asarray(values, dtype=np.int64)
    raise TypeError(f"{name} must hold datetimes or integer nanoseconds, got dtype {values.dtype}")


def _embargo_ns(embargo: EmbargoLike) -> int:
    """Return ``embargo`` in nanoseconds, rejecting NaT and negative durations."""
    if isinstance(embargo, bool):
        raise TypeError(f"embargo must be a duration, got embargo={embargo!r}")
    try:
        delta = pd.Timedelta(embargo)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"embargo must be a duration pandas.Timedelta accepts, got embargo={embargo!r}"
        ) from exc
    if pd.isna(delta):
        raise ValueError(f"embargo must be a duration, got embargo={embargo!r}")
    if delta < pd.Timedelta(0):
        raise ValueError(f"embargo must be >= 0, got embargo={embargo!r}")
    return int(delta.value)


def _n_samples(data: Any) -> int:
    """Return the number of rows of an array-like, a DataFrame or a sequence."""
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(data)


class _PurgedCrossValidator(BaseCrossValidator):  # type: ignore[misc]
    """Shared machinery: label windows, embargo, contiguous groups, purged splits."""

    def __init__(self, n_splits: int, label_end: pd.Series, embargo: EmbargoLike) -> None:
        if isinstance(n_splits, bool) or not isinstance(n_splits, int | np.integer):
            raise TypeError(f"n_splits must be an integer, got n_splits={n_splits!r}")
        if n_splits < 2:
            raise ValueError(f"n_splits must be >= 2, got n_splits={n_splits}")
        if not isinstance(label_end, pd.Series):
            raise TypeError(
                "label_end must be a pandas.Series indexed by label start times with label end times "
                f"as values, got {type(label_end).__name__}"
            )
        starts = _as_ns(label_end.index, "label_end.index")
        ends = _as_ns(label_end, "label_end")
        n = starts.size
        if n_splits > n:
            raise ValueError(f"n_splits={n_splits} must not exceed the number of samples, len(label_end)={n}")
        back = np.flatnonzero(np.diff(starts) < 0)
        if back.size:
            i = int(back[0]) + 1
            raise ValueError(
                "label_end.index (label start times) must be sorted in time order: "
                f"label_end.index[{i}]={label_end.index[i]} precedes "
                f"label_end.index[{i - 1}]={label_end.index[i - 1]}"
            )
        early = np.flatnonzero(ends < starts)
        if early.size:
            i = int(early[0])
            raise ValueError(
                f"label_end must not precede its label start: label_end.iloc[{i}]={label_end.iloc[i]} "
                f"is before label_end.index[{i}]={label_end.index[i]} ({early.size} such labels)"
            )
        self.n_splits = int(n_splits)
        self.label_end = label_end
        self.embargo = embargo
        self._starts = starts
        self._ends = ends
        self._embargo = _embargo_ns(embargo)

    def _test_group_sets(self) -> list[tuple[int, ...]]:
        """Return, per split, the groups that form its test set."""
        raise NotImplementedError

    def group_indices(self) -> list[NDArray[np.intp]]:
        """Return the sample positions of each of the ``n_splits`` contiguous groups, in time order.

        Returns
        -------
        list of numpy.ndarray of intp
            ``n_splits`` arrays; the first ``n_samples % n_splits`` groups hold one sample more than the
            others, as in ``sklearn.model_selection.KFold``.
        """
        return list(np.array_split(np.arange(self._starts.size, dtype=np.intp), self.n_splits))

    def split(  # scikit-learn names the feature matrix X
        self,
        X: Any,  # noqa: N803
        y: Any = None,
        groups: Any = None,
    ) -> Iterator[tuple[NDArray[np.intp], NDArray[np.intp]]]:
        """Generate purged and embargoed training and test positions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, one row per label, in the order of ``label_end``. If ``X`` is a pandas object, its
            index must equal ``label_end.index``.
        y : array-like, optional
            Ignored; present for scikit-learn compatibility.
        groups : array-like, optional
            Ignored; present for scikit-learn compatibility.

        Yields
        ------
        train : numpy.ndarray of intp
            Training positions, sorted, purged and embargoed around every test group.
        test : numpy.ndarray of intp
            Test positions, sorted.

        Raises
        ------
        ValueError
            If ``X`` does not have one row per label of ``label_end``.
        """
        n = self._starts.size
        n_rows = _n_samples(X)
        if n_rows != n:
            raise ValueError(f"X has {n_rows} rows but label_end has {n} labels; give one row per label")
        if isinstance(X, pd.DataFrame | pd.Series) and not X.index.equals(self.label_end.index):
            raise ValueError("X.index must equal label_end.index: rows and labels must be aligned")
        blocks = self.group_indices()
        everything = np.arange(n, dtype=np.intp)
        for test_groups in self._test_group_sets():
            in_test = np.zeros(n, dtype=bool)
            for g in test_groups:
                in_test[blocks[g]] = True
            train = everything[~in_test]
            for g in test_groups:
                start, end = block_span(blocks[g], self._starts, self._ends)
                train = purge_and_embargo(train, self._starts, self._ends, start, end, self._embargo)
            yield train, everything[in_test]

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:  # noqa: N803
        """Return the number of splits; the arguments are ignored.

        Parameters
        ----------
        X, y, groups : object, optional
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        int
            The number of (train, test) pairs :meth:`split` yields.
        """
        return len(self._test_group_sets())

    def __repr__(self) -> str:
        """Return a short representation that summarises ``label_end`` instead of printing it."""
        extra = "".join(f", {key}={value!r}" for key, value in self._repr_extra().items())
        return (
            f"{type(self).__name__}(n_splits={self.n_splits}{extra}, "
            f"label_end=<{self._starts.size} labels>, embargo={self.embargo!r})"
        )

    def _repr_extra(self) -> dict[str, Any]:
        return {}


class PurgedKFold(_PurgedCrossValidator):
    """K-fold cross-validation with contiguous test folds, purging and embargo.

    Follows M. Lopez de Prado, *Advances in Financial Machine Learning*, chapter 7 (sections 7.4.1 to
    7.4.3, snippet 7.3). The samples are cut into ``n_splits`` contiguous, unshuffled folds sized as in
    ``sklearn.model_selection.KFold(shuffle=False)``; each fold is the test set once. From the remaining
    samples it drops those whose label window overlaps the span of the test fold and those whose label
    starts within ``embargo`` after the end of that span. With zero-length labels at distinct times and no
    embargo it yields exactly the splits of ``KFold(n_splits, shuffle=False)``.

    Parameters
    ----------
    n_splits : int, default 5
        Number of folds; at least 2 and at most the number of samples.
    label_end : pandas.Series
        One entry per sample in time order: the index holds each label's start time (``t0``), the values
        its end time (``t1``). Datetimes (naive or tz-aware) or integer nanoseconds.
    embargo : pandas.Timedelta, numpy.timedelta64, datetime.timedelta, str or int, default 0
        Duration after each test span within which starting labels are dropped from training; anything
        ``pandas.Timedelta`` accepts, with a bare integer read as nanoseconds.

    Raises
    ------
    TypeError
        If ``n_splits`` is not an integer, ``label_end`` is not a Series of datetimes or integers, or
        ``embargo`` is not a duration.
    ValueError
        If ``n_splits < 2``, ``n_splits`` exceeds the number of samples, the label start times are not
        sorted, a label ends before it starts, a timestamp is missing, or ``embargo`` is negative.

    Examples
    --------
    >>> t0 = pd.date_range("2024-01-01", periods=100, freq="h")
    >>> cv = PurgedKFold(5, label_end=pd.Series(t0 + pd.Timedelta("3h"), index=t0), embargo="2h")
    >>> [len(test) for _, test in cv.split(np.zeros((100, 1)))]
    [20, 20, 20, 20, 20]
    """

    def __init__(self, n_splits: int = 5, *, label_end: pd.Series, embargo: EmbargoLike = 0) -> None:
        super().__init__(n_splits, label_end, embargo)

    def _test_group_sets(self) -> list[tuple[int, ...]]:
        return [(g,) for g in range(self.n_splits)]


class CombinatorialPurgedKFold(_PurgedCrossValidator):
    """Combinatorial purged cross-validation (CPCV) with embargo.

    Follows M. Lopez de Prado, *Advances in Financial Machine Learning*, chapter 12 (section 12.4). The
    samples are cut into ``n_splits`` (``N``) contiguous groups; every combination of ``n_test_splits``
    (``k``) groups is the test set of one split, so there are ``C(N, k)`` splits, yielded in the
    lexicographic order of :meth:`test_groups`. Each test group is purged and embargoed on its own, as in
    :class:`PurgedKFold`, so training groups lying between two test groups are kept except near their
    edges. Each group is tested in ``C(N - 1, k - 1)`` splits, which assemble into
    ``phi = k / N * C(N, k)`` complete backtest paths (:meth:`backtest_paths`).

    Parameters
    ----------
    n_splits : int, default 6
        Number of groups ``N``; at least 2 and at most the number of samples.
    n_test_splits : int, default 2
        Number of test groups ``k`` per split; ``1 <= k < N``. With ``k = 1`` this is :class:`PurgedKFold`.
    label_end : pandas.Series
        One entry per sample in time order: the index holds each label's start time, the values its end
        time. Datetimes (naive or tz-aware) or integer nanoseconds.
    embargo : pandas.Timedelta, numpy.timedelta64, datetime.timedelta, str or int, default 0
        Duration after each test group's span within which starting labels are dropped from training; a
        bare integer is read as nanoseconds.

    Raises
    ------
    TypeError
        As for :class:`PurgedKFold`, or if ``n_test_splits`` is not an integer.
    ValueError
        As for :class:`PurgedKFold`, or if ``n_test_splits`` is not in ``[1, n_splits - 1]``.

    Examples
    --------
    >>> t0 = pd.date_range("2024-01-01", periods=60, freq="h")
    >>> cv = CombinatorialPurgedKFold(6, 2, label_end=pd.Series(t0, index=t0))
    >>> cv.get_n_splits(), cv.get_n_paths()
    (15, 5)
    """

    def __init__(
        self,
        n_splits: int = 6,
        n_test_splits: int = 2,
        *,
        label_end: pd.Series,
        embargo: EmbargoLike = 0,
    ) -> None:
        super().__init__(n_splits, label_end, embargo)
        if isinstance(n_test_splits, bool) or not isinstance(n_test_splits, int | np.integer):
            raise TypeError(f"n_test_splits must be an integer, got n_test_splits={n_test_splits!r}")
        if not 1 <= n_test_splits < self.n_splits:
            raise ValueError(
                f"n_test_splits must be in [1, n_splits - 1] = [1, {self.n_splits - 1}], "
                f"got n_test_splits={n_test_splits}"
            )
        self.n_test_splits = int(n_test_splits)

    def _repr_extra(self) -> dict[str, Any]:
        return {"n_test_splits": self.n_test_splits}

    def _test_group_sets(self) -> list[tuple[int, ...]]:
        return list(combinations(range(self.n_splits), self.n_test_splits))

    def test_groups(self) -> list[tuple[int, ...]]:
        """Return, for each split in the order :meth:`split` yields them, the groups of its test set.

        Returns
        -------
        list of tuple of int
            ``C(n_splits, n_test_splits)`` sorted tuples of group numbers, in lexicographic order.
        """
        return self._test_group_sets()

    def get_n_paths(self) -> int:
        """Return the number of backtest paths ``phi = k / N * C(N, k) = C(N - 1, k - 1)``.

        Returns
        -------
        int
            Number of complete out-of-sample paths the splits assemble into (AFML, section 12.4).
        """
        return comb(self.n_splits - 1, self.n_test_splits - 1)

    def backtest_paths(self) -> NDArray[np.intp]:
        """Return which split supplies each group's out-of-sample predictions on each backtest path.

        Group ``g`` is tested in ``phi`` splits; path ``p`` takes its predictions for ``g`` from the
        ``p``-th of them (in split order). Every split thus feeds each of its ``k`` test groups to exactly
        one path, and every path covers all ``N`` groups once (AFML, section 12.4, figure 12.1).

        Returns
        -------
        numpy.ndarray of intp, shape (n_paths, n_splits)
            ``paths[p, g]`` is the position, in :meth:`split` order, of the split whose model predicts
            group ``g`` (the samples ``group_indices()[g]``) on path ``p``.
        """
        n_paths = self.get_n_paths()
        paths = np.empty((n_paths, self.n_splits), dtype=np.intp)
        for g in range(self.n_splits):
            supplying = [s for s, groups in enumerate(self._test_group_sets()) if g in groups]
            paths[:, g] = supplying
        return paths
