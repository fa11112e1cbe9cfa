"""Two sites as separate processes with mutual TLS: submit, follow, fail, stop, rerun, refuse.

The same suite runs with each site's job database on SQLite and on PostgreSQL
(the latter when ``ATOLL_TEST_POSTGRES_URL`` names a server; ``.ci/run`` starts one).
"""

from __future__ import annotations

import contextlib
import os
import re

import pytest

from atoll.flow.client import ApiError
from tests.conftest import PG_ENV, PG_SKIP_REASON, fresh_postgres_database
from tests.flow.site._sites import GUEST, HOST, Federation, lr_job, wait_for, wait_state

pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]

SECURE_ADD_DSL = {"components": {"secure_add_example_0": {"module": "SecureAddExample"}}}
SECURE_ADD_CONF = {
    "initiator": {"role": "guest", "party_id": 9999},
    "job_parameters": {"work_mode": 1},
    "role": {"guest": [9999], "host": [10000]},
    "role_parameters": {
        "guest": {"secure_add_example_0": {"seed": [123]}},
        "host": {"secure_add_example_0": {"seed": [321]}},
    },
    "algorithm_parameters": {"secure_add_example_0": {"partition": 10, "data_num": 1000}},
}


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=PG_SKIP_REASON),
        ),
    ],
)
def fed(request, tmp_path_factory):
    with contextlib.ExitStack() as stack:
        databases = None
        if request.param == "postgresql":
            databases = {
                pid: stack.enter_context(fresh_postgres_database(os.environ[PG_ENV]))
                for pid in (GUEST, HOST)
            }
        f = Federation(tmp_path_factory.mktemp(f"sites-{request.param}"), databases)
        f.start()
        for pid in (GUEST, HOST):
            f.upload(pid, "train")
            f.upload(pid, "test")
        try:
            yield f
        finally:
            f.stop()


@pytest.fixture
def report(fed, request):
    yield
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        print(fed.logs())


def test_fate_secure_add_sums_both_parties(fed):
    job = fed.guest.submit(fate=SECURE_ADD_DSL, conf=SECURE_ADD_CONF)
    done = fed.guest.wait(job["job_id"], timeout=120)
    assert done["state"] == "success", (done, fed.logs())
    (summary,) = [m for m in fed.guest.metrics(job["job_id"]) if m["name"] == "summary"]
    assert summary["data"]["sum"] == pytest.approx(986.1588068017736, abs=1e-9)
    assert {(t["role"], t["state"]) for t in done["tasks"]} == {
        ("guest", "success"),
        ("host", "success"),
    }
    at_host = fed.host.job(job["job_id"])  # the host sees its own part, not the guest's
    assert at_host["state"] == "success" and not at_host["is_initiator"]
    assert {t["role"] for t in at_host["tasks"]} == {"host"}


def test_lr_job_runs_and_keeps_metrics_and_models(fed):
    job = fed.guest.submit(lr_job(epochs=3))
    done = fed.guest.wait(job["job_id"], timeout=300)
    assert done["state"] == "success", (done, fed.logs())
    evaluation = [
        m for m in fed.guest.metrics(job["job_id"], task="evaluate") if m["name"] == "evaluation"
    ]
    assert evaluation[0]["data"]["test"]["auc"] > 0.95
    loss = [m for m in fed.guest.metrics(job["job_id"], task="lr") if m["name"] == "loss"]
    assert [m["step"] for m in loss] == [1, 2, 3]
    models = {(m["task"], m["role"]) for m in fed.guest.models(job["job_id"])}
    assert ("lr", "guest") in models
    assert ("lr", "host") in {(m["task"], m["role"]) for m in fed.host.models(job["job_id"])}
    dag = fed.guest.dag(job["job_id"])
    assert {
        "source": "lr",
        "output": "test_output_data",
        "target": "evaluate",
        "input": "validate_data",
    } in dag["edges"]
    svg = fed.guest.dag_svg(job["job_id"])
    assert svg.startswith("<svg") and svg.count("<rect") == 7 and "coordinated_lr" in svg
    logs = fed.guest.logs(job["job_id"], task="lr")
    local = [e for e in logs["entries"] if e["local"]]
    remote = [e for e in logs["entries"] if not e["local"]]
    assert local and "task lr done" in local[0]["log"]
    assert {e["role"] for e in remote} == {"host", "arbiter"} and all(
        e["log"] is None for e in remote
    )


def test_host_failure_shows_at_the_initiator_and_rerun_reuses_finished_tasks(fed):
    spec = lr_job(epochs=2)
    spec["name"] = "rerun-me"
    # read_test after psi_train: read_train has finished everywhere when read_test fails
    order = ["read_train", "psi_train", "read_test", "psi_test", "scale", "lr", "evaluate"]
    spec["tasks"] = {name: spec["tasks"][name] for name in order}
    # the host has no table demo.host_missing until the test uploads it
    spec["tasks"]["read_test"]["role_parameters"]["host"]["table"] = "demo.host_missing"
    job = fed.guest.submit(spec)
    failed = fed.guest.wait(job["job_id"], timeout=120)
    assert failed["state"] == "failed", failed
    assert failed["error"]["party"].endswith(str(HOST)), failed["error"]
    assert "demo.host_missing" in failed["error"]["message"]
    host_view = wait_state(fed.host, job["job_id"], {"failed"}, timeout=30)
    assert host_view["error"]["message"] == failed["error"]["message"]
    logs = fed.guest.logs(job["job_id"])
    assert any(
        e["role"] == "host" and e["error"] and "demo.host_missing" in e["error"]["message"]
        for e in logs["entries"]
    )
    first = {(t["task"], t["role"]): t for t in failed["tasks"]}
    assert first[("read_train", "guest")]["state"] == "success"

    path = fed.data["files"]["host_test"]
    fed.host.upload_data("demo", "host_missing", path, id_column="id")
    rerun = fed.guest.rerun(job["job_id"])
    assert rerun["attempt"] == 1
    done = fed.guest.wait(job["job_id"], timeout=300)
    assert done["state"] == "success", (done, fed.logs())
    again = {(t["task"], t["role"]): t for t in done["tasks"]}
    finished = {
        name
        for name, _ in first
        if all(t["state"] == "success" for (n, _r), t in first.items() if n == name)
    }
    assert "read_train" in finished
    for key, t in first.items():
        if key[0] in finished:
            assert again[key]["started_at"] == t["started_at"], key  # reused, not rerun
    assert again[("read_test", "host")]["started_at"] != first[("read_test", "host")]["started_at"]
    with pytest.raises(ApiError) as info:
        fed.guest.rerun(job["job_id"])
    assert info.value.status == 409


def test_stop_mid_job_stops_every_site(fed):
    job = fed.guest.submit(lr_job(epochs=500))
    wait_for(
        lambda: any(
            t["task"] == "lr" and t["state"] == "running"
            for t in fed.guest.job(job["job_id"])["tasks"]
        ),
        timeout=120,
        what="lr running",
    )
    stopped = fed.guest.stop(job["job_id"])
    assert stopped["state"] == "canceled"
    assert {t["state"] for t in stopped["tasks"] if t["task"] == "lr"} == {"canceled"}
    host_view = wait_state(fed.host, job["job_id"], {"canceled"}, timeout=15)
    assert {t["state"] for t in host_view["tasks"] if t["task"] == "lr"} == {"canceled"}
    with pytest.raises(ApiError) as info:
        fed.guest.stop(job["job_id"])
    assert info.value.status == 409


def test_job_timeout_ends_it_everywhere(fed):
    job = fed.guest.submit(lr_job(epochs=500, timeout=8))
    done = fed.guest.wait(job["job_id"], timeout=60)
    assert done["state"] == "timeout", done
    assert "timeout of 8 s" in done["error"]["message"]
    wait_state(fed.host, job["job_id"], {"timeout"}, timeout=15)


def test_fate_pair_through_the_cli(fed, tmp_path, capsys):
    import json

    from atoll.cli.main import main

    dsl, conf = tmp_path / "dsl.json", tmp_path / "conf.json"
    dsl.write_text(json.dumps(SECURE_ADD_DSL))
    conf.write_text(json.dumps(SECURE_ADD_CONF))
    site = ["--config", str(fed.paths[GUEST])]
    assert main(["job", "submit", str(dsl), "--conf", str(conf), "--wait", *site]) == 0
    out = capsys.readouterr().out
    job = {"job_id": re.search(r"Submitted job (\S+) ", out).group(1)}
    assert f"Job {job['job_id']} succeeded" in out
    (summary,) = [m for m in fed.guest.metrics(job["job_id"]) if m["name"] == "summary"]
    assert summary["data"]["sum"] == pytest.approx(986.1588068017736, abs=1e-9)
    assert main(["job", "status", job["job_id"], *site]) == 0
    out = capsys.readouterr().out
    assert "secure_add_example_0" in out and "success" in out
    assert main(["job", "logs", job["job_id"], "--tail", "5", *site]) == 0
    assert "host 10000" in capsys.readouterr().out.replace("-", " ")
    svg = tmp_path / "dag.svg"
    assert main(["job", "dag", job["job_id"], "-o", str(svg), *site]) == 0
    assert "secure_add_example_0" in svg.read_text()


def test_lr_job_through_the_sdk_and_the_rest_api(fed, tmp_path):
    import httpx

    from atoll.flow.sdk import Pipeline

    spec = lr_job(epochs=2)
    pipe = Pipeline.from_dict(spec)
    handle = pipe.submit(fed.guest)
    job = handle.wait(timeout=300)
    assert job["state"] == "success"
    assert any(m["task"] == "lr" for m in handle.models())
    exported = handle.export_models(tmp_path / "models.atoll")
    # the file moves to another site's registry (a new machine for this party, say), once
    imported = fed.host.import_models(exported)
    assert {(m["task"], m["role"]) for m in imported} == {("lr", "guest"), ("scale", "guest")}
    assert {(m["task"], m["role"]) for m in fed.host.models(handle.job_id)} >= {
        ("lr", "guest"),
        ("lr", "host"),
    }
    with pytest.raises(ApiError) as info:
        fed.host.import_models(exported)
    assert info.value.status == 409

    token = (fed.paths[GUEST].parent / "api-token").read_text().strip()
    api = fed.guest.url + "/v1"
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{api}/jobs", json={"yaml": pipe.to_yaml()}, headers=headers)
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]
    assert fed.guest.wait(job_id, timeout=300)["state"] == "success"
    r = httpx.get(f"{api}/jobs/{job_id}/metrics", params={"task": "lr"})
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
    r = httpx.get(f"{api}/jobs/nope-1", headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_partner_allow_list_refuses_with_its_reason(fed):
    host = fed.sites[HOST]
    host.stop()
    fed.set_flow(HOST, allow={"parties": [GUEST], "components": ["reader", "psi", "toy_example"]})
    host.start()
    try:
        job = fed.guest.submit(lr_job(epochs=1))
        done = fed.guest.wait(job["job_id"], timeout=60)
        assert done["state"] == "failed"
        assert done["error"]["party"] == f"site {HOST}"
        assert "refused the job" in done["error"]["message"]
        assert "does not allow component 'feature_scale'" in done["error"]["message"]
        with pytest.raises(ApiError) as info:
            fed.host.job(job["job_id"])  # refused: never stored there
        assert info.value.status == 404
    finally:
        host.stop()
        fed.set_flow(HOST, allow={"components": ["*"]})
        host.start()


def test_job_waits_for_a_site_that_is_down_and_survives_a_restart(fed):
    host, guest = fed.sites[HOST], fed.sites[GUEST]
    host.stop()
    try:
        job = fed.guest.submit(fate=SECURE_ADD_DSL, conf=SECURE_ADD_CONF)
        waiting = wait_for(
            lambda: (j := fed.guest.job(job["job_id"]))["status_message"] and j,
            timeout=30,
            what="a status message",
        )
        assert waiting["state"] == "waiting"
        assert f"waiting for party {HOST}" in waiting["status_message"]
        guest.stop()
        guest.start()
        again = fed.guest.job(job["job_id"])
        assert again["state"] == "waiting"
    finally:
        host.start()
    done = fed.guest.wait(job["job_id"], timeout=120)
    assert done["state"] == "success", (done, fed.logs())


def test_independent_tasks_run_in_parallel_within_the_core_budget(fed):
    toy = {"component": "toy_example", "parameters": {"data_num": 200, "partition": 2}}
    spec = {
        "name": "two-toys",
        "parties": {"guest": GUEST, "host": [HOST]},
        "tasks": {"a": toy, "b": {**toy, "role_parameters": {"guest": {"seed": 5}}}},
    }
    done = fed.guest.wait(fed.guest.submit(spec)["job_id"], timeout=120)
    assert done["state"] == "success", done
    at = {t["task"]: t for t in done["tasks"] if t["role"] == "guest"}
    assert at["b"]["started_at"] < at["a"]["ended_at"]  # cores: 2, so both ran at once


def test_site_stopped_mid_job_marks_its_tasks_interrupted(fed):
    job = fed.guest.submit(lr_job(epochs=500))
    wait_for(
        lambda: any(
            t["task"] == "lr" and t["state"] == "running" and t["role"] == "host"
            for t in fed.guest.job(job["job_id"])["tasks"]
        ),
        timeout=120,
        what="lr running at the host",
    )
    host = fed.sites[HOST]
    assert host.stop() == 0
    failed = wait_state(fed.guest, job["job_id"], {"failed"}, timeout=30)
    assert failed["error"]["kind"] == "Interrupted"
    assert f"site {HOST} stopped while the job ran" in failed["error"]["message"]
    host.start()
    at_host = fed.host.job(job["job_id"])
    assert at_host["state"] == "failed"
    assert {t["state"] for t in at_host["tasks"] if t["task"] == "lr"} == {"interrupted"}
    assert {t["state"] for t in at_host["tasks"] if t["task"] == "evaluate"} <= {"canceled"}
