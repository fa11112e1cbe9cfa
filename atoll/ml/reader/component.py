"""``reader`` (FATE: Reader + DataTransform): a party's CSV or Parquet file to rows.

Each party reads its own file (``path``; in a job file, relative to the job
file); the parameters are :class:`~atoll.ml.reader.ReaderParams`'s: the id
column, the label column (guest), which columns are features, the missing-value
and duplicate-id policies, the label task. The read report (rows, dropped rows,
duplicates, filled cells, label counts) is the task's ``summary`` metric.
"""

from __future__ import annotations

from typing import Any

from atoll.ml.component import Params, TaskContext, component, params_from_dataclass, to_dataclass
from atoll.ml.reader import ReaderParams, read_frame

__all__ = ["ReaderComponentParams", "run"]

ReaderComponentParams: type[Params] = params_from_dataclass(
    ReaderParams, "ReaderComponentParams", extra={"path": (str, ...)}
)


@component(
    "reader",
    roles=("guest", "host"),
    params=ReaderComponentParams,
    outputs={"data": "data"},
    fate_names=("Reader", "DataTransform", "DataIO", "reader"),
    path_params=("path",),
)
def run(ctx: TaskContext, params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """Read this party's file into rows (ids, features, label)."""
    path = str(params.path)  # type: ignore[attr-defined]
    frame, report = read_frame(path, to_dataclass(params, ReaderParams))
    summary = report.to_dict()
    ctx.metrics.record("summary", summary)
    ctx.log.info("read %s: %d rows x %d features", path, frame.n_rows, frame.n_features)
    return {"data": frame}
