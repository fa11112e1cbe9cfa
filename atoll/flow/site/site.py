"""A site's flow service: accepts jobs, agrees on them with the partner sites, runs its part.

How a job goes (every message between sites is a control message through the
gateways, mutual TLS; see :meth:`Site.handle_control`)::

    user --submit--> initiator            job stored, state waiting
    initiator --propose--> each partner   partner checks its allow-list (the
                                          partners and the components), stores
                                          the job (waiting), or refuses with why
    initiator --start--> each partner     all accepted: every site runs its part
    partner --task_state--> initiator     as tasks start, progress, end
    any site --job_failed--> all others   a task failed: every site stops at once,
                                          the error (party, kind, message) goes along
    any site --stop--> all others         a user stopped the job, or it timed out
    initiator --rerun, start--> partners  a rerun: only unfinished tasks run again

The initiator sees every party's tasks; each other site sees its own. A partner
that cannot be reached keeps the job waiting (its reason in the job's ``note``)
until ``flow.propose_timeout``; a site that restarts resumes the jobs it was
proposing, and fails the ones it was running (rerun them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

import atoll
from atoll.federation import Gateway, Party, PeerGoneError, RefusedError, RemoteError
from atoll.flow.errors import BadRequest, Conflict, Forbidden, NotFound, Unavailable
from atoll.flow.site.config import ServeConfig
from atoll.flow.site.outbox import Outbox
from atoll.flow.site.runner import JobRunner, Slots, Unit
from atoll.flow.site.views import dag_view, job_view, read_log
from atoll.flow.spec import JobSpec, JobSpecError, parse_job, plan_job, task_order
from atoll.flow.store import (
    DataCatalog,
    InvalidTransition,
    JobRecord,
    JobStore,
    ModelRecord,
    NotFoundError,
    export_models,
    import_models,
)
from atoll.flow.store._states import JOB_FINAL
from atoll.ml.component import Model, all_components
from atoll.ml.data import write_atomic

__all__ = ["Site"]

log = logging.getLogger("atoll.flow.site")

JSON = dict[str, Any]


class Site:
    """The flow service of one site (the :class:`~atoll.flow.site.backend.SiteBackend`)."""

    def __init__(
        self, config: ServeConfig, gateway: Gateway, store: JobStore, catalog: DataCatalog
    ) -> None:
        self.config = config
        self.gateway = gateway
        self.store = store
        self.catalog = catalog
        self.slots = Slots(config.flow.cores)
        self.outbox = Outbox(gateway)
        self._lock = threading.RLock()
        self._runners: dict[str, JobRunner] = {}
        self._openers: dict[str, threading.Thread] = {}
        self._closing = threading.Event()

    @property
    def party_id(self) -> int:
        return self.config.party_id

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> Site:
        """Serve partners' control messages; settle what a previous run of this site left."""
        for job in self.store.list_jobs(state="running", limit=100_000):
            error = self._error(
                job, "Interrupted", f"site {self.party_id} restarted while the job ran"
            )
            self._settle_tasks(job.job_id, "interrupted", error)
            self._set_state(job.job_id, "failed", error)
            self._tell_others(job, "job_failed", {"job_id": job.job_id, "error": error})
        self.gateway.serve_control(self.handle_control)
        for job in self.store.list_jobs(state="waiting", limit=100_000):
            if self._is_initiator(job):
                self.store.set_job_note(job.job_id, "resumed after a restart of this site")
                self._open_async(job.job_id, "propose")
        return self

    def close(self) -> None:
        """Stop: running tasks are killed and marked interrupted, their jobs failed (rerun them)."""
        self._closing.set()
        self.gateway.serve_control(None)
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            job = self.store.get_job(runner.job_id)
            error = self._error(
                job, "Interrupted", f"site {self.party_id} stopped while the job ran"
            )
            runner.stop("interrupted", {"kind": error["kind"], "message": error["message"]})
            runner.join(timeout=30)
            self._set_state(runner.job_id, "failed", error)
            self._tell_others(job, "job_failed", {"job_id": job.job_id, "error": error})
        self.outbox.close(timeout=5.0)

    # -- jobs: the API -------------------------------------------------------------------------
    def site_info(self) -> JSON:
        allow = self.config.flow.allow
        return {
            "party_id": self.party_id,
            "version": atoll.__version__,
            "partners": sorted(self.config.site.routes),
            "components": sorted(all_components()),
            "cores": self.config.flow.cores,
            "allow": {
                "parties": sorted(self.config.site.routes)
                if allow.parties is None
                else allow.parties,
                "components": list(allow.components),
            },
        }

    def submit(self, submission: JSON) -> JSON:
        spec = self._parse_submission(submission)
        local = self._local_parties(spec)
        if not local:
            raise Forbidden(
                f"party {self.party_id} is not a party of this job "
                f"({', '.join(str(p) for p in spec.job_parties())}): submit it at one of its sites"
            )
        unrouted = sorted(
            {p.party_id for p in spec.job_parties()}
            - set(self.config.site.routes)
            - {self.party_id}
        )
        if unrouted:
            raise BadRequest(
                f"party {self.party_id} has no route to party {', '.join(map(str, unrouted))} "
                "(add it under routes: in the site config)"
            )
        job_id = _new_job_id(spec.name)
        self.store.create_job(
            spec.model_dump(mode="json"), job_id, initiator=local[0], name=spec.name
        )
        for party, plan in plan_job(spec, spec.name).items():
            for task in plan.tasks:
                self.store.upsert_task(
                    job_id, task.name, party.role, party.party_id, task.component
                )
        log.info("job %s submitted: %s", job_id, spec.name)
        self._open_async(job_id, "propose")
        return self.get_job(job_id)

    def list_jobs(self, state: str | None = None, limit: int = 50, offset: int = 0) -> list[JSON]:
        return [
            job_view(j, None, self.party_id) for j in self.store.list_jobs(state, limit, offset)
        ]

    def get_job(self, job_id: str) -> JSON:
        job = self.store.get_job(job_id)
        return job_view(job, self.store.tasks_of(job_id), self.party_id)

    def stop_job(self, job_id: str) -> JSON:
        job = self.store.get_job(job_id)
        if job.state in JOB_FINAL:
            raise Conflict(f"job {job_id} is already {job.state}")
        error = {
            "party": f"site {self.party_id}",
            "kind": "Canceled",
            "message": f"stopped by a user at party {self.party_id}",
        }
        self._end_job(job_id, "canceled", error)
        self._tell_others(job, "stop", {"job_id": job_id, "state": "canceled", "error": error})
        return self.get_job(job_id)

    def rerun_job(self, job_id: str) -> JSON:
        job = self.store.get_job(job_id)
        if not self._is_initiator(job):
            raise Conflict(
                f"job {job_id} was initiated by party {job.initiator_party_id}: rerun it there"
            )
        if job.state not in ("failed", "canceled", "timeout"):
            raise Conflict(
                f"job {job_id} is {job.state}: only a failed, canceled or timed-out job reruns"
            )
        with self._lock:
            if job_id in self._runners or job_id in self._openers:
                raise Conflict(f"job {job_id} is still stopping; try again in a moment")
        spec = self._spec(job)
        rows = self.store.tasks_of(job_id)
        unfinished = {t.task for t in rows if t.state != "success"}
        tasks = _with_descendants(spec, unfinished)
        if not tasks:
            raise Conflict(f"job {job_id}: every task finished; nothing to rerun")
        attempt = job.attempt + 1
        body = {"job_id": job_id, "attempt": attempt, "tasks": sorted(tasks)}
        for pid in self._partners(spec):
            try:
                self.gateway.call(pid, "rerun", body, timeout=15.0)
            except PeerGoneError as exc:
                raise Unavailable(f"cannot rerun job {job_id}: {exc}") from None
            except (RemoteError, RefusedError) as exc:
                raise Conflict(f"party {pid} cannot rerun job {job_id}: {_text(exc)}") from None
        self.store.rerun_job(job_id, tasks)
        log.info("job %s: attempt %d reruns %s", job_id, attempt, ", ".join(sorted(tasks)))
        self._open_async(job_id, "start")
        return self.get_job(job_id)

    def job_logs(
        self,
        job_id: str,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
        tail: int | None = None,
    ) -> JSON:
        self.store.get_job(job_id)
        entries = []
        for t in self.store.tasks_of(job_id):
            if (task, role, party_id) != (None, None, None) and (
                (task is not None and t.task != task)
                or (role is not None and t.role != role)
                or (party_id is not None and t.party_id != party_id)
            ):
                continue
            local = t.party_id == self.party_id
            path = self._task_dir(job_id, t.role, t.party_id, t.task) / "task.log"
            entries.append(
                {
                    "task": t.task,
                    "role": t.role,
                    "party_id": t.party_id,
                    "state": t.state,
                    "local": local,
                    "log": read_log(path, tail) if local else None,
                    "error": t.error,
                }
            )
        return {"job_id": job_id, "entries": entries}

    def job_dag(self, job_id: str) -> JSON:
        job = self.store.get_job(job_id)
        return dag_view(self._spec(job), self.store.tasks_of(job_id))

    def job_metrics(
        self,
        job_id: str,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
    ) -> list[JSON]:
        return self.store.metrics(job_id, task=task, role=role, party_id=party_id)

    # -- data and models ------------------------------------------------------------------------
    def upload_data(
        self,
        namespace: str,
        name: str,
        content: bytes,
        *,
        id_column: str,
        label_column: str | None = None,
        overwrite: bool = False,
    ) -> JSON:
        return self.catalog.upload(
            namespace,
            name,
            content,
            id_column=id_column,
            label_column=label_column,
            overwrite=overwrite,
        )

    def list_data(self) -> list[JSON]:
        return self.catalog.list()

    def preview_data(self, namespace: str, name: str, rows: int = 10) -> JSON:
        return self.catalog.preview(namespace, name, rows)

    def delete_data(self, namespace: str, name: str) -> JSON:
        return self.catalog.delete(namespace, name)

    def list_models(self, job_id: str | None = None) -> list[JSON]:
        return [_model_info(m) for m in self.store.list_models(job_id)]

    def export_models(self, job_id: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="atoll-export-") as tmp:
            path = export_models(self.store, job_id, Path(tmp) / "models.atoll")
            return path.read_bytes()

    def import_models(self, content: bytes) -> list[JSON]:
        with tempfile.TemporaryDirectory(prefix="atoll-import-") as tmp:
            path = Path(tmp) / "models.atoll"
            path.write_bytes(content)
            records = import_models(self.store, path)
        return [_model_info(r) for r in records]

    # -- control messages from partner sites ---------------------------------------------------
    def handle_control(self, party_id: int, kind: str, body: Any) -> Any:
        """Answer partner ``party_id``'s site (its certificate says who it is)."""
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise BadRequest(f"unknown control message {kind!r}")
        if not isinstance(body, dict) or not isinstance(body.get("job_id"), str):
            raise BadRequest(f"control message {kind!r} needs a job_id")
        return handler(self, party_id, body)

    def _on_propose(self, caller: int, body: JSON) -> JSON:
        job_id = body["job_id"]
        allow = self.config.flow.allow
        routes = self.config.site.routes
        if not allow.party_allowed(caller, routes):
            raise Forbidden(f"party {self.party_id} does not accept jobs from party {caller}")
        try:
            spec = self._parse_spec(body.get("spec"), f"job {job_id} from party {caller}")
        except JobSpecError as exc:
            raise BadRequest(str(exc)) from None
        parties = spec.job_parties()
        initiator = next((p for p in parties if p.party_id == caller), None)
        if initiator is None:
            raise Forbidden(f"party {caller} proposed job {job_id} but is not one of its parties")
        local = self._local_parties(spec)
        if not local:
            raise Forbidden(f"party {self.party_id} is not a party of job {job_id}")
        for p in parties:
            if p.party_id != self.party_id and not allow.party_allowed(p.party_id, routes):
                raise Forbidden(
                    f"party {self.party_id} does not work with party {p.party_id} (not in its allow-list)"
                )
        plans = plan_job(spec, f"job {job_id}")
        for party in local:
            for task in plans[party].tasks:
                if not allow.component_allowed(task.component):
                    raise Forbidden(
                        f"party {self.party_id} does not allow component {task.component!r} "
                        f"(task {task.name!r}); it allows: {', '.join(allow.components)}"
                    )
        try:
            job = self.store.get_job(job_id)
        except NotFoundError:
            job = None
        if job is not None:
            if job.initiator_party_id != caller:
                raise Forbidden(f"job {job_id} belongs to party {job.initiator_party_id}")
            if job.state in JOB_FINAL:
                raise Conflict(f"job {job_id} is already {job.state} here")
            return {"accepted": True}
        self.store.create_job(
            spec.model_dump(mode="json"), job_id, initiator=initiator, name=spec.name
        )
        for party in local:
            for task in plans[party].tasks:
                self.store.upsert_task(
                    job_id, task.name, party.role, party.party_id, task.component
                )
        log.info("job %s from party %s accepted", job_id, caller)
        return {"accepted": True}

    def _on_start(self, caller: int, body: JSON) -> JSON:
        job = self._job_from(caller, body["job_id"], initiator_only=True)
        if job.attempt != body.get("attempt", 0):
            raise Conflict(
                f"job {job.job_id}: attempt {body.get('attempt')} is not this site's {job.attempt}"
            )
        if job.state == "waiting":
            self._start_local(job.job_id)
        elif job.state in JOB_FINAL:
            raise Conflict(f"job {job.job_id} is already {job.state} here")
        return {"started": True}

    def _on_rerun(self, caller: int, body: JSON) -> JSON:
        job = self._job_from(caller, body["job_id"], initiator_only=True)
        attempt = body.get("attempt")
        if job.state == "waiting" and job.attempt == attempt:
            return {"ok": True}  # asked twice
        with self._lock:
            if job.job_id in self._runners:
                raise Conflict(f"job {job.job_id} is still stopping at party {self.party_id}")
        if job.attempt + 1 != attempt:
            raise Conflict(f"job {job.job_id}: attempt {attempt} does not follow {job.attempt}")
        self.store.rerun_job(job.job_id, [str(t) for t in body.get("tasks", [])])
        return {"ok": True}

    def _on_stop(self, caller: int, body: JSON) -> JSON:
        job = self._job_from(caller, body["job_id"])
        state = body.get("state", "canceled")
        if state not in ("canceled", "timeout", "failed"):
            raise BadRequest(f"stop: unknown state {state!r}")
        self._end_job(job.job_id, state, _error_of(body.get("error"), caller))
        return {"ok": True}

    def _on_job_failed(self, caller: int, body: JSON) -> JSON:
        job = self._job_from(caller, body["job_id"])
        self._end_job(job.job_id, "failed", _error_of(body.get("error"), caller))
        return {"ok": True}

    def _on_task_state(self, caller: int, body: JSON) -> JSON:
        job = self._job_from(caller, body["job_id"])
        if body.get("party_id") != caller:
            raise Forbidden(f"party {caller} reported a task of party {body.get('party_id')}")
        task, role = str(body.get("task")), str(body.get("role"))
        if "progress" in body:
            with contextlib.suppress(NotFoundError):
                self.store.set_task_progress(job.job_id, task, role, caller, body["progress"])
            return {"ok": True}
        self._apply_task_state(
            job.job_id,
            task,
            role,
            caller,
            str(body.get("state")),
            body.get("seconds"),
            body.get("error"),
        )
        return {"ok": True}

    def _on_part_done(self, caller: int, body: JSON) -> JSON:
        self._job_from(caller, body["job_id"])
        self._check_complete(body["job_id"])
        return {"ok": True}

    # -- called by a job's runner --------------------------------------------------------------
    def reused(self, job_id: str) -> set[tuple[str, str, int]]:
        return {
            (t.task, t.role, t.party_id)
            for t in self.store.tasks_of(job_id)
            if t.state == "success" and t.party_id == self.party_id
        }

    def task_changed(
        self,
        runner: JobRunner,
        unit: Unit,
        state: str,
        *,
        error: JSON | None = None,
        seconds: float | None = None,
    ) -> None:
        role, pid = unit.party.role, unit.party.party_id
        self._apply_task_state(runner.job_id, unit.name, role, pid, state, seconds, error)
        self._report(runner, unit, {"state": state, "seconds": seconds, "error": error})

    def task_progress(self, runner: JobRunner, unit: Unit, event: JSON) -> None:
        progress = {k: event.get(k) for k in ("step", "total", "values")}
        role, pid = unit.party.role, unit.party.party_id
        self.store.set_task_progress(runner.job_id, unit.name, role, pid, progress)
        self._report(runner, unit, {"progress": progress})

    def _report(self, runner: JobRunner, unit: Unit, fields: JSON) -> None:
        """Tell the job's initiator (if it is another site) about one of this site's tasks."""
        job = self.store.get_job(runner.job_id)
        if self._is_initiator(job) or job.initiator_party_id is None:
            return
        body = {"job_id": runner.job_id, "task": unit.name, "role": unit.party.role}
        self.outbox.send(
            job.initiator_party_id,
            "task_state",
            {**body, "party_id": unit.party.party_id, **fields},
        )

    def task_succeeded(self, runner: JobRunner, unit: Unit, result: JSON) -> None:
        role, pid = unit.party.role, unit.party.party_id
        metrics = result.get("metrics")
        if isinstance(metrics, dict):
            self.store.record_metrics(runner.job_id, unit.name, role, pid, metrics)
        for path in (result.get("outputs") or {}).values():
            if str(path).endswith(".json"):
                self.store.save_model(runner.job_id, unit.name, role, pid, Model.load(path))
        self.task_changed(runner, unit, "success", seconds=result.get("seconds"))

    def task_failed(self, runner: JobRunner, unit: Unit, kind: str, text: str, trace: str) -> None:
        log.error(
            "job %s: task %s at %s failed: %s: %s\n%s",
            runner.job_id,
            unit.name,
            unit.party,
            kind,
            text,
            trace,
        )
        job = self.store.get_job(runner.job_id)
        message = text if repr(unit.name) in text else f"task {unit.name!r}: {text}"
        error = {"party": str(unit.party), "kind": kind, "message": message}
        self._set_state(runner.job_id, "failed", error)
        self._settle_tasks(runner.job_id, "canceled", None)
        self._tell_others(job, "job_failed", {"job_id": runner.job_id, "error": error})

    def part_done(self, runner: JobRunner) -> None:
        job = self.store.get_job(runner.job_id)
        if self._is_initiator(job):
            self._check_complete(runner.job_id, runner_done=True)
        else:
            self._set_state(runner.job_id, "success", None)
            if job.initiator_party_id is not None:
                self.outbox.send(job.initiator_party_id, "part_done", {"job_id": runner.job_id})

    def job_timed_out(self, runner: JobRunner) -> None:
        job = self.store.get_job(runner.job_id)
        timeout = self._spec(job).options.timeout
        error = {
            "party": f"site {self.party_id}",
            "kind": "Timeout",
            "message": f"the job ran longer than its timeout of {timeout:g} s",
        }
        self._set_state(runner.job_id, "timeout", error)
        self._settle_tasks(runner.job_id, "canceled", None)
        self._tell_others(
            job, "stop", {"job_id": runner.job_id, "state": "timeout", "error": error}
        )

    def runner_failed(self, runner: JobRunner, kind: str, text: str) -> None:
        job = self.store.get_job(runner.job_id)
        error = {"party": f"site {self.party_id}", "kind": kind, "message": text}
        self._set_state(runner.job_id, "failed", error)
        self._tell_others(job, "job_failed", {"job_id": runner.job_id, "error": error})

    def runner_ended(self, runner: JobRunner) -> None:
        with self._lock:
            if self._runners.get(runner.job_id) is runner:
                del self._runners[runner.job_id]
        self.gateway.forget_job(runner.fed_job_id)

    # -- internals -------------------------------------------------------------------------------
    def _open_async(self, job_id: str, first: str) -> None:
        t = threading.Thread(
            target=self._open, args=(job_id, first), name=f"open-{job_id}", daemon=True
        )
        with self._lock:
            self._openers[job_id] = t
        t.start()

    def _open(self, job_id: str, first: str) -> None:
        """Initiator: ``first`` (propose or nothing after a rerun), then start, at every partner."""
        try:
            job = self.store.get_job(job_id)
            spec = self._spec(job)
            partners = self._partners(spec)
            deadline = time.monotonic() + self.config.flow.propose_timeout
            body = {"job_id": job_id, "spec": job.spec, "attempt": job.attempt}
            steps = ([first] if first != "start" else []) + ["start"]
            for kind in steps:
                for pid in partners:
                    if not self._call_until(job_id, pid, kind, body, deadline):
                        return
            self.store.set_job_note(job_id, None)
            self._start_local(job_id)
        except Exception as exc:
            log.exception("job %s: starting it failed", job_id)
            error = {
                "party": f"site {self.party_id}",
                "kind": type(exc).__name__,
                "message": str(exc),
            }
            self._end_job(job_id, "failed", error)
        finally:
            with self._lock:
                self._openers.pop(job_id, None)

    def _call_until(self, job_id: str, pid: int, kind: str, body: JSON, deadline: float) -> bool:
        """Deliver ``kind`` to ``pid``, retrying while it cannot be reached; False if the job ended."""
        delay = 0.5
        while True:
            if self._closing.is_set():
                return False
            job = self.store.get_job(job_id)
            if job.state != "waiting":
                return False
            try:
                self.gateway.call(pid, kind, body, timeout=15.0)
                return True
            except PeerGoneError as exc:
                if time.monotonic() > deadline:
                    error = {
                        "party": f"site {pid}",
                        "kind": "Unreachable",
                        "message": f"party {pid} could not be reached for "
                        f"{self.config.flow.propose_timeout:g} s: {exc}",
                    }
                    self._fail_everywhere(job, error)
                    return False
                self.store.set_job_note(
                    job_id, f"waiting for party {pid}: its site does not answer"
                )
                self._closing.wait(delay)
                delay = min(2 * delay, 5.0)
            except (RemoteError, RefusedError) as exc:
                verb = "refused" if kind == "propose" else f"did not take {kind!r} for"
                error = {
                    "party": f"site {pid}",
                    "kind": "Refused",
                    "message": f"party {pid} {verb} the job: {_text(exc)}",
                }
                self._fail_everywhere(job, error)
                return False

    def _fail_everywhere(self, job: JobRecord, error: JSON) -> None:
        self._end_job(job.job_id, "failed", error)
        self._tell_others(job, "stop", {"job_id": job.job_id, "state": "failed", "error": error})

    def _start_local(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._runners or self._closing.is_set():
                return
            job = self.store.get_job(job_id)
            if job.state != "waiting":
                return
            spec = self._spec(job)
            plans = plan_job(spec, f"job {job_id}")
            rows = {(t.task, t.role, t.party_id): t.state for t in self.store.tasks_of(job_id)}
            order = {name: i for i, name in enumerate(task_order(spec))}
            units = [
                Unit(order[t.name], party, t)
                for party in self._local_parties(spec)
                for t in plans[party].tasks
                if rows.get((t.name, party.role, party.party_id)) != "success"
            ]
            units.sort(key=lambda u: (u.index, u.party.role))
            tables = self._resolve_tables(units)
            job = self._set_state(job_id, "running", None) or job
            started = (job.started_at or dt.datetime.now(dt.UTC)).timestamp()
            p = spec.job_parties()
            runner = JobRunner(
                self,
                job_id,
                job.attempt,
                units,
                parties={
                    "guest": None if p.guest is None else p.guest.party_id,
                    "hosts": [h.party_id for h in p.hosts],
                    "arbiter": None if p.arbiter is None else p.arbiter.party_id,
                },
                job_dir=self.config.job_dir / job_id,
                timeout=spec.options.timeout,
                deadline=started + spec.options.timeout,
                workers=max(spec.options.workers, self.config.flow.workers),
                insecure=spec.options.insecure,
                tables=tables,
                reused=self.reused(job_id),
            )
            self._runners[job_id] = runner
            runner.start()

    def _resolve_tables(self, units: Iterable[Unit]) -> dict[str, JSON]:
        """The registered tables the units read; one not registered is left out, and the
        task that reads it fails with the reader's message (naming table and party)."""
        out: dict[str, JSON] = {}
        for u in units:
            ref = u.plan.params.get("table")
            if isinstance(ref, str) and ref and ref not in out:
                with contextlib.suppress(NotFound, NotFoundError):
                    out[ref] = dict(self.catalog.resolve(ref))
        return out

    def registry_models(self, job_id: str, unit: Unit) -> dict[str, str]:
        """The model a ``model_reader`` unit asks for, copied from the registry to a file in
        its job's directory: ``{"job_id/task[@vN]": path}`` (empty if not registered; the
        component then says which model is missing)."""
        params = unit.plan.params
        source_job, task = params.get("job_id"), params.get("task")
        if unit.plan.component != "model_reader" or not source_job or not task:
            return {}
        version = params.get("version")
        role, pid = unit.party.role, unit.party.party_id
        try:
            text, record = self.store.model_text(str(source_job), str(task), role, pid, version)
        except NotFoundError:
            return {}
        path = (
            self.config.job_dir
            / job_id
            / f"{role}-{pid}"
            / "_registry"
            / f"{source_job}--{task}--v{record.version}.json"
        )
        write_atomic(path, text.encode())
        key = f"{source_job}/{task}" + ("" if version is None else f"@v{version}")
        return {key: str(path)}

    def _end_job(self, job_id: str, state: str, error: JSON | None) -> None:
        """End a job here: stop its runner, cancel what did not run, record ``state``."""
        with self._lock:
            runner = self._runners.get(job_id)
        if runner is not None and runner is not threading.current_thread():
            runner.stop(
                "canceled",
                None
                if error is None
                else {"kind": str(error.get("kind")), "message": str(error.get("message"))},
            )
            runner.join(timeout=30)
        self._set_state(job_id, state, error)
        self._settle_tasks(job_id, "canceled", None)

    def _apply_task_state(
        self,
        job_id: str,
        task: str,
        role: str,
        pid: int,
        state: str,
        seconds: Any,
        error: Any,
    ) -> None:
        err = None
        if isinstance(error, dict):
            err = {"kind": str(error.get("kind")), "message": str(error.get("message"))}
        try:
            current = next(
                (
                    t
                    for t in self.store.tasks_of(job_id)
                    if (t.task, t.role, t.party_id) == (task, role, pid)
                ),
                None,
            )
            if current is None or current.state == state:
                return
            self.store.set_task_state(
                job_id,
                task,
                role,
                pid,
                state,
                error=err if state in ("failed", "canceled", "interrupted") else None,
                seconds=float(seconds) if isinstance(seconds, int | float) else None,
            )
        except (InvalidTransition, NotFoundError) as exc:
            log.debug("job %s: task state %s ignored: %s", job_id, state, exc)
            return
        if state == "success":
            job = self.store.get_job(job_id)
            if self._is_initiator(job) and pid != self.party_id:
                self._check_complete(job_id)

    def _check_complete(self, job_id: str, runner_done: bool = False) -> None:
        job = self.store.get_job(job_id)
        if job.state != "running" or not self._is_initiator(job):
            return
        with self._lock:
            runner = self._runners.get(job_id)
        if runner is not None and not runner_done and runner.outcome != "success":
            return
        pending = [t for t in self.store.tasks_of(job_id) if t.state != "success"]
        if pending:
            who = sorted({f"{t.role} {t.party_id}" for t in pending})
            self.store.set_job_note(job_id, f"waiting for {', '.join(who)} to finish")
            return
        self.store.set_job_note(job_id, None)
        self._set_state(job_id, "success", None)

    def _set_state(self, job_id: str, state: str, error: JSON | None) -> JobRecord | None:
        try:
            return self.store.set_job_state(job_id, state, error)
        except InvalidTransition as exc:
            log.debug("%s", exc)
            return None

    def _settle_tasks(self, job_id: str, state: str, error: JSON | None) -> None:
        """Every task still waiting (or running, with no runner to report it) ends as ``state``."""
        for t in self.store.tasks_of(job_id):
            if t.state in ("waiting", "running"):
                target = state if t.state == "running" else "canceled"
                with contextlib.suppress(InvalidTransition):
                    self.store.set_task_state(
                        job_id, t.task, t.role, t.party_id, target, error=error
                    )

    def _tell_others(self, job: JobRecord, kind: str, body: JSON) -> None:
        for pid in self._partners(self._spec(job)):
            self.outbox.send(pid, kind, body)

    def _job_from(self, caller: int, job_id: str, *, initiator_only: bool = False) -> JobRecord:
        try:
            job = self.store.get_job(job_id)
        except NotFoundError:
            raise NotFound(f"party {self.party_id} has no job {job_id}") from None
        parties = {p.party_id for p in self._spec(job).job_parties()}
        if caller not in parties:
            raise Forbidden(f"party {caller} is not a party of job {job_id}")
        if initiator_only and job.initiator_party_id != caller:
            raise Forbidden(f"only the initiator (party {job.initiator_party_id}) may do that")
        return job

    def _spec(self, job: JobRecord) -> JobSpec:
        return self._parse_spec(job.spec, f"job {job.job_id}")

    def _parse_spec(self, raw: Any, where: str) -> JobSpec:
        if not isinstance(raw, dict):
            raise JobSpecError(f"{where}: the job is not a mapping")
        data = dict(raw)
        data["base_dir"] = str(self.config.data_dir)  # relative paths: this site's data_dir
        return parse_job(data, where)

    def _parse_submission(self, submission: JSON) -> JobSpec:
        given = [k for k in ("spec", "yaml", "fate") if submission.get(k) is not None]
        if len(given) != 1:
            raise BadRequest("a submission carries exactly one of 'spec', 'yaml' or 'fate'")
        kind = given[0]
        try:
            if kind == "spec":
                raw = submission["spec"]
            elif kind == "yaml":
                try:
                    raw = yaml.safe_load(submission["yaml"])
                except yaml.YAMLError as exc:
                    raise BadRequest(f"the job file is not valid YAML: {exc}") from None
            else:
                from atoll.flow.fate import FateImportError, import_fate_job

                fate = submission["fate"]
                if not isinstance(fate, dict):
                    raise BadRequest("fate: expected {'dsl': ..., 'conf': ...}")
                try:
                    raw = import_fate_job(fate.get("dsl"), fate.get("conf"))
                except FateImportError as exc:
                    raise BadRequest(str(exc)) from None
            return self._parse_spec(raw, "the submitted job")
        except JobSpecError as exc:
            raise BadRequest(str(exc)) from None

    def _local_parties(self, spec: JobSpec) -> list[Party]:
        return [p for p in spec.job_parties() if p.party_id == self.party_id]

    def _partners(self, spec: JobSpec) -> list[int]:
        return sorted({p.party_id for p in spec.job_parties()} - {self.party_id})

    def _is_initiator(self, job: JobRecord) -> bool:
        return job.initiator_party_id == self.party_id

    def _task_dir(self, job_id: str, role: str, party_id: int, task: str) -> Path:
        return self.config.job_dir / job_id / f"{role}-{party_id}" / task

    def _error(self, job: JobRecord, kind: str, message: str) -> JSON:
        return {"party": f"site {self.party_id}", "kind": kind, "message": message}


_HANDLERS: dict[str, Callable[[Site, int, JSON], Any]] = {
    "propose": Site._on_propose,
    "start": Site._on_start,
    "rerun": Site._on_rerun,
    "stop": Site._on_stop,
    "job_failed": Site._on_job_failed,
    "task_state": Site._on_task_state,
    "part_done": Site._on_part_done,
}


def _model_info(m: ModelRecord) -> JSON:
    return {
        "job_id": m.job_id,
        "task": m.task,
        "role": m.role,
        "party_id": m.party_id,
        "component": m.component,
        "version": m.version,
        "created_at": m.created_at.isoformat(),
        "sha256": m.sha256,
    }


def _with_descendants(spec: JobSpec, names: set[str]) -> set[str]:
    out = set(names)
    changed = True
    while changed:
        changed = False
        for name, task in spec.tasks.items():
            if name not in out and any(
                ref.partition(".")[0] in out for ref in task.inputs.values()
            ):
                out.add(name)
                changed = True
    return out


def _error_of(error: Any, caller: int) -> JSON:
    if isinstance(error, dict):
        return {
            k: None if error.get(k) is None else str(error.get(k))
            for k in ("party", "kind", "message")
        }
    return {"party": f"site {caller}", "kind": "Stopped", "message": f"stopped by party {caller}"}


def _text(exc: Exception) -> str:
    return exc.text if isinstance(exc, RemoteError) else str(exc)


def _new_job_id(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40] or "job"
    return f"{safe}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
