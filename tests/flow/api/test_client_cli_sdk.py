"""The client, the ``atoll job|data|model`` commands and the pipeline SDK against a real server.

The app runs in uvicorn on a free loopback port in a background thread; the
backend is the ``api_backend`` fixture, moved on by the tests (start, finish).
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from rich.console import Console

from atoll.cli.main import main
from atoll.flow.api import create_app
from atoll.flow.client import ApiError, SiteClient, connect, load_submission
from atoll.flow.sdk import JobFailed, JobHandle, Pipeline, Task, job_table
from atoll.flow.spec import JobSpecError
from atoll.ml.component import ComponentError
from tests.flow.api.conftest import TOKEN, job_spec

CSV = "id,x1,y\na,1.5,1\nb,2.5,0\n"
FATE_DAG = {
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


@pytest.fixture
def url(api_backend: Any) -> Iterator[str]:
    """The API of ``api_backend`` served by uvicorn on 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(api_backend, TOKEN), log_level="warning", lifespan="off", ws="none", http="h11"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def client(url: str) -> Iterator[SiteClient]:
    with SiteClient(url, TOKEN, timeout=10) as c:
        yield c


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    path = tmp_path / "lr.yaml"
    path.write_text(yaml.safe_dump(job_spec("from-file")))
    return path


def _later(fn: Callable[[], None], delay: float = 0.3) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), fn()), daemon=True)
    thread.start()
    return thread


def _run_job(backend: Any, job_id: str, error: str | None = None) -> None:
    backend.start(job_id)
    backend.progress(job_id, 3, 10, loss=0.25)
    time.sleep(0.2)
    backend.finish(job_id, error=error)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- client ------------------------------------------------------------------------------
def test_client_jobs(client, api_backend, job_file):
    assert client.health() == {"status": "ok", "party_id": 9999}
    assert client.site()["party_id"] == 9999
    a = client.submit(job_spec("a"))
    b = client.submit(job_file)  # a Path
    c = client.submit(str(job_file))  # a str naming a file
    d = client.submit(yaml.safe_dump(job_spec("d")))  # YAML text
    e = client.submit(fate=FATE_DAG)
    assert [j["name"] for j in (a, b, c, d, e)] == ["a", "from-file", "from-file", "d", "fate-job"]
    assert api_backend.submissions[0] == {"spec": job_spec("a")}
    assert api_backend.submissions[1] == {"yaml": job_file.read_text()}
    assert api_backend.submissions[4] == {"fate": {"dsl": FATE_DAG, "conf": None}}
    assert [j["job_id"] for j in client.jobs(limit=2)] == [e["job_id"], d["job_id"]]
    assert client.jobs(state="running") == []
    assert client.job(a["job_id"])["tasks"][0]["state"] == "waiting"
    assert client.stop(a["job_id"])["state"] == "canceled"
    assert client.rerun(a["job_id"])["attempt"] == 1
    _run_job(api_backend, b["job_id"], error="bad column")
    logs = client.logs(b["job_id"], role="guest", tail=1)
    assert {x["log"] for x in logs["entries"]} == {"read done", "psi done"}
    assert len(client.dag(b["job_id"])["nodes"]) == 2
    assert len(client.metrics(b["job_id"], task="psi")) == 2
    assert client.metrics(b["job_id"], party_id=10000, task="read")[0]["party_id"] == 10000


def test_client_errors(client, url, api_backend):
    with pytest.raises(ApiError) as info:
        client.job("job-0404")
    assert (info.value.status, info.value.code) == (404, "not_found")
    assert "job-0404" in str(info.value)
    with pytest.raises(ApiError) as info:
        client.submit({"parties": {"guest": 1}, "tasks": {}})
    assert (info.value.status, info.value.code) == (422, "invalid")
    with pytest.raises(ApiError) as info, SiteClient(url, "wrong-token-0123456789") as bad:
        bad.jobs()
    assert (info.value.status, info.value.code) == (401, "unauthorized")
    port = _closed_port()
    with pytest.raises(ApiError) as info, SiteClient(f"127.0.0.1:{port}", TOKEN) as gone:
        gone.health()
    assert (info.value.status, info.value.code) == (0, "unreachable")
    assert f"cannot reach site at http://127.0.0.1:{port}" in info.value.message
    with pytest.raises(ValueError, match="give a job"):
        client.submit()


def test_client_wait(client, api_backend):
    job = client.submit(job_spec())
    _later(lambda: _run_job(api_backend, job["job_id"]))
    seen: list[str] = []
    done = client.wait(
        job["job_id"], timeout=20, on_update=lambda j: seen.append(j["state"]), interval=0.05
    )
    assert done["state"] == "success"
    assert seen[0] == "waiting" and "running" in seen and seen[-1] == "success"
    other = client.submit(job_spec())
    with pytest.raises(TimeoutError, match=other["job_id"]):
        client.wait(other["job_id"], timeout=0.2, interval=0.05)


def test_client_data(client, tmp_path):
    path = tmp_path / "guest.csv"
    path.write_text(CSV)
    table = client.upload_data("exp", "guest", path, id_column="id", label_column="y")
    assert (table["rows"], table["columns"]) == (2, ["id", "x1", "y"])
    with pytest.raises(ApiError, match="overwrite") as info:
        client.upload_data("exp", "guest", CSV.encode(), id_column="id")
    assert info.value.status == 409
    client.upload_data("exp", "guest", CSV.encode(), id_column="id", overwrite=True)
    with pytest.raises(ApiError, match="line 1") as info:
        client.upload_data("exp", "host", CSV.encode(), id_column="uid")
    assert info.value.code == "invalid"
    with pytest.raises(ValueError, match="cannot read"):
        client.upload_data("exp", "host", tmp_path / "missing.csv", id_column="id")
    assert [t["name"] for t in client.data()] == ["guest"]
    assert client.preview("exp", "guest", rows=1)["rows_preview"] == [["a", "1.5", "1"]]
    assert client.delete_data("exp", "guest")["name"] == "guest"
    assert client.data() == []
    with pytest.raises(ApiError) as info:
        client.preview("exp", "a/b")
    assert info.value.status == 404  # a '/' in a name is one escaped segment, never a path


def test_client_models(client, api_backend, tmp_path):
    job_id = client.submit(job_spec())["job_id"]
    _run_job(api_backend, job_id)
    models = client.models(job_id)
    assert len(models) == 2 and client.models("other") == []
    dest = client.export_models(job_id, tmp_path / "m.models")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.models"]  # no temporary left
    with pytest.raises(ApiError) as info:
        client.import_models(dest)
    assert info.value.status == 409
    api_backend.models.clear()
    assert client.import_models(dest) == models
    with pytest.raises(ApiError) as info:
        client.export_models("job-0404", tmp_path / "x.models")
    assert info.value.status == 404 and not (tmp_path / "x.models").exists()


def test_connect_from_arguments_config_and_environment(url, tmp_path, monkeypatch):
    monkeypatch.delenv("ATOLL_SITE", raising=False)
    monkeypatch.delenv("ATOLL_TOKEN", raising=False)
    with pytest.raises(ValueError, match="no site given"):
        connect()
    with pytest.raises(ValueError, match="no API token"):
        connect(url)
    monkeypatch.setenv("ATOLL_SITE", url)
    monkeypatch.setenv("ATOLL_TOKEN", TOKEN)
    with SiteClient.from_env() as c:
        assert c.site()["party_id"] == 9999
    port = url.rsplit(":", 1)[1]
    config = _site_yaml(tmp_path, port)
    with SiteClient.from_config(config) as c:
        assert c.url == url and c.health()["status"] == "ok"
    monkeypatch.delenv("ATOLL_SITE")
    with connect(config=config) as c:
        assert c.url == url


def _site_yaml(tmp_path: Path, port: str) -> Path:
    for name in ("party.crt", "party.key", "ca.crt"):
        (tmp_path / name).write_text("")
    config = {
        "party_id": 9999,
        "listen": "127.0.0.1:9370",
        "cert": "party.crt",
        "key": "party.key",
        "ca": "ca.crt",
        "routes": {10000: "127.0.0.1:9371"},
        "data_dir": "var",
        "flow": {"api": f"127.0.0.1:{port}", "token": TOKEN},
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_load_submission_recognises_fate_files(tmp_path, job_file):
    assert load_submission(job_file) == {"yaml": job_file.read_text()}
    dag = tmp_path / "dag.json"
    dag.write_text(json.dumps(FATE_DAG))
    assert load_submission(dag) == {"fate": {"dsl": FATE_DAG, "conf": None}}
    dsl, conf = tmp_path / "dsl.json", tmp_path / "conf.yaml"
    dsl.write_text(json.dumps({"components": {"reader_0": {"module": "Reader"}}}))
    conf.write_text("role: {guest: [9999]}\n")
    assert load_submission(dsl, conf)["fate"]["conf"] == {"role": {"guest": [9999]}}
    with pytest.raises(ValueError, match="cannot read"):
        load_submission(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("a: [")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_submission(tmp_path / "bad.yaml")


# -- CLI -----------------------------------------------------------------------------------
def _cli(capsys, *argv: str, site: str | None = None) -> tuple[int, str, str]:
    args = list(argv) + (["--site", site, "--token", TOKEN] if site else [])
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_job_commands(capsys, url, api_backend, job_file):
    code, out, _ = _cli(capsys, "job", "submit", str(job_file), site=url)
    assert code == 0 and "Submitted job job-0001 (from-file)" in out
    code, out, _ = _cli(capsys, "job", "list", "--json", site=url)
    assert code == 0 and [j["job_id"] for j in json.loads(out)] == ["job-0001"]
    code, out, _ = _cli(capsys, "job", "list", site=url)
    assert code == 0 and "job-0001" in out and "waiting" in out
    api_backend.start("job-0001")
    api_backend.progress("job-0001", 3, 10, loss=0.25)
    code, out, _ = _cli(capsys, "job", "status", "job-0001", site=url)
    assert code == 0 and "3/10" in out and "loss 0.25" in out and "host 10000" in out
    code, out, _ = _cli(capsys, "job", "status", "job-0001", "--json", site=url)
    assert code == 0 and json.loads(out)["state"] == "running"
    code, out, _ = _cli(capsys, "job", "stop", "job-0001", site=url)
    assert code == 0 and "canceled" in out
    code, out, _ = _cli(capsys, "job", "status", "job-0001", site=url)
    assert code == 1 and "canceled" in out
    code, out, _ = _cli(capsys, "job", "rerun", "job-0001", site=url)
    assert code == 0 and "attempt 1" in out
    _run_job(api_backend, "job-0001", error="column x1 is missing")
    code, out, _ = _cli(capsys, "job", "logs", "job-0001", "--task", "psi", site=url)
    assert code == 0
    assert "== psi at guest 9999: failed" in out and "ValueError: column x1 is missing" in out
    assert "psi done" in out and "its log stays at that site" in out
    code, out, _ = _cli(
        capsys, "job", "logs", "job-0001", "--party-id", "10000", "--json", site=url
    )
    assert {e["party_id"] for e in json.loads(out)["entries"]} == {10000}


def test_cli_job_watch_and_wait(capsys, url, api_backend, job_file):
    code, out, _ = _cli(capsys, "job", "submit", str(job_file), site=url)
    _later(lambda: _run_job(api_backend, "job-0001"))
    code, out, _ = _cli(
        capsys, "job", "status", "job-0001", "--watch", "--interval", "0.05", site=url
    )
    assert code == 0 and "success" in out
    _later(lambda: _run_job(api_backend, "job-0002", error="host ran out of memory"))
    code, out, err = _cli(capsys, "job", "submit", str(job_file), "--wait", site=url)
    assert code == 1
    assert "Submitted job job-0002" in out
    assert (
        "atoll job: job job-0002 (from-file) failed at host 10000: ValueError: host ran out" in err
    )


def test_cli_job_submit_fate(capsys, url, api_backend, tmp_path):
    dag = tmp_path / "toy-dag.yaml"
    dag.write_text(yaml.safe_dump(FATE_DAG))
    code, out, _ = _cli(capsys, "job", "submit", str(dag), "--json", site=url)
    assert code == 0 and json.loads(out)["name"] == "fate-job"
    assert api_backend.submissions == [{"fate": {"dsl": FATE_DAG, "conf": None}}]


def test_cli_errors_and_exit_codes(capsys, url, monkeypatch, tmp_path):
    monkeypatch.delenv("ATOLL_SITE", raising=False)
    monkeypatch.delenv("ATOLL_TOKEN", raising=False)
    code, _, err = _cli(capsys, "job", "list")
    assert code == 2 and err.startswith("atoll job: no site given")
    code, _, err = _cli(capsys, "job", "status", "job-0404", site=url)
    assert code == 2 and "atoll job: no job 'job-0404'" in err and "404 not_found" in err
    code, _, err = _cli(capsys, "job", "list", site=f"http://127.0.0.1:{_closed_port()}")
    assert code == 3 and "cannot reach site" in err
    code, _, err = _cli(capsys, "job", "submit", str(tmp_path / "none.yaml"), site=url)
    assert code == 2 and "cannot read" in err
    code, _, err = _cli(capsys, "data", "list", "--config", str(tmp_path / "none.yaml"))
    assert code == 2 and err.startswith("atoll data:")
    monkeypatch.setenv("ATOLL_SITE", url)
    monkeypatch.setenv("ATOLL_TOKEN", "wrong-token-0123456789")
    code, _, err = _cli(capsys, "model", "list")
    assert code == 2 and "atoll model: wrong API token (401 unauthorized)" in err
    assert main(["job"]) == 2


def test_cli_data_commands(capsys, url, tmp_path):
    path = tmp_path / "guest.csv"
    path.write_text(CSV)
    upload = ["data", "upload", str(path), "--namespace", "exp", "--name", "guest"]
    code, out, _ = _cli(capsys, *upload, "--id-column", "id", "--label-column", "y", site=url)
    assert code == 0 and "as exp/guest: 2 rows, 3 columns" in out
    code, _, err = _cli(capsys, *upload, "--id-column", "id", site=url)
    assert code == 2 and "overwrite" in err
    code, _, err = _cli(capsys, *upload, "--id-column", "uid", "--overwrite", site=url)
    assert code == 2 and "line 1" in err and "'uid'" in err
    code, out, _ = _cli(capsys, "data", "list", "--json", site=url)
    assert [t["name"] for t in json.loads(out)] == ["guest"]
    code, out, _ = _cli(capsys, "data", "list", site=url)
    assert code == 0 and "guest" in out
    code, out, _ = _cli(capsys, "data", "preview", "exp", "guest", "--rows", "1", site=url)
    assert code == 0 and "1.5" in out and "2.5" not in out
    code, out, _ = _cli(capsys, "data", "delete", "exp", "guest", site=url)
    assert code == 0 and "Deleted exp/guest (2 rows)" in out
    code, _, err = _cli(capsys, "data", "delete", "exp", "guest", site=url)
    assert code == 2 and "no table exp/guest" in err


def test_cli_model_commands(capsys, url, api_backend, tmp_path):
    job_id = api_backend.submit({"spec": job_spec()})["job_id"]
    _run_job(api_backend, job_id)
    code, out, _ = _cli(capsys, "model", "list", "--json", site=url)
    assert code == 0 and len(json.loads(out)) == 2
    code, out, _ = _cli(capsys, "model", "list", "--job-id", job_id, site=url)
    assert code == 0 and "coordinated" not in out and "psi" in out
    dest = tmp_path / "models.bin"
    code, out, _ = _cli(capsys, "model", "export", job_id, "-o", str(dest), site=url)
    assert code == 0 and dest.stat().st_size > 0 and str(dest) in out
    api_backend.models.clear()
    code, out, _ = _cli(capsys, "model", "import", str(dest), site=url)
    assert code == 0 and "Imported 2 model(s)" in out
    code, _, err = _cli(capsys, "model", "import", str(dest), site=url)
    assert code == 2 and "409 conflict" in err


# -- SDK -------------------------------------------------------------------------------------
def _pipeline() -> Pipeline:
    pipe = Pipeline("breast", guest=9999, hosts=[10000])
    read = pipe.add(
        "read",
        "reader",
        role_parameters={
            "guest": {"path": "guest.csv", "label_column": "y"},
            "host": {"path": "host.csv"},
        },
    )
    pipe.add("psi", "psi", inputs={"data": read.output("data")})
    return pipe


def test_pipeline_builds_the_job_file():
    pipe = _pipeline()
    assert pipe.to_dict() == job_spec("breast")
    assert Pipeline.from_dict(pipe.to_dict()).to_dict() == pipe.to_dict()
    assert Pipeline.from_yaml(pipe.to_yaml()).to_dict() == pipe.to_dict()
    assert pipe.validate().name == "breast"
    assert [t.name for t in pipe] == ["read", "psi"] and len(pipe) == 2
    assert isinstance(pipe["psi"], Task)
    pipe.add(
        "sum",
        "toy_example",
        parameters={"data_num": 5},
        party_parameters={10000: {"seed": 1}},
        run_on=["guest", "host"],
    )
    again = Pipeline.from_dict(yaml.safe_load(pipe.to_yaml()))
    assert again.to_dict() == pipe.to_dict()


def test_pipeline_errors_are_eager():
    pipe = _pipeline()
    with pytest.raises(ComponentError, match=r"unknown component 'nope'.*supported: .*reader"):
        pipe.add("x", "nope")
    with pytest.raises(ValueError, match=r"has no output 'model' \(outputs: data\)"):
        pipe["psi"].output("model")
    with pytest.raises(ValueError, match="already has a task 'psi'"):
        pipe.add("psi", "psi")
    with pytest.raises(ValueError, match="no task 'ghost'"):
        pipe.add("lr", "coordinated_lr", inputs={"train_data": "ghost.data"})
    with pytest.raises(ValueError, match=r"without '\.'"):
        pipe.add("a.b", "psi")
    pipe.add("sum", "toy_example", parameters={"data_num": 0})
    with pytest.raises(JobSpecError, match="data_num"):
        pipe.validate()


def test_sdk_submit_wait_and_results(client, api_backend, tmp_path):
    job = _pipeline().submit(client)
    assert isinstance(job, JobHandle) and job.state == "waiting"
    _later(lambda: _run_job(api_backend, job.job_id))
    out = io.StringIO()
    done = job.wait(
        timeout=20,
        progress=True,
        interval=0.05,
        console=Console(file=out, width=120, force_terminal=False),
    )
    assert done["state"] == "success" and job.state == "success"
    assert "psi" in out.getvalue() and "success" in out.getvalue()
    assert len(job.metrics(task="psi")) == 2
    assert len(job.models()) == 2
    assert job.logs(role="host")["entries"][0]["local"] is False
    assert job.dag()["edges"][0]["source"] == "read"
    assert job.export_models(tmp_path / "m.models").stat().st_size > 0
    assert job.refresh()["state"] == "success"


def test_sdk_wait_raises_job_failed(client, api_backend):
    job = _pipeline().submit(client)
    _later(lambda: _run_job(api_backend, job.job_id, error="column x1 is missing"))
    with pytest.raises(JobFailed) as info:
        job.wait(timeout=20, interval=0.05)
    assert info.value.error == {
        "party": "host 10000",
        "kind": "ValueError",
        "message": "column x1 is missing",
    }
    assert "failed at host 10000: ValueError: column x1 is missing" in str(info.value)
    assert job.rerun()["attempt"] == 1
    assert job.stop()["state"] == "canceled"
    with pytest.raises(JobFailed, match="canceled: stopped by the user"):
        job.wait(timeout=5)


def test_job_table_shows_tasks_progress_and_error():
    job = {
        "job_id": "j1",
        "name": "n",
        "state": "failed",
        "status_message": None,
        "error": {"party": "guest 9999", "kind": "KeyError", "message": "[x] missing"},
        "tasks": [
            {
                "task": "psi",
                "component": "psi",
                "role": "guest",
                "party_id": 9999,
                "state": "failed",
                "seconds": 1.25,
                "error": {"kind": "KeyError", "message": "[x] missing"},
                "progress": {"step": 2, "total": 4, "values": {"loss": 0.5, "auc": None}},
            }
        ],
    }
    out = io.StringIO()
    Console(file=out, width=160).print(job_table(job))
    text = out.getvalue()
    assert "failed: [x] missing" in text and "2/4  loss 0.5" in text and "1.2" in text
    assert "failed at guest 9999: KeyError" in text
