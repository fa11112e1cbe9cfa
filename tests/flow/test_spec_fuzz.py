"""Fuzzing the job-file validators: whatever comes in, the only error is a JobSpecError.

Malformed YAML and JSON text, random nested data, and mutations of valid job files go
into :func:`atoll.flow.spec.parse_job` / :func:`~atoll.flow.spec.load_job` and into the
FATE importer (:func:`atoll.flow.fate.import_fate_job` / :func:`~atoll.flow.fate.load_fate_job`,
whose :class:`~atoll.flow.fate.FateImportError` is a JobSpecError). Never a TypeError,
KeyError, AttributeError or RecursionError; the message is never empty, and for a bad or
missing field it names the field.
"""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoll.flow.fate import FateImportError, import_fate_job, load_fate_job
from atoll.flow.spec import JobSpecError, load_job, parse_job

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

VALID_JOB: dict[str, Any] = {
    "name": "breast-lr",
    "parties": {"guest": 9999, "host": [10000], "arbiter": 10001},
    "tasks": {
        "read": {
            "component": "reader",
            "role_parameters": {
                "guest": {"path": "/data/guest.csv", "label_column": "y"},
                "host": {"path": "/data/host.csv"},
            },
        },
        "psi": {"component": "psi", "inputs": {"data": "read.data"}},
        "lr": {
            "component": "coordinated_lr",
            "inputs": {"train_data": "psi.data"},
            "parameters": {"epochs": 3, "batch_size": -1, "optimizer": "rmsprop"},
        },
    },
    "options": {"timeout": 60.0, "workers": 1},
}

FATE_DSL: dict[str, Any] = {
    "components": {
        "reader_0": {"module": "Reader", "output": {"data": ["data"]}},
        "data_transform_0": {
            "module": "DataTransform",
            "input": {"data": {"data": ["reader_0.data"]}},
            "output": {"data": ["data"], "model": ["model"]},
        },
        "intersection_0": {
            "module": "Intersection",
            "input": {"data": {"data": ["data_transform_0.data"]}},
            "output": {"data": ["data"]},
        },
        "hetero_lr_0": {
            "module": "HeteroLR",
            "input": {"data": {"train_data": ["intersection_0.data"]}},
            "output": {"data": ["data"], "model": ["model"]},
        },
    }
}
FATE_CONF: dict[str, Any] = {
    "dsl_version": 2,
    "initiator": {"role": "guest", "party_id": 9999},
    "role": {"guest": [9999], "host": [10000], "arbiter": [10001]},
    "component_parameters": {
        "common": {"hetero_lr_0": {"max_iter": 3, "penalty": "L2"}},
        "role": {
            "guest": {
                "0": {
                    "reader_0": {"table": {"name": "breast_hetero_guest", "namespace": "exp"}},
                    "data_transform_0": {"with_label": True, "label_name": "y"},
                }
            },
            "host": {
                "0": {
                    "reader_0": {"table": {"name": "breast_hetero_host", "namespace": "exp"}},
                    "data_transform_0": {"with_label": False},
                }
            },
        },
    },
}
FATE_DAG_YAML = """
dag:
  parties:
    - {party_id: ["9999"], role: guest}
    - {party_id: ["10000"], role: host}
    - {party_id: ["10001"], role: arbiter}
  party_tasks:
    guest_9999:
      parties: [{party_id: ["9999"], role: guest}]
      tasks:
        reader_0: {parameters: {name: breast_hetero_guest, namespace: experiment}}
    host_10000:
      parties: [{party_id: ["10000"], role: host}]
      tasks:
        reader_0: {parameters: {name: breast_hetero_host, namespace: experiment}}
  tasks:
    reader_0:
      component_ref: reader
      parties: [{party_id: ["9999"], role: guest}, {party_id: ["10000"], role: host}]
    psi_0:
      component_ref: psi
      inputs: {data: {input_data: {task_output_artifact: {output_artifact_key: output_data, producer_task: reader_0}}}}
      parties: [{party_id: ["9999"], role: guest}, {party_id: ["10000"], role: host}]
schema_version: 2.1.0
"""

# -------------------------------------------------------------------------------- strategies

KEYS = [
    "name", "parties", "tasks", "options", "base_dir", "guest", "host", "arbiter",
    "component", "inputs", "parameters", "role_parameters", "party_parameters", "run_on",
    "reader", "psi", "coordinated_lr", "path", "table", "data", "read.data", "epochs",
    "timeout", "workers", "insecure", "components", "module", "input", "output", "role",
    "component_parameters", "common", "algorithm_parameters", "dsl_version", "dag",
    "party_tasks", "component_ref", "party_id", "Reader", "HeteroLR", "0", "all", "9999",
]  # fmt: skip
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([9999, 10000, 10001, 0, -1, 2, 2**63])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(KEYS)
)
keys = st.sampled_from(KEYS) | st.text(max_size=8) | st.integers(-3, 10_001)
data = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(keys, c, max_size=5),
    max_leaves=30,
)
mappings = st.dictionaries(keys, data, max_size=6)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with one to three random edits: a value replaced, a key dropped or added."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "replace":
            parent[key] = draw(data)
        elif action == "drop":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(keys)] = draw(data)
        else:
            parent.append(draw(data))
    return doc


def _check(exc: BaseException) -> None:
    assert isinstance(exc, JobSpecError), f"{type(exc).__name__}: {exc}"
    assert str(exc).strip(), "empty message"


def _parse(raw: Any) -> None:
    try:
        parse_job(raw)
    except Exception as exc:
        _check(exc)


def _fate(dsl: Any, conf: Any = None, tables: Any = None) -> None:
    try:
        import_fate_job(dsl, conf, tables=tables)
    except Exception as exc:
        _check(exc)


def _write(text: str | bytes, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix)
    with open(fd, "wb") as f:
        f.write(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return Path(name)


def _load(text: str | bytes, suffix: str = ".yaml") -> None:
    path = _write(text, suffix)
    try:
        load_job(path)
    except Exception as exc:
        _check(exc)
    finally:
        path.unlink()


def _load_fate(dsl: str | bytes, conf: str | bytes | None, suffix: str) -> None:
    paths = [_write(dsl, suffix)] + ([] if conf is None else [_write(conf, suffix)])
    try:
        load_fate_job(paths[0], paths[1] if conf is not None else None)
    except Exception as exc:
        _check(exc)
    finally:
        for p in paths:
            p.unlink()


def _mutate_text(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 8)))
        text = (
            text[:i]
            + draw(st.sampled_from(["", ":", "{", "]", "- ", "\n", "  ", "'", "x"]))
            + text[j:]
        )
    return text


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    return _mutate_text(draw, text)


# -------------------------------------------------------------------------------- the valid bases


def test_the_bases_are_valid(tmp_path):
    parse_job(VALID_JOB)
    import_fate_job(FATE_DSL, FATE_CONF)
    import_fate_job(yaml.safe_load(FATE_DAG_YAML))
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(VALID_JOB))
    load_job(tmp_path / "job.yaml")


# -------------------------------------------------------------------------------- Atoll's job file


@FUZZ
@given(data)
def test_parse_job_on_random_data(raw):
    _parse(raw)


@FUZZ
@given(mappings)
def test_parse_job_on_random_mappings(raw):
    _parse(raw)


@FUZZ
@given(mutated(VALID_JOB))
def test_parse_job_on_mutated_jobs(raw):
    _parse(raw)


@FUZZ
@given(st.text(max_size=200) | mutated_text(yaml.safe_dump(VALID_JOB, sort_keys=False)))
def test_load_job_on_malformed_yaml(text):
    _load(text)


@FUZZ
@given(st.binary(max_size=100))
def test_load_job_on_random_bytes(blob):
    _load(blob)


@FUZZ
@given(mutated(VALID_JOB))
def test_load_job_on_mutated_files(raw):
    _load(yaml.safe_dump(raw))


def _drop(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    del parent[path[-1]]
    return doc


def _set(doc: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        (_drop(VALID_JOB, "parties"), ["parties"]),
        (_drop(VALID_JOB, "tasks"), ["tasks"]),
        (_drop(VALID_JOB, "tasks", "read", "component"), ["read", "component"]),
        (_set(VALID_JOB, "x", "parties", "guest"), ["parties.guest"]),
        (_set(VALID_JOB, [1, 2], "parties", "guest"), ["parties.guest"]),
        (_set(VALID_JOB, {"a": 1}, "parties", "host"), ["parties.host"]),
        (_set(VALID_JOB, "soon", "options", "timeout"), ["options.timeout"]),
        (_set(VALID_JOB, 5, "tasks", "read", "component"), ["read", "component"]),
        (_set(VALID_JOB, "nope", "tasks", "read", "component"), ["read", "nope"]),
        (_set(VALID_JOB, [], "tasks", "psi", "inputs"), ["psi", "inputs"]),
        (_set(VALID_JOB, "read", "tasks", "psi", "inputs", "data"), ["psi", "data", "read"]),
        (_set(VALID_JOB, "ghost.data", "tasks", "psi", "inputs", "data"), ["psi", "ghost"]),
        (_set(VALID_JOB, "x", "tasks", "lr", "parameters", "epochs"), ["lr", "epochs"]),
        (_set(VALID_JOB, 1, "tasks", "lr", "parameters", "no_such"), ["lr", "no_such"]),
        (_set(VALID_JOB, {"x": 1}, "tasks", "read", "role_parameters", "judge"), ["read", "judge"]),
        (_set(VALID_JOB, {"table": "q"}, "tasks", "read", "parameters"), ["read", "table"]),
        (_set(VALID_JOB, ["judge"], "tasks", "psi", "run_on"), ["psi", "judge"]),
        (_set(VALID_JOB, 1, "surprise"), ["surprise"]),
        (_set(VALID_JOB, {}, "tasks"), ["no tasks"]),
        (_set(VALID_JOB, [10000, 10000], "parties", "host"), ["parties", "10000", "twice"]),
        (_set(VALID_JOB, {}, "parties"), ["parties", "at least one party"]),
    ],
)
def test_errors_name_the_field(raw, needles):
    with pytest.raises(JobSpecError) as err:
        parse_job(raw)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))


@pytest.mark.parametrize("raw", [None, [], "job", 3, [("parties", 1)], b"x"])
def test_parse_job_on_a_non_mapping(raw):
    with pytest.raises(JobSpecError, match="mapping"):
        parse_job(raw)


def test_deep_nesting_and_long_chains(tmp_path):
    deep: Any = 1
    for _ in range(5000):
        deep = {"a": deep}
    _parse(_set(VALID_JOB, deep, "tasks", "lr", "parameters", "epochs"))
    _parse({"parties": deep, "tasks": deep})
    _load("[" * 5000 + "]" * 5000)
    _load("a: " + "{b: " * 5000 + "1" + "}" * 5000)
    _load_fate("[" * 5000 + "]" * 5000, None, ".json")
    # a chain of 3000 tasks, each reading the previous one's output: no RecursionError
    tasks: dict[str, Any] = {"t0": VALID_JOB["tasks"]["read"]}
    for i in range(1, 3000):
        tasks[f"t{i}"] = {"component": "psi", "inputs": {"data": f"t{i - 1}.data"}}
    _parse({**VALID_JOB, "tasks": tasks})
    # ... and a cycle that long is named
    tasks["t0"] = {"component": "psi", "inputs": {"data": "t2999.data"}}
    with pytest.raises(JobSpecError, match="cycle"):
        parse_job({**VALID_JOB, "tasks": tasks})


# -------------------------------------------------------------------------------- FATE's formats


@FUZZ
@given(data, data | st.none())
def test_fate_on_random_data(dsl, conf):
    _fate(dsl, conf)


@FUZZ
@given(mappings, mappings)
def test_fate_on_random_mappings(dsl, conf):
    _fate(dsl, conf)


@FUZZ
@given(mutated(FATE_DSL), mutated(FATE_CONF))
def test_fate_on_mutated_dsl_and_conf(dsl, conf):
    _fate(dsl, conf)


@FUZZ
@given(mutated(FATE_DSL))
def test_fate_on_mutated_dsl_with_the_valid_conf(dsl):
    _fate(dsl, FATE_CONF)


@FUZZ
@given(mutated(yaml.safe_load(FATE_DAG_YAML)))
def test_fate_on_mutated_dags(dag):
    _fate(dag)


@FUZZ
@given(data)
def test_fate_on_random_tables(tables):
    _fate(FATE_DSL, FATE_CONF, tables)


@FUZZ
@given(
    st.text(max_size=200) | mutated_text(json.dumps(FATE_DSL)),
    st.none() | st.text(max_size=100) | mutated_text(json.dumps(FATE_CONF)),
)
def test_load_fate_job_on_malformed_json(dsl, conf):
    _load_fate(dsl, conf, ".json")


@FUZZ
@given(st.text(max_size=200) | mutated_text(FATE_DAG_YAML) | st.binary(max_size=60))
def test_load_fate_job_on_malformed_yaml(text):
    _load_fate(text, None, ".yaml")


@pytest.mark.parametrize(
    ("dsl", "conf", "needles"),
    [
        (_drop(FATE_DSL, "components", "reader_0", "module"), FATE_CONF, ["reader_0", "module"]),
        (_set(FATE_DSL, "HeteroFoo", "components", "hetero_lr_0", "module"), FATE_CONF, ["HeteroFoo"]),
        (FATE_DSL, _drop(FATE_CONF, "role"), ["role"]),
        (FATE_DSL, _set(FATE_CONF, "many", "component_parameters", "common", "hetero_lr_0", "max_iter"), ["hetero_lr_0", "epochs"]),  # Atoll's name for it
        (FATE_DSL, _set(FATE_CONF, 1, "component_parameters", "common", "hetero_lr_0", "no_such_param"), ["hetero_lr_0", "no_such_param"]),
        (FATE_DSL, _set(FATE_CONF, [1], "component_parameters", "common", "hetero_lr_0"), ["component_parameters.common.hetero_lr_0", "mapping"]),
        (FATE_DSL, _set(FATE_CONF, "x", "component_parameters", "role"), ["component_parameters.role", "mapping"]),
        (_set(FATE_DSL, [], "components", "hetero_lr_0", "input"), FATE_CONF, ["hetero_lr_0", "input"]),
        (FATE_DSL, _set(FATE_CONF, {"guest": ["x"]}, "role"), ["'x'", "party id"]),
    ],
)  # fmt: skip
def test_fate_errors_name_the_field(dsl, conf, needles):
    with pytest.raises(FateImportError) as err:
        import_fate_job(dsl, conf)
    for needle in needles:
        assert needle in str(err.value), (needle, str(err.value))
