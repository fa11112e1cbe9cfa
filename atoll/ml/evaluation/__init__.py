"""Evaluation of binary classifiers: the math of FATE's Evaluation component, in numpy.

``evaluate_binary(y_true, score)`` gives a frozen ``BinaryEvaluation``: AUC, KS
(and its threshold), average precision, accuracy, precision, recall, F1 and the
confusion matrix at a threshold, log loss, and the ROC, KS, lift/gain and
precision-recall curves, with ``to_dict()`` for JSON. ``write_html_report``
draws one or several of them (train and test, say) on one self-contained page.

Ties in the scores count as in ``sklearn.metrics`` (AUC is Mann-Whitney with
average ranks). Metrics that need both classes (AUC, KS, average precision,
the ROC / KS / PR curves, ``evaluate_binary``) raise ``ValueError`` on a single
class; ``confusion_matrix`` (with accuracy, precision, recall, F1) and
``log_loss`` stay defined.
"""

from atoll.ml.evaluation.curves import (
    KsCurve,
    LiftGain,
    PrCurve,
    RocCurve,
    ks_curve,
    lift_gain,
    pr_curve,
    roc_curve,
)
from atoll.ml.evaluation.metrics import (
    BinaryEvaluation,
    ConfusionMatrix,
    auc,
    average_precision,
    confusion_matrix,
    evaluate_binary,
    ks,
    log_loss,
)
from atoll.ml.evaluation.report import write_html_report

__all__ = [
    "BinaryEvaluation",
    "ConfusionMatrix",
    "KsCurve",
    "LiftGain",
    "PrCurve",
    "RocCurve",
    "auc",
    "average_precision",
    "confusion_matrix",
    "evaluate_binary",
    "ks",
    "ks_curve",
    "lift_gain",
    "log_loss",
    "pr_curve",
    "roc_curve",
    "write_html_report",
]
