"""``model_reader`` (FATE: ModelLoader): a model saved by an earlier job, for a predict job.

Each party loads its own part of the model, either from a file (``path``:
``output_model.json`` in the earlier job's directory, or an exported copy) or,
at a site, from the site's model registry (``job_id`` and ``task`` of the
training job, optionally ``version``; the latest by default): the site puts the
party's registered models in ``ctx.models``. The model's role must be this
party's role; the component that consumes it checks that the model came from
the right component.
"""

from __future__ import annotations

from typing import Any

import pydantic

from atoll.ml.component import Model, Params, TaskContext, component

__all__ = ["ModelReaderParams", "run"]


class ModelReaderParams(Params):
    """``path``: the model file (JSON written by a job; relative to the job file); or
    ``job_id`` and ``task`` (and ``version``): the model in this site's registry."""

    path: str | None = None
    job_id: str | None = None
    task: str | None = None
    version: int | None = pydantic.Field(default=None, ge=1)

    @pydantic.model_validator(mode="after")
    def _one_source(self) -> ModelReaderParams:
        registry = self.job_id is not None or self.task is not None or self.version is not None
        if (self.path is None) == (not registry):
            raise ValueError(
                "give either 'path' (a model file) or 'job_id' and 'task' (a model in the "
                "site's registry), not both and not neither"
            )
        if registry and (self.job_id is None or self.task is None):
            raise ValueError("a model from the registry needs both 'job_id' and 'task'")
        return self

    @property
    def registry_key(self) -> str | None:
        """``job_id/task`` (``@vN`` with a version): the key of ``ctx.models``."""
        if self.job_id is None:
            return None
        suffix = "" if self.version is None else f"@v{self.version}"
        return f"{self.job_id}/{self.task}{suffix}"


@component(
    "model_reader",
    roles=("guest", "host"),
    params=ModelReaderParams,
    outputs={"model": "model"},
    fate_names=("ModelLoader", "model_loader"),
    path_params=("path",),
)
def run(ctx: TaskContext, params: ModelReaderParams, inputs: dict[str, Any]) -> dict[str, Any]:
    """Load this party's model from a file or from the site's registry."""
    key = params.registry_key
    if key is not None:
        path = ctx.models.get(key)
        if path is None:
            raise ValueError(
                f"model_reader: party {ctx.role} {ctx.party_id} has no model of task "
                f"{params.task!r} in job {params.job_id!r}"
                + ("" if params.version is None else f" (version {params.version})")
                + " in its registry"
            )
        source = f"the registry ({key})"
    else:
        assert params.path is not None
        path = source = params.path
    model = Model.load(path)
    if model.role != ctx.role:
        raise ValueError(
            f"model_reader: {source} holds the {model.role}'s model, this party is the {ctx.role}"
        )
    if model.party_id != ctx.party_id:
        ctx.log.warning(
            "model_reader: %s was trained by party %d, this is party %d",
            source,
            model.party_id,
            ctx.party_id,
        )
    ctx.metrics.record("summary", {"component": model.component, "source": source})
    return {"model": model}
