"""Scalar metrics of a binary classifier's scores, and ``evaluate_binary``, which gathers them all.

Ranking metrics (``auc``, ``ks``, ``average_precision``) look at the order of
the scores only. Tied scores form one group: the ROC curve crosses a group in
one straight step, so ``auc`` is the Mann-Whitney statistic with average ranks,
exactly like ``sklearn.metrics.roc_auc_score``. They need both classes: with
one class they raise ``ValueError``.

Thresholded metrics (``confusion_matrix`` and what follows from it: accuracy,
precision, recall, F1) predict positive where ``score >= threshold``, and
``log_loss`` (scores must be probabilities in [0, 1]) stay defined with a
single class. Where a ratio has a zero denominator (precision with no
predicted positive, recall with no positive) it is 0.0, sklearn's value with
``zero_division=0``.

``evaluate_binary`` computes every scalar metric exactly, on all rows, and
keeps the curves small enough to ship and draw: at most ``max_points`` (200)
points each; below that every distinct score is a point. ``to_dict`` gives
plain JSON data.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from atoll.ml.evaluation.curves import (
    BinaryData,
    KsCurve,
    LiftGain,
    PrCurve,
    RankCounts,
    RocCurve,
    check_binary,
    check_bins,
    first_bad,
    ks_of,
    lift_gain_of,
    pr_of,
    rank_counts,
    roc_of,
    thin_indices,
)

__all__ = [
    "BinaryEvaluation",
    "ConfusionMatrix",
    "auc",
    "average_precision",
    "confusion_matrix",
    "evaluate_binary",
    "ks",
    "log_loss",
]


def auc_from_counts(c: RankCounts) -> float:
    tp_before = np.r_[0, c.tps[:-1]]
    d_tp = np.diff(c.tps, prepend=0)
    d_fp = np.diff(c.fps, prepend=0)
    # twice the Mann-Whitney U, in integers: each negative counts the positives scoring
    # above it, and half of those tied with it
    twice_u = 2 * int(np.dot(d_fp, tp_before)) + int(np.dot(d_fp, d_tp))
    return twice_u / (2 * c.positives * c.negatives)


def ks_from_counts(c: RankCounts) -> tuple[float, float]:
    diff = c.tps / c.positives - c.fps / c.negatives
    i = int(np.argmax(diff))  # the last point is (1, 1): the maximum is at least 0
    return float(diff[i]), float(c.thresholds[i])


def auc(y_true: Any, score: Any, *, pos_label: Any = None) -> float:
    """Area under the ROC curve; ties count half (``roc_auc_score``). Needs both classes."""
    data = check_binary(y_true, score, pos_label=pos_label)
    data.need_both_classes("auc")
    return auc_from_counts(rank_counts(data))


def ks(y_true: Any, score: Any, *, pos_label: Any = None) -> tuple[float, float]:
    """Kolmogorov-Smirnov statistic ``max(tpr - fpr)`` and the score threshold where it is reached.

    The threshold is the highest one reaching the maximum; predicted positive
    means ``score >= threshold``. Needs both classes.
    """
    data = check_binary(y_true, score, pos_label=pos_label)
    data.need_both_classes("ks")
    return ks_from_counts(rank_counts(data))


def average_precision_from_counts(c: RankCounts) -> float:
    precision = c.tps / (c.tps + c.fps)
    recall_step = np.diff(c.tps, prepend=0) / c.positives
    return float(np.dot(recall_step, precision))


def average_precision(y_true: Any, score: Any, *, pos_label: Any = None) -> float:
    """Average precision, ``sum((R_k - R_{k-1}) * P_k)`` (``average_precision_score``). Needs both classes."""
    data = check_binary(y_true, score, pos_label=pos_label)
    data.need_both_classes("average_precision")
    return average_precision_from_counts(rank_counts(data))


@dataclasses.dataclass(frozen=True)
class ConfusionMatrix:
    """Counts at one threshold (predicted positive: ``score >= threshold``), and the ratios built on them."""

    tn: int
    fp: int
    fn: int
    tp: int
    threshold: float

    @property
    def n(self) -> int:
        return self.tn + self.fp + self.fn + self.tp

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n

    @property
    def precision(self) -> float:
        """0.0 when nothing is predicted positive."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """0.0 when there is no positive."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """``2tp / (2tp + fp + fn)``; 0.0 when that is 0/0."""
        d = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / d if d else 0.0

    def as_array(self) -> np.ndarray:
        """``[[tn, fp], [fn, tp]]``, the layout of ``sklearn.metrics.confusion_matrix``."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]], dtype=np.int64)


def check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
        raise ValueError(f"threshold must be a number, got {threshold!r}")
    t = float(threshold)
    if not math.isfinite(t):
        raise ValueError(f"threshold must be finite, got {t}")
    return t


def confusion_matrix(
    y_true: Any, score: Any, *, threshold: float = 0.5, pos_label: Any = None
) -> ConfusionMatrix:
    """The confusion matrix at ``threshold`` (``score >= threshold`` is predicted positive).

    Defined with a single class.
    """
    t = check_threshold(threshold)
    data = check_binary(y_true, score, pos_label=pos_label)
    predicted = data.score >= t
    tp = int(np.count_nonzero(predicted & data.positive))
    fp = int(np.count_nonzero(predicted)) - tp
    fn = data.positives - tp
    tn = data.n - tp - fp - fn
    return ConfusionMatrix(tn=tn, fp=fp, fn=fn, tp=tp, threshold=t)


def log_loss_from_data(data: BinaryData) -> float:
    eps = np.finfo(np.float64).eps
    p = np.where(data.positive, data.score, 1.0 - data.score)
    return float(-np.mean(np.log(np.clip(p, eps, 1.0 - eps))))


def is_probability(data: BinaryData) -> bool:
    return bool(np.all((data.score >= 0.0) & (data.score <= 1.0)))


def log_loss(y_true: Any, score: Any, *, pos_label: Any = None) -> float:
    """Mean cross-entropy (natural log) of probabilities of the positive class.

    Probabilities are clipped to ``[eps, 1 - eps]`` (float64 machine epsilon) like
    ``sklearn.metrics.log_loss``. Scores outside [0, 1] are an error. Defined with
    a single class.
    """
    data = check_binary(y_true, score, pos_label=pos_label)
    if not is_probability(data):
        bad = (data.score < 0.0) | (data.score > 1.0)
        i = first_bad(bad)
        raise ValueError(
            f"log_loss needs probabilities: score[{i}] is {data.score[i]}, not in [0, 1]"
        )
    return log_loss_from_data(data)


@dataclasses.dataclass(frozen=True, eq=False)
class BinaryEvaluation:
    """Metrics and curves of a binary classifier's scores against the true labels.

    Ranking metrics (``auc``, ``ks``, ``average_precision``) use the scores'
    order only; thresholded ones (``accuracy`` .. ``f1`` and the confusion
    matrix) predict positive where ``score >= threshold``. ``log_loss`` is
    ``None`` unless every score is a probability in [0, 1].
    """

    n: int
    positives: int
    threshold: float
    auc: float
    ks: float
    ks_threshold: float
    average_precision: float
    accuracy: float
    precision: float
    recall: float
    f1: float
    log_loss: float | None
    tn: int
    fp: int
    fn: int
    tp: int
    roc: RocCurve
    ks_curve: KsCurve
    lift_gain: LiftGain
    pr_curve: PrCurve

    @property
    def negatives(self) -> int:
        return self.n - self.positives

    def to_dict(self) -> dict[str, Any]:
        """Plain data (ints, floats, ``None``, lists, dicts) that ``json.dumps(allow_nan=False)`` takes."""
        return {
            "n": self.n,
            "positives": self.positives,
            "negatives": self.negatives,
            "threshold": self.threshold,
            "auc": self.auc,
            "ks": self.ks,
            "ks_threshold": self.ks_threshold,
            "average_precision": self.average_precision,
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "log_loss": self.log_loss,
            "confusion_matrix": {"tn": self.tn, "fp": self.fp, "fn": self.fn, "tp": self.tp},
            "roc": self.roc.to_dict(),
            "ks_curve": self.ks_curve.to_dict(),
            "lift_gain": self.lift_gain.to_dict(),
            "pr_curve": self.pr_curve.to_dict(),
        }


def evaluate_binary(
    y_true: Any,
    score: Any,
    *,
    threshold: float = 0.5,
    bins: int | None = None,
    pos_label: Any = None,
    max_points: int = 200,
) -> BinaryEvaluation:
    """Evaluate scores (higher = more likely positive) against binary labels.

    ``threshold``: for the confusion matrix and the metrics built on it.
    ``bins``: depths of the lift and gain curves (10, deciles, by default).
    ``pos_label``: the positive class when ``y_true`` is not 0/1 (by default the
    larger of its two values). ``max_points``: the most points a curve keeps.

    Raises ``ValueError`` when ``y_true`` holds a single class, since AUC and KS
    are then undefined; ``confusion_matrix`` and ``log_loss`` still work there.
    """
    t = check_threshold(threshold)
    b = check_bins(bins)
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 8:
        raise ValueError(f"max_points must be an integer of at least 8, got {max_points!r}")
    data = check_binary(y_true, score, pos_label=pos_label)
    data.need_both_classes("evaluate_binary")
    counts = rank_counts(data)
    ks_value, ks_threshold = ks_from_counts(counts)
    cm = confusion_matrix(data, data.score, threshold=t)
    idx = thin_indices(counts, max_points)
    return BinaryEvaluation(
        n=data.n,
        positives=data.positives,
        threshold=t,
        auc=auc_from_counts(counts),
        ks=ks_value,
        ks_threshold=ks_threshold,
        average_precision=average_precision_from_counts(counts),
        accuracy=cm.accuracy,
        precision=cm.precision,
        recall=cm.recall,
        f1=cm.f1,
        log_loss=log_loss_from_data(data) if is_probability(data) else None,
        tn=cm.tn,
        fp=cm.fp,
        fn=cm.fn,
        tp=cm.tp,
        roc=roc_of(counts, idx),
        ks_curve=ks_of(counts, idx),
        lift_gain=lift_gain_of(counts, b),
        pr_curve=pr_of(counts, idx),
    )
