"""What the store hands back: frozen plain records, detached from any database session."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

__all__ = ["JobRecord", "ModelRecord", "TaskRecord"]


@dataclasses.dataclass(frozen=True)
class JobRecord:
    job_id: str
    name: str
    initiator_role: str | None
    initiator_party_id: int | None
    spec_json: str
    state: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    error: dict[str, str | None] | None
    attempt: int = 0
    note: str | None = None

    @property
    def spec(self) -> dict[str, Any]:
        """The job spec as it was given to :meth:`JobStore.create_job` (a fresh copy)."""
        out: dict[str, Any] = json.loads(self.spec_json)
        return out

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        del d["spec_json"]
        d["spec"] = self.spec
        for k in ("created_at", "started_at", "ended_at"):
            d[k] = None if d[k] is None else d[k].isoformat()
        return d


@dataclasses.dataclass(frozen=True)
class TaskRecord:
    job_id: str
    task: str
    component: str
    role: str
    party_id: int
    state: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    seconds: float | None
    error: dict[str, str | None] | None
    progress: dict[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    """A stored model's identity; :meth:`JobStore.get_model` gives the model itself."""

    job_id: str
    task: str
    role: str
    party_id: int
    component: str
    version: int
    created_at: dt.datetime
    sha256: str
