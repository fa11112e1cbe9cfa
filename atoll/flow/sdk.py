"""Build, check and submit jobs from Python; follow them to the end.

::

    pipe = Pipeline("breast-lr", guest=9999, hosts=[10000], arbiter=10001)
    read = pipe.add("read", "reader", role_parameters={"guest": {...}, "host": {...}})
    psi = pipe.add("psi", "psi", inputs={"data": read.output("data")})
    lr = pipe.add("lr", "coordinated_lr", inputs={"train_data": psi.output("data")})
    job = pipe.submit(SiteClient(url, token))
    job.wait(progress=True)          # raises JobFailed unless the job succeeds

A :class:`Pipeline` is a job file (:mod:`atoll.flow.spec`) built in code:
``to_dict`` / ``to_yaml`` give the file, ``from_dict`` reads one back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from atoll.flow.client import SiteClient
from atoll.flow.spec import JobSpec, parse_job
from atoll.ml.component import ComponentSpec, get_component

__all__ = ["JobFailed", "JobHandle", "Pipeline", "Task", "job_table"]

JSON = dict[str, Any]


class Task:
    """One task of a :class:`Pipeline`: a component with its inputs and parameters."""

    def __init__(
        self,
        name: str,
        component: str,
        *,
        inputs: Mapping[str, str] | None = None,
        parameters: Mapping[str, Any] | None = None,
        role_parameters: Mapping[str, Mapping[str, Any]] | None = None,
        party_parameters: Mapping[int, Mapping[str, Any]] | None = None,
        run_on: Iterable[str] | None = None,
    ) -> None:
        self.spec: ComponentSpec = get_component(component)  # ComponentError lists the known ones
        self.name = name
        self.component = component
        self.inputs = dict(inputs or {})
        self.parameters = dict(parameters or {})
        self.role_parameters = {r: dict(v) for r, v in (role_parameters or {}).items()}
        self.party_parameters = {int(p): dict(v) for p, v in (party_parameters or {}).items()}
        self.run_on = None if run_on is None else list(run_on)

    def output(self, name: str) -> str:
        """The reference (``task.output``) another task's input gives to this output."""
        if name not in self.spec.outputs:
            outputs = ", ".join(self.spec.outputs) or "none"
            raise ValueError(
                f"task {self.name!r}: component {self.spec.name!r} has no output {name!r} "
                f"(outputs: {outputs})"
            )
        return f"{self.name}.{name}"

    def to_dict(self) -> JSON:
        out: JSON = {"component": self.component}
        for key in ("inputs", "parameters", "role_parameters", "party_parameters"):
            value = getattr(self, key)
            if value:
                out[key] = {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}
        if self.run_on is not None:
            out["run_on"] = list(self.run_on)
        return out

    def __repr__(self) -> str:
        return f"Task({self.name!r}, {self.component!r})"


class Pipeline:
    """A job built in code: parties, then tasks in order (:meth:`add`)."""

    def __init__(
        self,
        name: str = "job",
        *,
        guest: int | None = None,
        hosts: Iterable[int] = (),
        arbiter: int | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.guest = guest
        self.hosts = list(hosts)
        self.arbiter = arbiter
        self.options = dict(options or {})
        self._tasks: dict[str, Task] = {}

    def add(
        self,
        name: str,
        component: str,
        *,
        inputs: Mapping[str, str] | None = None,
        parameters: Mapping[str, Any] | None = None,
        role_parameters: Mapping[str, Mapping[str, Any]] | None = None,
        party_parameters: Mapping[int, Mapping[str, Any]] | None = None,
        run_on: Iterable[str] | None = None,
    ) -> Task:
        """Add a task; ``inputs`` map the component's inputs to earlier tasks' outputs."""
        if not name or "." in name:
            raise ValueError(f"task name {name!r}: give a non-empty name without '.'")
        if name in self._tasks:
            raise ValueError(f"pipeline {self.name!r} already has a task {name!r}")
        for inp, ref in (inputs or {}).items():
            src = ref.partition(".")[0]
            if src not in self._tasks:
                raise ValueError(
                    f"task {name!r}: input {inp!r} refers to {ref!r}, but the pipeline has no "
                    f"task {src!r} yet (tasks: {', '.join(self._tasks) or 'none'})"
                )
        task = Task(
            name,
            component,
            inputs=inputs,
            parameters=parameters,
            role_parameters=role_parameters,
            party_parameters=party_parameters,
            run_on=run_on,
        )
        self._tasks[name] = task
        return task

    @property
    def tasks(self) -> dict[str, Task]:
        return dict(self._tasks)

    def __getitem__(self, name: str) -> Task:
        return self._tasks[name]

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks.values())

    def __len__(self) -> int:
        return len(self._tasks)

    def to_dict(self) -> JSON:
        """The job file as data (what ``parse_job`` and ``POST /v1/jobs`` take)."""
        parties: JSON = {}
        if self.guest is not None:
            parties["guest"] = self.guest
        if self.hosts:
            parties["host"] = list(self.hosts)
        if self.arbiter is not None:
            parties["arbiter"] = self.arbiter
        out: JSON = {
            "name": self.name,
            "parties": parties,
            "tasks": {name: t.to_dict() for name, t in self._tasks.items()},
        }
        if self.options:
            out["options"] = dict(self.options)
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: str | Path) -> Path:
        """Write the job file (YAML) to ``path``."""
        p = Path(path)
        p.write_text(self.to_yaml(), encoding="utf-8")
        return p

    def validate(self) -> JobSpec:
        """Check the whole job as a site would; raises JobSpecError naming the problem."""
        return parse_job(self.to_dict(), f"pipeline {self.name!r}")

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Pipeline:
        """A pipeline from a job file's data (the inverse of :meth:`to_dict`)."""
        parties = spec.get("parties") or {}
        hosts = parties.get("host") or []
        pipe = cls(
            str(spec.get("name", "job")),
            guest=parties.get("guest"),
            hosts=[hosts] if isinstance(hosts, int) else hosts,
            arbiter=parties.get("arbiter"),
            options=spec.get("options"),
        )
        for name, task in (spec.get("tasks") or {}).items():
            pipe._tasks[name] = Task(
                name,
                task["component"],
                inputs=task.get("inputs"),
                parameters=task.get("parameters"),
                role_parameters=task.get("role_parameters"),
                party_parameters=task.get("party_parameters"),
                run_on=task.get("run_on"),
            )
        return pipe

    @classmethod
    def from_yaml(cls, text: str) -> Pipeline:
        raw = yaml.safe_load(text)
        if not isinstance(raw, Mapping):
            raise ValueError("a job file is a mapping with 'parties' and 'tasks'")
        return cls.from_dict(raw)

    def submit(self, client: SiteClient, *, validate: bool = True) -> JobHandle:
        """Submit to ``client``'s site (after :meth:`validate` here, unless told not to)."""
        if validate:
            self.validate()
        return JobHandle(client, client.submit(self.to_dict()))

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, tasks={list(self._tasks)})"


class JobFailed(Exception):
    """A job that ended without success; ``job`` is its last state, ``error`` its error."""

    def __init__(self, job: JSON) -> None:
        self.job = job
        self.error: JSON | None = job.get("error")
        where = f"job {job.get('job_id')} ({job.get('name')}) {job.get('state')}"
        if self.error:
            e = self.error
            text = f"{where} at {e.get('party')}: {e.get('kind')}: {e.get('message')}"
        else:
            text = where + (f": {job['status_message']}" if job.get("status_message") else "")
        super().__init__(text)


class JobHandle:
    """A submitted job at one site: its state, and what it produced."""

    def __init__(self, client: SiteClient, job: JSON) -> None:
        self.client = client
        self.job = job
        self.job_id: str = job["job_id"]

    @property
    def state(self) -> str:
        state: str = self.job["state"]
        return state

    def refresh(self) -> JSON:
        self.job = self.client.job(self.job_id)
        return self.job

    def wait(
        self,
        timeout: float | None = None,
        *,
        progress: bool = False,
        interval: float = 1.0,
        console: Console | None = None,
    ) -> JSON:
        """Wait for the job to end; returns it, or raises :class:`JobFailed`.

        ``progress`` shows a live table of the tasks' states and latest progress values.
        """
        if progress:
            from rich.live import Live

            with Live(job_table(self.job), console=console, refresh_per_second=4) as live:

                def show(job: JSON) -> None:
                    live.update(job_table(job))

                self.job = self.client.wait(self.job_id, timeout, show, interval)
        else:
            self.job = self.client.wait(self.job_id, timeout, None, interval)
        if self.state != "success":
            raise JobFailed(self.job)
        return self.job

    def stop(self) -> JSON:
        self.job = self.client.stop(self.job_id)
        return self.job

    def rerun(self) -> JSON:
        self.job = self.client.rerun(self.job_id)
        return self.job

    def metrics(
        self, task: str | None = None, role: str | None = None, party_id: int | None = None
    ) -> list[JSON]:
        return self.client.metrics(self.job_id, task=task, role=role, party_id=party_id)

    def logs(
        self,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
        tail: int | None = None,
    ) -> JSON:
        return self.client.logs(self.job_id, task=task, role=role, party_id=party_id, tail=tail)

    def dag(self) -> JSON:
        return self.client.dag(self.job_id)

    def models(self) -> list[JSON]:
        return self.client.models(self.job_id)

    def export_models(self, path: str | Path) -> Path:
        return self.client.export_models(self.job_id, path)

    def __repr__(self) -> str:
        return f"JobHandle({self.job_id!r}, state={self.state!r})"


def job_table(job: JSON) -> Table:
    """A table of the job's tasks per party: state, seconds, latest progress, error."""
    title = f"{job.get('name')} ({job.get('job_id')}): {job.get('state')}"
    if job.get("status_message"):
        title += f" - {job['status_message']}"
    table = Table(title=title, title_justify="left")
    for column in ("task", "component", "party", "state", "seconds", "progress"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for t in job.get("tasks", []):
        seconds = "" if t.get("seconds") is None else f"{t['seconds']:.1f}"
        state = t["state"] + (f": {t['error']['message']}" if t.get("error") else "")
        table.add_row(
            t["task"],
            t["component"],
            f"{t['role']} {t['party_id']}",
            _styled(t["state"], state),
            seconds,
            _progress(t.get("progress")),
        )
    error = job.get("error")
    if error:
        table.caption = f"failed at {error['party']}: {error['kind']}: {error['message']}"
    return table


def _styled(state: str, text: str) -> str:
    style = {"success": "green", "failed": "red", "running": "cyan", "canceled": "yellow"}
    s = style.get(state)
    escaped = escape(text)
    return f"[{s}]{escaped}[/{s}]" if s else escaped


def _progress(progress: JSON | None) -> str:
    if not progress:
        return ""
    total = progress.get("total")
    text = f"{progress['step']}" + (f"/{total}" if total else "")
    values = progress.get("values") or {}
    shown = [f"{k} {v:.4g}" for k, v in values.items() if v is not None]
    return "  ".join([text, *shown])
