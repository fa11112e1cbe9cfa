"""The site's data catalog: uploads checked by the reader, nothing half-written (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from atoll.flow.errors import BadRequest, Conflict, NotFound
from atoll.flow.store import DataCatalog, JobStore
from atoll.flow.store._catalog import DataRow

GOOD = b"id,y,x1,x2\na,1,0.5,1.5\nb,0,-1,2\nc,1,3,4\n"
TABLE_KEYS = {
    "namespace",
    "name",
    "rows",
    "columns",
    "id_column",
    "label_column",
    "bytes",
    "sha256",
    "created_at",
}


@pytest.fixture
def catalog(db_url, tmp_path):
    store = JobStore(db_url)
    cat = DataCatalog(store, tmp_path / "tables")
    yield cat
    store.close()


def _files(cat: DataCatalog) -> list[str]:
    return sorted(str(p.relative_to(cat.tables_dir)) for p in cat.tables_dir.rglob("*"))


def test_upload_get_list_preview_resolve_delete(catalog):
    t = catalog.upload("experiment", "breast_guest", GOOD, id_column="id", label_column="y")
    assert set(t) == TABLE_KEYS
    assert t["namespace"] == "experiment" and t["name"] == "breast_guest"
    assert t["rows"] == 3
    assert t["columns"] == ["id", "y", "x1", "x2"]
    assert t["id_column"] == "id" and t["label_column"] == "y"
    assert t["bytes"] == len(GOOD) and t["sha256"] == hashlib.sha256(GOOD).hexdigest()
    path = catalog.tables_dir / "experiment" / "breast_guest.csv"
    assert path.read_bytes() == GOOD
    assert _files(catalog) == ["experiment", "experiment/breast_guest.csv"]

    assert catalog.get("experiment", "breast_guest") == t
    catalog.upload("experiment", "breast_host", b"id,x3\na,1\n", id_column="id")
    assert [(x["namespace"], x["name"]) for x in catalog.list()] == [
        ("experiment", "breast_guest"),
        ("experiment", "breast_host"),
    ]
    assert catalog.list()[1]["label_column"] is None

    p = catalog.preview("experiment", "breast_guest", rows=2)
    assert p["header"] == ["id", "y", "x1", "x2"]
    assert p["rows_preview"] == [["a", "1", "0.5", "1.5"], ["b", "0", "-1", "2"]]
    assert {k: p[k] for k in TABLE_KEYS} == t
    assert catalog.preview("experiment", "breast_guest")["rows_preview"][-1] == [
        "c",
        "1",
        "3",
        "4",
    ]

    r = catalog.resolve("experiment.breast_guest")
    assert r == {"path": str(path.resolve()), "id_column": "id", "label_column": "y"}

    assert catalog.delete("experiment", "breast_guest") == t
    assert not path.exists()
    with pytest.raises(NotFound):
        catalog.get("experiment", "breast_guest")
    catalog.delete("experiment", "breast_host")
    assert _files(catalog) == []
    assert catalog.list() == []


def test_resolve_namespace_with_dots(catalog):
    catalog.upload("org.dept", "t", GOOD, id_column="id")
    catalog.upload("org", "dept2.v1", GOOD, id_column="id")
    assert catalog.resolve("org.dept.t")["path"].endswith("org.dept/t.csv")
    assert catalog.resolve("org.dept2.v1")["path"].endswith("org/dept2.v1.csv")
    # both splits registered: the first dot wins
    catalog.upload("a", "b.c", GOOD, id_column="id")
    catalog.upload("a.b", "c", GOOD, id_column="id")
    assert catalog.resolve("a.b.c")["path"].endswith("a/b.c.csv")


def test_not_found_names_table_close_names_and_hint(catalog):
    catalog.upload("experiment", "breast_guest", GOOD, id_column="id")
    with pytest.raises(NotFound, match=r"experiment\.breast_gest.*close: experiment\.breast_guest"):
        catalog.get("experiment", "breast_gest")
    with pytest.raises(NotFound, match=r"experiment\.nothing.*atoll data upload"):
        catalog.resolve("experiment.nothing")
    with pytest.raises(NotFound, match=r"experiment\.nothing"):
        catalog.preview("experiment", "nothing")
    with pytest.raises(NotFound, match=r"experiment\.nothing"):
        catalog.delete("experiment", "nothing")
    with pytest.raises(BadRequest, match=r"namespace\.name"):
        catalog.resolve("nodot")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("", "t"), ("ns", ""), ("a/b", "t"), ("ns", "../etc"), ("ns", "a..b"), (".", "t"),
     ("ns", ".hidden"), ("ns", "x" * 129), ("ns", "sp ace"), ("ns", "ü")],
)  # fmt: skip
def test_bad_names(catalog, namespace, name):
    with pytest.raises(BadRequest, match="not a valid name"):
        catalog.upload(namespace, name, GOOD, id_column="id")
    assert _files(catalog) == []
    assert catalog.list() == []


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (b"id,y,x1\na,1,0.5\nb,0,oops\n", {"label_column": "y"}, r"line 3, column 'x1'"),
        (b"id,y,x1\na,1,0.5\nb,0,NAN\n", {}, r"line 3, column 'x1'"),
        (b"id,y,x1\na,1,0.5\nb,0,\n", {}, r"line 3, column 'x1'"),
        (b"key,x1\na,1\n", {}, r"id_column names a column that is not in the header"),
        (b"id,x1\na,1\n", {"label_column": "y"}, r"label_column names a column"),
        (b"id,x1\na,1\na,2\n", {}, r"a"),
        (b"1,2\n3,4\n", {}, r"no header"),
        (b"", {}, r"."),
        (b"\xff\xfe\x00bad", {}, r"."),
    ],
)
def test_bad_csv_is_refused_with_the_readers_message(catalog, content, kwargs, message):
    with pytest.raises(BadRequest, match=message) as err:
        catalog.upload("ns", "t", content, id_column="id", **kwargs)
    assert "table ns.t" in err.value.message  # not the temporary file's name
    assert ".upload-" not in err.value.message
    assert _files(catalog) == []
    assert catalog.list() == []


def test_bad_arguments(catalog):
    with pytest.raises(BadRequest, match="id_column"):
        catalog.upload("ns", "t", GOOD, id_column=" ")
    with pytest.raises(BadRequest, match="label_column"):
        catalog.upload("ns", "t", GOOD, id_column="id", label_column="")
    with pytest.raises(BadRequest, match="bytes"):
        catalog.upload("ns", "t", GOOD.decode(), id_column="id")  # type: ignore[arg-type]
    catalog.upload("ns", "t", GOOD, id_column="id")
    with pytest.raises(BadRequest, match="rows"):
        catalog.preview("ns", "t", rows=-1)


def test_conflict_and_overwrite(catalog):
    first = catalog.upload("ns", "t", GOOD, id_column="id", label_column="y")
    with pytest.raises(Conflict, match=r"ns\.t exists.*overwrite"):
        catalog.upload("ns", "t", b"id,x\nz,1\n", id_column="id")
    assert catalog.get("ns", "t") == first
    second = catalog.upload("ns", "t", b"id,x\nz,1\n", id_column="id", overwrite=True)
    assert second["rows"] == 1 and second["label_column"] is None
    assert second["columns"] == ["id", "x"]
    assert catalog.get("ns", "t") == second
    assert (catalog.tables_dir / "ns" / "t.csv").read_bytes() == b"id,x\nz,1\n"
    assert _files(catalog) == ["ns", "ns/t.csv"]


def test_failed_overwrite_keeps_the_previous_table(catalog):
    first = catalog.upload("ns", "t", GOOD, id_column="id")
    with pytest.raises(BadRequest, match="line 2"):
        catalog.upload("ns", "t", b"id,x\nz,bad\n", id_column="id", overwrite=True)
    assert catalog.get("ns", "t") == first
    assert (catalog.tables_dir / "ns" / "t.csv").read_bytes() == GOOD
    assert _files(catalog) == ["ns", "ns/t.csv"]


def test_database_failure_leaves_no_file_and_no_row(catalog, monkeypatch):
    """The file reaches its name inside the transaction; a failing commit takes it back."""
    from sqlalchemy.orm import SessionTransaction

    def boom(self):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(SessionTransaction, "commit", boom)
    with pytest.raises(RuntimeError, match="went away"):
        catalog.upload("ns", "t", GOOD, id_column="id")
    monkeypatch.undo()
    assert _files(catalog) == []
    assert catalog.list() == []


def test_database_failure_on_overwrite_restores_the_previous_file(catalog, monkeypatch):
    from sqlalchemy.orm import SessionTransaction

    first = catalog.upload("ns", "t", GOOD, id_column="id")

    def boom(self):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(SessionTransaction, "commit", boom)
    with pytest.raises(RuntimeError):
        catalog.upload("ns", "t", b"id,x\nz,1\n", id_column="id", overwrite=True)
    with pytest.raises(RuntimeError):
        catalog.delete("ns", "t")
    monkeypatch.undo()
    assert catalog.get("ns", "t") == first
    assert (catalog.tables_dir / "ns" / "t.csv").read_bytes() == GOOD
    assert _files(catalog) == ["ns", "ns/t.csv"]


def test_table_is_created_whatever_the_import_order(db_url, tmp_path):
    """A store made before the catalog's table existed still gets it from DataCatalog."""
    from sqlalchemy import inspect

    store = JobStore(db_url)
    try:
        DataRow.__table__.drop(store._engine)
        assert "atoll_data" not in inspect(store._engine).get_table_names()
        cat = DataCatalog(store, tmp_path / "t")
        assert "atoll_data" in inspect(store._engine).get_table_names()
        assert cat.list() == []
        DataCatalog(store, tmp_path / "t")  # again: no error
    finally:
        store.close()


def test_catalogs_share_the_database(db_url, tmp_path: Path):
    store = JobStore(db_url)
    try:
        a = DataCatalog(store, tmp_path / "t")
        a.upload("ns", "t", GOOD, id_column="id")
        b = DataCatalog(store, tmp_path / "t")
        assert [x["name"] for x in b.list()] == ["t"]
    finally:
        store.close()
