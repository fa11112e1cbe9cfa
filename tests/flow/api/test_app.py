"""The REST API over the in-memory backend: auth, every route, error statuses and bodies."""

from __future__ import annotations

import pytest
import yaml

from atoll.flow.api import create_app
from tests.flow.api.conftest import TOKEN, TestClient, job_spec
from tests.flow.api.fake_backend import FakeBackend

CSV = b"id,x1,x2,y\na,1.0,2.0,1\nb,3.0,4.0,0\nc,5.0,6.0,1\n"


def _error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body["message"]


def _submit(api: TestClient, name: str = "lr") -> dict:
    response = api.post("/v1/jobs", json={"spec": job_spec(name)})
    assert response.status_code == 201, response.text
    return response.json()


# -- auth --------------------------------------------------------------------------------
def test_health_needs_no_token(api_backend):
    with TestClient(create_app(api_backend, TOKEN)) as anon:
        response = anon.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "party_id": 9999}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/site"),
        ("GET", "/v1/jobs"),
        ("POST", "/v1/jobs"),
        ("GET", "/v1/jobs/job-0001/logs"),
        ("POST", "/v1/data/ns/t?id_column=id"),
        ("DELETE", "/v1/data/ns/t"),
        ("POST", "/v1/models/import"),
    ],
)
def test_every_route_but_health_needs_the_token(api_backend, headers, method, path):
    with TestClient(create_app(api_backend, TOKEN)) as anon:
        response = anon.request(method, path, headers=headers, json={"spec": job_spec()})
    _error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert not api_backend.jobs and not api_backend.tables


def test_an_empty_token_is_refused(api_backend):
    with pytest.raises(ValueError, match="empty token"):
        create_app(api_backend, "")


def test_openapi_and_docs_need_no_token(api_backend):
    with TestClient(create_app(api_backend, TOKEN)) as anon:
        assert anon.get("/v1/docs").status_code == 200
        schema = anon.get("/v1/openapi.json").json()
    paths = {
        "/v1/health": {"get"},
        "/v1/site": {"get"},
        "/v1/jobs": {"get", "post"},
        "/v1/jobs/{job_id}": {"get"},
        "/v1/jobs/{job_id}/stop": {"post"},
        "/v1/jobs/{job_id}/rerun": {"post"},
        "/v1/jobs/{job_id}/logs": {"get"},
        "/v1/jobs/{job_id}/dag": {"get"},
        "/v1/jobs/{job_id}/dag.svg": {"get"},
        "/v1/jobs/{job_id}/metrics": {"get"},
        "/v1/data": {"get"},
        "/v1/data/{namespace}/{name}": {"get", "post", "delete"},
        "/v1/models": {"get"},
        "/v1/models/{job_id}/export": {"get"},
        "/v1/models/import": {"post"},
    }
    assert {p: set(ops) for p, ops in schema["paths"].items()} == paths
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "the site's API token (flow.token)",
    }
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            secured = "security" in op
            assert secured == (path != "/v1/health"), (method, path)
    upload = schema["paths"]["/v1/data/{namespace}/{name}"]["post"]
    assert "text/csv" in upload["requestBody"]["content"]
    submit = schema["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert submit["schema"]["$ref"].endswith("/Submission")
    sub = schema["components"]["schemas"]["Submission"]
    assert set(sub["properties"]) == {"spec", "yaml", "fate"}
    assert sub["maxProperties"] == 1


# -- site and jobs ---------------------------------------------------------------------
def test_site_info(api):
    info = api.get("/v1/site").json()
    assert info["party_id"] == 9999
    assert info["partners"] == [10000, 10001]


def test_submit_spec_yaml_and_fate(api, api_backend):
    job = _submit(api)
    assert job["state"] == "waiting"
    assert job["parties"] == {"guest": 9999, "host": [10000], "arbiter": None}
    assert {(t["task"], t["role"], t["party_id"]) for t in job["tasks"]} == {
        ("read", "guest", 9999),
        ("read", "host", 10000),
        ("psi", "guest", 9999),
        ("psi", "host", 10000),
    }
    response = api.post("/v1/jobs", json={"yaml": yaml.safe_dump(job_spec("from-yaml"))})
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "from-yaml"
    dag = {
        "dag": {
            "parties": [
                {"role": "guest", "party_id": ["9999"]},
                {"role": "host", "party_id": ["10000"]},
            ],
            "party_tasks": {},
            "tasks": {"toy": {"component_ref": "toy_example"}},
        },
        "schema_version": "2.0.0",
    }
    response = api.post("/v1/jobs", json={"fate": {"dsl": dag}})
    assert response.status_code == 201, response.text
    assert [t["task"] for t in response.json()["tasks"]] == ["toy", "toy"]
    assert api_backend.submissions[2] == {"fate": {"dsl": dag, "conf": None}}
    assert api_backend.submissions[0] == {"spec": job_spec()}
    assert api_backend.submissions[1]["yaml"].startswith("name: from-yaml")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body: give exactly one of 'spec', 'yaml' or 'fate'"),
        ({"spec": job_spec(), "yaml": "x: 1"}, "exactly one"),
        ({"spec": "not a mapping"}, "body.spec"),
        ({"fate": {"conf": {}}}, "body.fate.dsl"),
        ({"spec": job_spec(), "other": 1}, "body.other"),
        ([1, 2], "body"),
    ],
)
def test_submit_validation_errors_name_the_field(api, body, field):
    message = _error(api.post("/v1/jobs", json=body), 422, "invalid")
    assert field in message


def test_submit_malformed_json(api):
    response = api.post(
        "/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    _error(response, 422, "invalid")


def test_submit_an_invalid_job_is_422_with_the_reason(api):
    spec = job_spec()
    spec["tasks"]["psi"]["inputs"] = {"data": "nowhere.data"}
    message = _error(api.post("/v1/jobs", json={"spec": spec}), 422, "invalid")
    assert "nowhere" in message
    spec = job_spec()
    spec["tasks"]["read"]["component"] = "no_such_component"
    assert "no_such_component" in _error(api.post("/v1/jobs", json={"spec": spec}), 422, "invalid")
    _error(api.post("/v1/jobs", json={"yaml": "a: [unclosed"}), 422, "invalid")


def test_submit_a_job_of_other_parties_is_403(api):
    spec = job_spec()
    spec["parties"] = {"guest": 1, "host": [2]}
    message = _error(api.post("/v1/jobs", json={"spec": spec}), 403, "forbidden")
    assert "9999" in message


def test_list_get_and_filter_jobs(api, api_backend):
    first, second = _submit(api, "one"), _submit(api, "two")
    api_backend.start(second["job_id"])
    jobs = api.get("/v1/jobs").json()
    assert [j["job_id"] for j in jobs] == [second["job_id"], first["job_id"]]
    assert "tasks" not in jobs[0]
    running = api.get("/v1/jobs", params={"state": "running"}).json()
    assert [j["name"] for j in running] == ["two"]
    assert [j["name"] for j in api.get("/v1/jobs?limit=1&offset=1").json()] == ["one"]
    job = api.get(f"/v1/jobs/{second['job_id']}").json()
    assert job["state"] == "running" and len(job["tasks"]) == 4


@pytest.mark.parametrize(
    "query", ["state=bogus", "limit=0", "limit=100000", "offset=-1", "limit=abc"]
)
def test_list_jobs_rejects_bad_queries(api, query):
    message = _error(api.get(f"/v1/jobs?{query}"), 422, "invalid")
    assert query.split("=")[0] in message


def test_unknown_job_is_404(api):
    for path in ("", "/logs", "/dag", "/metrics"):
        assert "job-9999" in _error(api.get(f"/v1/jobs/job-9999{path}"), 404, "not_found")
    _error(api.post("/v1/jobs/job-9999/stop"), 404, "not_found")
    _error(api.post("/v1/jobs/job-9999/rerun"), 404, "not_found")


@pytest.mark.parametrize("job_id", ["%2E%2E", ".hidden", "-x", "a" * 129, "a b", "a;b"])
def test_bad_job_ids_are_422(api, job_id):
    _error(api.get(f"/v1/jobs/{job_id}"), 422, "invalid")


def test_stop_then_rerun(api):
    job = _submit(api)
    stopped = api.post(f"/v1/jobs/{job['job_id']}/stop")
    assert stopped.status_code == 200 and stopped.json()["state"] == "canceled"
    _error(api.post(f"/v1/jobs/{job['job_id']}/stop"), 409, "conflict")
    rerun = api.post(f"/v1/jobs/{job['job_id']}/rerun").json()
    assert (rerun["state"], rerun["attempt"]) == ("waiting", 1)
    _error(api.post(f"/v1/jobs/{job['job_id']}/rerun"), 409, "conflict")


def test_logs_dag_and_metrics(api, api_backend):
    job = _submit(api)
    job_id = job["job_id"]
    api_backend.start(job_id)
    api_backend.finish(job_id, error="column x1 is missing")
    logs = api.get(f"/v1/jobs/{job_id}/logs", params={"tail": 1}).json()
    local = [e for e in logs["entries"] if e["local"]]
    remote = [e for e in logs["entries"] if not e["local"]]
    assert {e["party_id"] for e in local} == {9999} and {e["party_id"] for e in remote} == {10000}
    assert all(e["log"].count("\n") == 0 for e in local)
    assert all(e["log"] is None for e in remote)
    assert all(e["error"]["message"] == "column x1 is missing" for e in logs["entries"])
    only = api.get(f"/v1/jobs/{job_id}/logs?task=psi&role=host&party_id=10000").json()
    assert [(e["task"], e["role"]) for e in only["entries"]] == [("psi", "host")]
    dag = api.get(f"/v1/jobs/{job_id}/dag").json()
    assert dag["edges"] == [{"source": "read", "output": "data", "target": "psi", "input": "data"}]
    assert {n["task"]: n["states"] for n in dag["nodes"]}["psi"] == {
        "guest-9999": "failed",
        "host-10000": "failed",
    }
    metrics = api.get(f"/v1/jobs/{job_id}/metrics", params={"task": "read", "role": "guest"})
    assert metrics.json() == [
        {
            "task": "read",
            "role": "guest",
            "party_id": 9999,
            "name": "loss",
            "kind": "series",
            "step": 1,
            "value": 0.5,
        }
    ]
    _error(api.get(f"/v1/jobs/{job_id}/logs?role=judge"), 422, "invalid")
    _error(api.get(f"/v1/jobs/{job_id}/metrics?party_id=-1"), 422, "invalid")
    _error(api.get(f"/v1/jobs/{job_id}/logs?tail=0"), 422, "invalid")


# -- data --------------------------------------------------------------------------------
def test_upload_list_preview_delete(api):
    response = api.post(
        "/v1/data/exp/guest?id_column=id&label_column=y",
        content=CSV,
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    table = response.json()
    assert (table["rows"], table["columns"], table["bytes"]) == (
        3,
        ["id", "x1", "x2", "y"],
        len(CSV),
    )
    assert [t["name"] for t in api.get("/v1/data").json()] == ["guest"]
    preview = api.get("/v1/data/exp/guest?rows=2").json()
    assert preview["header"] == ["id", "x1", "x2", "y"]
    assert preview["rows_preview"] == [["a", "1.0", "2.0", "1"], ["b", "3.0", "4.0", "0"]]
    conflict = api.post("/v1/data/exp/guest?id_column=id", content=CSV)
    assert "overwrite" in _error(conflict, 409, "conflict")
    again = api.post("/v1/data/exp/guest?id_column=id&overwrite=true", content=CSV[:-12])
    assert again.status_code == 201 and again.json()["rows"] == 2
    assert api.delete("/v1/data/exp/guest").json()["name"] == "guest"
    _error(api.delete("/v1/data/exp/guest"), 404, "not_found")
    _error(api.get("/v1/data/exp/guest"), 404, "not_found")


def test_upload_errors_name_line_and_column(api):
    message = _error(api.post("/v1/data/ns/t?id_column=uid", content=CSV), 422, "invalid")
    assert "line 1" in message and "'uid'" in message
    bad = b"id,x\na,1\n,2\n"
    message = _error(api.post("/v1/data/ns/t?id_column=id", content=bad), 422, "invalid")
    assert "line 3" in message and "'id'" in message
    _error(api.post("/v1/data/ns/t", content=CSV), 422, "invalid")  # no id_column
    _error(api.post("/v1/data/ns/t?id_column=id", content=b"\xff\xfe"), 422, "invalid")


@pytest.mark.parametrize(
    "path",
    ["/v1/data/../t", "/v1/data/ns/.t", "/v1/data/n%20s/t", "/v1/data/a%2Fb/t", "/v1/jobs/a%2Fb"],
)
def test_bad_table_names_are_422_or_404(api, path):
    response = api.get(path)
    assert response.status_code in (404, 422)
    assert set(response.json()) == {"code", "message"}


def test_upload_over_the_limit_is_413(api_backend):
    app = create_app(api_backend, TOKEN, max_upload=10)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as small:
        _error(small.post("/v1/data/ns/t?id_column=id", content=CSV), 413, "too_large")

        def chunks():
            yield CSV[:8]
            yield CSV[8:]

        _error(small.post("/v1/data/ns/t?id_column=id", content=chunks()), 413, "too_large")
        _error(small.post("/v1/models/import", content=CSV), 413, "too_large")
        _error(small.post("/v1/jobs", json={"spec": job_spec()}), 413, "too_large")
        big = iter([b'{"yaml": "', b"x" * 20, b'"}'])
        response = small.post("/v1/jobs", content=big, headers={"Content-Type": "application/json"})
        _error(response, 413, "too_large")
        assert small.get("/v1/jobs").status_code == 200
    assert not api_backend.tables


# -- models ------------------------------------------------------------------------------
def test_models_export_and_import_round_trip(api, api_backend):
    job_id = _submit(api)["job_id"]
    api_backend.start(job_id)
    _error(api.get(f"/v1/models/{job_id}/export"), 404, "not_found")
    api_backend.finish(job_id)
    models = api.get("/v1/models", params={"job_id": job_id}).json()
    assert {(m["task"], m["role"]) for m in models} == {("read", "guest"), ("psi", "guest")}
    assert api.get("/v1/models?job_id=other").json() == []
    exported = api.get(f"/v1/models/{job_id}/export")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/octet-stream"
    assert exported.headers["content-disposition"] == f'attachment; filename="{job_id}.models"'
    _error(api.post("/v1/models/import", content=exported.content), 409, "conflict")

    other = FakeBackend(party_id=10000)
    with TestClient(create_app(other, TOKEN), headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        imported = c.post("/v1/models/import", content=exported.content)
        assert imported.status_code == 201, imported.text
        assert imported.json() == models
        assert c.get("/v1/models").json() == models
        _error(c.post("/v1/models/import", content=b"garbage"), 422, "invalid")
    _error(api.get("/v1/models/nojob/export"), 404, "not_found")


# -- errors ------------------------------------------------------------------------------
def test_unknown_routes_and_methods_are_json(api):
    message = _error(api.get("/v1/nothing"), 404, "not_found")
    assert "/v1/nothing" in message
    response = api.put("/v1/jobs")
    _error(response, 405, "method_not_allowed")
    assert response.headers["allow"]


def test_unexpected_backend_errors_are_500_internal(api_backend, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database is on fire")

    api_backend.list_jobs = broken
    app = create_app(api_backend, TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app, headers=headers, raise_server_exceptions=False) as client:
        message = _error(client.get("/v1/jobs"), 500, "internal")
    assert "RuntimeError" in message and "fire" not in message
    assert "database is on fire" in caplog.text


def test_a_backend_answer_of_the_wrong_shape_is_500_not_200(api_backend):
    api_backend.site_info = lambda: {"party_id": "not a number"}
    app = create_app(api_backend, TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with TestClient(app, headers=headers, raise_server_exceptions=False) as client:
        _error(client.get("/v1/site"), 500, "internal")


def test_dag_is_drawn_as_svg_coloured_by_state(api, api_backend):
    job_id = _submit(api)["job_id"]
    api_backend.start(job_id)
    api_backend.finish(job_id, error="column x1 is missing")
    r = api.get(f"/v1/jobs/{job_id}/dag.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    svg = r.text
    assert svg.startswith("<svg") and svg.count("<rect") == 2  # read and psi
    assert "read → data" not in svg and "data → data" in svg  # the edge read.data -> psi.data
    assert "#d64541" in svg  # failed tasks are drawn red
    assert api.get("/v1/jobs/nope/dag.svg").status_code == 404
