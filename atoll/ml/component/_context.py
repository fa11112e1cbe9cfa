"""What a component sees while it runs: the federation context plus metrics, progress and a workdir.

:class:`TaskContext` forwards the federation API (``ctx.guest``, ``ctx.hosts``,
``ctx.arbiter``, ``put``/``get``, ``ctx.sub``) unchanged, and adds:

- ``ctx.metrics``: scalar series (``log("loss", 0.31, step=4)``) and named
  records (curves, tables) that the job runner stores next to the task's outputs;
- ``ctx.progress(step, total, **values)``: a progress event (epoch, loss, ...)
  shown by whoever runs the job (``atoll run`` prints it per party);
- ``ctx.workdir``: a directory for files a person reads (reports, charts);
- ``ctx.workers``: how many processes the task may use for heavy work;
- ``ctx.insecure``: whether the job allows the ``plain`` (no encryption) scheme;
- ``ctx.tables``: the tables registered at this site (``"namespace.name"`` ->
  ``{"path", "id_column", "label_column"}``) that the ``reader``'s ``table`` names.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from atoll.federation import Context

__all__ = ["Metrics", "Model", "TaskContext"]

Event = dict[str, Any]


class Metrics:
    """Metrics a task records: scalar series and named records of plain data."""

    def __init__(self) -> None:
        self.series: dict[str, list[tuple[int | None, float]]] = {}
        self.records: dict[str, Any] = {}

    def log(self, name: str, value: float, step: int | None = None) -> None:
        self.series.setdefault(name, []).append((step, float(value)))

    def record(self, name: str, data: Any) -> None:
        """A named result (a dict of numbers and lists: a curve, a confusion matrix)."""
        self.records[name] = data

    def last(self, name: str) -> float | None:
        s = self.series.get(name)
        return s[-1][1] if s else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": {
                k: [{"step": s, "value": _finite(v)} for s, v in vals]
                for k, vals in self.series.items()
            },
            "records": _plain(self.records),
        }


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _plain(obj: Any) -> Any:
    """JSON-able copy: numpy arrays and scalars become lists and floats; NaN becomes None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _plain(obj.tolist())
    if isinstance(obj, float):
        return _finite(obj)
    return obj


@dataclasses.dataclass(frozen=True)
class Model:
    """A trained component's state at one party: plain JSON-able data, never pickled.

    ``data`` is whatever the component's own model class gives from ``to_dict()``.
    """

    component: str
    role: str
    party_id: int
    data: dict[str, Any]
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "atoll.model/1",
            "component": self.component,
            "role": self.role,
            "party_id": self.party_id,
            "params": _plain(self.params),
            "data": _plain(self.data),
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "model") -> Model:
        if not isinstance(d, dict) or d.get("format") != "atoll.model/1":
            raise ValueError(f"{where}: not an Atoll model (expected format 'atoll.model/1')")
        try:
            return cls(d["component"], d["role"], int(d["party_id"]), d["data"], d["params"])
        except KeyError as exc:
            raise ValueError(f"{where}: model field {exc.args[0]!r} is missing") from None

    def save(self, path: str | Path) -> Path:
        from atoll.ml.data import write_atomic

        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        return write_atomic(Path(path), text.encode())

    @classmethod
    def load(cls, path: str | Path) -> Model:
        p = Path(path)
        try:
            d = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"{p}: cannot read model: {exc}") from None
        return cls.from_dict(d, str(p))

    def expect(self, component: str | tuple[str, ...], role: str) -> dict[str, Any]:
        """This model's data, after checking it came from ``component`` for ``role``."""
        names = (component,) if isinstance(component, str) else component
        if self.component not in names:
            raise ValueError(
                f"model from component {self.component!r} given where {' or '.join(names)} is needed"
            )
        if self.role != role:
            raise ValueError(f"model of the {self.role} given to the {role}")
        return self.data


class TaskContext:
    """The federation context of one task, plus metrics, progress and a workdir."""

    def __init__(
        self,
        fed: Context,
        *,
        task: str,
        workdir: Path,
        workers: int = 1,
        insecure: bool = False,
        on_event: Callable[[Event], None] | None = None,
        tables: Mapping[str, Mapping[str, Any]] | None = None,
        models: Mapping[str, str] | None = None,
    ) -> None:
        self.fed = fed
        self.task = task
        self.workdir = Path(workdir)
        self.workers = max(1, int(workers))
        self.insecure = insecure
        self.metrics = Metrics()
        self.log = logging.getLogger(f"atoll.task.{task}")
        self._on_event = on_event
        # the site's registered tables, "namespace.name" -> {"path", "id_column", "label_column"}
        self.tables: Mapping[str, Mapping[str, Any]] = {} if tables is None else tables
        # this party's models in the site's registry: "job_id/task" (or "job_id/task@vN") -> file
        self.models: Mapping[str, str] = {} if models is None else models
        self._started = time.monotonic()

    # -- the federation API, unchanged --------------------------------------------------------
    @property
    def role(self) -> str:
        return self.fed.role

    @property
    def party_id(self) -> int:
        return self.fed.party_id

    @property
    def job_id(self) -> str:
        return self.fed.job_id

    @property
    def guest(self) -> Any:
        return self.fed.guest

    @property
    def hosts(self) -> Any:
        return self.fed.hosts

    @property
    def arbiter(self) -> Any:
        return self.fed.arbiter

    @property
    def parties(self) -> Any:
        return self.fed.parties

    @property
    def peers(self) -> Any:
        return self.fed.peers

    @property
    def computing(self) -> Any:
        return self.fed.computing

    @property
    def job_parties(self) -> Any:
        return self.fed.job_parties

    def sub(self, name: str, index: int | None = None) -> Context:
        return self.fed.sub(name, index)

    def iterations(self, name: str, count: int | Iterable[int]) -> Iterator[Context]:
        return self.fed.iterations(name, count)

    # -- tracking -----------------------------------------------------------------------------
    def progress(self, step: int, total: int | None = None, **values: float) -> None:
        """Report progress (``step`` of ``total``) with named values such as ``loss``."""
        for k, v in values.items():
            self.metrics.log(k, v, step)
        event = {
            "task": self.task,
            "role": self.role,
            "party_id": self.party_id,
            "step": int(step),
            "total": None if total is None else int(total),
            "values": {k: float(v) for k, v in values.items()},
            "elapsed": time.monotonic() - self._started,
        }
        shown = " ".join(f"{k} {v:.6g}" for k, v in values.items())
        self.log.info("%s %d%s %s", self.task, step, "" if total is None else f"/{total}", shown)
        if self._on_event is not None:
            self._on_event(event)

    def epoch_callback(self, total: int) -> Callable[[int, dict[str, float]], None]:
        """An ``on_epoch(epoch, values)`` callback for the training loops, wired to :meth:`progress`."""

        def on_epoch(epoch: int, values: dict[str, float]) -> None:
            self.progress(epoch + 1, total, **values)

        return on_epoch
