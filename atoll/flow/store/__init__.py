"""One site's job database and model registry (SQLAlchemy; SQLite or PostgreSQL).

:class:`JobStore` keeps jobs (spec, state, times, error), each party's tasks,
the metrics tasks recorded and the models they trained, behind the state
machines of :mod:`._states`. :func:`export_models` / :func:`import_models` move
a job's models between stores as one codec-encoded, sha256-checked file.

Tables (all JSON stored as ``Text``; times as UTC)::

    atoll_jobs     id, job_id (unique), name, initiator_role, initiator_party_id,
                   spec_json, state, created_at, started_at, ended_at,
                   error_party, error_kind, error_message
    atoll_tasks    id, job_id -> atoll_jobs, task, component, role, party_id, state,
                   started_at, ended_at, seconds, error_kind, error_message
                   unique (job_id, task, role, party_id)
    atoll_metrics  id, job_id -> atoll_jobs, task, role, party_id, name,
                   kind ('series' | 'record'), seq, step, value, data_json
    atoll_models   id, job_id -> atoll_jobs, task, role, party_id, component, version,
                   created_at, sha256, model_json
                   unique (job_id, task, role, party_id, version)
    atoll_data     id, namespace, name, path, id_column, label_column, rows,
                   columns_json, bytes, sha256, created_at   unique (namespace, name)
                   (the data catalog, :class:`DataCatalog`)
"""

from atoll.flow.store._catalog import DataCatalog
from atoll.flow.store._errors import (
    ConflictError,
    ExportError,
    InvalidTransition,
    NotFoundError,
    StoreError,
)
from atoll.flow.store._export import EXPORT_FORMAT, export_models, import_models
from atoll.flow.store._records import JobRecord, ModelRecord, TaskRecord
from atoll.flow.store._states import (
    JOB_STATES,
    JOB_TRANSITIONS,
    TASK_STATES,
    TASK_TRANSITIONS,
)
from atoll.flow.store._store import JobStore

__all__ = [
    "EXPORT_FORMAT",
    "JOB_STATES",
    "JOB_TRANSITIONS",
    "TASK_STATES",
    "TASK_TRANSITIONS",
    "ConflictError",
    "DataCatalog",
    "ExportError",
    "InvalidTransition",
    "JobRecord",
    "JobStore",
    "ModelRecord",
    "NotFoundError",
    "StoreError",
    "TaskRecord",
    "export_models",
    "import_models",
]
