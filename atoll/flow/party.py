"""One party's side of a job: run its tasks in order, keep their outputs, store them.

:func:`run_party` is the party function of :func:`atoll.federation.launch.run_local_job`
(``atoll run``); the scheduler of a real site calls it the same way. Every task
gets a :class:`~atoll.ml.component.TaskContext` in its own namespace (the task's
name), so two tasks never confuse each other's messages. Outputs stay in memory
for later tasks and are written under ``<job_dir>/<role>-<party_id>/<task>/``:
frames and predictions with the codec (predictions also as CSV), models as JSON,
metrics as ``metrics.json``. Every file is written atomically.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from atoll.federation import Context
from atoll.federation.launch import emit_event
from atoll.flow.spec import PartyPlan, TaskPlan
from atoll.ml.component import Model, TaskContext, get_component, validate_params
from atoll.ml.data import Frame, Predictions, write_atomic

__all__ = ["load_output", "run_party", "run_task", "store_outputs"]

log = logging.getLogger("atoll.flow")


def run_party(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Run ``params['plan']`` (a :class:`PartyPlan` as plain data) at this party."""
    plan = PartyPlan.model_validate(params["plan"])
    if (plan.role, plan.party_id) != (ctx.role, ctx.party_id):
        raise ValueError(f"plan for {plan.role} {plan.party_id} given to {ctx.local}")
    job_dir = Path(params["job_dir"])
    party_dir = job_dir / f"{ctx.role}-{ctx.party_id}"
    artifacts: dict[tuple[str, str], Any] = {}
    summary: dict[str, Any] = {}
    for task in plan.tasks:
        emit_event({"task": task.name, "status": "running"})
        start = time.perf_counter()
        inputs = {
            name: None if ref is None else artifacts[(ref[0], ref[1])]
            for name, ref in task.inputs.items()
        }
        outputs, tctx = run_task(
            ctx,
            task,
            party_dir,
            inputs,
            workers=int(params.get("workers", 1)),
            insecure=bool(params.get("insecure", False)),
            on_event=emit_event,
        )
        for name in task.outputs:
            artifacts[(task.name, name)] = outputs[name]
        seconds = time.perf_counter() - start
        files = store_outputs(party_dir / task.name, outputs)
        metrics = tctx.metrics.to_dict()
        write_atomic(
            party_dir / task.name / "metrics.json",
            json.dumps(metrics, indent=1, allow_nan=False).encode(),
        )
        summary[task.name] = {
            "component": task.component,
            "seconds": seconds,
            "metrics": metrics,
            "outputs": files,
        }
        emit_event({"task": task.name, "status": "done", "seconds": seconds})
        log.info("%s done in %.2f s", task.name, seconds)
    return summary


def run_task(
    ctx: Context,
    task: TaskPlan,
    party_dir: Path,
    inputs: dict[str, Any],
    *,
    workers: int = 1,
    insecure: bool = False,
    on_event: Callable[[Any], None] | None = None,
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    models: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], TaskContext]:
    """Run one task of this party's plan on ``inputs`` (values, by input name); returns
    its outputs and the task context (metrics). Its messages travel under the task's name."""
    comp = get_component(task.component)
    values = validate_params(comp, task.params, f"task {task.name!r} at {ctx.local}")
    workdir = party_dir / task.name
    workdir.mkdir(parents=True, exist_ok=True)
    tctx = TaskContext(
        ctx.sub(task.name),
        task=task.name,
        workdir=workdir,
        workers=workers,
        insecure=insecure,
        on_event=on_event,
        tables=tables,
        models=models,
    )
    outputs = comp.run(tctx, values, inputs)
    missing = [o for o in task.outputs if o not in outputs]
    if missing:
        raise RuntimeError(f"component {comp.name!r} gave no output {missing} at {ctx.local}")
    return outputs, tctx


def store_outputs(task_dir: Path, outputs: dict[str, Any]) -> dict[str, str]:
    """Write a task's outputs under ``task_dir``; returns the file of each (a CSV for predictions)."""
    files: dict[str, str] = {}
    for name, value in outputs.items():
        if isinstance(value, Frame):
            files[name] = str(value.save(task_dir / f"{name}.frame"))
        elif isinstance(value, Predictions):
            value.save(task_dir / f"{name}.predictions")
            files[name] = str(value.write_csv(task_dir / f"{name}.csv"))
        elif isinstance(value, Model):
            files[name] = str(value.save(task_dir / f"{name}.json"))
        elif value is None:
            continue
        else:
            raise TypeError(f"output {name!r} is a {type(value).__name__}, not an artifact")
    return files


def load_output(task_dir: Path, name: str) -> Any:
    """Read back output ``name`` that :func:`store_outputs` wrote under ``task_dir``
    (a later task's input, on a rerun or in another process); None if it had no value."""
    frame, predictions, model = (
        task_dir / f"{name}.frame",
        task_dir / f"{name}.predictions",
        task_dir / f"{name}.json",
    )
    if frame.exists():
        return Frame.load(frame)
    if predictions.exists():
        return Predictions.load(predictions)
    if model.exists():
        return Model.load(model)
    return None
