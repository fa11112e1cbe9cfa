"""``model_reader`` (FATE: ModelLoader): a model saved by an earlier job, for a predict job.

Each party names its own model file (``output_model.json`` in the earlier job's
directory, or an exported copy): a party only ever loads its own part. The
model's role must be this party's role; the component that consumes it checks
that the model came from the right component.
"""

from __future__ import annotations

from typing import Any

from atoll.ml.component import Model, Params, TaskContext, component

__all__ = ["ModelReaderParams", "run"]


class ModelReaderParams(Params):
    """``path``: the model file (JSON written by a job); relative to the job file."""

    path: str


@component(
    "model_reader",
    roles=("guest", "host"),
    params=ModelReaderParams,
    outputs={"model": "model"},
    fate_names=("ModelLoader", "model_loader"),
    path_params=("path",),
)
def run(ctx: TaskContext, params: ModelReaderParams, inputs: dict[str, Any]) -> dict[str, Any]:
    """Load this party's model from a file."""
    model = Model.load(params.path)
    if model.role != ctx.role:
        raise ValueError(
            f"model_reader: {params.path} is the {model.role}'s model, this party is the {ctx.role}"
        )
    if model.party_id != ctx.party_id:
        ctx.log.warning(
            "model_reader: %s was trained by party %d, this is party %d",
            params.path,
            model.party_id,
            ctx.party_id,
        )
    ctx.metrics.record("summary", {"component": model.component, "path": params.path})
    return {"model": model}
