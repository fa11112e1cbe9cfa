"""``atoll run``: a whole job across three local site processes, its outputs, and its failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from atoll.cli.demo import demo_job, write_demo_data
from atoll.federation.launch import PartyFailed
from atoll.flow.local import run_job
from atoll.flow.spec import load_job

pytestmark = pytest.mark.multiprocess


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    world = write_demo_data(root / "data", seed=7)
    job = demo_job(world["files"], key_bits=1024, epochs=4, seed=7, workers=1)
    path = root / "data" / "job.yaml"
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return root, path, world


@pytest.fixture(scope="module")
def trained(demo):
    root, path, _ = demo
    events = []
    result = run_job(
        load_job(path), root / "out", transcript=True, on_event=lambda p, e: events.append((p, e))
    )
    return result, events


def test_job_runs_and_leaves_models_predictions_metrics_and_report(demo, trained):
    root, _path, world = demo
    result, events = trained
    guest = root / "out" / "guest-9999"
    # every party's outputs where they belong; only the guest has scores
    assert (guest / "lr" / "output_model.json").exists()
    assert (root / "out" / "host-10000" / "lr" / "output_model.json").exists()
    assert not (root / "out" / "host-10000" / "lr" / "test_output_data.csv").exists()
    lines = (guest / "lr" / "test_output_data.csv").read_text().splitlines()
    assert lines[0] == "id,label,predict_score,predict_result,type"
    assert len(lines) - 1 == len(world["test_rows"])
    assert (guest / "evaluate" / "report.html").read_text().count("<svg") >= 4
    status = json.loads((root / "out" / "job.json").read_text())
    assert status["status"] == "success"
    # the host's model holds only its own 20 weights; the arbiter has no model at all
    host_model = json.loads((root / "out" / "host-10000" / "lr" / "output_model.json").read_text())
    assert len(host_model["data"]["weights"]) == 20 and host_model["role"] == "host"
    assert not (root / "out" / "arbiter-10001" / "lr" / "output_model.json").exists()
    # progress reached the launcher: 4 epochs of loss from the guest's LR
    epochs = [e for p, e in events if p.role == "guest" and e.get("task") == "lr" and "step" in e]
    assert [e["step"] for e in epochs] == [1, 2, 3, 4]
    evaluation = result.task("guest", "evaluate")["metrics"]["records"]["evaluation"]
    assert evaluation["test"]["auc"] > 0.9
    assert json.loads((root / "out" / "host-10000" / "transcript.json").read_text())


def test_a_failing_party_fails_the_job_and_names_the_file(demo, tmp_path):
    root, path, _ = demo
    job = yaml.safe_load(path.read_text())
    job["tasks"]["read_train"]["role_parameters"]["host"]["path"] = "missing.csv"
    bad = root / "data" / "bad.yaml"
    bad.write_text(yaml.safe_dump(job))
    with pytest.raises(PartyFailed) as err:
        run_job(load_job(bad), tmp_path / "out")
    assert err.value.party.role == "host"
    assert "missing.csv" in err.value.text
    assert json.loads((tmp_path / "out" / "job.json").read_text())["status"] == "failed"


def test_cli_run_exit_codes(demo, tmp_path):
    root, path, _ = demo
    job = yaml.safe_load(path.read_text())
    job["tasks"]["lr"]["parameters"]["epochs"] = 0
    bad = Path(root / "data" / "bad_param.yaml")
    bad.write_text(yaml.safe_dump(job))
    out = subprocess.run(
        [sys.executable, "-m", "atoll.cli.main", "run", str(bad), "--job-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "task 'lr'" in out.stderr and "epochs" in out.stderr


def test_a_later_job_predicts_with_the_saved_models(demo, trained, tmp_path):
    """FATE's predict stage: the saved scaler and LR models applied to rows in a new job
    (guest and host only: prediction needs no arbiter)."""
    root, path, _ = demo
    out = root / "out"
    job = yaml.safe_load(path.read_text())
    tasks = {k: job["tasks"][k] for k in ("read_test", "psi_test")}
    for name, task in (("scale_model", "scale"), ("lr_model", "lr")):
        tasks[name] = {
            "component": "model_reader",
            "role_parameters": {
                "guest": {"path": str(out / "guest-9999" / task / "output_model.json")},
                "host": {"path": str(out / "host-10000" / task / "output_model.json")},
            },
        }
    tasks["scale"] = {
        "component": "feature_scale",
        "inputs": {"test_data": "psi_test.data", "input_model": "scale_model.model"},
    }
    tasks["predict"] = {
        "component": "coordinated_lr",
        "inputs": {"test_data": "scale.test_data", "input_model": "lr_model.model"},
    }
    predict = {"name": "predict", "parties": {"guest": 9999, "host": [10000]}, "tasks": tasks}
    pfile = root / "data" / "predict.yaml"
    pfile.write_text(yaml.safe_dump(predict, sort_keys=False))
    run_job(load_job(pfile), tmp_path / "predict")
    before = (out / "guest-9999" / "lr" / "test_output_data.csv").read_text()
    after = (tmp_path / "predict" / "guest-9999" / "predict" / "test_output_data.csv").read_text()
    assert after == before


def test_a_model_of_another_role_is_refused(demo, trained, tmp_path):
    root, _path, _ = demo
    out = root / "out"
    job = {
        "name": "wrong-model",
        "parties": {"guest": 9999, "host": [10000]},
        "tasks": {
            "m": {
                "component": "model_reader",
                "role_parameters": {
                    "guest": {"path": str(out / "host-10000" / "lr" / "output_model.json")},
                    "host": {"path": str(out / "host-10000" / "lr" / "output_model.json")},
                },
            }
        },
    }
    pfile = tmp_path / "wrong.yaml"
    pfile.write_text(yaml.safe_dump(job))
    with pytest.raises(PartyFailed, match="holds the host's model, this party is the guest"):
        run_job(load_job(pfile), tmp_path / "out")


def test_hetero_pearson_job_matches_numpy(demo, tmp_path):
    """FATE's HeteroPearson as a job: only the guest gets the correlations, equal to numpy's."""
    root, path, world = demo
    job = yaml.safe_load(path.read_text())
    tasks = {k: job["tasks"][k] for k in ("read_train", "psi_train")}
    tasks["pearson"] = {
        "component": "HeteroPearson",
        "inputs": {"data": "psi_train.data"},
        "parameters": {"key_bits": 1024},
        "role_parameters": {"host": {"share_names": True}},
    }
    pfile = root / "data" / "pearson.yaml"
    pfile.write_text(yaml.safe_dump({"name": "pearson", "parties": job["parties"], "tasks": tasks}))
    result = run_job(load_job(pfile), tmp_path / "out")
    corr = result.task("guest", "pearson")["metrics"]["records"]["correlation"]["10000"]
    assert corr["host_columns"] == [f"x{j}" for j in range(20)]
    rows = world["train_rows"]
    pooled = np.column_stack([world["y"][rows], world["x"][rows]])
    expected = np.corrcoef(pooled, rowvar=False)[:11, 11:]
    np.testing.assert_allclose(np.array(corr["corr"]), expected, atol=1e-6)
    assert "correlation" not in result.task("host", "pearson")["metrics"]["records"]


def test_the_job_store_records_states_metrics_and_models(demo, tmp_path):
    """atoll run's job database: the job, every party's tasks, their metrics and models;
    a failed job says which party failed and cancels what did not finish."""
    from atoll.flow.store import JobStore

    root, path, _ = demo
    job = yaml.safe_load(path.read_text())
    job["tasks"] = {k: job["tasks"][k] for k in ("read_train", "psi_train", "scale")}
    job["tasks"]["scale"]["inputs"] = {"train_data": "psi_train.data"}
    small = root / "data" / "small.yaml"
    small.write_text(yaml.safe_dump(job, sort_keys=False))
    with JobStore(f"sqlite:///{tmp_path / 'jobs.db'}") as store:
        run_job(load_job(small), tmp_path / "ok", store=store)
        (ok,) = store.list_jobs()
        assert ok.state == "success"
        tasks = store.tasks_of(ok.job_id)
        assert {(t.task, t.role) for t in tasks} == {
            (task, role) for task in job["tasks"] for role in ("guest", "host")
        }
        assert all(t.state == "success" for t in tasks)
        psi = store.metrics(ok.job_id, task="psi_train", role="guest", name="summary")
        assert psi[0]["data"]["intersection_size"] > 380
        models = store.list_models(ok.job_id)
        assert {(m.task, m.role) for m in models} == {("scale", "guest"), ("scale", "host")}

        job["tasks"]["psi_train"]["parameters"] = {"min_intersection": 10_000}
        small.write_text(yaml.safe_dump(job, sort_keys=False))
        with pytest.raises(PartyFailed):
            run_job(load_job(small), tmp_path / "bad", store=store)
        bad = next(j for j in store.list_jobs() if j.job_id != ok.job_id)
        assert bad.state == "failed" and "min_intersection" in (bad.error or {}).get("message", "")
        states = {(t.task, t.role): t.state for t in store.tasks_of(bad.job_id)}
        assert states[("read_train", "guest")] == "success"
        assert "failed" in states.values()
        assert states[("scale", "guest")] == "canceled"
