"""read_frame: FATE's example files, every error naming file/line/column, Parquet = CSV, round trips."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoll.ml.data import Frame
from atoll.ml.reader import ReaderError, ReaderParams, read_frame
from tests.shared_data import FATE, needs_fate


def _write(tmp_path: Path, text: str, name: str = "data.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def _error(path: Path, params: ReaderParams | None = None) -> str:
    with pytest.raises(ReaderError) as info:
        read_frame(path, params)
    msg = str(info.value)
    assert str(path) in msg, msg
    return msg


# -- FATE's example files -----------------------------------------------------------------------
@needs_fate
def test_fate_guest_binary():
    assert FATE is not None
    path = FATE / "breast_hetero_guest.csv"
    frame, report = read_frame(path, ReaderParams(label_column="y", task="binary"))
    raw = np.loadtxt(path, delimiter=",", skiprows=1)
    assert frame.columns == [f"x{j}" for j in range(10)]
    assert frame.ids == [str(int(v)) for v in raw[:, 0]]
    np.testing.assert_array_equal(frame.features, raw[:, 2:])
    np.testing.assert_array_equal(frame.label, raw[:, 1])
    assert frame.id_name == "id" and frame.label_name == "y"
    assert report.rows_read == report.rows_kept == 569
    assert report.label_counts == {
        "0": int((raw[:, 1] == 0).sum()),
        "1": int((raw[:, 1] == 1).sum()),
    }
    json.dumps(report.to_dict())


@needs_fate
def test_fate_host_no_label_and_int_ids():
    assert FATE is not None
    frame, report = read_frame(FATE / "breast_hetero_host.csv", ReaderParams(id_type="auto"))
    assert frame.n_rows == 569 and frame.columns == [f"x{j}" for j in range(20)]
    assert frame.label is None and report.label_column is None
    assert all(isinstance(i, int) for i in frame.ids) and report.id_type == "int"
    # label 'auto' finds no label in a host file and reads none
    frame2, _ = read_frame(FATE / "breast_hetero_host.csv", ReaderParams(label_column="auto"))
    assert frame2.label is None and frame2.columns == frame.columns


@needs_fate
def test_fate_label_auto_and_sid():
    assert FATE is not None
    path = FATE / "ionosphere_scale_hetero_guest.csv"
    if not path.is_file():
        pytest.skip(f"{path} is not in the shared data")
    # x2 is empty on every row (a sparse set where empty means 0)
    msg = _error(path, ReaderParams(label_column="auto", task="binary"))
    assert "line 2" in msg and "column 'x2'" in msg and "missing value ''" in msg
    frame, report = read_frame(
        path, ReaderParams(label_column="auto", task="binary", missing="fill")
    )
    assert frame.id_name == "sid" and frame.label_name == "label"
    assert report.missing_filled["x2"] == frame.n_rows
    assert set(np.unique(frame.label)) <= {0.0, 1.0}


@needs_fate
def test_fate_repeated_ids():
    assert FATE is not None
    path = FATE / "breast_hetero_guest_repeated_id.csv"
    base = {"label_column": "y", "task": "binary", "exclude_columns": ["mock_id"]}
    msg = _error(path, ReaderParams(**base))
    assert "line 3" in msg and "'id'" in msg and "'133'" in msg
    frame, report = read_frame(path, ReaderParams(**base, duplicate_ids="keep_first"))
    assert len(set(frame.ids)) == frame.n_rows == 569
    dup = report.to_dict()["duplicate_ids"]
    assert dup["dropped"] == report.rows_read - 569 == report.dropped_rows["duplicate_id"]
    assert dup["examples"][0] == {"id": "133", "lines": dup["examples"][0]["lines"]}
    assert dup["examples"][0]["lines"][0] == 2 and len(dup["examples"]) == 5
    assert report.ignored_columns == ["mock_id"]
    guest, _ = read_frame(FATE / "breast_hetero_guest.csv", ReaderParams(label_column="y"))
    # the first copy of each id holds the original row
    np.testing.assert_array_equal(frame.reorder(guest.ids).features, guest.features)
    frame, report = read_frame(path, ReaderParams(**base, duplicate_ids="drop_all"))
    assert frame.n_rows == report.rows_read - report.duplicate_ids["rows"]
    assert len(set(frame.ids)) == frame.n_rows
    # the mock ids are unique
    frame, _ = read_frame(
        path, ReaderParams(id_column="mock_id", exclude_columns=["id"], label_column="y")
    )
    assert frame.n_rows == 2139


# -- generated files: parsing ---------------------------------------------------------------------
def test_inference_quotes_bom_blank_lines_tsv(tmp_path):
    p = _write(
        tmp_path,
        '\ufeffName,ID, Y ,a,b\n"x, with comma",r1,1,1.5,"2"\n\n"multi\nline",r2,0, 3 ,4e1\n',
    )
    frame, report = read_frame(p, ReaderParams(label_column="auto", exclude_columns=["Name"]))
    assert frame.id_name == "ID" and frame.label_name == "Y" and frame.columns == ["a", "b"]
    assert frame.ids == ["r1", "r2"]
    np.testing.assert_array_equal(frame.features, [[1.5, 2.0], [3.0, 40.0]])
    np.testing.assert_array_equal(frame.label, [1.0, 0.0])
    assert report.ignored_columns == ["Name"]
    t = _write(tmp_path, "sample_id\tv\na\t1\nb\t2\n", "data.tsv")
    frame, _ = read_frame(t, ReaderParams())
    assert frame.id_name == "sample_id" and frame.features[:, 0].tolist() == [1.0, 2.0]


def test_feature_columns_order_and_exclude(tmp_path):
    p = _write(tmp_path, "id,a,b,c\n1,1,2,3\n2,4,5,6\n")
    frame, _ = read_frame(p, ReaderParams(feature_columns=["c", "a"]))
    assert frame.columns == ["c", "a"] and frame.features.tolist() == [[3, 1], [6, 4]]
    frame, rep = read_frame(p, ReaderParams(exclude_columns=["b"]))
    assert frame.columns == ["a", "c"] and rep.ignored_columns == ["b"]
    frame, _ = read_frame(p, ReaderParams(feature_columns=[]))
    assert frame.n_features == 0 and frame.ids == ["1", "2"]


def test_missing_fill_and_drop(tmp_path):
    p = _write(tmp_path, "id,y,a,b\n1,0,NA,2\n2,1,3,\n3,0,?,None\n4,1,5,6\n")
    frame, report = read_frame(p, ReaderParams(label_column="y", missing="fill", fill_value=-1))
    assert frame.features.tolist() == [[-1, 2], [3, -1], [-1, -1], [5, 6]]
    assert report.missing_filled == {"a": 2, "b": 2} and report.missing_cells_filled == 4
    frame, report = read_frame(p, ReaderParams(label_column="y", missing="drop_row"))
    assert frame.ids == ["4"] and report.dropped_rows["missing_value"] == 3
    assert report.rows_read == 4 and report.rows_kept == 1
    # a marker that reads as a number
    q = _write(tmp_path, "id,a\n1,-999\n2,7\n", "num.csv")
    frame, _ = read_frame(q, ReaderParams(missing_values=["-999"], missing="fill"))
    assert frame.features[:, 0].tolist() == [0.0, 7.0]


def test_inf_allowed_when_asked(tmp_path):
    p = _write(tmp_path, "id,a\n1,inf\n2,-Infinity\n3,1e999\n")
    frame, _ = read_frame(p, ReaderParams(allow_inf=True))
    assert frame.features[:, 0].tolist() == [np.inf, -np.inf, np.inf]


def test_binary_labels(tmp_path):
    p = _write(tmp_path, "id,y,a\n1,-1,0\n2,1,0\n3,-1,0\n")
    frame, report = read_frame(p, ReaderParams(label_column="y", task="binary"))
    assert frame.label.tolist() == [0, 1, 0] and report.label_mapping == {"-1": 0, "1": 1}
    q = _write(tmp_path, "id,y,a\n1,yes,0\n2,no,0\n3, yes ,0\n", "text.csv")
    frame, report = read_frame(
        q, ReaderParams(label_column="y", task="binary", label_mapping={"yes": 1, "no": 0})
    )
    assert frame.label.tolist() == [1, 0, 1] and report.label_counts == {"0": 1, "1": 2}
    frame, _ = read_frame(q, ReaderParams(label_column="y", task="binary", positive_label="no"))
    assert frame.label.tolist() == [0, 1, 0]
    r = _write(tmp_path, "id,y\n1,1.0\n2,0\n3,1\n", "float.csv")
    frame, _ = read_frame(r, ReaderParams(label_column="y", task="binary"))
    assert frame.label.tolist() == [1, 0, 1]


def test_regression_label_and_id_types(tmp_path):
    p = _write(tmp_path, "id,y,a\n10,2.5,1\n-3,-1e3,2\n0,7,3\n")
    frame, report = read_frame(p, ReaderParams(label_column="y", task="regression", id_type="int"))
    assert frame.ids == [10, -3, 0] and frame.label.tolist() == [2.5, -1000.0, 7.0]
    assert report.label_counts == {"-1000": 1, "2.5": 1, "7": 1}
    q = _write(tmp_path, "id,a\n007,1\n8,2\n", "zeros.csv")
    frame, report = read_frame(q, ReaderParams(id_type="auto"))
    assert frame.ids == ["007", "8"] and report.id_type == "str"


def test_blocks_keep_line_numbers(tmp_path):
    # many rows with a wide header: several blocks; the error is deep in the file
    n, m = 5000, 120
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, m))
    lines = ["id," + ",".join(f"f{j}" for j in range(m))]
    lines += [f"{i}," + ",".join(repr(v) for v in row) for i, row in enumerate(x.tolist())]
    p = _write(tmp_path, "\n".join(lines) + "\n")
    frame, _ = read_frame(p, ReaderParams())
    np.testing.assert_array_equal(frame.features, x)
    lines[4321] = lines[4321].rsplit(",", 1)[0] + ",oops"
    p = _write(tmp_path, "\n".join(lines) + "\n")
    msg = _error(p)
    assert "line 4322" in msg and f"'f{m - 1}'" in msg and "'oops'" in msg


# -- generated files: every error names the file, line and column -----------------------------------
def test_file_errors(tmp_path):
    msg = _error(tmp_path / "nope.csv")
    assert "not found" in msg
    assert "empty" in _error(_write(tmp_path, "", "empty.csv"))
    assert "empty" in _error(_write(tmp_path, "\ufeff", "bom.csv"))
    msg = _error(_write(tmp_path, "\n1,2\n", "blank.csv"))
    assert "line 1" in msg and "header" in msg
    msg = _error(_write(tmp_path, "1,0.5,2\n2,0.1,3\n", "nohead.csv"))
    assert "line 1" in msg and "no header" in msg
    msg = _error(_write(tmp_path, "id,a\n", "headonly.csv"))
    assert "no data rows" in msg
    msg = _error(_write(tmp_path, "id,a\n1,2\n", "data.dat"))
    assert "ReaderParams.format" in msg
    msg = _error(_write(tmp_path, "id,a\n1,\xff\n", "latin.csv", encoding="latin-1"))
    assert "line 2" in msg and "utf-8" in msg


def test_column_errors(tmp_path):
    p = _write(tmp_path, "key,a,b\n1,2,3\n")
    msg = _error(p)
    assert "line 1" in msg and "no id column" in msg and "['key', 'a', 'b']" in msg
    for field, params in [
        ("id_column", ReaderParams(id_column="nope")),
        ("label_column", ReaderParams(id_column="key", label_column="nope")),
        ("feature_columns", ReaderParams(id_column="key", feature_columns=["a", "nope"])),
        ("exclude_columns", ReaderParams(id_column="key", exclude_columns=["nope"])),
    ]:
        msg = _error(p, params)
        assert "line 1" in msg and "column 'nope'" in msg and field in msg
    msg = _error(p, ReaderParams(id_column="key", feature_columns=["key"]))
    assert "column 'key'" in msg and "id column" in msg
    msg = _error(_write(tmp_path, "id,a,a\n1,2,3\n", "dup.csv"))
    assert "line 1" in msg and "column 'a'" in msg and "twice" in msg
    msg = _error(_write(tmp_path, "id,a,\n1,2,3\n", "noname.csv"))
    assert "line 1" in msg and "column 3 has no name" in msg


def test_row_errors(tmp_path):
    msg = _error(_write(tmp_path, "id,a,b\n1,2,3\n2,3\n"))
    assert "line 3" in msg and "2 fields" in msg and "has 3" in msg
    msg = _error(_write(tmp_path, 'id,a,b\n"1\nstill 1",2,3\n2,x y,3\n', "q.csv"))
    assert "line 4" in msg and "column 'a'" in msg and "'x y'" in msg
    msg = _error(_write(tmp_path, "id,a\n1,2\n ,3\n", "emptyid.csv"))
    assert "line 3" in msg and "column 'id'" in msg and "empty" in msg
    msg = _error(_write(tmp_path, "id,a\n1,2\n2,NA\n", "miss.csv"))
    assert "line 3" in msg and "column 'a'" in msg and "'NA'" in msg and "missing" in msg
    msg = _error(_write(tmp_path, "id,a\n1,2\n2,NAN\n", "nan.csv"))
    assert "line 3" in msg and "column 'a'" in msg and "NaN" in msg
    msg = _error(_write(tmp_path, "id,a\n1,nan\n", "nan2.csv"), ReaderParams(missing_values=[""]))
    assert "line 2" in msg and "column 'a'" in msg and "NaN" in msg
    msg = _error(_write(tmp_path, "id,a,b\n1,2,3\n2,4,-inf\n", "inf.csv"))
    assert "line 3" in msg and "column 'b'" in msg and "infinite" in msg
    msg = _error(_write(tmp_path, "id,a\n1,1_000\n", "us.csv"))
    assert "line 2" in msg and "'1_000'" in msg
    msg = _error(_write(tmp_path, "id,a\n01,1\n", "int.csv"), ReaderParams(id_type="int"))
    assert "line 2" in msg and "column 'id'" in msg and "'01'" in msg


def test_label_errors(tmp_path):
    p = _write(tmp_path, "id,y,a\n1,0,1\n2,1,1\n3,2,1\n")
    msg = _error(p, ReaderParams(label_column="y", task="binary"))
    assert "line 4" in msg and "column 'y'" in msg and "third value" in msg
    msg = _error(
        _write(tmp_path, "id,y\n1,0\n2,2\n", "b.csv"), ReaderParams(label_column="y", task="binary")
    )
    assert "line 3" in msg and "column 'y'" in msg and "0/1 or -1/1" in msg
    q = _write(tmp_path, "id,y\n1,yes\n2,no\n3,maybe\n", "t.csv")
    msg = _error(q, ReaderParams(label_column="y", task="binary"))
    assert "line 2" in msg and "column 'y'" in msg and "'yes'" in msg and "label_mapping" in msg
    msg = _error(q, ReaderParams(label_column="y", task="binary", positive_label="yes"))
    assert "line 4" in msg and "column 'y'" in msg and "'maybe'" in msg
    msg = _error(
        q, ReaderParams(label_column="y", task="binary", label_mapping={"yes": 1, "no": 0})
    )
    assert "line 4" in msg and "'maybe'" in msg
    msg = _error(
        _write(tmp_path, "id,y\n1,1\n2,1\n", "one.csv"),
        ReaderParams(label_column="y", task="binary"),
    )
    assert "column 'y'" in msg and "two label values" in msg
    msg = _error(
        _write(tmp_path, "id,y\n1,abc\n", "r.csv"),
        ReaderParams(label_column="y", task="regression"),
    )
    assert "line 2" in msg and "column 'y'" in msg and "'abc'" in msg
    m = _write(tmp_path, "id,y,a\n1,1,2\n2,,3\n", "ml.csv")
    msg = _error(m, ReaderParams(label_column="y", missing="fill"))
    assert "line 3" in msg and "column 'y'" in msg and "label is missing" in msg
    msg = _error(m, ReaderParams(label_column="y", task="binary", missing="fill"))
    assert "line 3" in msg and "column 'y'" in msg and "label is missing" in msg
    frame, rep = read_frame(m, ReaderParams(label_column="y", missing="drop_row"))
    assert frame.ids == ["1"] and rep.dropped_rows["missing_value"] == 1


def test_duplicate_id_error_names_both_lines(tmp_path):
    p = _write(tmp_path, "id,a\nx,1\ny,2\nx,3\n")
    msg = _error(p)
    assert "line 4" in msg and "column 'id'" in msg and "line 2" in msg and "'x'" in msg
    frame, rep = read_frame(p, ReaderParams(duplicate_ids="drop_all"))
    assert frame.ids == ["y"] and rep.duplicate_ids["examples"] == [{"id": "x", "lines": [2, 4]}]
    assert "every row" in _error(
        _write(tmp_path, "id,a\nx,1\nx,2\n", "all.csv"), ReaderParams(duplicate_ids="drop_all")
    )


def test_params_validation_names_the_field():
    for kwargs, field in [
        ({"missing": "skip"}, "missing"),
        ({"duplicate_ids": "x"}, "duplicate_ids"),
        ({"task": "multi", "label_column": "y"}, "task"),
        ({"task": "binary"}, "task"),
        ({"id_type": "float"}, "id_type"),
        ({"format": "xlsx"}, "format"),
        ({"delimiter": ",,"}, "delimiter"),
        ({"encoding": "nope-8"}, "encoding"),
        ({"fill_value": float("nan"), "missing": "fill"}, "fill_value"),
        ({"feature_columns": "a"}, "feature_columns"),
        ({"exclude_columns": ["a", "a"]}, "exclude_columns"),
        ({"label_column": "y", "task": "binary", "label_mapping": {"a": 2}}, "label_mapping"),
        ({"label_column": "y", "task": "regression", "positive_label": "a"}, "positive_label"),
        ({"id_column": ""}, "id_column"),
    ]:
        with pytest.raises(ValueError, match=field):
            ReaderParams(**kwargs)


# -- Parquet ----------------------------------------------------------------------------------------
def _to_parquet(csv_path: Path, out: Path) -> Path:
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = {}
    for j, name in enumerate(header):
        vals = [r[j] for r in body]
        try:
            cols[name] = pa.array([float(v) for v in vals])
        except ValueError:
            cols[name] = pa.array(vals)
    if "id" in cols and pa.types.is_floating(cols["id"].type):
        cols["id"] = pa.array([int(v) for v in cols["id"].to_pylist()])
    pq.write_table(pa.table(cols), out)
    return out


def _same(a: Frame, b: Frame) -> None:
    assert a.ids == b.ids and a.columns == b.columns
    np.testing.assert_array_equal(a.features, b.features)
    if a.label is None:
        assert b.label is None
    else:
        np.testing.assert_array_equal(a.label, b.label)


@needs_fate
def test_parquet_equals_csv_fate(tmp_path):
    assert FATE is not None
    src = FATE / "breast_hetero_guest.csv"
    pqf = _to_parquet(src, tmp_path / "guest.parquet")
    params = ReaderParams(label_column="y", task="binary", id_type="auto")
    a, ra = read_frame(src, params)
    b, rb = read_frame(pqf, params)
    _same(a, b)
    assert ra.label_counts == rb.label_counts and rb.format == "parquet"


def test_parquet_equals_csv_and_errors(tmp_path):
    src = _write(tmp_path, "id,y,a,b,s\n1,1,0.5,NA,3\n2,0,-2,4, 7 \n3,1,1e3,5,?\n")
    pqf = tmp_path / "d.pq"
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1, 2, 3]),
                "y": pa.array([1, 0, 1]),
                "a": pa.array([0.5, -2.0, 1e3]),
                "b": pa.array([None, 4, 5], type=pa.int32()),
                "s": pa.array(["3", " 7 ", "?"]),
            }
        ),
        pqf,
    )
    for params in [
        ReaderParams(label_column="y", task="binary", missing="fill"),
        ReaderParams(label_column="y", missing="drop_row", id_type="int"),
    ]:
        a, ra = read_frame(src, params)
        b, rb = read_frame(pqf, params)
        _same(a, b)
        assert ra.dropped_rows == rb.dropped_rows and ra.missing_filled == rb.missing_filled
    msg = _error(pqf, ReaderParams(label_column="y"))
    assert "row 1" in msg and "column 'b'" in msg and "missing" in msg
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "v": ["1", "x"]}), bad)
    msg = _error(bad)
    assert "row 2" in msg and "column 'v'" in msg and "'x'" in msg
    msg = _error(bad, ReaderParams(feature_columns=["w"]))
    assert "column 'w'" in msg and "feature_columns" in msg
    dup = tmp_path / "dup.parquet"
    pq.write_table(pa.table({"id": ["a", "a"], "v": [1.0, 2.0]}), dup)
    msg = _error(dup)
    assert "row 2" in msg and "row 1" in msg and "column 'id'" in msg
    notpq = _write(tmp_path, "id,a\n1,2\n", "fake.parquet")
    assert "Parquet" in _error(notpq)


# -- property: any frame written as CSV reads back identical ------------------------------------------
_id_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters=',"\n\t '),
    min_size=1,
    max_size=8,
).filter(lambda s: s.strip() != "")


@st.composite
def _frames(draw):
    n = draw(st.integers(1, 25))
    m = draw(st.integers(0, 4))
    int_ids = draw(st.booleans())
    if int_ids:
        ids = draw(
            st.lists(st.integers(-(2**63) + 1, 2**63 - 1), min_size=n, max_size=n, unique=True)
        )
    else:
        ids = draw(st.lists(_id_text, min_size=n, max_size=n, unique=True))
    finite = st.floats(allow_nan=False, allow_infinity=False)
    x = np.array(draw(st.lists(st.lists(finite, min_size=m, max_size=m), min_size=n, max_size=n)))
    kind = draw(st.sampled_from([None, "binary", "regression"]))
    label = None
    if kind == "binary":
        label = np.array(draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)))
        if len(set(label.tolist())) < 2:
            kind = "regression"
    elif kind == "regression":
        label = np.array(draw(st.lists(finite, min_size=n, max_size=n)))
    frame = Frame(
        ids=ids,
        features=x.reshape(n, m),
        columns=[f"x{j}" for j in range(m)],
        label=label,
        label_name=None if label is None else "y",
    )
    return frame, kind, int_ids


def _frame_csv(frame: Frame) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", *(["y"] if frame.label is not None else []), *frame.columns])
    for i in range(frame.n_rows):
        lab = [repr(float(frame.label[i]))] if frame.label is not None else []
        w.writerow([frame.ids[i], *lab, *(repr(float(v)) for v in frame.features[i])])
    return out.getvalue()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=_frames())
def test_csv_round_trip(tmp_path, case):
    frame, kind, int_ids = case
    p = _write(tmp_path, _frame_csv(frame), "rt.csv")
    params = ReaderParams(
        id_column="id",
        label_column=None if frame.label is None else "y",
        task=kind if frame.label is not None else None,
        id_type="int" if int_ids else "str",
    )
    back, report = read_frame(p, params)
    assert back.ids == frame.ids
    assert back.columns == frame.columns
    np.testing.assert_array_equal(back.features, frame.features)
    if frame.label is None:
        assert back.label is None
    else:
        np.testing.assert_array_equal(back.label, frame.label)
    assert report.rows_kept == frame.n_rows
