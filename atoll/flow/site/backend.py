"""What the REST API asks of a site: :class:`SiteBackend`, and the JSON shapes it returns.

The REST layer (:mod:`atoll.flow.api`) only translates HTTP to these calls and
:class:`~atoll.flow.errors.SiteError` (and store errors) to status codes;
the site (:class:`atoll.flow.site.Site`) implements them. Every value returned is
plain JSON data (dicts, lists, str, int, float, bool, None; times as ISO-8601 text).

Shapes::

    JobSummary = {
        "job_id": str, "name": str,
        "state": "waiting" | "running" | "success" | "failed" | "canceled" | "timeout",
        "initiator": {"role": str, "party_id": int} | None,
        "is_initiator": bool,            # this site initiated it (it then sees every party)
        "parties": {"guest": int | None, "host": [int], "arbiter": int | None},
        "created_at": str, "started_at": str | None, "ended_at": str | None,
        "seconds": float | None, "attempt": int,       # 0, then 1, 2, ... per rerun
        "error": {"party": str, "kind": str, "message": str} | None,
        "status_message": str | None,    # e.g. "waiting for party 10000: unreachable"
    }
    Job = JobSummary + {"tasks": [Task]}
    Task = {
        "task": str, "component": str, "role": str, "party_id": int,
        "state": "waiting" | "running" | "success" | "failed" | "canceled" | "interrupted",
        "started_at": str | None, "ended_at": str | None, "seconds": float | None,
        "error": {"kind": str, "message": str} | None,
        "progress": {"step": int, "total": int | None, "values": {str: float}} | None,
    }
    Logs = {"job_id": str, "entries": [{
        "task": str, "role": str, "party_id": int, "state": str,
        "local": bool,                   # this site ran it: "log" holds its log text
        "log": str | None,
        "error": {"kind": str, "message": str} | None,   # for every party's task
    }]}
    Dag = {"nodes": [{"task": str, "component": str, "roles": [str], "states": {"role-pid": str}}],
           "edges": [{"source": str, "output": str, "target": str, "input": str}]}
    Metric = {"task": str, "role": str, "party_id": int, "name": str,
              "kind": "series" | "record", ...}  # as JobStore.metrics returns
    Table = {"namespace": str, "name": str, "rows": int, "columns": [str],
             "id_column": str, "label_column": str | None, "bytes": int,
             "sha256": str, "created_at": str}
    Preview = Table + {"header": [str], "rows_preview": [[str]]}
    ModelInfo = {"job_id": str, "task": str, "role": str, "party_id": int,
                 "component": str, "version": int, "created_at": str, "sha256": str}

What a submission carries (``submit``), exactly one of::

    {"spec": {...}}                      # Atoll's job file as data
    {"yaml": "..."}                      # Atoll's job file as YAML text
    {"fate": {"dsl": {...}, "conf": {...} | None}}   # FATE DSL v1/v2 (+conf) or 2.x DAG
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["SiteBackend"]

JSON = dict[str, Any]


class SiteBackend(Protocol):
    @property
    def party_id(self) -> int: ...

    def site_info(self) -> JSON:
        """``{"party_id", "version", "partners": [int], "components": [str], "cores"}``."""
        ...

    # -- jobs ---------------------------------------------------------------------------
    def submit(self, submission: JSON) -> JSON:
        """Validate and accept a job this site initiates; returns its Job (state waiting).

        The partners are asked in the background; a refusal fails the job with the
        refusing site and its reason in ``error``. BadRequest (422) for an invalid job,
        Forbidden (403) when this site is not one of its parties."""
        ...

    def list_jobs(self, state: str | None = None, limit: int = 50, offset: int = 0) -> list[JSON]:
        """JobSummary list, newest first."""
        ...

    def get_job(self, job_id: str) -> JSON:
        """Job (with tasks: every party's at the initiator, this site's elsewhere)."""
        ...

    def stop_job(self, job_id: str) -> JSON:
        """Cancel a waiting or running job at every site; Conflict if already finished."""
        ...

    def rerun_job(self, job_id: str) -> JSON:
        """Rerun a failed, canceled or timed-out job from its first unfinished task, reusing
        finished outputs; only at the initiator (Conflict elsewhere or if not rerunnable)."""
        ...

    def job_logs(
        self,
        job_id: str,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
        tail: int | None = None,
    ) -> JSON:
        """Logs (``tail``: only the last lines of each log)."""
        ...

    def job_dag(self, job_id: str) -> JSON: ...

    def job_metrics(
        self,
        job_id: str,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
    ) -> list[JSON]: ...

    # -- data -----------------------------------------------------------------------------
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
        """Check the CSV (BadRequest names line and column) and keep it as a named table."""
        ...

    def list_data(self) -> list[JSON]: ...

    def preview_data(self, namespace: str, name: str, rows: int = 10) -> JSON: ...

    def delete_data(self, namespace: str, name: str) -> JSON: ...

    # -- models ---------------------------------------------------------------------------
    def list_models(self, job_id: str | None = None) -> list[JSON]: ...

    def export_models(self, job_id: str) -> bytes:
        """The job's models at this site as one file (codec, manifest, sha256)."""
        ...

    def import_models(self, content: bytes) -> list[JSON]:
        """Import an exported file; returns the ModelInfo of each model imported."""
        ...
