"""The job store: one site's jobs, tasks, metrics and models in one SQL database.

One :class:`JobStore` holds one SQLAlchemy engine; every method opens its own
session and transaction, so a store is shared freely between threads, and every
write either happens whole or not at all. On SQLite the store turns on foreign
keys and WAL, and starts write transactions with ``BEGIN IMMEDIATE`` so that
concurrent writers queue (up to ``busy_timeout``) instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, delete, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from atoll.federation import Party
from atoll.flow.store._errors import ConflictError, InvalidTransition, NotFoundError, StoreError
from atoll.flow.store._records import JobRecord, ModelRecord, TaskRecord
from atoll.flow.store._schema import Base, JobRow, MetricRow, ModelRow, TaskRow, utcnow
from atoll.flow.store._states import (
    JOB_ERROR_STATES,
    JOB_FINAL,
    JOB_STATES,
    JOB_TRANSITIONS,
    TASK_ERROR_STATES,
    TASK_FINAL,
    TASK_STATES,
    TASK_TRANSITIONS,
)
from atoll.ml.component import Model

__all__ = ["JobStore", "model_json"]

T = TypeVar("T")
_RETRIES = 5
_ERROR_KEYS = frozenset({"party", "kind", "message"})


def model_json(model: Model) -> str:
    """The one canonical JSON text of ``model`` that the store keeps and hashes."""
    return json.dumps(model.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def spec_json(spec: Mapping[str, Any], where: str) -> str:
    """The spec as JSON text, refusing anything that would not read back equal."""
    if not isinstance(spec, Mapping):
        raise TypeError(f"{where}: a job spec is a mapping, got {type(spec).__name__}")
    try:
        text = json.dumps(dict(spec), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: the job spec is not plain JSON: {exc}") from None
    if json.loads(text) != dict(spec):
        raise ValueError(
            f"{where}: the job spec does not survive JSON unchanged "
            "(non-string keys or tuples?); give it as plain JSON data"
        )
    return text


class JobStore:
    """A site's job database and model registry.

    ``url`` is any SQLAlchemy URL: ``sqlite:///path/jobs.db`` or
    ``postgresql+psycopg://user@host/db``. The tables are created if missing.
    ``sqlite://`` (in memory) works from one thread only. Close with
    :meth:`close` or use the store as a context manager.
    """

    def __init__(self, url: str = "sqlite:///atoll-jobs.db", *, busy_timeout: float = 30.0) -> None:
        self.url = url
        self._sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self._sqlite:
            kwargs["connect_args"] = {"timeout": busy_timeout, "check_same_thread": False}
            if url in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
        self._engine: Engine = create_engine(url, **kwargs)
        if self._sqlite:
            _sqlite_setup(self._engine, busy_timeout)
        self._writer = self._engine.execution_options(atoll_write=True)
        Base.metadata.create_all(self._engine)

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JobStore({self._engine.url.render_as_string(hide_password=True)!r})"

    # -- sessions -----------------------------------------------------------------------------
    def _write(self, fn: Callable[[Session], T], *, retry_conflicts: bool = False) -> T:
        """Run ``fn`` in one write transaction; on a unique-key race, optionally run it again."""
        for attempt in range(_RETRIES):
            try:
                with Session(self._writer, expire_on_commit=False) as s, s.begin():
                    return fn(s)
            except IntegrityError:
                if not retry_conflicts or attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _read(self, fn: Callable[[Session], T]) -> T:
        with Session(self._engine) as s, s.begin():
            return fn(s)

    # -- jobs ---------------------------------------------------------------------------------
    def create_job(
        self,
        spec: Mapping[str, Any],
        job_id: str | None = None,
        *,
        initiator: Party | None = None,
        name: str | None = None,
    ) -> JobRecord:
        """Store a new job in state ``waiting``; ``job_id`` is made up when not given.

        ``spec`` is the job file as plain JSON data, kept verbatim; ``name``
        defaults to ``spec['name']`` (or ``'job'``).
        """
        if job_id is None:
            job_id = f"{utcnow():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:12]}"
        if not isinstance(job_id, str) or not job_id or len(job_id) > 128:
            raise ValueError(
                f"a job id is a non-empty string of at most 128 characters: {job_id!r}"
            )
        text = spec_json(spec, f"job {job_id}")
        if name is None:
            given = spec.get("name")
            name = given if isinstance(given, str) and given else "job"
        row = JobRow(
            job_id=job_id,
            name=name[:255],
            initiator_role=None if initiator is None else initiator.role,
            initiator_party_id=None if initiator is None else initiator.party_id,
            spec_json=text,
            state="waiting",
            created_at=utcnow(),
            attempt=0,
        )

        def go(s: Session) -> JobRecord:
            if s.scalar(select(JobRow.id).where(JobRow.job_id == job_id)) is not None:
                raise ConflictError(f"job {job_id} already exists")
            s.add(row)
            s.flush()
            return _job_record(row)

        try:
            return self._write(go)
        except IntegrityError:
            raise ConflictError(f"job {job_id} already exists") from None

    def set_job_state(
        self, job_id: str, state: str, error: Mapping[str, Any] | None = None
    ) -> JobRecord:
        """Move a job to ``state``; ``error`` (party, kind, message) only for failed/canceled/timeout."""
        if state not in JOB_STATES:
            raise ValueError(
                f"job {job_id}: unknown state {state!r} (states: {', '.join(JOB_STATES)})"
            )
        err = _error(error, f"job {job_id}", _ERROR_KEYS)
        if err is not None and state not in JOB_ERROR_STATES:
            raise ValueError(
                f"job {job_id}: an error goes with failed, canceled or timeout, not {state}"
            )

        def go(s: Session) -> JobRecord:
            row = s.scalar(select(JobRow).where(JobRow.job_id == job_id).with_for_update())
            if row is None:
                raise NotFoundError(f"no job {job_id}")
            if state not in JOB_TRANSITIONS[row.state]:
                raise InvalidTransition(
                    f"job {job_id}: cannot go from {row.state} to {state}"
                    + _allowed(JOB_TRANSITIONS[row.state])
                )
            now = utcnow()
            row.state = state
            if state == "running":
                row.started_at = now
            if state in JOB_FINAL:
                row.ended_at = now
            if err is not None:
                row.error_party, row.error_kind, row.error_message = (
                    err.get("party"),
                    err.get("kind"),
                    err.get("message"),
                )
            s.flush()
            return _job_record(row)

        return self._write(go)

    def set_job_note(self, job_id: str, note: str | None) -> JobRecord:
        """What the job waits for or is doing now, in words (None clears it)."""

        def go(s: Session) -> JobRecord:
            row = s.scalar(select(JobRow).where(JobRow.job_id == job_id).with_for_update())
            if row is None:
                raise NotFoundError(f"no job {job_id}")
            row.note = None if note is None else str(note)[:2000]
            s.flush()
            return _job_record(row)

        return self._write(go)

    def rerun_job(self, job_id: str, tasks: Iterable[str]) -> JobRecord:
        """Take a failed, canceled or timed-out job back to ``waiting`` for another attempt.

        The job's ``attempt`` goes up by one and its end, error and note are
        cleared; every party's row of each task in ``tasks`` goes back to
        ``waiting`` (the other tasks keep their state and outputs).
        """
        names = set(tasks)

        def go(s: Session) -> JobRecord:
            row = s.scalar(select(JobRow).where(JobRow.job_id == job_id).with_for_update())
            if row is None:
                raise NotFoundError(f"no job {job_id}")
            if row.state not in JOB_ERROR_STATES:
                raise InvalidTransition(
                    f"job {job_id} is {row.state}: only a failed, canceled or timed-out job reruns"
                )
            row.state, row.attempt = "waiting", (row.attempt or 0) + 1
            row.ended_at = row.note = None
            row.error_party = row.error_kind = row.error_message = None
            for t in s.scalars(select(TaskRow).where(TaskRow.job_id == job_id)):
                if t.task in names:
                    t.state, t.started_at, t.ended_at, t.seconds = "waiting", None, None, None
                    t.error_kind = t.error_message = t.progress_json = None
            s.flush()
            return _job_record(row)

        return self._write(go)

    def get_job(self, job_id: str) -> JobRecord:
        def go(s: Session) -> JobRecord:
            row = s.scalar(select(JobRow).where(JobRow.job_id == job_id))
            if row is None:
                raise NotFoundError(f"no job {job_id}")
            return _job_record(row)

        return self._read(go)

    def list_jobs(
        self, state: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[JobRecord]:
        """Jobs newest first (by creation time, then insertion order), optionally of one state."""
        if state is not None and state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r} (states: {', '.join(JOB_STATES)})")
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset are non-negative")
        q = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id.desc())
        if state is not None:
            q = q.where(JobRow.state == state)
        q = q.limit(limit).offset(offset)
        return self._read(lambda s: [_job_record(r) for r in s.scalars(q)])

    def count_jobs(self, state: str | None = None) -> int:
        q = select(func.count(JobRow.id))
        if state is not None:
            q = q.where(JobRow.state == state)
        return self._read(lambda s: int(s.scalar(q) or 0))

    # -- tasks --------------------------------------------------------------------------------
    def upsert_task(
        self, job_id: str, task: str, role: str, party_id: int, component: str
    ) -> TaskRecord:
        """The task row of one party, created in state ``waiting`` if missing.

        An existing row keeps its state; a different ``component`` is refused.
        """

        def go(s: Session) -> TaskRecord:
            _need_job(s, job_id)
            row = s.scalar(_task_q(job_id, task, role, party_id))
            if row is None:
                row = TaskRow(
                    job_id=job_id,
                    task=task,
                    component=component,
                    role=role,
                    party_id=party_id,
                    state="waiting",
                )
                s.add(row)
                s.flush()
            elif row.component != component:
                raise ConflictError(
                    f"job {job_id}: task {task!r} at {role} {party_id} runs {row.component!r}, "
                    f"not {component!r}"
                )
            return _task_record(row)

        return self._write(go, retry_conflicts=True)

    def set_task_state(
        self,
        job_id: str,
        task: str,
        role: str,
        party_id: int,
        state: str,
        *,
        error: Mapping[str, Any] | None = None,
        seconds: float | None = None,
    ) -> TaskRecord:
        """Move one party's task to ``state``; ``error`` (kind, message) with failed/canceled/interrupted.

        Entering ``running`` stamps ``started_at`` (and clears an earlier end and
        error); a final state stamps ``ended_at`` and ``seconds`` (given, or
        measured from ``started_at``).
        """
        where = f"job {job_id}: task {task!r} at {role} {party_id}"
        if state not in TASK_STATES:
            raise ValueError(f"{where}: unknown state {state!r} (states: {', '.join(TASK_STATES)})")
        err = _error(error, where, frozenset({"kind", "message"}))
        if err is not None and state not in TASK_ERROR_STATES:
            raise ValueError(
                f"{where}: an error goes with failed, canceled or interrupted, not {state}"
            )

        def go(s: Session) -> TaskRecord:
            row = s.scalar(_task_q(job_id, task, role, party_id).with_for_update())
            if row is None:
                _need_job(s, job_id)
                raise NotFoundError(f"{where}: no such task")
            if state not in TASK_TRANSITIONS[row.state]:
                raise InvalidTransition(
                    f"{where}: cannot go from {row.state} to {state}"
                    + _allowed(TASK_TRANSITIONS[row.state])
                )
            now = utcnow()
            row.state = state
            if state == "running":
                row.started_at, row.ended_at, row.seconds = now, None, None
                row.error_kind = row.error_message = None
            if state in TASK_FINAL or state == "interrupted":
                row.ended_at = now
                if seconds is not None:
                    row.seconds = float(seconds)
                elif row.started_at is not None:
                    row.seconds = (now - row.started_at).total_seconds()
            if err is not None:
                row.error_kind, row.error_message = err.get("kind"), err.get("message")
            s.flush()
            return _task_record(row)

        return self._write(go)

    def set_task_progress(
        self, job_id: str, task: str, role: str, party_id: int, progress: Mapping[str, Any] | None
    ) -> None:
        """Keep the last progress event of one party's task (step, total, values)."""
        text = None if progress is None else json.dumps(dict(progress), default=str)

        def go(s: Session) -> None:
            row = s.scalar(_task_q(job_id, task, role, party_id))
            if row is None:
                _need_job(s, job_id)
                raise NotFoundError(
                    f"job {job_id}: task {task!r} at {role} {party_id}: no such task"
                )
            row.progress_json = text

        self._write(go)

    def tasks_of(self, job_id: str) -> list[TaskRecord]:
        """The job's task rows in the order they were first stored."""

        def go(s: Session) -> list[TaskRecord]:
            _need_job(s, job_id)
            q = select(TaskRow).where(TaskRow.job_id == job_id).order_by(TaskRow.id)
            return [_task_record(r) for r in s.scalars(q)]

        return self._read(go)

    # -- metrics ------------------------------------------------------------------------------
    def record_metrics(
        self, job_id: str, task: str, role: str, party_id: int, metrics: Mapping[str, Any]
    ) -> int:
        """Store one task's metrics at one party: exactly ``Metrics.to_dict()``'s output.

        The dict is a snapshot: it replaces whatever was stored for that task at
        that party, so recording the same task twice leaves the later snapshot.
        Returns the number of rows stored.
        """
        where = f"job {job_id}: metrics of task {task!r} at {role} {party_id}"
        rows = list(_metric_rows(metrics, where))

        def go(s: Session) -> int:
            _need_job(s, job_id, lock=True)  # one snapshot writer per job at a time
            s.execute(
                delete(MetricRow).where(
                    MetricRow.job_id == job_id,
                    MetricRow.task == task,
                    MetricRow.role == role,
                    MetricRow.party_id == party_id,
                )
            )
            s.add_all(
                MetricRow(job_id=job_id, task=task, role=role, party_id=party_id, **r) for r in rows
            )
            s.flush()
            return len(rows)

        return self._write(go)

    def metrics(
        self,
        job_id: str,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
        name: str | None = None,
    ) -> list[dict[str, Any]]:
        """Stored metrics as plain dicts, one per series point or record.

        Each has ``task, role, party_id, name, kind`` and, for ``kind == 'series'``,
        ``step`` and ``value`` (None for a non-finite value); for ``'record'``, ``data``.
        Series points come in the order they were logged.
        """
        q = select(MetricRow).where(MetricRow.job_id == job_id)
        if task is not None:
            q = q.where(MetricRow.task == task)
        if role is not None:
            q = q.where(MetricRow.role == role)
        if party_id is not None:
            q = q.where(MetricRow.party_id == party_id)
        if name is not None:
            q = q.where(MetricRow.name == name)
        q = q.order_by(
            MetricRow.task,
            MetricRow.role,
            MetricRow.party_id,
            MetricRow.kind,
            MetricRow.name,
            MetricRow.seq,
        )

        def go(s: Session) -> list[dict[str, Any]]:
            _need_job(s, job_id)
            out = []
            for r in s.scalars(q):
                d: dict[str, Any] = {
                    "task": r.task,
                    "role": r.role,
                    "party_id": r.party_id,
                    "name": r.name,
                    "kind": r.kind,
                }
                if r.kind == "series":
                    d.update(step=r.step, value=r.value)
                else:
                    d["data"] = json.loads(r.data_json or "null")
                out.append(d)
            return out

        return self._read(go)

    def task_metrics(self, job_id: str, task: str, role: str, party_id: int) -> dict[str, Any]:
        """One task's metrics at one party in ``Metrics.to_dict()``'s shape."""
        out: dict[str, Any] = {"series": {}, "records": {}}
        for m in self.metrics(job_id, task, role, party_id):
            if m["kind"] == "series":
                out["series"].setdefault(m["name"], []).append(
                    {"step": m["step"], "value": m["value"]}
                )
            else:
                out["records"][m["name"]] = m["data"]
        return out

    # -- models -------------------------------------------------------------------------------
    def save_model(self, job_id: str, task: str, role: str, party_id: int, model: Model) -> int:
        """Store a model; returns its version.

        Versions count per (job, task, role, party): the first model saved there
        is 1, the next 2, ... (1 + the highest version stored there). They do
        not carry across jobs: a model is identified by job, task, role, party
        and version.
        """
        if not isinstance(model, Model):
            raise TypeError(f"save_model takes an atoll Model, got {type(model).__name__}")
        text = model_json(model)
        digest = sha256_text(text)

        def go(s: Session) -> int:
            _need_job(s, job_id, lock=True)  # versions are handed out one at a time
            top = s.scalar(
                select(func.max(ModelRow.version)).where(
                    ModelRow.job_id == job_id,
                    ModelRow.task == task,
                    ModelRow.role == role,
                    ModelRow.party_id == party_id,
                )
            )
            version = int(top or 0) + 1
            s.add(
                ModelRow(
                    job_id=job_id,
                    task=task,
                    role=role,
                    party_id=party_id,
                    component=model.component,
                    version=version,
                    created_at=utcnow(),
                    sha256=digest,
                    model_json=text,
                )
            )
            s.flush()
            return version

        return self._write(go, retry_conflicts=True)

    def get_model(
        self, job_id: str, task: str, role: str, party_id: int, version: int | None = None
    ) -> Model:
        """A stored model: ``version``, or the latest when None."""
        row = self._model_row(job_id, task, role, party_id, version)
        where = f"job {job_id}: model of task {task!r} at {role} {party_id} v{row[1]}"
        if sha256_text(row[0]) != row[2]:
            raise StoreError(
                f"{where}: stored text does not match its sha256; the database was altered"
            )
        return Model.from_dict(json.loads(row[0]), where)

    def model_text(
        self, job_id: str, task: str, role: str, party_id: int, version: int | None = None
    ) -> tuple[str, ModelRecord]:
        """A stored model's canonical JSON text and its record."""
        q = _model_q(job_id, task, role, party_id, version)

        def go(s: Session) -> tuple[str, ModelRecord]:
            r = s.scalar(q)
            if r is None:
                raise NotFoundError(_no_model(job_id, task, role, party_id, version))
            return r.model_json, _model_record(r)

        return self._read(go)

    def _model_row(
        self, job_id: str, task: str, role: str, party_id: int, version: int | None
    ) -> tuple[str, int, str]:
        q = _model_q(job_id, task, role, party_id, version)

        def go(s: Session) -> tuple[str, int, str]:
            r = s.scalar(q)
            if r is None:
                raise NotFoundError(_no_model(job_id, task, role, party_id, version))
            return r.model_json, r.version, r.sha256

        return self._read(go)

    def list_models(
        self,
        job_id: str | None = None,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
        component: str | None = None,
    ) -> list[ModelRecord]:
        """Stored models' records, by job, task, role, party and version."""
        q = select(ModelRow)
        for col, val in (
            (ModelRow.job_id, job_id),
            (ModelRow.task, task),
            (ModelRow.role, role),
            (ModelRow.party_id, party_id),
            (ModelRow.component, component),
        ):
            if val is not None:
                q = q.where(col == val)
        q = q.order_by(
            ModelRow.job_id, ModelRow.task, ModelRow.role, ModelRow.party_id, ModelRow.version
        )
        return self._read(lambda s: [_model_record(r) for r in s.scalars(q)])


# ------------------------------------------------------------------------------ helpers


def _sqlite_setup(engine: Engine, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's begin event emits BEGIN itself
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("atoll_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _allowed(nxt: Iterable[str]) -> str:
    options = sorted(nxt)
    return f" (from there: {', '.join(options)})" if options else " (it is final)"


def _error(
    error: Mapping[str, Any] | None, where: str, keys: frozenset[str]
) -> dict[str, str | None] | None:
    if error is None:
        return None
    if not isinstance(error, Mapping):
        raise TypeError(f"{where}: an error is a mapping with {', '.join(sorted(keys))}")
    extra = set(error) - keys
    if extra:
        raise ValueError(
            f"{where}: unknown error field(s) {sorted(extra)} (fields: {sorted(keys)})"
        )
    return {k: None if error.get(k) is None else str(error[k]) for k in keys}


def _need_job(s: Session, job_id: str, *, lock: bool = False) -> None:
    """Refuse a missing job; with ``lock``, hold its row until commit (serializing writers)."""
    q = select(JobRow.id).where(JobRow.job_id == job_id)
    if s.scalar(q.with_for_update() if lock else q) is None:
        raise NotFoundError(f"no job {job_id}")


def _task_q(job_id: str, task: str, role: str, party_id: int) -> Any:
    return select(TaskRow).where(
        TaskRow.job_id == job_id,
        TaskRow.task == task,
        TaskRow.role == role,
        TaskRow.party_id == party_id,
    )


def _model_q(job_id: str, task: str, role: str, party_id: int, version: int | None) -> Any:
    q = select(ModelRow).where(
        ModelRow.job_id == job_id,
        ModelRow.task == task,
        ModelRow.role == role,
        ModelRow.party_id == party_id,
    )
    if version is not None:
        return q.where(ModelRow.version == version)
    return q.order_by(ModelRow.version.desc()).limit(1)


def _no_model(job_id: str, task: str, role: str, party_id: int, version: int | None) -> str:
    which = "no model" if version is None else f"no model version {version}"
    return f"job {job_id}: {which} of task {task!r} at {role} {party_id}"


def _metric_rows(metrics: Mapping[str, Any], where: str) -> Iterable[dict[str, Any]]:
    if not isinstance(metrics, Mapping) or set(metrics) != {"series", "records"}:
        raise ValueError(
            f"{where}: expected Metrics.to_dict() output, a dict of 'series' and 'records'"
        )
    series, records = metrics["series"], metrics["records"]
    if not isinstance(series, Mapping) or not isinstance(records, Mapping):
        raise ValueError(f"{where}: 'series' and 'records' are dicts keyed by metric name")
    for name, points in series.items():
        if not isinstance(name, str) or not isinstance(points, list):
            raise ValueError(f"{where}: series {name!r} is not a list of points")
        for seq, p in enumerate(points):
            if not isinstance(p, Mapping) or set(p) != {"step", "value"}:
                raise ValueError(f"{where}: series {name!r} point {seq} is not {{step, value}}")
            step, value = p["step"], p["value"]
            if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
                raise ValueError(
                    f"{where}: series {name!r} point {seq}: step {step!r} is not an int"
                )
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise ValueError(
                    f"{where}: series {name!r} point {seq}: value {value!r} is not a finite number"
                )
            yield {
                "name": name,
                "kind": "series",
                "seq": seq,
                "step": step,
                "value": None if value is None else float(value),
                "data_json": None,
            }
    for name, data in records.items():
        if not isinstance(name, str):
            raise ValueError(f"{where}: record name {name!r} is not a string")
        try:
            text = json.dumps(data, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: record {name!r} is not plain JSON: {exc}") from None
        yield {
            "name": name,
            "kind": "record",
            "seq": 0,
            "step": None,
            "value": None,
            "data_json": text,
        }


def _job_record(r: JobRow) -> JobRecord:
    error = None
    if r.error_kind is not None or r.error_message is not None or r.error_party is not None:
        error = {"party": r.error_party, "kind": r.error_kind, "message": r.error_message}
    return JobRecord(
        job_id=r.job_id,
        name=r.name,
        initiator_role=r.initiator_role,
        initiator_party_id=r.initiator_party_id,
        spec_json=r.spec_json,
        state=r.state,
        created_at=r.created_at,
        started_at=r.started_at,
        ended_at=r.ended_at,
        error=error,
        attempt=r.attempt or 0,
        note=r.note,
    )


def _task_record(r: TaskRow) -> TaskRecord:
    error = None
    if r.error_kind is not None or r.error_message is not None:
        error = {"kind": r.error_kind, "message": r.error_message}
    return TaskRecord(
        job_id=r.job_id,
        task=r.task,
        component=r.component,
        role=r.role,
        party_id=r.party_id,
        state=r.state,
        started_at=r.started_at,
        ended_at=r.ended_at,
        seconds=r.seconds,
        error=error,
        progress=None if r.progress_json is None else json.loads(r.progress_json),
    )


def _model_record(r: ModelRow) -> ModelRecord:
    return ModelRecord(
        job_id=r.job_id,
        task=r.task,
        role=r.role,
        party_id=r.party_id,
        component=r.component,
        version=r.version,
        created_at=r.created_at,
        sha256=r.sha256,
    )
