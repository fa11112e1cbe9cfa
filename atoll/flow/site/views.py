"""The JSON a site's API hands out for jobs, tasks, logs and DAGs (shapes in :mod:`.backend`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atoll.flow.spec import JobSpec, task_order
from atoll.flow.store import JobRecord, TaskRecord

__all__ = ["dag_view", "job_view", "read_log", "task_view"]

JSON = dict[str, Any]


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def job_view(job: JobRecord, tasks: Sequence[TaskRecord] | None, party_id: int) -> JSON:
    """JobSummary, or Job when ``tasks`` is given."""
    spec = job.spec
    parties = spec.get("parties", {})
    seconds = None
    if job.started_at is not None:
        end = job.ended_at
        if end is not None:
            seconds = (end - job.started_at).total_seconds()
    out: JSON = {
        "job_id": job.job_id,
        "name": job.name,
        "state": job.state,
        "initiator": None
        if job.initiator_party_id is None
        else {"role": job.initiator_role, "party_id": job.initiator_party_id},
        "is_initiator": job.initiator_party_id == party_id,
        "parties": {
            "guest": parties.get("guest"),
            "host": list(parties.get("host") or []),
            "arbiter": parties.get("arbiter"),
        },
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "ended_at": _iso(job.ended_at),
        "seconds": seconds,
        "attempt": job.attempt,
        "error": None if job.error is None else dict(job.error),
        "status_message": job.note,
    }
    if tasks is not None:
        out["tasks"] = [task_view(t) for t in tasks]
    return out


def task_view(t: TaskRecord) -> JSON:
    return {
        "task": t.task,
        "component": t.component,
        "role": t.role,
        "party_id": t.party_id,
        "state": t.state,
        "started_at": _iso(t.started_at),
        "ended_at": _iso(t.ended_at),
        "seconds": t.seconds,
        "error": None if t.error is None else dict(t.error),
        "progress": t.progress,
    }


def dag_view(spec: JobSpec, tasks: Sequence[TaskRecord]) -> JSON:
    states: dict[str, dict[str, str]] = {}
    roles: dict[str, list[str]] = {}
    for t in tasks:
        states.setdefault(t.task, {})[f"{t.role}-{t.party_id}"] = t.state
        if t.role not in roles.setdefault(t.task, []):
            roles[t.task].append(t.role)
    nodes = [
        {
            "task": name,
            "component": spec.tasks[name].component,
            "roles": roles.get(name, []),
            "states": states.get(name, {}),
        }
        for name in task_order(spec)
    ]
    edges = [
        {
            "source": ref.partition(".")[0],
            "output": ref.partition(".")[2],
            "target": name,
            "input": inp,
        }
        for name in task_order(spec)
        for inp, ref in spec.tasks[name].inputs.items()
    ]
    return {"nodes": nodes, "edges": edges}


def read_log(path: Path, tail: int | None = None) -> str | None:
    """A task's log text (its last ``tail`` lines), or None if it wrote none here."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if tail is not None and tail >= 0:
        lines = text.splitlines()
        text = "\n".join(lines[-tail:] if tail else []) + ("\n" if tail and lines else "")
    return text
