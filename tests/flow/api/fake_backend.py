"""An in-memory :class:`~atoll.flow.site.backend.SiteBackend` for the API, client and CLI tests.

It validates jobs with the real job-file parser and FATE converter, keeps jobs,
tables and models in dicts, follows the job state machine (stop, rerun,
conflicts) and lets a test move a job on with :meth:`FakeBackend.start`,
:meth:`FakeBackend.progress` and :meth:`FakeBackend.finish`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from datetime import UTC, datetime
from typing import Any

import yaml

from atoll.flow.errors import BadRequest, Conflict, Forbidden, NotFound
from atoll.flow.fate import import_fate_job
from atoll.flow.spec import parse_job, plan_job

JSON = dict[str, Any]
FINAL = {"success", "failed", "canceled", "timeout"}
RERUNNABLE = {"failed", "canceled", "timeout"}
EXPORT_FORMAT = "atoll-fake-models/1"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class FakeBackend:
    """Jobs, tables and models of one site, in memory; thread-safe like a real site."""

    def __init__(self, party_id: int = 9999, partners: tuple[int, ...] = (10000, 10001)) -> None:
        self._party_id = party_id
        self.partners = list(partners)
        self.jobs: dict[str, JSON] = {}
        self.specs: dict[str, JSON] = {}
        self.metrics: dict[str, list[JSON]] = {}
        self.logs: dict[tuple[str, str, str, int], str] = {}
        self.tables: dict[tuple[str, str], tuple[JSON, list[list[str]], list[str]]] = {}
        self.models: dict[str, list[JSON]] = {}
        self.submissions: list[JSON] = []
        self._seq = 0
        self._lock = threading.RLock()

    @property
    def party_id(self) -> int:
        return self._party_id

    def site_info(self) -> JSON:
        return {
            "party_id": self._party_id,
            "version": "0.0-test",
            "partners": list(self.partners),
            "components": ["psi", "reader", "toy_example"],
            "cores": 2,
        }

    # -- jobs ---------------------------------------------------------------------------
    def submit(self, submission: JSON) -> JSON:
        raw = self._raw_spec(submission)
        spec = parse_job(raw, "submitted job")
        parties = spec.job_parties()
        if self._party_id not in {p.party_id for p in parties}:
            raise Forbidden(f"party {self._party_id} (this site) is not one of the job's parties")
        with self._lock:
            self.submissions.append(submission)
            self._seq += 1
            job_id = f"job-{self._seq:04d}"
            tasks = [
                self._task(t.name, t.component, party.role, party.party_id)
                for party, plan in plan_job(spec).items()
                for t in plan.tasks
            ]
            job = {
                "job_id": job_id,
                "name": spec.name,
                "state": "waiting",
                "initiator": {"role": self._role_in(spec), "party_id": self._party_id},
                "is_initiator": True,
                "parties": {
                    "guest": spec.parties.guest,
                    "host": list(spec.parties.host),
                    "arbiter": spec.parties.arbiter,
                },
                "created_at": _now(),
                "started_at": None,
                "ended_at": None,
                "seconds": None,
                "attempt": 0,
                "error": None,
                "status_message": None,
                "tasks": tasks,
            }
            self.jobs[job_id] = job
            self.specs[job_id] = spec.model_dump(mode="json")
            self.metrics[job_id] = []
            return _copy(job)

    def _raw_spec(self, submission: JSON) -> JSON:
        if set(submission) == {"spec"} and isinstance(submission["spec"], dict):
            return dict(submission["spec"])
        if set(submission) == {"yaml"} and isinstance(submission["yaml"], str):
            try:
                raw = yaml.safe_load(submission["yaml"])
            except yaml.YAMLError as exc:
                raise BadRequest(f"the job file is not valid YAML: {exc}") from None
            if not isinstance(raw, dict):
                raise BadRequest("a job file is a mapping with 'parties' and 'tasks'")
            return raw
        if set(submission) == {"fate"} and isinstance(submission["fate"], dict):
            fate = submission["fate"]
            return import_fate_job(fate.get("dsl"), fate.get("conf"), validate=False)
        raise BadRequest("give exactly one of 'spec', 'yaml' or 'fate'")

    def _role_in(self, spec: Any) -> str:
        p = spec.parties
        if p.guest == self._party_id:
            return "guest"
        return "host" if self._party_id in p.host else "arbiter"

    @staticmethod
    def _task(name: str, component: str, role: str, party_id: int) -> JSON:
        return {
            "task": name,
            "component": component,
            "role": role,
            "party_id": party_id,
            "state": "waiting",
            "started_at": None,
            "ended_at": None,
            "seconds": None,
            "error": None,
            "progress": None,
        }

    def list_jobs(self, state: str | None = None, limit: int = 50, offset: int = 0) -> list[JSON]:
        with self._lock:
            jobs = [j for j in reversed(self.jobs.values()) if state is None or j["state"] == state]
            return [_summary(j) for j in jobs[offset : offset + limit]]

    def get_job(self, job_id: str) -> JSON:
        with self._lock:
            return _copy(self._job(job_id))

    def _job(self, job_id: str) -> JSON:
        try:
            return self.jobs[job_id]
        except KeyError:
            raise NotFound(f"no job {job_id!r} at party {self._party_id}") from None

    def stop_job(self, job_id: str) -> JSON:
        with self._lock:
            job = self._job(job_id)
            if job["state"] in FINAL:
                raise Conflict(f"job {job_id} already ended ({job['state']})")
            job.update(state="canceled", ended_at=_now(), status_message="stopped by the user")
            for t in job["tasks"]:
                if t["state"] not in FINAL:
                    t["state"] = "canceled"
            return _copy(job)

    def rerun_job(self, job_id: str) -> JSON:
        with self._lock:
            job = self._job(job_id)
            if job["state"] not in RERUNNABLE:
                raise Conflict(
                    f"job {job_id} is {job['state']}; only a failed, canceled or "
                    "timed-out job can be rerun"
                )
            job.update(state="waiting", ended_at=None, error=None, status_message=None)
            job["attempt"] += 1
            for t in job["tasks"]:
                if t["state"] != "success":
                    t.update(state="waiting", error=None, progress=None, ended_at=None)
            return _copy(job)

    def job_logs(
        self,
        job_id: str,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
        tail: int | None = None,
    ) -> JSON:
        with self._lock:
            job = self._job(job_id)
            entries = []
            for t in self._tasks(job, task, role, party_id):
                local = t["party_id"] == self._party_id
                text = (
                    self.logs.get((job_id, t["task"], t["role"], t["party_id"])) if local else None
                )
                if text is not None and tail is not None:
                    text = "\n".join(text.splitlines()[-tail:])
                entries.append(
                    {
                        "task": t["task"],
                        "role": t["role"],
                        "party_id": t["party_id"],
                        "state": t["state"],
                        "local": local,
                        "log": text,
                        "error": t["error"],
                    }
                )
            return {"job_id": job_id, "entries": entries}

    @staticmethod
    def _tasks(job: JSON, task: str | None, role: str | None, party_id: int | None) -> list[JSON]:
        return [
            t
            for t in job["tasks"]
            if (task is None or t["task"] == task)
            and (role is None or t["role"] == role)
            and (party_id is None or t["party_id"] == party_id)
        ]

    def job_dag(self, job_id: str) -> JSON:
        with self._lock:
            job = self._job(job_id)
            spec = self.specs[job_id]
            nodes, edges = [], []
            for name, task in spec["tasks"].items():
                runs = [t for t in job["tasks"] if t["task"] == name]
                nodes.append(
                    {
                        "task": name,
                        "component": task["component"],
                        "roles": sorted({t["role"] for t in runs}),
                        "states": {f"{t['role']}-{t['party_id']}": t["state"] for t in runs},
                    }
                )
                for inp, ref in task["inputs"].items():
                    src, _, out = ref.partition(".")
                    edges.append({"source": src, "output": out, "target": name, "input": inp})
            return {"nodes": nodes, "edges": edges}

    def job_metrics(
        self,
        job_id: str,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
    ) -> list[JSON]:
        with self._lock:
            self._job(job_id)
            return [
                _copy(m) for m in self._tasks({"tasks": self.metrics[job_id]}, task, role, party_id)
            ]

    # -- moving a job on (tests only) ------------------------------------------------------
    def start(self, job_id: str) -> None:
        with self._lock:
            job = self._job(job_id)
            job.update(state="running", started_at=_now())
            for t in job["tasks"]:
                if t["state"] == "waiting":
                    t.update(state="running", started_at=_now())

    def progress(self, job_id: str, step: int, total: int, **values: float) -> None:
        with self._lock:
            for t in self._job(job_id)["tasks"]:
                if t["state"] == "running":
                    t["progress"] = {"step": step, "total": total, "values": dict(values)}

    def finish(self, job_id: str, error: str | None = None) -> None:
        """End the job: success with metrics, logs and models, or failed with ``error``."""
        with self._lock:
            job = self._job(job_id)
            job.update(ended_at=_now(), seconds=1.5)
            if error is not None:
                job["state"] = "failed"
                job["error"] = {
                    "party": f"host {self.partners[0]}",
                    "kind": "ValueError",
                    "message": error,
                }
            else:
                job["state"] = "success"
            for t in job["tasks"]:
                if t["state"] in FINAL:
                    continue
                t.update(
                    state="success" if error is None else "failed", ended_at=_now(), seconds=0.75
                )
                if error is not None:
                    t["error"] = {"kind": "ValueError", "message": error}
                key = (job_id, t["task"], t["role"], t["party_id"])
                self.logs[key] = f"{t['task']} started\nstep 1\n{t['task']} done"
                self.metrics[job_id].append(
                    {**_who(t), "name": "loss", "kind": "series", "step": 1, "value": 0.5}
                )
                if error is None and t["party_id"] == self._party_id:
                    self.models.setdefault(job_id, []).append(self._model(job_id, t))

    def _model(self, job_id: str, task: JSON) -> JSON:
        payload = {"weights": [0.25, -1.0], "task": task["task"]}
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        return {
            **_who(task),
            "job_id": job_id,
            "component": task["component"],
            "version": 1,
            "created_at": _now(),
            "sha256": digest,
            "payload": payload,
        }

    # -- data ---------------------------------------------------------------------------
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
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{namespace}/{name}: not UTF-8 text (byte {exc.start})") from None
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or not rows[0]:
            raise BadRequest(f"{namespace}/{name}: line 1: the CSV has no header")
        header = rows[0]
        for column, what in ((id_column, "id column"), (label_column, "label column")):
            if column is not None and column not in header:
                raise BadRequest(
                    f"{namespace}/{name}: line 1: no {what} {column!r} "
                    f"(columns: {', '.join(header)})"
                )
        at = header.index(id_column)
        for line, row in enumerate(rows[1:], start=2):
            if len(row) != len(header):
                raise BadRequest(
                    f"{namespace}/{name}: line {line}: {len(row)} fields, "
                    f"the header has {len(header)}"
                )
            if not row[at]:
                raise BadRequest(f"{namespace}/{name}: line {line}, column {id_column!r}: empty id")
        with self._lock:
            if (namespace, name) in self.tables and not overwrite:
                raise Conflict(f"table {namespace}/{name} exists (upload with overwrite)")
            info = {
                "namespace": namespace,
                "name": name,
                "rows": len(rows) - 1,
                "columns": header,
                "id_column": id_column,
                "label_column": label_column,
                "bytes": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "created_at": _now(),
            }
            self.tables[(namespace, name)] = (info, rows[1:], header)
            return dict(info)

    def list_data(self) -> list[JSON]:
        with self._lock:
            return [dict(info) for info, _, _ in self.tables.values()]

    def preview_data(self, namespace: str, name: str, rows: int = 10) -> JSON:
        with self._lock:
            info, body, header = self._table(namespace, name)
            return {**info, "header": header, "rows_preview": body[:rows]}

    def _table(self, namespace: str, name: str) -> tuple[JSON, list[list[str]], list[str]]:
        try:
            return self.tables[(namespace, name)]
        except KeyError:
            raise NotFound(f"no table {namespace}/{name}") from None

    def delete_data(self, namespace: str, name: str) -> JSON:
        with self._lock:
            info, _, _ = self._table(namespace, name)
            del self.tables[(namespace, name)]
            return dict(info)

    # -- models -------------------------------------------------------------------------
    def list_models(self, job_id: str | None = None) -> list[JSON]:
        with self._lock:
            return [
                _info(m)
                for jid, ms in self.models.items()
                for m in ms
                if job_id is None or jid == job_id
            ]

    def export_models(self, job_id: str) -> bytes:
        with self._lock:
            models = self.models.get(job_id)
            if not models:
                self._job(job_id)
                raise NotFound(f"job {job_id} has no models at party {self._party_id}")
            body = json.dumps(models, sort_keys=True)
            digest = hashlib.sha256(body.encode()).hexdigest()
            return json.dumps({"format": EXPORT_FORMAT, "sha256": digest, "models": body}).encode()

    def import_models(self, content: bytes) -> list[JSON]:
        try:
            doc = json.loads(content)
            ok = doc["format"] == EXPORT_FORMAT and isinstance(doc["models"], str)
        except (ValueError, TypeError, KeyError):
            ok = False
        if not ok:
            raise BadRequest("not an Atoll model export")
        if hashlib.sha256(doc["models"].encode()).hexdigest() != doc["sha256"]:
            raise BadRequest("the model export is corrupted (sha256 mismatch)")
        models: list[JSON] = json.loads(doc["models"])
        with self._lock:
            for m in models:
                have = self.models.get(m["job_id"], [])
                if any(_key(h) == _key(m) for h in have):
                    raise Conflict(
                        f"model {m['job_id']}/{m['task']} ({m['role']} "
                        f"{m['party_id']}) version {m['version']} is already here"
                    )
            for m in models:
                self.models.setdefault(m["job_id"], []).append(m)
            return [_info(m) for m in models]


def _copy(value: Any) -> Any:
    result: Any = json.loads(json.dumps(value))
    return result


def _summary(job: JSON) -> JSON:
    return {k: _copy(v) for k, v in job.items() if k != "tasks"}


def _who(task: JSON) -> JSON:
    return {"task": task["task"], "role": task["role"], "party_id": task["party_id"]}


def _info(model: JSON) -> JSON:
    return {k: v for k, v in model.items() if k != "payload"}


def _key(model: JSON) -> tuple[Any, ...]:
    return (model["job_id"], model["task"], model["role"], model["party_id"], model["version"])
