"""Export a job's models to one file, and import such a file into another store.

The file is one :mod:`atoll.codec` message (never pickle)::

    {"manifest": {"format": "atoll.model-export/1", "atoll_version": ..., "job_id": ...,
                  "exported_at": ISO-8601 UTC,
                  "job": {"name", "initiator_role", "initiator_party_id", "spec_sha256"},
                  "entries": [{"task", "role", "party_id", "component", "version",
                               "sha256"}, ...]},
     "job_spec": the job spec's JSON text,
     "models": [the canonical JSON text of entry i, ...]}

:func:`import_models` checks everything before it writes anything: the format,
every sha256 against its text, that every text is a valid
:class:`~atoll.ml.component.Model` agreeing with its entry, and that no
(job, task, role, party, version) is in the file twice or in the store already.
It then inserts every model in one transaction, creating the job record (in
state ``success``, from the exported spec) if the store does not have it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import atoll
from atoll.codec import CodecError, decode, encode
from atoll.flow.store._errors import ConflictError, ExportError, NotFoundError
from atoll.flow.store._records import ModelRecord
from atoll.flow.store._schema import JobRow, ModelRow, utcnow
from atoll.flow.store._store import JobStore, _model_record, sha256_text, spec_json
from atoll.ml.component import Model
from atoll.ml.data import write_atomic

__all__ = ["EXPORT_FORMAT", "export_models", "import_models"]

EXPORT_FORMAT = "atoll.model-export/1"
_ENTRY_KEYS = {"task", "role", "party_id", "component", "version", "sha256"}


def export_models(
    store: JobStore,
    job_id: str,
    path: str | Path,
    *,
    role: str | None = None,
    party_id: int | None = None,
) -> Path:
    """Write every stored model of ``job_id`` (optionally of one role / party) to ``path``."""
    job = store.get_job(job_id)
    q = select(ModelRow).where(ModelRow.job_id == job_id)
    if role is not None:
        q = q.where(ModelRow.role == role)
    if party_id is not None:
        q = q.where(ModelRow.party_id == party_id)
    q = q.order_by(ModelRow.task, ModelRow.role, ModelRow.party_id, ModelRow.version)
    # One read, so the file is one consistent snapshot of the registry.
    rows = store._read(lambda s: [(_model_record(r), r.model_json) for r in s.scalars(q)])
    if not rows:
        which = "".join(
            f" {k} {v}" for k, v in (("role", role), ("party", party_id)) if v is not None
        )
        raise NotFoundError(f"job {job_id}: no models to export{which and ' for' + which}")
    entries: list[dict[str, Any]] = []
    texts: list[str] = []
    for rec, text in rows:
        digest = sha256_text(text)
        if digest != rec.sha256:
            raise ExportError(
                f"job {job_id}: stored model of task {rec.task!r} at {rec.role} {rec.party_id} "
                f"v{rec.version} does not match its sha256; not exporting an altered model"
            )
        entries.append(
            {
                "task": rec.task,
                "role": rec.role,
                "party_id": rec.party_id,
                "component": rec.component,
                "version": rec.version,
                "sha256": digest,
            }
        )
        texts.append(text)
    manifest = {
        "format": EXPORT_FORMAT,
        "atoll_version": atoll.__version__,
        "job_id": job_id,
        "exported_at": utcnow().isoformat(),
        "job": {
            "name": job.name,
            "initiator_role": job.initiator_role,
            "initiator_party_id": job.initiator_party_id,
            "spec_sha256": sha256_text(job.spec_json),
        },
        "entries": entries,
    }
    blob = encode({"manifest": manifest, "job_spec": job.spec_json, "models": texts})
    return write_atomic(Path(path), blob)


def import_models(store: JobStore, path: str | Path) -> list[ModelRecord]:
    """Insert the models of an export file into ``store``, all or nothing; returns their records."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ExportError(f"{p}: cannot read the model export: {exc.strerror}") from None
    try:
        doc = decode(raw)
    except CodecError as exc:
        raise ExportError(f"{p}: not an Atoll model export (codec: {exc})") from None
    manifest, spec_text, texts = _check_layout(doc, p)
    job_id: str = manifest["job_id"]
    job = manifest["job"]
    checked: list[tuple[dict[str, Any], str]] = []
    seen: set[tuple[str, str, int, int]] = set()
    for i, (entry, text) in enumerate(zip(manifest["entries"], texts, strict=True)):
        checked.append((_check_entry(entry, text, i, p, job_id), text))
        key = (entry["task"], entry["role"], entry["party_id"], entry["version"])
        if key in seen:
            raise ExportError(f"{p}: {_name(i, entry)} appears twice in the file")
        seen.add(key)
    if sha256_text(spec_text) != job["spec_sha256"]:
        raise ExportError(f"{p}: the job spec does not match its sha256 in the manifest")
    try:
        spec = json.loads(spec_text)
        spec_json(spec, f"{p}: job {job_id}")
    except (ValueError, TypeError) as exc:
        raise ExportError(f"{p}: the job spec is not valid: {exc}") from None

    def go(s: Session) -> list[ModelRecord]:
        if s.scalar(select(JobRow.id).where(JobRow.job_id == job_id)) is None:
            now = utcnow()
            s.add(
                JobRow(
                    job_id=job_id,
                    name=str(job["name"])[:255],
                    initiator_role=job["initiator_role"],
                    initiator_party_id=job["initiator_party_id"],
                    spec_json=spec_text,
                    state="success",
                    created_at=now,
                    started_at=None,
                    ended_at=now,
                )
            )
            s.flush()
        rows = []
        for i, (entry, text) in enumerate(checked):
            exists = s.scalar(
                select(ModelRow.id).where(
                    ModelRow.job_id == job_id,
                    ModelRow.task == entry["task"],
                    ModelRow.role == entry["role"],
                    ModelRow.party_id == entry["party_id"],
                    ModelRow.version == entry["version"],
                )
            )
            if exists is not None:
                raise ConflictError(
                    f"{p}: {_name(i, entry)} of job {job_id} is already in this store; "
                    "nothing was imported"
                )
            row = ModelRow(
                job_id=job_id,
                task=entry["task"],
                role=entry["role"],
                party_id=entry["party_id"],
                component=entry["component"],
                version=entry["version"],
                created_at=utcnow(),
                sha256=entry["sha256"],
                model_json=text,
            )
            s.add(row)
            rows.append(row)
        s.flush()
        return [_model_record(r) for r in rows]

    try:
        return store._write(go)
    except IntegrityError:
        raise ConflictError(
            f"{p}: a model of job {job_id} was stored concurrently with the same version; "
            "nothing was imported"
        ) from None


def _check_layout(doc: Any, p: Path) -> tuple[dict[str, Any], str, list[str]]:
    if not isinstance(doc, dict) or set(doc) != {"manifest", "job_spec", "models"}:
        raise ExportError(f"{p}: not an Atoll model export (expected manifest, job_spec, models)")
    manifest, spec_text, texts = doc["manifest"], doc["job_spec"], doc["models"]
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise ExportError(f"{p}: format is {got!r}, expected {EXPORT_FORMAT!r}")
    job_id = manifest.get("job_id")
    if not isinstance(job_id, str) or not job_id or len(job_id) > 128:
        raise ExportError(f"{p}: manifest job_id {job_id!r} is not a job id")
    job = manifest.get("job")
    if (
        not isinstance(job, dict)
        or not isinstance(job.get("spec_sha256"), str)
        or not isinstance(job.get("initiator_role"), str | None)
        or not isinstance(job.get("initiator_party_id"), int | None)
    ):
        raise ExportError(f"{p}: manifest 'job' is malformed")
    entries = manifest.get("entries")
    if not isinstance(entries, list) or not entries:
        raise ExportError(f"{p}: manifest has no entries")
    if not isinstance(texts, list) or len(texts) != len(entries):
        raise ExportError(f"{p}: {len(entries)} entries but not as many model texts")
    if not isinstance(spec_text, str):
        raise ExportError(f"{p}: the job spec is not text")
    return manifest, spec_text, texts


def _name(i: int, entry: Any) -> str:
    if isinstance(entry, dict):
        return (
            f"entry {i} (task {entry.get('task')!r} at {entry.get('role')} "
            f"{entry.get('party_id')} v{entry.get('version')})"
        )
    return f"entry {i}"


def _check_entry(entry: Any, text: Any, i: int, p: Path, job_id: str) -> dict[str, Any]:
    name = _name(i, entry)
    if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
        raise ExportError(f"{p}: {name} is malformed (fields: {sorted(_ENTRY_KEYS)})")
    types = {"task": str, "role": str, "component": str, "sha256": str}
    for k, t in types.items():
        if not isinstance(entry[k], t) or not entry[k]:
            raise ExportError(f"{p}: {name}: {k} is not a non-empty string")
    for k in ("party_id", "version"):
        v = entry[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ExportError(f"{p}: {name}: {k} {v!r} is not a positive int")
    if not isinstance(text, str):
        raise ExportError(f"{p}: {name}: the model is not text")
    if sha256_text(text) != entry["sha256"]:
        raise ExportError(
            f"{p}: {name}: the model does not match its sha256; the file is corrupted or was "
            "altered, nothing was imported"
        )
    try:
        model = Model.from_dict(json.loads(text), f"{p}: {name}")
    except (ValueError, TypeError) as exc:
        raise ExportError(f"{p}: {name}: not a valid model: {exc}") from None
    if (model.component, model.role, model.party_id) != (
        entry["component"],
        entry["role"],
        entry["party_id"],
    ):
        raise ExportError(
            f"{p}: {name}: the model is of {model.component!r} at {model.role} {model.party_id}, "
            "not what the manifest says"
        )
    return entry
