"""The shared body of vertical binary classifiers' components (train, warm start, predict).

A vertical binary model component (``coordinated_lr``, ``sshe_lr``, ...) takes
``train_data`` to train (from ``input_model`` when given: warm start), or
``input_model`` with ``test_data`` to predict only; it scores ``train_data``
and ``test_data`` with the model, and only the guest learns the scores. The
algorithm supplies its roles' functions in a :class:`VerticalBinary`; this
module does the rest the same way for every algorithm.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from atoll.federation import declare
from atoll.ml.component._context import Model, TaskContext
from atoll.ml.component._registry import IOSpec, Params, to_dataclass
from atoll.ml.data import Frame, Predictions

__all__ = ["VERTICAL_INPUTS", "VERTICAL_OUTPUTS", "VerticalBinary", "run_vertical_binary"]

VERTICAL_INPUTS = {
    "train_data": IOSpec("data", optional=True, roles=("guest", "host")),
    "test_data": IOSpec("data", optional=True, roles=("guest", "host")),
    "input_model": IOSpec("model", optional=True, roles=("guest", "host")),
}
VERTICAL_OUTPUTS = {
    "output_model": IOSpec("model", roles=("guest", "host")),
    "train_output_data": IOSpec("predictions", roles=("guest",)),
    "test_output_data": IOSpec("predictions", roles=("guest",)),
}

TRAINING = declare("vertical_training", sender="guest", receiver="arbiter", payload=bool)


@dataclasses.dataclass(frozen=True)
class VerticalBinary:
    """An algorithm's pieces: its parameter dataclass, model class and role functions."""

    name: str
    params: type[Any]
    model: Any  # a class with from_dict / to_dict
    guest: Callable[..., Any]
    host: Callable[..., Any]
    predict_guest: Callable[..., np.ndarray]
    predict_host: Callable[..., None]
    arbiter: Callable[..., Any] | None = None


def run_vertical_binary(
    algo: VerticalBinary, ctx: TaskContext, params: Params, inputs: dict[str, Any]
) -> dict[str, Any]:
    p = to_dataclass(params, algo.params, workers=ctx.workers, insecure=ctx.insecure)
    threshold = float(getattr(params, "threshold", 0.5))
    epochs = int(getattr(p, "epochs", 0))
    if ctx.role == "arbiter":
        if algo.arbiter is None:
            raise ValueError(f"{algo.name} has no arbiter role")
        if ctx.guest.get(TRAINING):
            _record(ctx, algo.arbiter(ctx.fed, p, on_epoch=ctx.epoch_callback(epochs)))
        return {}

    train: Frame | None = inputs.get("train_data")
    test: Frame | None = inputs.get("test_data")
    given: Model | None = inputs.get("input_model")
    model = None if given is None else _model_of(algo, given, ctx.role)
    if ctx.role == "guest" and algo.arbiter is not None and ctx.job_parties.arbiter is not None:
        ctx.arbiter.put(TRAINING, train is not None)
    if train is None and model is None:
        raise ValueError(
            f"{algo.name} at the {ctx.role}: needs train_data, or input_model to predict"
        )
    if train is not None:
        t0 = time.perf_counter()
        hook = ctx.epoch_callback(epochs)
        if ctx.role == "guest":
            y = train.require_label(f"{algo.name} guest train_data")
            result = algo.guest(ctx.fed, train.features, y, p, warm_start=model, on_epoch=hook)
        else:
            result = algo.host(ctx.fed, train.features, p, warm_start=model, on_epoch=hook)
        ctx.log.info("%s trained in %.2f s", algo.name, time.perf_counter() - t0)
        _record(ctx, result)
        model = result.model
    assert model is not None
    source = train if train is not None else test
    data = dict(model.to_dict())
    data["columns"] = source.columns if source is not None else []
    out: dict[str, Any] = {
        "output_model": Model(algo.name, ctx.role, ctx.party_id, data, params.model_dump()),
        "train_output_data": None,
        "test_output_data": None,
    }
    for key, frame, kind in (
        ("train_output_data", train, "train"),
        ("test_output_data", test, "test"),
    ):
        if frame is None:
            continue
        sub = ctx.sub(f"predict_{kind}")
        if ctx.role == "guest":
            score = algo.predict_guest(sub, frame.features, model)
            out[key] = Predictions(
                frame.ids, score, frame.label, threshold, kind, name=f"{ctx.task} {kind}"
            )
        else:
            algo.predict_host(sub, frame.features, model)
    return out


def _model_of(algo: VerticalBinary, given: Model, role: str) -> Any:
    data = dict(given.expect(algo.name, role))
    data.pop("columns", None)
    return algo.model.from_dict(data)


def _record(ctx: TaskContext, result: Any) -> None:
    ctx.metrics.record(
        "summary",
        {
            "epochs": result.epochs,
            "converged": result.converged,
            "seconds": result.seconds,
            "loss": [float(v) for v in np.asarray(result.loss_history, dtype=float)],
        },
    )
