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
from pathlib import Path
from typing import Any

from atoll.federation import Context
from atoll.federation.launch import emit_event
from atoll.flow.spec import PartyPlan, TaskPlan
from atoll.ml.component import Model, TaskContext, get_component, validate_params
from atoll.ml.data import Frame, Predictions, write_atomic

__all__ = ["run_party"]

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
        outputs, tctx = _run_task(ctx, task, party_dir, params, artifacts)
        seconds = time.perf_counter() - start
        files = _store(party_dir / task.name, outputs)
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


def _run_task(
    ctx: Context,
    task: TaskPlan,
    party_dir: Path,
    params: dict[str, Any],
    artifacts: dict[tuple[str, str], Any],
) -> tuple[dict[str, Any], TaskContext]:
    comp = get_component(task.component)
    values = validate_params(comp, task.params, f"task {task.name!r} at {ctx.local}")
    inputs = {
        name: None if ref is None else artifacts[(ref[0], ref[1])]
        for name, ref in task.inputs.items()
    }
    workdir = party_dir / task.name
    workdir.mkdir(parents=True, exist_ok=True)
    tctx = TaskContext(
        ctx.sub(task.name),
        task=task.name,
        workdir=workdir,
        workers=int(params.get("workers", 1)),
        insecure=bool(params.get("insecure", False)),
        on_event=emit_event,
    )
    outputs = comp.run(tctx, values, inputs)
    missing = [o for o in task.outputs if o not in outputs]
    if missing:
        raise RuntimeError(f"component {comp.name!r} gave no output {missing} at {ctx.local}")
    for name in task.outputs:
        artifacts[(task.name, name)] = outputs[name]
    return outputs, tctx


def _store(task_dir: Path, outputs: dict[str, Any]) -> dict[str, str]:
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
