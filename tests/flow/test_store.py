"""The job store and model registry: SQLite always, PostgreSQL when ATOLL_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import json
import os
import threading
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoll.codec import decode, encode
from atoll.federation import Party
from atoll.flow.store import (
    EXPORT_FORMAT,
    JOB_TRANSITIONS,
    TASK_TRANSITIONS,
    ConflictError,
    ExportError,
    InvalidTransition,
    JobStore,
    NotFoundError,
    export_models,
    import_models,
)
from atoll.ml.component import Metrics, Model

PG_URL = os.environ.get("ATOLL_TEST_POSTGRES_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(
            not PG_URL, reason="set ATOLL_TEST_POSTGRES_URL to run the store tests on PostgreSQL"
        ),
    ),
]

SPEC = {"name": "breast-lr", "parties": {"guest": 9999, "host": [10000]}, "tasks": {}}


def _pg_store() -> JobStore:
    """A fresh PostgreSQL schema per test, dropped afterwards by the fixture."""
    from sqlalchemy import create_engine, text

    schema = f"atoll_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in PG_URL else "?"
    store = JobStore(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
    store._pg_schema = schema  # type: ignore[attr-defined]
    return store


def _drop_pg(schema: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def make_store(request, tmp_path):
    """A factory of fresh stores (several per test when needed), closed at the end."""
    made: list[JobStore] = []

    def make() -> JobStore:
        if request.param == "sqlite":
            store = JobStore(f"sqlite:///{tmp_path / f'jobs{len(made)}.db'}")
        else:
            store = _pg_store()
        made.append(store)
        return store

    yield make
    for s in made:
        s.close()
        if hasattr(s, "_pg_schema"):
            _drop_pg(s._pg_schema)


@pytest.fixture
def store(make_store):
    return make_store()


def _model(i: float = 0.0, role: str = "guest", party_id: int = 9999) -> Model:
    return Model(
        "coordinated_lr",
        role,
        party_id,
        {"w": np.array([1.5, -2.0 + i]), "b": i, "nested": {"k": [1, 2, None]}},
        {"epochs": 3},
    )


# ------------------------------------------------------------------------------------ jobs


def test_create_and_get_job(store):
    job = store.create_job(SPEC, initiator=Party("guest", 9999))
    got = store.get_job(job.job_id)
    assert got == job
    assert got.spec == SPEC and got.name == "breast-lr" and got.state == "waiting"
    assert (got.initiator_role, got.initiator_party_id) == ("guest", 9999)
    assert got.created_at.tzinfo is not None and got.started_at is None
    assert got.to_dict()["spec"] == SPEC


def test_duplicate_job_id_and_missing_job(store):
    store.create_job(SPEC, "j1")
    with pytest.raises(ConflictError, match="j1 already exists"):
        store.create_job(SPEC, "j1")
    with pytest.raises(NotFoundError, match="no job nope"):
        store.get_job("nope")
    with pytest.raises(NotFoundError, match="no job nope"):
        store.set_job_state("nope", "running")


def test_spec_that_is_not_plain_json_is_refused(store):
    with pytest.raises(ValueError, match="not plain JSON"):
        store.create_job({"x": float("nan")}, "j")
    with pytest.raises(ValueError, match="survive JSON"):
        store.create_job({"x": {1: 2}}, "j")
    assert store.list_jobs() == []


JOB_PATHS = [(a, b) for a, nxt in JOB_TRANSITIONS.items() for b in sorted(nxt)]


def _reach_job(store, job_id, state):
    store.create_job(SPEC, job_id)
    if state == "waiting":
        return
    if state != "running" and state not in JOB_TRANSITIONS["waiting"] - {"running"}:
        store.set_job_state(job_id, "running")
    elif state == "running":
        store.set_job_state(job_id, "running")
        return
    store.set_job_state(job_id, state)


@pytest.mark.parametrize(("src", "dst"), JOB_PATHS)
def test_every_allowed_job_transition(store, src, dst):
    _reach_job(store, "j", src)
    assert store.get_job("j").state == src
    job = store.set_job_state("j", dst)
    assert job.state == dst
    if dst == "running":
        assert job.started_at is not None and job.ended_at is None
    else:
        assert job.ended_at is not None


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        ("success", "running"),
        ("waiting", "success"),
        ("failed", "success"),
        ("running", "running"),
        ("timeout", "waiting"),
        ("canceled", "running"),
    ],
)
def test_refused_job_transitions(store, src, dst):
    _reach_job(store, "job-7", src)
    before = store.get_job("job-7")
    with pytest.raises(InvalidTransition, match=f"job job-7: cannot go from {src} to {dst}"):
        store.set_job_state("job-7", dst)
    assert store.get_job("job-7") == before


def test_job_error_summary(store):
    store.create_job(SPEC, "j")
    store.set_job_state("j", "running")
    err = {"party": "host 10000", "kind": "ValueError", "message": "bad column"}
    with pytest.raises(ValueError, match="goes with failed"):
        store.set_job_state("j", "success", error=err)
    with pytest.raises(ValueError, match="unknown error field"):
        store.set_job_state("j", "failed", error={"trace": "x"})
    job = store.set_job_state("j", "failed", error=err)
    assert job.error == err and store.get_job("j").error == err
    with pytest.raises(ValueError, match="unknown state"):
        store.set_job_state("j", "done")


def test_list_jobs_newest_first_with_paging(store):
    ids = [store.create_job(SPEC, f"job-{i:02d}").job_id for i in range(12)]
    for j in ids[::3]:
        store.set_job_state(j, "running")
    newest = list(reversed(ids))
    assert [j.job_id for j in store.list_jobs()] == newest
    assert [j.job_id for j in store.list_jobs(limit=5)] == newest[:5]
    assert [j.job_id for j in store.list_jobs(limit=5, offset=5)] == newest[5:10]
    assert [j.job_id for j in store.list_jobs(limit=5, offset=10)] == newest[10:]
    assert [j.job_id for j in store.list_jobs(state="running")] == [
        j for j in newest if j in ids[::3]
    ]
    assert store.count_jobs() == 12 and store.count_jobs("waiting") == 8
    assert store.list_jobs(offset=50) == []


@given(
    spec=st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=10),
            lambda kids: (
                st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
            ),
            max_leaves=20,
        ),
        max_size=6,
    )
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_json_spec_round_trips(store, spec):
    job = store.create_job(spec)
    got = store.get_job(job.job_id).spec
    assert got == spec
    assert json.dumps(got, sort_keys=True) == json.dumps(spec, sort_keys=True)


# ----------------------------------------------------------------------------------- tasks

TASK_PATHS = [(a, b) for a, nxt in TASK_TRANSITIONS.items() for b in sorted(nxt)]
_TASK_ROUTE = {
    "waiting": [],
    "running": ["running"],
    "success": ["running", "success"],
    "failed": ["failed"],
    "canceled": ["canceled"],
    "interrupted": ["running", "interrupted"],
}


@pytest.mark.parametrize(("src", "dst"), TASK_PATHS)
def test_every_allowed_task_transition(store, src, dst):
    store.create_job(SPEC, "j")
    store.upsert_task("j", "lr", "guest", 9999, "coordinated_lr")
    for s in _TASK_ROUTE[src]:
        store.set_task_state("j", "lr", "guest", 9999, s)
    t = store.set_task_state("j", "lr", "guest", 9999, dst)
    assert t.state == dst
    if dst in ("success", "failed", "canceled", "interrupted") and "running" in _TASK_ROUTE[src]:
        assert t.seconds is not None and t.seconds >= 0


@pytest.mark.parametrize(
    ("src", "dst"), [("success", "running"), ("waiting", "success"), ("failed", "waiting")]
)
def test_refused_task_transitions(store, src, dst):
    store.create_job(SPEC, "j")
    store.upsert_task("j", "lr", "host", 10000, "coordinated_lr")
    for s in _TASK_ROUTE[src]:
        store.set_task_state("j", "lr", "host", 10000, s)
    with pytest.raises(
        InvalidTransition, match=f"job j: task 'lr' at host 10000: cannot go from {src} to {dst}"
    ):
        store.set_task_state("j", "lr", "host", 10000, dst)


def test_tasks_upsert_and_list(store):
    store.create_job(SPEC, "j")
    with pytest.raises(NotFoundError, match="no job other"):
        store.upsert_task("other", "read", "guest", 9999, "reader")
    store.upsert_task("j", "read", "guest", 9999, "reader")
    store.upsert_task("j", "read", "host", 10000, "reader")
    store.set_task_state("j", "read", "guest", 9999, "running")
    again = store.upsert_task("j", "read", "guest", 9999, "reader")
    assert again.state == "running"  # an upsert keeps the state
    with pytest.raises(ConflictError, match="runs 'reader', not 'psi'"):
        store.upsert_task("j", "read", "guest", 9999, "psi")
    t = store.set_task_state(
        "j",
        "read",
        "guest",
        9999,
        "failed",
        error={"kind": "OSError", "message": "no file"},
        seconds=1.5,
    )
    assert t.seconds == 1.5 and t.error == {"kind": "OSError", "message": "no file"}
    tasks = store.tasks_of("j")
    assert [(t.task, t.role, t.party_id, t.state) for t in tasks] == [
        ("read", "guest", 9999, "failed"),
        ("read", "host", 10000, "waiting"),
    ]
    with pytest.raises(NotFoundError, match="no such task"):
        store.set_task_state("j", "psi", "guest", 9999, "running")


# --------------------------------------------------------------------------------- metrics


def test_metrics_round_trip_from_a_real_metrics_object(store):
    store.create_job(SPEC, "j")
    m = Metrics()
    for step, loss in enumerate([0.7, 0.5, float("nan"), 0.3]):
        m.log("loss", loss, step)
    m.log("auc", 0.91)
    m.record("roc", {"fpr": np.array([0.0, 0.5, 1.0]), "tpr": [0.0, 0.8, 1.0], "nan": float("nan")})
    m.record("confusion", [[5, 1], [2, 7]])
    snapshot = m.to_dict()
    assert store.record_metrics("j", "lr", "guest", 9999, snapshot) == 7
    assert store.task_metrics("j", "lr", "guest", 9999) == snapshot

    loss = store.metrics("j", name="loss")
    assert [(d["step"], d["value"]) for d in loss] == [(0, 0.7), (1, 0.5), (2, None), (3, 0.3)]
    assert all(d["kind"] == "series" and d["role"] == "guest" for d in loss)
    (roc,) = store.metrics("j", task="lr", role="guest", party_id=9999, name="roc")
    assert roc["kind"] == "record" and roc["data"]["fpr"] == [0.0, 0.5, 1.0]
    assert store.metrics("j", role="host") == []

    # A later snapshot replaces the earlier one, whole.
    m.log("loss", 0.2, 4)
    store.record_metrics("j", "lr", "guest", 9999, m.to_dict())
    assert len(store.metrics("j", name="loss")) == 5


def test_bad_metrics_are_refused_and_nothing_is_written(store):
    store.create_job(SPEC, "j")
    store.record_metrics(
        "j", "lr", "guest", 9999, {"series": {"a": [{"step": 1, "value": 1.0}]}, "records": {}}
    )
    bad = {"series": {"a": [{"step": 1, "value": 2.0}, {"step": 2, "value": "x"}]}, "records": {}}
    with pytest.raises(ValueError, match="series 'a' point 1"):
        store.record_metrics("j", "lr", "guest", 9999, bad)
    with pytest.raises(ValueError, match=r"Metrics\.to_dict"):
        store.record_metrics("j", "lr", "guest", 9999, {"series": {}})
    assert store.task_metrics("j", "lr", "guest", 9999) == {
        "series": {"a": [{"step": 1, "value": 1.0}]},
        "records": {},
    }


# ---------------------------------------------------------------------------------- models


def test_model_versions(store):
    store.create_job(SPEC, "j1")
    store.create_job(SPEC, "j2")
    assert store.save_model("j1", "lr", "guest", 9999, _model(0)) == 1
    assert store.save_model("j1", "lr", "guest", 9999, _model(1)) == 2
    assert store.save_model("j1", "lr", "host", 10000, _model(0, "host", 10000)) == 1
    assert store.save_model("j1", "sbt", "guest", 9999, _model(0)) == 1
    assert store.save_model("j2", "lr", "guest", 9999, _model(5)) == 1  # per job
    latest = store.get_model("j1", "lr", "guest", 9999)
    assert latest == Model.from_dict(_model(1).to_dict())
    assert store.get_model("j1", "lr", "guest", 9999, version=1) == Model.from_dict(
        _model(0).to_dict()
    )
    with pytest.raises(NotFoundError, match="no model version 9"):
        store.get_model("j1", "lr", "guest", 9999, version=9)
    with pytest.raises(NotFoundError, match="no job nope"):
        store.save_model("nope", "lr", "guest", 9999, _model())
    recs = store.list_models("j1")
    assert [(r.task, r.role, r.version) for r in recs] == [
        ("lr", "guest", 1),
        ("lr", "guest", 2),
        ("lr", "host", 1),
        ("sbt", "guest", 1),
    ]
    assert len(store.list_models(role="guest")) == 4
    assert all(len(r.sha256) == 64 for r in recs)


# ---------------------------------------------------------------------------------- export


def _filled(store):
    store.create_job(SPEC, "j", initiator=Party("guest", 9999))
    store.save_model("j", "lr", "guest", 9999, _model(0))
    store.save_model("j", "lr", "guest", 9999, _model(1))
    store.save_model("j", "lr", "host", 10000, _model(2, "host", 10000))
    return store


def test_export_then_import_into_a_second_store(make_store, tmp_path):
    a, b = _filled(make_store()), make_store()
    path = export_models(a, "j", tmp_path / "out" / "models.atm")
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left
    manifest = decode(path.read_bytes())["manifest"]
    assert manifest["format"] == EXPORT_FORMAT and manifest["job_id"] == "j"
    assert len(manifest["entries"]) == 3
    recs = import_models(b, path)
    assert [(r.task, r.role, r.version) for r in recs] == [
        ("lr", "guest", 1),
        ("lr", "guest", 2),
        ("lr", "host", 1),
    ]
    for r in a.list_models("j"):
        assert b.get_model("j", r.task, r.role, r.party_id, r.version) == a.get_model(
            "j", r.task, r.role, r.party_id, r.version
        )
    assert b.get_job("j").spec == SPEC
    # Once more: the same versions are already there.
    with pytest.raises(ConflictError, match="already in this store"):
        import_models(b, path)
    assert len(b.list_models()) == 3
    # A second export of one party only.
    only = export_models(a, "j", tmp_path / "host.atm", role="host", party_id=10000)
    c = make_store()
    assert [(r.role, r.party_id) for r in import_models(c, only)] == [("host", 10000)]


def _rewrite(path, edit):
    doc = decode(path.read_bytes())
    edit(doc)
    path.write_bytes(encode(doc))


def _flip_byte(doc):
    text = doc["models"][1]
    i = text.index("1.5")
    doc["models"][1] = text[:i] + "7" + text[i + 1 :]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            _flip_byte,
            r"entry 1 \(task 'lr' at guest 9999 v2\): the model does not match its sha256",
        ),
        (
            lambda d: d["manifest"]["entries"][2].update(sha256="0" * 64),
            r"entry 2 \(task 'lr' at host 10000 v1\): the model does not match its sha256",
        ),
        (lambda d: d["manifest"].update(format="atoll.model-export/9"), "format is"),
        (lambda d: d["models"].pop(), "3 entries but not as many"),
        (lambda d: d.update(job_spec='{"name": "evil"}'), "job spec does not match its sha256"),
        (
            lambda d: d["manifest"]["entries"][0].update(role="arbiter"),
            r"entry 0 \(task 'lr' at arbiter 9999 v1\): the model is of",
        ),
    ],
)
def test_tampered_export_is_refused_and_nothing_inserted(make_store, tmp_path, edit, match):
    a, b = _filled(make_store()), make_store()
    path = export_models(a, "j", tmp_path / "models.atm")
    _rewrite(path, edit)
    with pytest.raises(ExportError, match=match):
        import_models(b, path)
    assert b.list_models() == [] and b.list_jobs() == []


def test_invalid_model_with_matching_hash_is_refused(make_store, tmp_path):
    import hashlib

    a, b = _filled(make_store()), make_store()
    path = export_models(a, "j", tmp_path / "models.atm")

    def forge(doc):
        text = json.dumps({"format": "atoll.model/1", "component": "coordinated_lr"})
        doc["models"][0] = text
        doc["manifest"]["entries"][0]["sha256"] = hashlib.sha256(text.encode()).hexdigest()

    _rewrite(path, forge)
    with pytest.raises(ExportError, match=r"entry 0 .*not a valid model"):
        import_models(b, path)
    assert b.list_models() == []


def test_garbage_file_is_refused(store, tmp_path):
    p = tmp_path / "x.atm"
    p.write_bytes(b"\x80\x04 not a codec message")
    with pytest.raises(ExportError, match="not an Atoll model export"):
        import_models(store, p)


def test_conflicting_import_inserts_nothing(make_store, tmp_path):
    a, b = _filled(make_store()), make_store()
    path = export_models(a, "j", tmp_path / "models.atm")
    b.create_job(SPEC, "j")
    b.save_model("j", "lr", "host", 10000, _model(9, "host", 10000))  # takes host v1
    with pytest.raises(ConflictError, match=r"entry 2 \(task 'lr' at host 10000 v1\)"):
        import_models(b, path)
    assert [(r.role, r.version) for r in b.list_models()] == [("host", 1)]


# ----------------------------------------------------------------------------- concurrency


def test_concurrent_writers_from_threads(store):
    store.create_job(SPEC, "j")
    n_threads, per_thread = 8, 6
    errors: list[BaseException] = []
    versions: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(n_threads)

    def work(k: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                v = store.save_model("j", "lr", "guest", 9999, _model(k * 100 + i))
                with lock:
                    versions.append(v)
                store.create_job(SPEC, f"t{k}-{i}")
                store.set_job_state(f"t{k}-{i}", "running")
                store.upsert_task("j", f"task{i}", "guest", 9999, "reader")
                m = Metrics()
                m.log("loss", k + i / 10, i)
                store.record_metrics("j", f"task{i}", "guest", k + 1, m.to_dict())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    total = n_threads * per_thread
    assert sorted(versions) == list(range(1, total + 1))
    assert [r.version for r in store.list_models("j")] == list(range(1, total + 1))
    assert store.count_jobs("running") == total
    assert len(store.tasks_of("j")) == per_thread
    assert len(store.metrics("j")) == total
    # The job whose state two threads race to set ends in exactly one final state.
    store.create_job(SPEC, "race")
    store.set_job_state("race", "running")
    outcomes: list[str] = []

    def finish(state: str) -> None:
        try:
            store.set_job_state("race", state)
            outcomes.append(state)
        except InvalidTransition:
            outcomes.append("refused")

    racers = [threading.Thread(target=finish, args=(s,)) for s in ("success", "failed") * 4]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert outcomes.count("refused") == 7
    assert store.get_job("race").state in {"success", "failed"}


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path):
    from sqlalchemy import text

    with JobStore(f"sqlite:///{tmp_path / 'jobs.db'}") as store:
        with store._engine.connect() as c:
            assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
        # A failure inside a write leaves nothing behind.
        store.create_job(SPEC, "j")

        def half(s):
            from atoll.flow.store._schema import ModelRow

            store.save_model("j", "lr", "guest", 9999, _model())  # its own, committed
            s.add(
                ModelRow(
                    job_id="missing",
                    task="t",
                    role="guest",
                    party_id=1,
                    component="c",
                    version=1,
                    created_at=store.get_job("j").created_at,
                    sha256="0" * 64,
                    model_json="{}",
                )
            )
            s.flush()

        with pytest.raises(Exception, match="FOREIGN KEY"):
            store._write(half)
        assert [r.job_id for r in store.list_models()] == ["j"]
