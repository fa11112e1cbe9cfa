"""The ``/v1`` routes: each translates one HTTP request to one :class:`SiteBackend` call.

Routes are plain ``def`` functions, so FastAPI runs the (blocking) backend calls in
its thread pool; only reading an upload's body is ``async``.
"""

from __future__ import annotations

from typing import Annotated, Any

import fastapi
from fastapi import Path, Query

from atoll.flow.api.schemas import (
    NAME_PATTERN,
    Dag,
    ErrorBody,
    Health,
    Job,
    JobState,
    JobSummary,
    Logs,
    Metric,
    ModelInfo,
    Preview,
    Role,
    SiteInfo,
    Submission,
    Table,
)
from atoll.flow.site.backend import SiteBackend

__all__ = ["DEFAULT_MAX_UPLOAD", "protected", "public"]

#: Largest request body (a CSV table, a model export, a job) a site accepts by default.
DEFAULT_MAX_UPLOAD = 512 * 1024 * 1024

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": what}
    for status, what in (
        (401, "no API token, or a wrong one"),
        (404, "no such job, table or model"),
        (409, "the request conflicts with the current state"),
        (422, "the request or the job is invalid"),
    )
}

public = fastapi.APIRouter()
protected = fastapi.APIRouter(responses=_ERRORS)

JobId = Annotated[str, Path(pattern=NAME_PATTERN, description="the job's id")]
Namespace = Annotated[str, Path(pattern=NAME_PATTERN)]
TableName = Annotated[str, Path(pattern=NAME_PATTERN)]
TaskFilter = Annotated[str | None, Query(pattern=NAME_PATTERN, description="only this task")]
RoleFilter = Annotated[Role | None, Query(description="only this role")]
PartyFilter = Annotated[
    int | None, Query(ge=0, le=2**63 - 1, description="only this party's tasks")
]


def _backend(request: fastapi.Request) -> SiteBackend:
    backend: SiteBackend = request.app.state.backend
    return backend


Backend = Annotated[SiteBackend, fastapi.Depends(_backend)]


async def _body(request: fastapi.Request) -> bytes:
    """The raw request body (the app's :class:`~atoll.flow.api.app.BodyLimit` bounds it)."""
    return await request.body()


Body = Annotated[bytes, fastapi.Depends(_body)]

_UPLOAD: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "the body is larger than the site accepts"}
}


def _raw_body(media_type: str, fmt: str) -> dict[str, Any]:
    schema = {"type": "string", "format": fmt}
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


# -- site ------------------------------------------------------------------------------
@public.get("/health", response_model=Health, tags=["site"])
def health(backend: Backend) -> Any:
    """Whether the site's API answers (no token needed)."""
    return {"status": "ok", "party_id": backend.party_id}


@protected.get("/site", response_model=SiteInfo, tags=["site"])
def site_info(backend: Backend) -> Any:
    """This site's party id, version, partners and components."""
    return backend.site_info()


# -- jobs ------------------------------------------------------------------------------
@protected.post("/jobs", response_model=Job, status_code=201, tags=["jobs"])
def submit_job(backend: Backend, submission: Submission) -> Any:
    """Submit a job this site initiates (Atoll job file as data or YAML, or a FATE job)."""
    return backend.submit(submission.to_backend())


@protected.get("/jobs", response_model=list[JobSummary], tags=["jobs"])
def list_jobs(
    backend: Backend,
    state: Annotated[JobState | None, Query(description="only jobs in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> Any:
    """Jobs, newest first."""
    return backend.list_jobs(state=state, limit=limit, offset=offset)


@protected.get("/jobs/{job_id}", response_model=Job, tags=["jobs"])
def get_job(backend: Backend, job_id: JobId) -> Any:
    """One job with its tasks (every party's at the initiator)."""
    return backend.get_job(job_id)


@protected.post("/jobs/{job_id}/stop", response_model=Job, tags=["jobs"])
def stop_job(backend: Backend, job_id: JobId) -> Any:
    """Cancel a waiting or running job at every site."""
    return backend.stop_job(job_id)


@protected.post("/jobs/{job_id}/rerun", response_model=Job, tags=["jobs"])
def rerun_job(backend: Backend, job_id: JobId) -> Any:
    """Rerun a failed, canceled or timed-out job from its first unfinished task."""
    return backend.rerun_job(job_id)


@protected.get("/jobs/{job_id}/logs", response_model=Logs, tags=["jobs"])
def job_logs(
    backend: Backend,
    job_id: JobId,
    task: TaskFilter = None,
    role: RoleFilter = None,
    party_id: PartyFilter = None,
    tail: Annotated[int | None, Query(ge=1, le=1_000_000, description="last lines only")] = None,
) -> Any:
    """Each party's task state and error; the log text of the tasks this site ran."""
    return backend.job_logs(job_id, task=task, role=role, party_id=party_id, tail=tail)


@protected.get("/jobs/{job_id}/dag", response_model=Dag, tags=["jobs"])
def job_dag(backend: Backend, job_id: JobId) -> Any:
    """The job's tasks and the edges between their outputs and inputs."""
    return backend.job_dag(job_id)


@protected.get(
    "/jobs/{job_id}/dag.svg",
    tags=["jobs"],
    response_class=fastapi.responses.Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "the DAG drawn"}},
)
def job_dag_svg(backend: Backend, job_id: JobId) -> fastapi.responses.Response:
    """The job's DAG drawn as SVG, each task coloured by its parties' states."""
    from atoll.flow.site.drawing import dag_svg

    svg = dag_svg(backend.job_dag(job_id), title=f"job {job_id}")
    return fastapi.responses.Response(svg, media_type="image/svg+xml")


@protected.get("/jobs/{job_id}/metrics", response_model=list[Metric], tags=["jobs"])
def job_metrics(
    backend: Backend,
    job_id: JobId,
    task: TaskFilter = None,
    role: RoleFilter = None,
    party_id: PartyFilter = None,
) -> Any:
    """The metrics the job's tasks recorded (series points and records)."""
    return backend.job_metrics(job_id, task=task, role=role, party_id=party_id)


# -- data ------------------------------------------------------------------------------
@protected.post(
    "/data/{namespace}/{name}",
    response_model=Table,
    status_code=201,
    tags=["data"],
    responses=_UPLOAD,
    openapi_extra=_raw_body("text/csv", "text"),
)
def upload_data(
    backend: Backend,
    namespace: Namespace,
    name: TableName,
    content: Body,
    id_column: Annotated[str, Query(min_length=1, max_length=256)],
    label_column: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    overwrite: bool = False,
) -> Any:
    """Keep the CSV in the body (``Content-Type: text/csv``) as table ``namespace/name``."""
    return backend.upload_data(
        namespace,
        name,
        content,
        id_column=id_column,
        label_column=label_column,
        overwrite=overwrite,
    )


@protected.get("/data", response_model=list[Table], tags=["data"])
def list_data(backend: Backend) -> Any:
    """Every table this site keeps."""
    return backend.list_data()


@protected.get("/data/{namespace}/{name}", response_model=Preview, tags=["data"])
def preview_data(
    backend: Backend,
    namespace: Namespace,
    name: TableName,
    rows: Annotated[int, Query(ge=0, le=1000)] = 10,
) -> Any:
    """A table's description and its first rows."""
    return backend.preview_data(namespace, name, rows=rows)


@protected.delete("/data/{namespace}/{name}", response_model=Table, tags=["data"])
def delete_data(backend: Backend, namespace: Namespace, name: TableName) -> Any:
    """Delete a table; returns what it was."""
    return backend.delete_data(namespace, name)


# -- models ----------------------------------------------------------------------------
@protected.get("/models", response_model=list[ModelInfo], tags=["models"])
def list_models(
    backend: Backend,
    job_id: Annotated[
        str | None, Query(pattern=NAME_PATTERN, description="only this job's")
    ] = None,
) -> Any:
    """The models this site keeps."""
    return backend.list_models(job_id=job_id)


@protected.get(
    "/models/{job_id}/export",
    response_class=fastapi.responses.Response,
    tags=["models"],
    responses={
        200: {
            "description": "the job's models as one file",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
def export_models(backend: Backend, job_id: JobId) -> fastapi.responses.Response:
    """The job's models at this site as one file, to import at another site."""
    content = backend.export_models(job_id)
    return fastapi.responses.Response(
        content=content,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{job_id}.models"'},
    )


@protected.post(
    "/models/import",
    response_model=list[ModelInfo],
    status_code=201,
    tags=["models"],
    responses=_UPLOAD,
    openapi_extra=_raw_body("application/octet-stream", "binary"),
)
def import_models(backend: Backend, content: Body) -> Any:
    """Import a file from ``GET /v1/models/{job_id}/export``; returns the models imported."""
    return backend.import_models(content)
