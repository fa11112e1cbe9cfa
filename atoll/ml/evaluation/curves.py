"""Curves of a binary classifier's scores: ROC, KS, precision-recall, cumulative gain and lift.

Also the checks every metric shares (``check_binary``: errors name the
parameter and the first bad index) and the ranking they all read
(``rank_counts``).

Every curve is built from the cumulative counts at each distinct score
(highest first), so tied scores make one point, as in ``sklearn.metrics``:
``roc_curve`` matches ``sklearn.metrics.roc_curve`` (``thresholds[0]`` is
``inf``, nothing predicted positive) and ``pr_curve`` matches
``precision_recall_curve``. All need both classes, except ``lift_gain``, which
needs at least one positive.

``lift_gain`` reads the ranking at fixed depths (deciles by default, as FATE
does): the gain at depth ``q`` is the share of all positives among the top
``q * n`` rows, the lift is that gain over ``q`` (the precision in the top rows
over the base rate). A depth that cuts through a group of tied scores, or
through a row (``n`` not divisible by ``bins``), takes that group's positives in
proportion: the expected gain over random tie-breaking, the same convention
that makes AUC count ties half. So the result does not depend on row order.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = [
    "BinaryData",
    "KsCurve",
    "LiftGain",
    "PrCurve",
    "RankCounts",
    "RocCurve",
    "check_binary",
    "ks_curve",
    "lift_gain",
    "pr_curve",
    "rank_counts",
    "roc_curve",
]

_SHOWN = 5  # values named in an error message


def first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _as_1d(values: Any, what: str) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise ValueError(f"{what} must be 1-D (or one column), got shape {a.shape}")
    return a


def _labels(y_true: Any, pos_label: Any) -> tuple[np.ndarray, Any]:
    """``y_true`` as booleans (True = positive) and the positive label."""
    y = _as_1d(y_true, "y_true")
    if y.size == 0:
        raise ValueError("y_true is empty")
    if y.dtype.kind == "f":
        bad = np.isnan(y)
        if bad.any():
            raise ValueError(f"y_true[{first_bad(bad)}] is NaN")
    elif y.dtype.kind not in "biuUSO":
        raise ValueError(f"y_true must hold class labels, got dtype {y.dtype}")
    try:
        values = np.unique(y)
    except TypeError as exc:  # an object array mixing strings and numbers
        raise ValueError(f"y_true mixes labels that cannot be compared: {exc}") from None
    shown = [v.item() if isinstance(v, np.generic) else v for v in values[:_SHOWN]]
    if len(values) > 2:
        more = ", ..." if len(values) > _SHOWN else ""
        raise ValueError(
            f"y_true must hold two classes, found {len(values)}: {str(shown)[:-1]}{more}]"
        )
    if pos_label is not None:
        if pos_label not in set(values.tolist()) and len(values) == 2:
            raise ValueError(f"pos_label {pos_label!r} is not one of the y_true values {shown}")
        return y == pos_label, pos_label
    standard = set(values.tolist())
    if y.dtype.kind == "b" or standard <= {0, 1} or standard <= {-1, 1}:
        return y == 1, 1
    if len(values) == 2:
        # like roc_auc_score: the classes in sorted order, the second one positive
        return y == values[1], shown[1]
    raise ValueError(
        f"y_true holds the single value {shown[0]!r}, which is neither 0 nor 1: "
        "pass pos_label to say whether it is the positive class"
    )


def _scores(score: Any, n: int) -> np.ndarray:
    s = _as_1d(score, "score")
    if s.dtype.kind not in "biuf":
        raise ValueError(f"score must be numeric, got dtype {s.dtype}")
    if len(s) != n:
        raise ValueError(f"score has {len(s)} values but y_true has {n}")
    s = s.astype(np.float64)
    bad = ~np.isfinite(s)
    if bad.any():
        i = first_bad(bad)
        raise ValueError(f"score[{i}] is {s[i]} (NaN or infinite)")
    return s


@dataclasses.dataclass(frozen=True, eq=False)
class BinaryData:
    """Checked input: ``positive`` (bool) and ``score`` (float64), same length, non-empty."""

    positive: np.ndarray
    score: np.ndarray
    pos_label: Any

    @property
    def n(self) -> int:
        return len(self.score)

    @property
    def positives(self) -> int:
        return int(np.count_nonzero(self.positive))

    @property
    def negatives(self) -> int:
        return self.n - self.positives

    def need_both_classes(self, what: str) -> None:
        if self.positives == 0 or self.negatives == 0:
            only = "negatives" if self.positives == 0 else "positives"
            raise ValueError(
                f"{what} needs both classes but y_true holds only {only} ({self.n} rows); "
                "confusion_matrix (accuracy, precision, recall, f1) and log_loss are still defined"
            )


def check_binary(y_true: Any, score: Any, *, pos_label: Any = None) -> BinaryData:
    """Validate labels and scores once, for any number of metrics.

    ``y_true``: 0/1, booleans, -1/1, or any two distinct values (the larger one
    in sorted order is positive unless ``pos_label`` says otherwise). ``score``:
    finite numbers, one per label. Errors name the parameter and the first bad
    index. A ``BinaryData`` passed as ``y_true`` is returned as it is.
    """
    if isinstance(y_true, BinaryData):
        return y_true
    positive, label = _labels(y_true, pos_label)
    s = _scores(score, len(positive))
    positive.flags.writeable = False
    s.flags.writeable = False
    return BinaryData(positive, s, label)


@dataclasses.dataclass(frozen=True, eq=False)
class RankCounts:
    """Cumulative counts at each distinct score, highest score first (sklearn's ``_binary_clf_curve``).

    ``thresholds[i]`` is the i-th distinct score; ``tps[i]`` / ``fps[i]`` count the
    positives / negatives scoring at least that.
    """

    thresholds: np.ndarray
    tps: np.ndarray
    fps: np.ndarray
    positives: int
    negatives: int


def rank_counts(data: BinaryData) -> RankCounts:
    order = np.argsort(data.score, kind="mergesort")[::-1]
    s = data.score[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(data.positive[order], dtype=np.int64)[ends]
    fps = ends + 1 - tps
    return RankCounts(s[ends], tps, fps, data.positives, data.negatives)


def _frozen(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


def _floats(a: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in a]


@dataclasses.dataclass(frozen=True, eq=False)
class RocCurve:
    """``tpr`` against ``fpr``, one point per threshold (decreasing; ``thresholds[0]`` is ``inf``)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray

    def __post_init__(self) -> None:
        _frozen(self.fpr, self.tpr, self.thresholds)

    def to_dict(self) -> dict[str, list[float | None]]:
        """Plain lists; the infinite first threshold becomes ``None``."""
        return {
            "fpr": _floats(self.fpr),
            "tpr": _floats(self.tpr),
            "thresholds": _floats(self.thresholds),
        }


@dataclasses.dataclass(frozen=True, eq=False)
class KsCurve:
    """``tpr``, ``fpr`` and ``difference = tpr - fpr`` at each threshold (decreasing scores)."""

    thresholds: np.ndarray
    tpr: np.ndarray
    fpr: np.ndarray
    difference: np.ndarray

    def __post_init__(self) -> None:
        _frozen(self.thresholds, self.tpr, self.fpr, self.difference)

    @property
    def ks(self) -> float:
        return float(self.difference.max())

    @property
    def ks_threshold(self) -> float:
        """The highest threshold where ``difference`` reaches its maximum."""
        return float(self.thresholds[int(np.argmax(self.difference))])

    def to_dict(self) -> dict[str, list[float | None]]:
        return {
            "thresholds": _floats(self.thresholds),
            "tpr": _floats(self.tpr),
            "fpr": _floats(self.fpr),
            "difference": _floats(self.difference),
        }


@dataclasses.dataclass(frozen=True, eq=False)
class PrCurve:
    """``precision_recall_curve``'s layout: thresholds increasing, a last point (precision 1, recall 0)."""

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray

    def __post_init__(self) -> None:
        _frozen(self.precision, self.recall, self.thresholds)

    def to_dict(self) -> dict[str, list[float | None]]:
        return {
            "precision": _floats(self.precision),
            "recall": _floats(self.recall),
            "thresholds": _floats(self.thresholds),
        }


@dataclasses.dataclass(frozen=True, eq=False)
class LiftGain:
    """Cumulative gain and lift at depths ``quantiles`` (``k / bins``, k = 1..bins).

    ``thresholds[k]`` is the score at that depth (the lowest score, possibly
    partly, in the top rows).
    """

    quantiles: np.ndarray
    gain: np.ndarray
    lift: np.ndarray
    thresholds: np.ndarray

    def __post_init__(self) -> None:
        _frozen(self.quantiles, self.gain, self.lift, self.thresholds)

    def to_dict(self) -> dict[str, list[float | None]]:
        return {
            "quantiles": _floats(self.quantiles),
            "gain": _floats(self.gain),
            "lift": _floats(self.lift),
            "thresholds": _floats(self.thresholds),
        }


# ---- from counts (shared with evaluate_binary, which thins the curves) ----


def corner_indices(c: RankCounts) -> np.ndarray:
    """The points sklearn keeps with ``drop_intermediate=True``: drop those collinear with their neighbours."""
    inner = np.logical_or(np.diff(c.fps, 2), np.diff(c.tps, 2))
    return np.flatnonzero(np.r_[True, inner, True])


def thin_indices(c: RankCounts, max_points: int | None) -> np.ndarray:
    """Which distinct-score points to draw: all of them when they fit in ``max_points``.

    Otherwise the corners of the ROC curve, and if still too many, the first
    corner past each of evenly spaced steps of ``tpr + fpr`` (evenly along the
    curve's length); always the first and last point and the KS point. At most
    ``max_points - 1`` indices, leaving room for the ROC origin.
    """
    m = len(c.thresholds)
    if max_points is None or m + 1 <= max_points:
        return np.arange(m)
    keep = corner_indices(c)
    if len(keep) + 2 > max_points:  # room for the origin and the KS point
        progress = c.tps[keep] / c.positives + c.fps[keep] / c.negatives
        targets = np.linspace(0.0, 2.0, max_points - 4)
        picked = np.minimum(np.searchsorted(progress, targets, side="left"), len(keep) - 1)
        keep = keep[np.unique(picked)]
    ks_at = int(np.argmax(c.tps / c.positives - c.fps / c.negatives))
    return np.union1d(keep, [0, m - 1, ks_at])


def roc_of(c: RankCounts, idx: np.ndarray) -> RocCurve:
    fpr = np.r_[0.0, c.fps[idx] / c.negatives]
    tpr = np.r_[0.0, c.tps[idx] / c.positives]
    return RocCurve(fpr, tpr, np.r_[np.inf, c.thresholds[idx]])


def ks_of(c: RankCounts, idx: np.ndarray) -> KsCurve:
    tpr = c.tps[idx] / c.positives
    fpr = c.fps[idx] / c.negatives
    return KsCurve(c.thresholds[idx].copy(), tpr, fpr, tpr - fpr)


def pr_of(c: RankCounts, idx: np.ndarray) -> PrCurve:
    tps, fps = c.tps[idx], c.fps[idx]
    precision = tps / (tps + fps)
    recall = tps / c.positives
    return PrCurve(
        np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], c.thresholds[idx][::-1].copy()
    )


def lift_gain_of(c: RankCounts, bins: int) -> LiftGain:
    if c.positives == 0:
        raise ValueError("lift_gain needs at least one positive in y_true")
    n = c.positives + c.negatives
    k = np.arange(1, bins + 1)
    quantiles = k / bins
    depth = k * n / bins
    ends = c.tps + c.fps
    captured = np.interp(depth, np.r_[0, ends], np.r_[0, c.tps])
    gain = captured / c.positives
    group = np.minimum(np.searchsorted(ends, depth, side="left"), len(ends) - 1)
    return LiftGain(quantiles, gain, gain / quantiles, c.thresholds[group].copy())


def check_bins(bins: int | None) -> int:
    if bins is None:
        return 10
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    return int(bins)


def _both(y_true: Any, score: Any, pos_label: Any, what: str) -> RankCounts:
    data = check_binary(y_true, score, pos_label=pos_label)
    data.need_both_classes(what)
    return rank_counts(data)


# ---- public ----


def roc_curve(
    y_true: Any, score: Any, *, pos_label: Any = None, drop_intermediate: bool = False
) -> RocCurve:
    """The ROC curve, point for point ``sklearn.metrics.roc_curve`` (same ``drop_intermediate``).

    Unlike sklearn, ``drop_intermediate`` is off by default: every distinct score is a point.
    """
    c = _both(y_true, score, pos_label, "roc_curve")
    idx = corner_indices(c) if drop_intermediate else np.arange(len(c.thresholds))
    return roc_of(c, idx)


def ks_curve(y_true: Any, score: Any, *, pos_label: Any = None) -> KsCurve:
    """``tpr`` and ``fpr`` as functions of the threshold, at every distinct score."""
    c = _both(y_true, score, pos_label, "ks_curve")
    return ks_of(c, np.arange(len(c.thresholds)))


def pr_curve(y_true: Any, score: Any, *, pos_label: Any = None) -> PrCurve:
    """Precision and recall at every distinct score, as ``sklearn.metrics.precision_recall_curve``."""
    c = _both(y_true, score, pos_label, "pr_curve")
    return pr_of(c, np.arange(len(c.thresholds)))


def lift_gain(
    y_true: Any, score: Any, *, bins: int | None = None, pos_label: Any = None
) -> LiftGain:
    """Cumulative gain and lift at ``bins`` equal depths (10, deciles, by default).

    See the module docstring for ties. Needs at least one positive.
    """
    b = check_bins(bins)
    data = check_binary(y_true, score, pos_label=pos_label)
    return lift_gain_of(rank_counts(data), b)
