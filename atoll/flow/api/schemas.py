"""The REST API's request and response bodies, as pydantic models (they make the OpenAPI schema).

They mirror the shapes documented in :mod:`atoll.flow.site.backend`. Response
models allow extra fields, so a site may add information without breaking the API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pydantic

__all__ = [
    "NAME_PATTERN",
    "Dag",
    "ErrorBody",
    "FateJob",
    "Health",
    "Job",
    "JobState",
    "JobSummary",
    "Logs",
    "Metric",
    "ModelInfo",
    "Preview",
    "Role",
    "SiteInfo",
    "Submission",
    "Table",
    "TaskInfo",
]

#: Namespaces, table names, job ids and task names: no path separators, no leading dot or dash.
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

JobState = Literal["waiting", "running", "success", "failed", "canceled", "timeout"]
TaskState = Literal["waiting", "running", "success", "failed", "canceled", "interrupted"]
Role = Literal["guest", "host", "arbiter"]
PartyId = Annotated[int, pydantic.Field(ge=0, le=2**63 - 1)]


class _Open(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")


class ErrorBody(pydantic.BaseModel):
    """Every error response: a stable machine code and a message for people."""

    code: str
    message: str


class Health(pydantic.BaseModel):
    status: Literal["ok"]
    party_id: int


class SiteInfo(_Open):
    party_id: int
    version: str
    partners: list[int]
    components: list[str]
    cores: int


# -- jobs ------------------------------------------------------------------------------
class FateJob(pydantic.BaseModel):
    """A FATE job: DSL v1/v2 with its runtime conf, or a FATE 2.x DAG (``dsl`` alone)."""

    model_config = pydantic.ConfigDict(extra="forbid")

    dsl: dict[str, Any]
    conf: dict[str, Any] | None = None


class Submission(pydantic.BaseModel):
    """Exactly one of ``spec`` (the job file as data), ``yaml`` (as text) or ``fate``."""

    model_config = pydantic.ConfigDict(
        extra="forbid", json_schema_extra={"minProperties": 1, "maxProperties": 1}
    )

    spec: dict[str, Any] | None = None
    yaml: str | None = None
    fate: FateJob | None = None

    @pydantic.model_validator(mode="after")
    def _exactly_one(self) -> Submission:
        given = [k for k in ("spec", "yaml", "fate") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'spec', 'yaml' or 'fate'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def to_backend(self) -> dict[str, Any]:
        if self.spec is not None:
            return {"spec": self.spec}
        if self.yaml is not None:
            return {"yaml": self.yaml}
        assert self.fate is not None  # _exactly_one
        return {"fate": {"dsl": self.fate.dsl, "conf": self.fate.conf}}


class Initiator(pydantic.BaseModel):
    role: str
    party_id: int


class Parties(pydantic.BaseModel):
    guest: int | None
    host: list[int]
    arbiter: int | None


class JobError(_Open):
    party: str
    kind: str
    message: str


class TaskError(_Open):
    kind: str
    message: str


class Progress(_Open):
    step: int
    total: int | None
    values: dict[str, float | None]


class TaskInfo(_Open):
    task: str
    component: str
    role: str
    party_id: int
    state: TaskState
    started_at: str | None
    ended_at: str | None
    seconds: float | None
    error: TaskError | None
    progress: Progress | None


class JobSummary(_Open):
    job_id: str
    name: str
    state: JobState
    initiator: Initiator | None
    is_initiator: bool
    parties: Parties
    created_at: str
    started_at: str | None
    ended_at: str | None
    seconds: float | None
    attempt: int
    error: JobError | None
    status_message: str | None


class Job(JobSummary):
    tasks: list[TaskInfo]


class LogEntry(_Open):
    task: str
    role: str
    party_id: int
    state: str
    local: bool
    log: str | None
    error: TaskError | None


class Logs(_Open):
    job_id: str
    entries: list[LogEntry]


class DagNode(_Open):
    task: str
    component: str
    roles: list[str]
    states: dict[str, str]


class DagEdge(_Open):
    source: str
    output: str
    target: str
    input: str


class Dag(_Open):
    nodes: list[DagNode]
    edges: list[DagEdge]


class Metric(_Open):
    """A series point (``step``, ``value``) or a record (``data``), as the job store keeps it."""

    task: str
    role: str
    party_id: int
    name: str
    kind: Literal["series", "record"]


# -- data and models -------------------------------------------------------------------
class Table(_Open):
    namespace: str
    name: str
    rows: int
    columns: list[str]
    id_column: str
    label_column: str | None
    bytes: int
    sha256: str
    created_at: str


class Preview(Table):
    header: list[str]
    rows_preview: list[list[str]]


class ModelInfo(_Open):
    job_id: str
    task: str
    role: str
    party_id: int
    component: str
    version: int
    created_at: str
    sha256: str
