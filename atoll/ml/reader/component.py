"""``reader`` (FATE: Reader + DataTransform): a party's CSV or Parquet file to rows.

Each party reads either its own file (``path``; in a job file, relative to the job
file) or a table uploaded to its site (``table: "namespace.name"``, see ``atoll data
upload``); exactly one of the two. The other parameters are
:class:`~atoll.ml.reader.ReaderParams`'s: the id column, the label column (guest),
which columns are features, the missing-value and duplicate-id policies, the label
task. A table brings its registered id and label columns; ``id_column`` or
``label_column`` given in the job (even as ``null``) take precedence. The read report
(rows, dropped rows, duplicates, filled cells, label counts) is the task's ``summary``
metric.

The component cannot look the site's catalog up itself (the ml layer does not
import the flow layer): the site resolves its tables into ``ctx.tables``
(``"namespace.name"`` -> ``{"path", "id_column", "label_column"}``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pydantic

from atoll.ml.component import Params, TaskContext, component, params_from_dataclass, to_dataclass
from atoll.ml.reader import ReaderError, ReaderParams, read_frame

__all__ = ["ReaderComponentParams", "run"]

_UPLOAD_HINT = "upload it with `atoll data upload`"
_FIELDS = tuple(f.name for f in dataclasses.fields(ReaderParams) if f.init)
# stands for a table's registered label column while the job file is checked
_TABLE_LABEL = "<the table's label column>"

_ReaderBase: Any = params_from_dataclass(
    ReaderParams,
    "_ReaderBase",
    extra={"path": (str | None, None), "table": (str | None, None)},
)


class ReaderComponentParams(_ReaderBase):
    """:class:`ReaderParams`' fields plus where the rows are: ``path`` or ``table``."""

    @pydantic.model_validator(mode="after")
    def check_with_dataclass(self) -> Any:  # replaces the base's check of the same name
        path, table = self.path, self.table
        if (path is None) == (table is None):
            got = "both" if path is not None else "neither"
            raise ValueError(
                "give exactly one of 'path' (a file) and 'table' (a table uploaded to the "
                f"site, 'namespace.name'); got {got}"
            )
        if path is not None and not path:
            raise ValueError("'path' is empty")
        if table is not None:
            ns, dot, name = table.partition(".")
            if not dot or not ns or not name:
                raise ValueError(f"'table' is {table!r}; write it as 'namespace.name'")
        values = {k: getattr(self, k) for k in _FIELDS}
        if (
            table is not None
            and "label_column" not in self.model_fields_set
            and values["task"] is not None
        ):
            # the label comes from the table at run time: check the rest with a stand-in
            values["label_column"] = _TABLE_LABEL
        try:
            ReaderParams(**values)
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
        return self


def table_source(ctx: TaskContext, params: Params, table: str) -> tuple[str, dict[str, Any]]:
    """The file of ``table`` at this party and the column parameters it brings."""
    tables: Mapping[str, Mapping[str, Any]] = getattr(ctx, "tables", None) or {}
    where = f"party {ctx.role} {ctx.party_id}"
    if table not in tables:
        known = ", ".join(sorted(tables)) or "none"
        raise ReaderError(
            f"table {table!r} is not registered at {where}; {_UPLOAD_HINT} (registered: {known})"
        )
    entry = tables[table]
    path = entry.get("path")
    if not isinstance(path, str) or not path:
        raise ReaderError(f"table {table!r} at {where} has no file path in the site's catalog")
    overrides: dict[str, Any] = {}
    for key in ("id_column", "label_column"):
        if key not in params.model_fields_set and entry.get(key) is not None:
            overrides[key] = entry[key]
    return path, overrides


@component(
    "reader",
    roles=("guest", "host"),
    params=ReaderComponentParams,
    outputs={"data": "data"},
    fate_names=("Reader", "DataTransform", "DataIO", "reader"),
    path_params=("path",),
)
def run(ctx: TaskContext, params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """Read this party's file or registered table into rows (ids, features, label)."""
    table: str | None = params.table  # type: ignore[attr-defined]
    overrides: dict[str, Any] = {}
    if table is not None:
        path, overrides = table_source(ctx, params, table)
        source = f"table {table} ({path})"
    else:
        path = str(params.path)  # type: ignore[attr-defined]
        source = path
    try:
        reader_params = to_dataclass(params, ReaderParams, **overrides)
    except ValueError as exc:  # e.g. a label task on a table registered without a label
        raise ReaderError(f"{source}: {exc}") from None
    frame, report = read_frame(path, reader_params)
    summary = report.to_dict()
    if table is not None:
        summary["table"] = table
    ctx.metrics.record("summary", summary)
    ctx.log.info("read %s: %d rows x %d features", source, frame.n_rows, frame.n_features)
    return {"data": frame}
