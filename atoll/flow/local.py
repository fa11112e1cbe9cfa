"""Run every party of a job on this machine (``atoll run``).

Each party is its own OS process with its own gateway on loopback, mutual TLS
with certificates made for the run, and its own Table storage
(:func:`atoll.federation.launch.run_local_job`); each runs
:func:`atoll.flow.party.run_party` on its plan. Outputs go to the job
directory::

    <job_dir>/job.json                        the spec, the plan, timings, metrics
    <job_dir>/<role>-<party_id>/<task>/...    each party's outputs and metrics.json
    <job_dir>/<role>-<party_id>/transcript.json   (with transcript=True)

With a :class:`~atoll.flow.store.JobStore`, the job, every party's task states
(as the parties report them), their metrics and their models are recorded
there too (``atoll run`` keeps ``jobs.db`` beside the job directories).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from atoll.federation import Party
from atoll.federation.launch import PartyFailed, run_local_job
from atoll.flow.spec import JobSpec, plan_job
from atoll.flow.store import JobStore
from atoll.ml.component import Model
from atoll.ml.data import write_atomic

__all__ = ["JobResult", "PartyFailed", "default_job_dir", "run_job"]

log = logging.getLogger("atoll.flow")


@dataclasses.dataclass(frozen=True)
class JobResult:
    """What a finished job left: its directory, and per party the tasks' timings and metrics."""

    job_dir: Path
    seconds: float
    parties: dict[Party, dict[str, Any]]

    def task(self, role: str, task: str, index: int = 0) -> dict[str, Any]:
        """One task's summary (seconds, metrics, output files) at the ``index``-th party of ``role``."""
        matches = [s for p, s in self.parties.items() if p.role == role]
        return dict(matches[index][task])


def default_job_dir(spec: JobSpec, root: str | Path = "atoll-jobs") -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in spec.name) or "job"
    return Path(root) / f"{safe}-{stamp}"


def run_job(
    spec: JobSpec,
    job_dir: str | Path | None = None,
    *,
    workers: int | None = None,
    transcript: bool = False,
    on_event: Callable[[Party, Any], None] | None = None,
    log_level: int = logging.WARNING,
    store: JobStore | None = None,
    computing: Mapping[Party, Mapping[str, Any]] | None = None,
) -> JobResult:
    """Run ``spec`` with every party on this machine; raises :class:`PartyFailed` if one fails.

    ``computing`` gives some parties their own computing engine, as a site's
    ``computing:`` setting does (``{host: {"engine": "spark", "master": "local[2]"}}``);
    the others run their Tables on the standalone backend.
    """
    import time

    plans = plan_job(spec, spec.name)
    job_id = _job_id(spec)
    tracker = None if store is None else _Tracker(store, job_id, spec, plans)
    if tracker is not None:
        on_event = tracker.wrap(on_event)
    out = Path(job_dir) if job_dir is not None else default_job_dir(spec)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    nworkers = workers if workers is not None else spec.options.workers
    params = {
        party: {
            "plan": plan.model_dump(mode="json"),
            "job_dir": str(out),
            "workers": nworkers,
            "insecure": spec.options.insecure,
        }
        for party, plan in plans.items()
    }
    start = time.perf_counter()
    status: dict[str, Any] = {"status": "running", "spec": spec.model_dump(mode="json")}
    _write_json(out / "job.json", status)
    try:
        outcomes = run_local_job(
            "atoll.flow.party:run_party",
            spec.job_parties(),
            params,
            job_id=job_id,
            timeout=spec.options.timeout,
            workers=nworkers,
            transcript=transcript,
            on_event=on_event,
            log_level=log_level,
            computing=computing,
        )
    except PartyFailed as exc:
        status.update(
            status="failed",
            seconds=time.perf_counter() - start,
            error={
                "party": str(exc.party),
                "kind": exc.kind,
                "message": exc.text,
                "trace": exc.trace,
            },
        )
        _write_json(out / "job.json", status)
        if tracker is not None:
            tracker.failed(exc)
        raise
    seconds = time.perf_counter() - start
    result = JobResult(out, seconds, {p: o.result for p, o in outcomes.items()})
    for party, outcome in outcomes.items():
        if transcript:
            _write_json(
                out / f"{party.role}-{party.party_id}" / "transcript.json", outcome.transcript
            )
    status.update(
        status="success",
        seconds=seconds,
        parties={f"{p.role}-{p.party_id}": r for p, r in result.parties.items()},
    )
    _write_json(out / "job.json", status)
    if tracker is not None:
        tracker.succeeded(result)
    return result


class _Tracker:
    """Records a local job in a :class:`JobStore` as its parties report progress."""

    def __init__(
        self, store: JobStore, job_id: str, spec: JobSpec, plans: dict[Party, Any]
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.components = {
            (p, t.name): t.component for p, plan in plans.items() for t in plan.tasks
        }
        guest = spec.parties.guest
        store.create_job(
            spec.model_dump(mode="json"),
            job_id,
            initiator=None if guest is None else Party("guest", guest),
            name=spec.name,
        )
        for (party, task), component in self.components.items():
            store.upsert_task(job_id, task, party.role, party.party_id, component)
        store.set_job_state(job_id, "running")
        self.running: dict[Party, str] = {}

    def wrap(self, inner: Callable[[Party, Any], None] | None) -> Callable[[Party, Any], None]:
        def on_event(party: Party, event: Any) -> None:
            status = event.get("status") if isinstance(event, dict) else None
            task = str(event.get("task")) if isinstance(event, dict) else ""
            if status in ("running", "done") and (party, task) in self.components:
                state = "running" if status == "running" else "success"
                self.store.set_task_state(
                    self.job_id,
                    task,
                    party.role,
                    party.party_id,
                    state,
                    seconds=event.get("seconds"),
                )
                if state == "running":
                    self.running[party] = task
                else:
                    self.running.pop(party, None)
            if inner is not None:
                inner(party, event)

        return on_event

    def failed(self, exc: PartyFailed) -> None:
        error = {"party": str(exc.party), "kind": exc.kind, "message": exc.text}
        task = self.running.pop(exc.party, None)
        if task is not None:
            self.store.set_task_state(
                self.job_id,
                task,
                exc.party.role,
                exc.party.party_id,
                "failed",
                error={"kind": exc.kind, "message": exc.text},
            )
        for t in self.store.tasks_of(self.job_id):
            if t.state in ("waiting", "running"):  # the others stopped with the job
                self.store.set_task_state(self.job_id, t.task, t.role, t.party_id, "canceled")
        self.store.set_job_state(self.job_id, "failed", error)

    def succeeded(self, result: JobResult) -> None:
        for party, summary in result.parties.items():
            for task, s in summary.items():
                self.store.record_metrics(
                    self.job_id, task, party.role, party.party_id, s["metrics"]
                )
                for path in s["outputs"].values():
                    if str(path).endswith(".json"):
                        self.store.save_model(
                            self.job_id, task, party.role, party.party_id, Model.load(path)
                        )
        self.store.set_job_state(self.job_id, "success")


def _job_id(spec: JobSpec) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in spec.name)[:40] or "job"
    return f"{safe}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def _write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=1, default=str).encode())
