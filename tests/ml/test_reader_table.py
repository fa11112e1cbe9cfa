"""The ``reader`` component on a table registered at the site (``table: ns.name``) instead of a path."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from atoll.ml.component import ComponentError, TaskContext, get_component, validate_params
from atoll.ml.reader import ReaderError

CSV = "key,target,x1,x2\na,1,0.5,1.5\nb,0,-1,2\nc,1,3,4\n"


def _ctx(tmp_path, tables=None) -> TaskContext:
    fed = SimpleNamespace(role="guest", party_id=9999, job_id="j")
    return TaskContext(fed, task="read", workdir=tmp_path / "w", tables=tables)  # type: ignore[arg-type]


def _run(tmp_path, params, tables=None):
    comp = get_component("reader")
    values = validate_params(comp, params, "task 'read'")
    ctx = _ctx(tmp_path, tables)
    return comp.run(ctx, values, {})["data"], ctx


@pytest.fixture
def tables(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CSV)
    return {"bank.customers": {"path": str(path), "id_column": "key", "label_column": "target"}}


def test_table_takes_path_and_columns_from_the_catalog(tmp_path, tables):
    frame, ctx = _run(tmp_path, {"table": "bank.customers", "task": "binary"}, tables)
    assert list(frame.ids) == ["a", "b", "c"]
    assert frame.n_features == 2
    assert np.array_equal(frame.label, [1, 0, 1])
    summary = ctx.metrics.records["summary"]
    assert summary["table"] == "bank.customers"
    assert summary["columns"]["id"] == "key" and summary["columns"]["label"] == "target"


def test_explicit_job_parameters_win_over_the_registered_columns(tmp_path, tables):
    # label_column: null in the job reads no label even though the table has one
    frame, ctx = _run(tmp_path, {"table": "bank.customers", "label_column": None}, tables)
    assert frame.label is None
    assert ctx.metrics.records["summary"]["columns"]["features"] == ["target", "x1", "x2"]
    # an explicit label column
    frame, _ = _run(tmp_path, {"table": "bank.customers", "label_column": "x2"}, tables)
    assert np.array_equal(frame.label, [1.5, 2.0, 4.0])
    # an explicit id column that is not in the file names the column
    with pytest.raises(ReaderError, match="'id'"):
        _run(tmp_path, {"table": "bank.customers", "id_column": "id"}, tables)


def test_path_still_works(tmp_path, tables):
    frame, _ = _run(
        tmp_path,
        {"path": tables["bank.customers"]["path"], "id_column": "key", "label_column": "target"},
    )
    assert frame.n_rows == 3


def test_unregistered_table_says_where_and_how_to_upload(tmp_path, tables):
    with pytest.raises(ReaderError) as err:
        _run(tmp_path, {"table": "bank.other"}, tables)
    msg = str(err.value)
    assert "'bank.other'" in msg and "guest 9999" in msg and "atoll data upload" in msg
    assert "bank.customers" in msg  # what is registered
    with pytest.raises(ReaderError, match="not registered at party guest 9999"):
        _run(tmp_path, {"table": "bank.customers"}, None)


def test_label_task_on_a_table_without_label(tmp_path, tables):
    tables["bank.customers"] = {**tables["bank.customers"], "label_column": None}
    with pytest.raises(ReaderError, match=r"table bank\.customers.*label_column is None"):
        _run(tmp_path, {"table": "bank.customers", "task": "binary"}, tables)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "exactly one of 'path'.*and 'table'.*got neither"),
        ({"path": "a.csv", "table": "ns.t"}, "exactly one of 'path'.*and 'table'.*got both"),
        ({"table": "nodot"}, "'table' is 'nodot'; write it as 'namespace.name'"),
        ({"table": ".t"}, "namespace.name"),
        ({"table": 3}, "table"),
        ({"path": "a.csv", "task": "binary"}, "label_column is None"),
        ({"table": "ns.t", "missing": "nope"}, "ReaderParams.missing"),
    ],
)
def test_job_file_errors(params, message):
    with pytest.raises(ComponentError, match=message):
        validate_params(get_component("reader"), params, "task 'read'")


def test_a_label_task_on_a_table_validates_without_label_column():
    values = validate_params(
        get_component("reader"), {"table": "ns.t", "task": "binary"}, "task 'read'"
    )
    assert values.table == "ns.t"  # type: ignore[attr-defined]
    assert values.label_column is None  # type: ignore[attr-defined]
