"""A site's data catalog: uploaded CSV files kept as named tables that jobs read.

A table is ``namespace.name`` (FATE's two-part table names): its file lives at
``<tables_dir>/<namespace>/<name>.csv`` and its row in ``atoll_data`` (next to
the job store's tables, in the same database) records the id and label columns,
the row count, the header, the size and the sha256 of the file.

An upload is checked by reading it with the reader jobs use
(:func:`atoll.ml.reader.read_frame`), so a table that is registered is one a job
can read: a bad cell, a missing id column or a NaN is refused at upload time with
the reader's message (line and column). Nothing is half-written: the bytes go to a
temporary file first and reach their final name, together with the row, only
once they parsed; a failure anywhere leaves the previous state (no file and no
row, or the previous version of the table when overwriting).

Table names are ``[A-Za-z0-9_.-]{1,128}``, not starting with ``.`` and without
``..``. In a reference ``"namespace.name"`` (:meth:`DataCatalog.resolve`) the
namespace may itself contain dots: the reference is split at the first ``.``
that gives a registered table (so ``a.b.c`` is ``a`` / ``b.c`` if that is
registered, else ``a.b`` / ``c``).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import difflib
import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from atoll.flow.errors import BadRequest, Conflict, NotFound
from atoll.flow.store._schema import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from atoll.flow.store._store import JobStore

__all__ = ["DataCatalog", "DataRow"]

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_UPLOAD_HINT = "upload it with `atoll data upload`"
JSON = dict[str, Any]
_Tables = list[JSON]


class DataRow(Base):
    __tablename__ = "atoll_data"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(Text)
    id_column: Mapped[str] = mapped_column(String(255))
    label_column: Mapped[str | None] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(Integer)
    columns_json: Mapped[str] = mapped_column(Text)
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


def _bad_request(message: str) -> BadRequest:
    return BadRequest(message)


def _conflict(message: str) -> Conflict:
    return Conflict(message)


def _not_found(message: str) -> NotFound:
    return NotFound(message)


def check_name(value: Any, what: str) -> str:
    """``value`` if it is a valid namespace or table name; else :class:`BadRequest`."""
    if (
        not isinstance(value, str)
        or not _NAME.fullmatch(value)
        or value.startswith(".")
        or ".." in value
    ):
        raise _bad_request(
            f"{what} {value!r} is not a valid name: use 1 to 128 of A-Z a-z 0-9 _ . -, "
            "not starting with '.' and without '..'"
        )
    return value


def _table(row: DataRow) -> JSON:
    """The ``Table`` shape of :mod:`atoll.flow.site.backend`."""
    return {
        "namespace": row.namespace,
        "name": row.name,
        "rows": row.rows,
        "columns": json.loads(row.columns_json),
        "id_column": row.id_column,
        "label_column": row.label_column,
        "bytes": row.bytes,
        "sha256": row.sha256,
        "created_at": row.created_at.isoformat(),
    }


class DataCatalog:
    """The tables uploaded to one site; rows in ``store``'s database, files under ``tables_dir``."""

    def __init__(self, store: JobStore, tables_dir: Path | str) -> None:
        self._store = store
        self.tables_dir = Path(tables_dir)
        self.tables_dir.mkdir(parents=True, exist_ok=True)
        engine: Engine = store._engine
        # the job store creates every table of Base.metadata, but only those declared
        # when it was made: make sure ours exists whatever the import order was
        DataRow.__table__.create(engine, checkfirst=True)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return f"DataCatalog({self._store!r}, {str(self.tables_dir)!r})"

    def _file(self, namespace: str, name: str) -> Path:
        return self.tables_dir / namespace / f"{name}.csv"

    # -- writing ------------------------------------------------------------------------------
    def upload(
        self,
        namespace: str,
        name: str,
        content: bytes,
        *,
        id_column: str,
        label_column: str | None = None,
        overwrite: bool = False,
    ) -> JSON:
        """Check ``content`` as a CSV table and register it as ``namespace.name``.

        Raises :class:`BadRequest` for a bad name or a file the reader refuses (its
        message names the line and column), :class:`Conflict` when the table exists
        and ``overwrite`` is false. Returns the table (``Table``).
        """
        from atoll.ml.reader import ReaderError, ReaderParams, read_frame

        check_name(namespace, "namespace")
        check_name(name, "table name")
        ref = f"{namespace}.{name}"
        if not isinstance(content, bytes | bytearray | memoryview):
            raise _bad_request(
                f"table {ref}: the content must be bytes, got {type(content).__name__}"
            )
        if not isinstance(id_column, str) or not id_column.strip():
            raise _bad_request(f"table {ref}: id_column must name a column, got {id_column!r}")
        if label_column is not None and (
            not isinstance(label_column, str) or not label_column.strip()
        ):
            raise _bad_request(
                f"table {ref}: label_column must name a column or be None, got {label_column!r}"
            )
        if not overwrite and self._row(namespace, name) is not None:
            raise _conflict(f"table {ref} exists; give overwrite=True to replace it")

        final = self._file(namespace, name)
        tmp = self.tables_dir / f".upload-{uuid.uuid4().hex}.csv"
        ns_dir = final.parent
        made_dir = False
        backup: Path | None = None
        placed = False
        try:
            data = bytes(content)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            try:
                _, report = read_frame(
                    tmp,
                    ReaderParams(id_column=id_column, label_column=label_column, format="csv"),
                )
            except ReaderError as exc:
                raise _bad_request(str(exc).replace(str(tmp), f"table {ref}")) from None
            except ValueError as exc:  # the parameters themselves
                raise _bad_request(f"table {ref}: {exc}") from None
            columns = [report.id_column]
            if report.label_column is not None:
                columns.append(report.label_column)
            columns += list(report.feature_columns) + list(report.ignored_columns)
            header = _header(tmp) or columns
            digest = hashlib.sha256(data).hexdigest()
            if not ns_dir.exists():
                ns_dir.mkdir(parents=True)
                made_dir = True

            def txn(s: Session) -> JSON:
                nonlocal backup, placed
                row = s.scalar(
                    select(DataRow).where(DataRow.namespace == namespace, DataRow.name == name)
                )
                if row is not None and not overwrite:
                    raise _conflict(f"table {ref} exists; give overwrite=True to replace it")
                if row is None:
                    row = DataRow(namespace=namespace, name=name)
                    s.add(row)
                row.path = str(final.resolve())
                row.id_column = report.id_column
                row.label_column = report.label_column
                row.rows = report.rows_kept
                row.columns_json = json.dumps(header)
                row.bytes = len(data)
                row.sha256 = digest
                row.created_at = utcnow()
                s.flush()
                if final.exists():
                    backup = final.with_name(f".{final.name}.old-{uuid.uuid4().hex}")
                    os.replace(final, backup)
                os.replace(tmp, final)
                placed = True
                return _table(row)

            try:
                out = self._store._write(txn)
            except IntegrityError:  # a concurrent upload of the same new table won
                raise _conflict(f"table {ref} exists; give overwrite=True to replace it") from None
        except BaseException:
            if placed:
                if backup is not None:
                    os.replace(backup, final)
                else:
                    final.unlink(missing_ok=True)
            elif backup is not None:
                os.replace(backup, final)
            tmp.unlink(missing_ok=True)
            if made_dir:
                with contextlib.suppress(OSError):
                    ns_dir.rmdir()
            raise
        if backup is not None:
            backup.unlink(missing_ok=True)
        return out

    def delete(self, namespace: str, name: str) -> JSON:
        """Remove the table's file and row; returns what it was. :class:`NotFound` if absent."""
        check_name(namespace, "namespace")
        check_name(name, "table name")
        final = self._file(namespace, name)
        moved: Path | None = None

        def txn(s: Session) -> JSON:
            nonlocal moved
            row = s.scalar(
                select(DataRow).where(DataRow.namespace == namespace, DataRow.name == name)
            )
            if row is None:
                raise self._missing(s, f"{namespace}.{name}")
            out = _table(row)
            s.delete(row)
            s.flush()
            if final.exists():
                moved = final.with_name(f".{final.name}.deleted-{uuid.uuid4().hex}")
                os.replace(final, moved)
            return out

        try:
            out = self._store._write(txn)
        except BaseException:
            if moved is not None:
                os.replace(moved, final)
            raise
        if moved is not None:
            moved.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            final.parent.rmdir()  # the namespace's last table
        return out

    # -- reading ------------------------------------------------------------------------------
    def get(self, namespace: str, name: str) -> JSON:
        """The table ``namespace.name``; :class:`NotFound` (with close names) if absent."""
        check_name(namespace, "namespace")
        check_name(name, "table name")
        table = self._row(namespace, name)
        if table is None:
            raise self._store._read(lambda s: self._missing(s, f"{namespace}.{name}"))
        return table

    def preview(self, namespace: str, name: str, rows: int = 10) -> JSON:
        """The table plus ``header`` and its first ``rows`` data rows as text (``rows_preview``)."""
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise _bad_request(f"rows must be a whole number >= 0, got {rows!r}")
        out = self.get(namespace, name)
        path = self._file(namespace, name)
        header: list[str] = []
        preview: list[list[str]] = []
        try:
            with open(path, encoding="utf-8-sig", newline="") as f:
                reader = csv.reader(f)
                for line in reader:
                    if not line or all(not c.strip() for c in line):
                        continue
                    if not header:
                        header = [c.strip() for c in line]
                        continue
                    if len(preview) >= rows:
                        break
                    preview.append(line)
        except OSError as exc:
            raise _not_found(
                f"table {namespace}.{name}: its file {path} cannot be read "
                f"({exc.strerror or exc}); {_UPLOAD_HINT} again"
            ) from None
        out["header"] = header
        out["rows_preview"] = preview
        return out

    def resolve(self, ref: str) -> JSON:
        """``{"path", "id_column", "label_column"}`` of the table ``"namespace.name"``.

        The namespace may contain dots: the first split (at a ``.``, left to right)
        that names a registered table wins. :class:`NotFound` says how to upload it.
        """
        if not isinstance(ref, str) or "." not in ref:
            raise _bad_request(f"table reference {ref!r} is not of the form 'namespace.name'")

        def find(s: Session) -> JSON | None:
            for i, ch in enumerate(ref):
                if ch != ".":
                    continue
                ns, nm = ref[:i], ref[i + 1 :]
                if not ns or not nm:
                    continue
                row = s.scalar(select(DataRow).where(DataRow.namespace == ns, DataRow.name == nm))
                if row is not None:
                    return {
                        "path": str(self._file(row.namespace, row.name).resolve()),
                        "id_column": row.id_column,
                        "label_column": row.label_column,
                    }
            return None

        found = self._store._read(find)
        if found is None:
            raise self._store._read(lambda s: self._missing(s, ref))
        return found

    def _row(self, namespace: str, name: str) -> JSON | None:
        def one(s: Session) -> JSON | None:
            row = s.scalar(
                select(DataRow).where(DataRow.namespace == namespace, DataRow.name == name)
            )
            return None if row is None else _table(row)

        return self._store._read(one)

    def _missing(self, s: Session, ref: str) -> NotFound:
        known = [f"{ns}.{nm}" for ns, nm in s.execute(select(DataRow.namespace, DataRow.name))]
        close = difflib.get_close_matches(ref, known, n=5, cutoff=0.6)
        hint = f" (close: {', '.join(sorted(close))})" if close else ""
        return _not_found(f"table {ref} is not registered at this site{hint}; {_UPLOAD_HINT}")

    def list(self) -> _Tables:
        """Every table, ordered by namespace and name."""
        return self._store._read(
            lambda s: [
                _table(r)
                for r in s.scalars(select(DataRow).order_by(DataRow.namespace, DataRow.name))
            ]
        )


def _header(path: Path) -> list[str] | None:
    """The header line's names (stripped), read with the csv module as the reader does."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        for line in csv.reader(f):
            if line and any(c.strip() for c in line):
                return [c.strip() for c in line]
    return None
