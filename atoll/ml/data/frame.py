"""The rows a component works on: ids, numeric features, an optional label.

A :class:`Frame` is one party's slice of a vertical data set: the sample ids
(strings or integers, unique), a float64 feature matrix with named columns,
and, at the party that holds it, the label. Vertical components keep rows of
every party in the same id order (PSI makes it so), so row ``i`` means the same
customer everywhere.

Frames live in memory inside a party's process and are saved with the codec
(:meth:`Frame.save` / :meth:`Frame.load`), never pickle, so a frame written by
one site's task can be read safely by another task.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from atoll import codec

__all__ = ["Frame", "Predictions", "write_atomic"]

_FORMAT = "atoll.frame/1"


def _check_ids(ids: Sequence[Any], what: str) -> list[Any]:
    out = list(ids)
    for i, v in enumerate(out):
        if isinstance(v, bool) or not isinstance(v, int | str):
            raise ValueError(f"{what}: id at row {i} is {v!r}; ids must be strings or integers")
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class Frame:
    """One party's rows (see the module docstring).

    ``features`` is ``(n, len(columns))`` float64; ``label`` is ``(n,)`` float64
    or None. ``name`` says where the rows came from (a file, a task output) and
    goes into error messages.
    """

    ids: list[Any]
    features: np.ndarray
    columns: list[str]
    label: np.ndarray | None = None
    id_name: str = "id"
    label_name: str | None = None
    name: str = "frame"

    def __post_init__(self) -> None:
        ids = _check_ids(self.ids, self.name)
        x = np.asarray(self.features, dtype=np.float64)
        if x.ndim == 1 and len(ids) == 0:
            x = x.reshape(0, len(self.columns))
        if x.ndim != 2:
            raise ValueError(f"{self.name}: features must be 2-D, got shape {x.shape}")
        if x.shape != (len(ids), len(self.columns)):
            raise ValueError(
                f"{self.name}: features have shape {x.shape}, expected "
                f"({len(ids)} rows, {len(self.columns)} columns)"
            )
        if len(set(self.columns)) != len(self.columns):
            dup = sorted({c for c in self.columns if self.columns.count(c) > 1})
            raise ValueError(f"{self.name}: duplicate column names {dup}")
        y = None
        if self.label is not None:
            y = np.asarray(self.label, dtype=np.float64).reshape(-1)
            if y.shape[0] != len(ids):
                raise ValueError(f"{self.name}: {y.shape[0]} labels for {len(ids)} rows")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "features", x)
        object.__setattr__(self, "columns", list(self.columns))
        object.__setattr__(self, "label", y)

    # -- shape ------------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return len(self.ids)

    @property
    def n_features(self) -> int:
        return len(self.columns)

    @property
    def has_label(self) -> bool:
        return self.label is not None

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        lab = f", label={self.label_name or 'label'!r}" if self.label is not None else ""
        return f"Frame({self.name!r}, {self.n_rows} rows x {self.n_features} features{lab})"

    def require_label(self, what: str) -> np.ndarray:
        if self.label is None:
            raise ValueError(f"{what}: {self.name} has no label column")
        return self.label

    # -- derived frames ---------------------------------------------------------------------
    def take(self, rows: Sequence[int] | np.ndarray, name: str | None = None) -> Frame:
        """The rows at positions ``rows``, in that order."""
        idx = np.asarray(rows, dtype=np.int64)
        return dataclasses.replace(
            self,
            ids=[self.ids[i] for i in idx.tolist()],
            features=self.features[idx],
            label=None if self.label is None else self.label[idx],
            name=name or self.name,
        )

    def reorder(self, ids: Sequence[Any], name: str | None = None) -> Frame:
        """The rows whose ids are ``ids``, in that order (every id must be present)."""
        pos = {v: i for i, v in enumerate(self.ids)}
        try:
            rows = [pos[v] for v in ids]
        except KeyError as exc:
            raise ValueError(f"{self.name}: id {exc.args[0]!r} is not in this frame") from None
        return self.take(rows, name)

    def with_features(self, features: np.ndarray, columns: Sequence[str] | None = None) -> Frame:
        return dataclasses.replace(
            self,
            features=features,
            columns=list(self.columns if columns is None else columns),
        )

    # -- storage ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "name": self.name,
            "id_name": self.id_name,
            "ids": self.ids,
            "columns": self.columns,
            "features": self.features,
            "label_name": self.label_name,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "frame") -> Frame:
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError(f"{where}: not an Atoll frame (expected format {_FORMAT!r})")
        try:
            return cls(
                ids=d["ids"],
                features=d["features"],
                columns=d["columns"],
                label=d["label"],
                id_name=d["id_name"],
                label_name=d["label_name"],
                name=d["name"],
            )
        except KeyError as exc:
            raise ValueError(f"{where}: frame field {exc.args[0]!r} is missing") from None

    def save(self, path: str | Path) -> Path:
        return write_atomic(Path(path), codec.encode(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> Frame:
        p = Path(path)
        return cls.from_dict(codec.decode(p.read_bytes()), str(p))

    def preview(self, rows: int = 5) -> dict[str, Any]:
        """The first rows as plain data (for logs and the job report)."""
        head = {self.id_name: self.ids[:rows]}
        if self.label is not None:
            head[self.label_name or "label"] = self.label[:rows].tolist()
        for j, c in enumerate(self.columns[:20]):
            head[c] = self.features[:rows, j].tolist()
        return head


@dataclasses.dataclass(frozen=True, eq=False)
class Predictions:
    """Scores a binary model gave to rows, at the party that learns them (the guest).

    ``label`` is the true label where known (NaN where not); ``score`` the
    probability of class 1; ``predicted`` the class at ``threshold``; ``kind``
    says which data set the rows came from (``train``, ``validate``, ``test``).
    """

    ids: list[Any]
    score: np.ndarray
    label: np.ndarray | None
    threshold: float = 0.5
    kind: str = "train"
    name: str = "predictions"

    def __post_init__(self) -> None:
        ids = _check_ids(self.ids, self.name)
        s = np.asarray(self.score, dtype=np.float64).reshape(-1)
        if s.shape[0] != len(ids):
            raise ValueError(f"{self.name}: {s.shape[0]} scores for {len(ids)} rows")
        y = None if self.label is None else np.asarray(self.label, dtype=np.float64).reshape(-1)
        if y is not None and y.shape[0] != len(ids):
            raise ValueError(f"{self.name}: {y.shape[0]} labels for {len(ids)} rows")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "score", s)
        object.__setattr__(self, "label", y)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def predicted(self) -> np.ndarray:
        return (self.score >= self.threshold).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "atoll.predictions/1",
            "name": self.name,
            "kind": self.kind,
            "threshold": self.threshold,
            "ids": self.ids,
            "score": self.score,
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "predictions") -> Predictions:
        if not isinstance(d, dict) or d.get("format") != "atoll.predictions/1":
            raise ValueError(f"{where}: not Atoll predictions")
        return cls(d["ids"], d["score"], d["label"], d["threshold"], d["kind"], d["name"])

    def save(self, path: str | Path) -> Path:
        return write_atomic(Path(path), codec.encode(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> Predictions:
        p = Path(path)
        return cls.from_dict(codec.decode(p.read_bytes()), str(p))

    def write_csv(self, path: str | Path, id_name: str = "id") -> Path:
        """``id,label,predict_score,predict_result,type`` as FATE's prediction output."""
        lines = [f"{id_name},label,predict_score,predict_result,type"]
        labels = self.label if self.label is not None else np.full(len(self), np.nan)
        for i, s, y, p in zip(self.ids, self.score, labels, self.predicted, strict=True):
            lab = "" if np.isnan(y) else str(int(y))
            lines.append(f"{_csv_cell(i)},{lab},{s:.10g},{p},{self.kind}")
        return write_atomic(Path(path), ("\n".join(lines) + "\n").encode())


def _csv_cell(v: Any) -> str:
    s = str(v)
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
