"""``feature_scale`` (FATE: FeatureScale): each party scales its own columns.

Fitted on the training rows (or taken from ``input_model``), applied to the
training and test rows; the fitted parameters are the output model, so a later
prediction scales new rows the same way. Nothing crosses between parties. The
parameters are :class:`~atoll.ml.feature_scale.ScaleParams`'s.
"""

from __future__ import annotations

from typing import Any

from atoll.ml.component import (
    IOSpec,
    Model,
    Params,
    TaskContext,
    component,
    params_from_dataclass,
    to_dataclass,
)
from atoll.ml.feature_scale import ScaleModel, ScaleParams, fit, transform

__all__ = ["FeatureScaleParams", "run"]

FeatureScaleParams: type[Params] = params_from_dataclass(ScaleParams, "FeatureScaleParams")


@component(
    "feature_scale",
    roles=("guest", "host"),
    params=FeatureScaleParams,
    inputs={
        "train_data": IOSpec("data", optional=True),
        "test_data": IOSpec("data", optional=True),
        "input_model": IOSpec("model", optional=True),
    },
    outputs={
        "train_data": IOSpec("data"),
        "test_data": IOSpec("data"),
        "output_model": IOSpec("model"),
    },
    fate_names=("FeatureScale", "feature_scale"),
)
def run(ctx: TaskContext, params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """Fit a scaler on the training rows (or load one) and scale training and test rows."""
    train, test, given = (
        inputs.get("train_data"),
        inputs.get("test_data"),
        inputs.get("input_model"),
    )
    if given is not None:
        model = ScaleModel.from_dict(given.expect("feature_scale", ctx.role))
    elif train is not None:
        model = fit(train, to_dataclass(params, ScaleParams))
    else:
        raise ValueError("feature_scale: needs train_data to fit, or an input_model to apply")
    ctx.metrics.record("summary", {"method": model.method, "columns": len(model.columns)})
    return {
        "train_data": None if train is None else transform(train, model),
        "test_data": None if test is None else transform(test, model),
        "output_model": Model(
            "feature_scale", ctx.role, ctx.party_id, model.to_dict(), params.model_dump()
        ),
    }
