"""The job file: validation into per-party plans, and errors that name what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from atoll.federation import Party
from atoll.flow.spec import JobSpecError, load_job, parse_job, plan_job


def _job(**tasks):
    return {
        "name": "t",
        "parties": {"guest": 9999, "host": [10000, 10002], "arbiter": 10001},
        "base_dir": "/data/jobs",
        "tasks": tasks
        or {
            "read": {
                "component": "reader",
                "parameters": {"id_column": "id"},
                "role_parameters": {
                    "guest": {"path": "g.csv", "label_column": "y"},
                    "host": {"path": "h.csv"},
                },
                "party_parameters": {10002: {"path": "/abs/h2.csv"}},
            },
            "psi": {"component": "Intersection", "inputs": {"data": "read.data"}},
            "lr": {
                "component": "HeteroLR",
                "inputs": {"train_data": "psi.data"},
                "parameters": {"epochs": 3, "key_bits": 1024},
            },
            "eval": {"component": "evaluation", "inputs": {"data": "lr.train_output_data"}},
        },
    }


def test_plans_merge_parameters_resolve_paths_and_skip_roles():
    plans = plan_job(parse_job(_job()))
    guest = plans[Party("guest", 9999)]
    assert [t.name for t in guest.tasks] == ["read", "psi", "lr", "eval"]
    read = guest.tasks[0]
    assert read.params["path"] == "/data/jobs/g.csv" and read.params["label_column"] == "y"
    assert plans[Party("host", 10000)].tasks[0].params["path"] == "/data/jobs/h.csv"
    assert plans[Party("host", 10002)].tasks[0].params["path"] == "/abs/h2.csv"
    # FATE names map to Atoll components
    assert guest.tasks[1].component == "psi" and guest.tasks[2].component == "coordinated_lr"
    # the arbiter runs only the LR; hosts have no evaluation
    assert [t.name for t in plans[Party("arbiter", 10001)].tasks] == ["lr"]
    assert [t.name for t in plans[Party("host", 10000)].tasks] == ["read", "psi", "lr"]
    assert guest.tasks[2].inputs["train_data"] == ("psi", "data")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"psi": {"component": "NoSuchThing"}}, "unknown component 'NoSuchThing'"),
        ({"psi": {"component": "psi", "inputs": {"dat": "read.data"}}}, "has no input 'dat'"),
        (
            {"psi": {"component": "psi", "inputs": {"data": "lr.data"}}},
            "there is no task 'lr'",
        ),
        ({"psi": {"component": "psi", "inputs": {"data": "read"}}}, "'task.output'"),
        ({"psi": {"component": "psi", "inputs": {"data": "read.model"}}}, "has no output 'model'"),
        ({"psi": {"component": "psi"}}, "required input 'data' is not given"),
        (
            {
                "psi": {
                    "component": "psi",
                    "inputs": {"data": "read.data"},
                    "parameters": {"protocl": "rsa"},
                }
            },
            "protocl",
        ),
        (
            {
                "psi": {
                    "component": "psi",
                    "inputs": {"data": "read.data"},
                    "parameters": {"protocol": "dh"},
                }
            },
            "protocol",
        ),
        (
            {"psi": {"component": "psi", "inputs": {"data": "read.data"}, "run_on": ["arbiter"]}},
            "has no role 'arbiter'",
        ),
        (
            {
                "psi": {
                    "component": "psi",
                    "inputs": {"data": "read.data"},
                    "party_parameters": {5: {}},
                }
            },
            "party 5",
        ),
    ],
)
def test_errors_name_the_task_and_the_problem(change, needle):
    raw = _job()
    raw["tasks"] = {"read": raw["tasks"]["read"], **change}
    with pytest.raises(JobSpecError) as err:
        parse_job(raw, "job.yaml")
    assert needle in str(err.value)
    assert "job.yaml" in str(err.value)


def test_tasks_run_in_dependency_order_whatever_the_file_order():
    raw = _job()
    raw["tasks"] = dict(reversed(list(raw["tasks"].items())))
    plans = plan_job(parse_job(raw))
    assert [t.name for t in plans[Party("guest", 9999)].tasks] == ["read", "psi", "lr", "eval"]


def test_a_cycle_is_refused():
    raw = _job()
    raw["tasks"]["read"] = {"component": "psi", "inputs": {"data": "psi.data"}}
    with pytest.raises(JobSpecError, match="cycle: read -> psi -> read"):
        parse_job(raw)


def test_kind_mismatch_is_refused():
    raw = _job()
    raw["tasks"]["eval"]["inputs"] = {"data": "psi.data"}
    with pytest.raises(JobSpecError, match="needs predictions"):
        parse_job(raw)


def test_load_job_reports_the_file(tmp_path: Path):
    bad = tmp_path / "job.yaml"
    bad.write_text("parties: [1, 2\n")
    with pytest.raises(JobSpecError, match=r"job\.yaml: not valid YAML"):
        load_job(bad)
    with pytest.raises(JobSpecError, match="cannot read"):
        load_job(tmp_path / "missing.yaml")
    bad.write_text("parties: {guest: 1}\ntasks: {}\n")
    with pytest.raises(JobSpecError, match="no tasks"):
        load_job(bad)
    bad.write_text("parties: {guest: 1}\ntask: {}\n")
    with pytest.raises(JobSpecError, match="tasks"):
        load_job(bad)
