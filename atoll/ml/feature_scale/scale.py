"""FATE's FeatureScale as two functions: :func:`fit` a :class:`ScaleModel`, :func:`transform` a frame.

Scaling is local: each party fits and applies it to its own columns only, and nothing
crosses the federation. ``standard`` subtracts the column mean and divides by the
(population, ``ddof=0``) standard deviation, as scikit-learn's ``StandardScaler``; a
constant column (std 0) is divided by 1, so it is only centred (all 0 on the fitted
rows). ``min_max`` maps ``[min, max]`` to ``feature_range`` (``[0, 1]`` by default), as
``MinMaxScaler``; a constant column maps to the low end of the range. As in FATE, the
min-max bounds can be capped: ``feat_lower`` / ``feat_upper`` are values or, with
``cap_by='percentile'``, quantiles in ``[0, 1]`` of the column; a capped model clips
values into its bounds on transform, so the result stays within ``feature_range``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from atoll.ml.data import Frame

__all__ = ["ScaleModel", "ScaleParams", "fit", "transform"]

_FORMAT = "atoll.feature_scale/1"
METHODS = ("standard", "min_max")
_ALIASES = {"standard_scale": "standard", "min_max_scale": "min_max"}  # FATE's names
CAP_BY = ("value", "percentile")
_KEYS = {"standard": ("mean", "std"), "min_max": ("min", "max")}

Bound = float | Mapping[str, float] | None


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _range(value: Any, what: str) -> tuple[float, float]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be two numbers (low, high), got {value!r}") from None
    if not (_finite(lo) and _finite(hi)) or not lo < hi:
        raise ValueError(f"{what} must be two finite numbers with low < high, got {value!r}")
    return float(lo), float(hi)


@dataclasses.dataclass(frozen=True)
class ScaleParams:
    """How to scale.

    ``method``: ``'standard'`` (default) or ``'min_max'`` (FATE's ``standard_scale`` and
    ``min_max_scale`` are taken too). ``columns`` (names) and ``col_indexes`` (positions,
    FATE's ``scale_col_indexes``) pick the columns to scale, in frame order; both None
    means every column; the others pass through unchanged. ``with_mean`` / ``with_std``:
    standard only. ``feature_range``, ``feat_lower``, ``feat_upper`` (a number for every
    column or a dict by column name), ``cap_by`` and ``clip``: min_max only; ``clip=None``
    clips when a bound is given.
    """

    method: str = "standard"
    columns: Sequence[str] | None = None
    col_indexes: Sequence[int] | None = None
    with_mean: bool = True
    with_std: bool = True
    feature_range: Sequence[float] = (0.0, 1.0)  # stored as a (low, high) tuple
    feat_lower: Bound = None
    feat_upper: Bound = None
    cap_by: str = "value"
    clip: bool | None = None

    def __post_init__(self) -> None:
        method = _ALIASES.get(self.method, self.method)
        if method not in METHODS:
            raise ValueError(f"ScaleParams.method must be one of {METHODS}, got {self.method!r}")
        object.__setattr__(self, "method", method)
        if self.columns is not None:
            if isinstance(self.columns, str) or not all(isinstance(c, str) for c in self.columns):
                raise ValueError(
                    f"ScaleParams.columns must be a list of names, got {self.columns!r}"
                )
            object.__setattr__(self, "columns", tuple(self.columns))
        if self.col_indexes is not None:
            idx = tuple(self.col_indexes)
            if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in idx):
                raise ValueError(
                    f"ScaleParams.col_indexes must be column positions (ints >= 0), got {self.col_indexes!r}"
                )
            object.__setattr__(self, "col_indexes", idx)
        for name in ("with_mean", "with_std"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"ScaleParams.{name} must be True or False")
        object.__setattr__(
            self, "feature_range", _range(self.feature_range, "ScaleParams.feature_range")
        )
        if self.cap_by not in CAP_BY:
            raise ValueError(f"ScaleParams.cap_by must be one of {CAP_BY}, got {self.cap_by!r}")
        if self.clip is not None and not isinstance(self.clip, bool):
            raise ValueError(f"ScaleParams.clip must be True, False or None, got {self.clip!r}")
        for name in ("feat_lower", "feat_upper"):
            object.__setattr__(self, name, self._bound(name))
        if method != "min_max":
            for name in ("feat_lower", "feat_upper", "clip"):
                if getattr(self, name) is not None:
                    raise ValueError(f"ScaleParams.{name} applies to method 'min_max' only")
            if self.feature_range != (0.0, 1.0):
                raise ValueError("ScaleParams.feature_range applies to method 'min_max' only")
        lo, hi = self.feat_lower, self.feat_upper
        if isinstance(lo, float) and isinstance(hi, float) and not lo < hi:
            raise ValueError(f"ScaleParams.feat_lower ({lo}) must be below feat_upper ({hi})")
        if isinstance(lo, dict) and isinstance(hi, dict):
            for c in set(lo) & set(hi):
                if not lo[c] < hi[c]:
                    raise ValueError(
                        f"ScaleParams.feat_lower[{c!r}] ({lo[c]}) must be below feat_upper[{c!r}] ({hi[c]})"
                    )

    def _bound(self, name: str) -> float | dict[str, float] | None:
        v = getattr(self, name)
        if v is None:
            return None
        items = v.items() if isinstance(v, Mapping) else [(None, v)]
        out: dict[str, float] = {}
        for c, b in items:
            label = f"ScaleParams.{name}" + ("" if c is None else f"[{c!r}]")
            if not _finite(b):
                raise ValueError(f"{label} must be a finite number, got {b!r}")
            if self.cap_by == "percentile" and not 0.0 <= b <= 1.0:
                raise ValueError(
                    f"{label} is a quantile with cap_by='percentile': it must be in [0, 1], got {b!r}"
                )
            out[str(c)] = float(b)
        return out[str(None)] if not isinstance(v, Mapping) else out


@dataclasses.dataclass(frozen=True)
class ScaleModel:
    """What :func:`fit` learnt: per column ``mean``/``std`` (standard) or ``min``/``max`` (min_max).

    ``min``/``max`` are the bounds after any cap. ``to_dict`` gives plain JSON-able data;
    ``from_dict`` and the constructor check every field and name the one that is wrong.
    """

    method: str
    columns: tuple[str, ...]
    parameters: dict[str, dict[str, float]]
    with_mean: bool = True
    with_std: bool = True
    feature_range: tuple[float, float] = (0.0, 1.0)
    clip: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"ScaleModel.method must be one of {METHODS}, got {self.method!r}")
        if isinstance(self.columns, str) or not isinstance(self.columns, Sequence):
            raise ValueError(f"ScaleModel.columns must be a list of names, got {self.columns!r}")
        cols = tuple(self.columns)
        for c in cols:
            if not isinstance(c, str) or not c:
                raise ValueError(f"ScaleModel.columns: {c!r} is not a column name")
        if len(set(cols)) != len(cols):
            raise ValueError(f"ScaleModel.columns names a column twice: {list(cols)}")
        if not isinstance(self.parameters, Mapping):
            raise ValueError(
                f"ScaleModel.parameters must be a dict by column, got {self.parameters!r}"
            )
        extra = sorted(set(self.parameters) - set(cols), key=str)
        if extra:
            raise ValueError(
                f"ScaleModel.parameters has columns {extra} that are not in ScaleModel.columns"
            )
        keys = _KEYS[self.method]
        params: dict[str, dict[str, float]] = {}
        for c in cols:
            p = self.parameters.get(c)
            if not isinstance(p, Mapping):
                raise ValueError(f"ScaleModel.parameters[{c!r}] is missing or not a dict")
            for k in keys:
                if not _finite(p.get(k)):
                    raise ValueError(
                        f"ScaleModel.parameters[{c!r}][{k!r}] must be a finite number, got {p.get(k)!r}"
                    )
            if set(p) - set(keys):
                raise ValueError(
                    f"ScaleModel.parameters[{c!r}] has unknown keys {sorted(set(p) - set(keys))} "
                    f"(method {self.method!r} takes {list(keys)})"
                )
            params[c] = {k: float(p[k]) for k in keys}
            if self.method == "standard" and params[c]["std"] < 0:
                raise ValueError(
                    f"ScaleModel.parameters[{c!r}]['std'] must be >= 0, got {params[c]['std']}"
                )
            if self.method == "min_max" and params[c]["min"] > params[c]["max"]:
                raise ValueError(
                    f"ScaleModel.parameters[{c!r}]: 'min' {params[c]['min']} is above 'max' {params[c]['max']}"
                )
        for name in ("with_mean", "with_std", "clip"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"ScaleModel.{name} must be True or False, got {getattr(self, name)!r}"
                )
        object.__setattr__(self, "columns", cols)
        object.__setattr__(self, "parameters", params)
        object.__setattr__(
            self, "feature_range", _range(self.feature_range, "ScaleModel.feature_range")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "method": self.method,
            "columns": list(self.columns),
            "parameters": {c: dict(p) for c, p in self.parameters.items()},
            "with_mean": self.with_mean,
            "with_std": self.with_std,
            "feature_range": list(self.feature_range),
            "clip": self.clip,
        }

    @classmethod
    def from_dict(cls, d: Any, where: str = "scale model") -> ScaleModel:
        if not isinstance(d, Mapping) or d.get("format") != _FORMAT:
            raise ValueError(f"{where}: not a feature-scale model (expected format {_FORMAT!r})")
        for k in ("method", "columns", "parameters"):
            if k not in d:
                raise ValueError(f"{where}: ScaleModel.{k} is missing")
        try:
            return cls(
                method=d["method"],
                columns=d["columns"],
                parameters=d["parameters"],
                with_mean=d.get("with_mean", True),
                with_std=d.get("with_std", True),
                feature_range=d.get("feature_range", (0.0, 1.0)),
                clip=d.get("clip", False),
            )
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    def apply(self, x: np.ndarray) -> np.ndarray:
        """The model's columns ``x`` (rows x ``len(columns)``), scaled; the same arithmetic as
        scikit-learn's scalers, so the numbers agree to the last bit."""
        if self.method == "standard":
            mean = np.array([self.parameters[c]["mean"] for c in self.columns])
            std = np.array([self.parameters[c]["std"] for c in self.columns])
            out = x - mean if self.with_mean else x.copy()
            if self.with_std:
                out /= np.where(std > 0, std, 1.0)
            return out
        lo = np.array([self.parameters[c]["min"] for c in self.columns])
        hi = np.array([self.parameters[c]["max"] for c in self.columns])
        a, b = self.feature_range
        mult = (b - a) / np.where(hi > lo, hi - lo, 1.0)
        add = a - lo * mult
        if self.clip:
            x = np.clip(x, lo, hi)
        return x * mult + add


def _pick_columns(frame: Frame, params: ScaleParams) -> list[int]:
    if params.columns is None and params.col_indexes is None:
        return list(range(frame.n_features))
    picked: set[int] = set()
    pos = {c: j for j, c in enumerate(frame.columns)}
    missing = [c for c in params.columns or () if c not in pos]
    if missing:
        raise ValueError(
            f"ScaleParams.columns {missing} are not in frame {frame.name!r} (its columns: {frame.columns})"
        )
    picked.update(pos[c] for c in params.columns or ())
    bad = [i for i in params.col_indexes or () if i >= frame.n_features]
    if bad:
        raise ValueError(
            f"ScaleParams.col_indexes {bad} are out of range for frame {frame.name!r} "
            f"({frame.n_features} columns)"
        )
    picked.update(params.col_indexes or ())
    return sorted(picked)


def _check_finite(frame: Frame, x: np.ndarray, names: Sequence[str], what: str) -> None:
    if not np.isfinite(x).all():
        r, c = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(
            f"{what}: frame {frame.name!r}, id {frame.ids[r]!r} (row {r}), column {names[c]!r} "
            f"is {x[r, c]}; only finite values can be scaled"
        )


def _bounds(bound: Bound, names: list[str], fallback: np.ndarray) -> np.ndarray:
    out = fallback.copy()
    if bound is None:
        return out
    if isinstance(bound, Mapping):
        for j, c in enumerate(names):
            if c in bound:
                out[j] = bound[c]
        return out
    out[:] = bound
    return out


def fit(frame: Frame, params: ScaleParams) -> ScaleModel:
    """Learn the scaling of ``params``' columns of ``frame`` (see the module docstring)."""
    idx = _pick_columns(frame, params)
    names = [frame.columns[j] for j in idx]
    for name in ("feat_lower", "feat_upper"):
        b = getattr(params, name)
        if isinstance(b, Mapping):
            unknown = sorted(set(b) - set(names))
            if unknown:
                raise ValueError(
                    f"ScaleParams.{name} names {unknown}, which are not scaled columns of frame {frame.name!r}"
                )
    if frame.n_rows == 0:
        raise ValueError(f"feature scale: frame {frame.name!r} has no rows to fit on")
    x = frame.features[:, idx]
    _check_finite(frame, x, names, "feature scale fit")
    if params.method == "standard":
        mean, std = x.mean(axis=0), x.std(axis=0)
        parameters = {
            c: {"mean": float(m), "std": float(s)} for c, m, s in zip(names, mean, std, strict=True)
        }
        return ScaleModel(
            "standard",
            tuple(names),
            parameters,
            with_mean=params.with_mean,
            with_std=params.with_std,
        )
    col_min, col_max = x.min(axis=0), x.max(axis=0)
    if params.cap_by == "percentile":

        def quantiles(bound: Bound, default: float) -> np.ndarray:
            q = _bounds(bound, names, np.full(len(names), default))
            return np.array([np.quantile(x[:, j], q[j]) for j in range(len(names))])

        lo = quantiles(params.feat_lower, 0.0)
        hi = quantiles(params.feat_upper, 1.0)
    else:
        lo = _bounds(params.feat_lower, names, col_min)
        hi = _bounds(params.feat_upper, names, col_max)
    for j, c in enumerate(names):
        if lo[j] > hi[j]:
            raise ValueError(
                f"feature scale fit: frame {frame.name!r}, column {c!r}: lower bound {lo[j]} is above "
                f"upper bound {hi[j]} (check feat_lower / feat_upper against the data)"
            )
    capped = params.feat_lower is not None or params.feat_upper is not None
    parameters = {
        c: {"min": float(a), "max": float(b)} for c, a, b in zip(names, lo, hi, strict=True)
    }
    return ScaleModel(
        "min_max",
        tuple(names),
        parameters,
        feature_range=(params.feature_range[0], params.feature_range[1]),
        clip=capped if params.clip is None else params.clip,
    )


def transform(frame: Frame, model: ScaleModel) -> Frame:
    """``frame`` with the model's columns scaled (the others unchanged); a new frame."""
    pos = {c: j for j, c in enumerate(frame.columns)}
    missing = [c for c in model.columns if c not in pos]
    if missing:
        raise ValueError(
            f"feature scale transform: frame {frame.name!r} lacks the model's column(s) {missing} "
            f"(its columns: {frame.columns})"
        )
    idx = [pos[c] for c in model.columns]
    out = frame.features.copy()
    if not idx:
        return frame.with_features(out)
    x = out[:, idx]
    _check_finite(frame, x, list(model.columns), "feature scale transform")
    out[:, idx] = model.apply(x)
    return frame.with_features(out)
