"""``evaluation`` (FATE: Evaluation): binary-classification metrics and charts at the guest.

Takes the predictions a model component gave (only the guest has them) and
records AUC, KS, accuracy, precision, recall, F1, log loss, the confusion matrix
at ``threshold``, and the ROC, KS, lift and gain curves in ``ctx.metrics``; it
writes them as one self-contained HTML page (``report.html`` in the task's
directory) with the charts drawn.
"""

from __future__ import annotations

from typing import Any

from atoll.ml.component import IOSpec, Params, TaskContext, component
from atoll.ml.data import Predictions
from atoll.ml.evaluation.metrics import evaluate_binary
from atoll.ml.evaluation.report import write_html_report

__all__ = ["EvaluationParams", "run"]


class EvaluationParams(Params):
    """``threshold``: the score at or above which a row is predicted positive;
    ``bins``: quantile bins of the lift and gain charts; ``title`` of the report."""

    threshold: float = 0.5
    bins: int = 10
    title: str = "Evaluation"


@component(
    "evaluation",
    roles=("guest",),
    params=EvaluationParams,
    inputs={
        "data": IOSpec("predictions"),
        "validate_data": IOSpec("predictions", optional=True),
    },
    outputs={},
    fate_names=("Evaluation", "evaluation"),
)
def run(ctx: TaskContext, params: EvaluationParams, inputs: dict[str, Any]) -> dict[str, Any]:
    """Metrics and charts of binary predictions."""
    results = {}
    for key in ("data", "validate_data"):
        preds: Predictions | None = inputs.get(key)
        if preds is None:
            continue
        if preds.label is None:
            raise ValueError(f"evaluation: {preds.name} has no true labels to evaluate against")
        name = preds.kind if preds.kind not in results else f"{preds.kind}_{key}"
        results[name] = evaluate_binary(
            preds.label, preds.score, threshold=params.threshold, bins=params.bins
        )
    report = {k: r.to_dict() for k, r in results.items()}
    ctx.metrics.record("evaluation", report)
    for k, r in results.items():
        ctx.log.info("evaluation %s: auc %.4f ks %.4f accuracy %.4f", k, r.auc, r.ks, r.accuracy)
    path = write_html_report(results, ctx.workdir / "report.html", title=params.title)
    ctx.metrics.record("report", {"html": str(path)})
    return {}
