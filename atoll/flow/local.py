"""Run every party of a job on this machine (``atoll run``).

Each party is its own OS process with its own gateway on loopback, mutual TLS
with certificates made for the run, and its own Table storage
(:func:`atoll.federation.launch.run_local_job`); each runs
:func:`atoll.flow.party.run_party` on its plan. Outputs go to the job
directory::

    <job_dir>/job.json                        the spec, the plan, timings, metrics
    <job_dir>/<role>-<party_id>/<task>/...    each party's outputs and metrics.json
    <job_dir>/<role>-<party_id>/transcript.json   (with transcript=True)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atoll.federation import Party
from atoll.federation.launch import PartyFailed, run_local_job
from atoll.flow.spec import JobSpec, plan_job
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
) -> JobResult:
    """Run ``spec`` with every party on this machine; raises :class:`PartyFailed` if one fails."""
    import time

    plans = plan_job(spec, spec.name)
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
            job_id=_job_id(spec),
            timeout=spec.options.timeout,
            workers=nworkers,
            transcript=transcript,
            on_event=on_event,
            log_level=log_level,
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
    return result


def _job_id(spec: JobSpec) -> str:
    safe = "".join(c if c.isalnum() else "-" for c in spec.name)[:40] or "job"
    return f"{safe}-{dt.datetime.now().strftime('%H%M%S')}"


def _write_json(path: Path, obj: Any) -> None:
    write_atomic(path, json.dumps(obj, indent=1, default=str).encode())
