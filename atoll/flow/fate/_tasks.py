"""The job in between: FATE tasks with per-party FATE parameters, and helpers both readers share.

The DSL (:mod:`._dsl`) and DAG (:mod:`._dag`) readers produce :class:`_Party` and
:class:`_Task` lists; :mod:`._convert` turns them into Atoll's job.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from atoll.flow.fate._errors import FateImportError
from atoll.ml.component import ComponentError, get_component

ROLES = ("guest", "host", "arbiter")
_TASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,127}\Z")


@dataclasses.dataclass(frozen=True, order=True)
class _Party:
    role: str
    index: int
    party_id: int


@dataclasses.dataclass
class _Ref:
    task: str
    output: str  # FATE's output name (v1: a declared data/model name; 2.x: an artifact key)
    kind: str  # "data" or "model": the kind of the input slot it feeds


@dataclasses.dataclass
class _Task:
    name: str
    module: str  # as the job names it
    kind: str  # canonical key into PARAMETER_MAP (HeteroLR, Reader, DataTransform, ...)
    inputs: dict[str, list[_Ref]]  # FATE input key -> references
    params: dict[_Party, dict[str, Any]]  # merged FATE parameters per party
    parties: set[_Party] | None = None  # 2.x task parties; None: every party
    deps: list[str] = dataclasses.field(default_factory=list)


#: Atoll component -> the key of its FATE 1.x parameter rules (``PARAMETER_MAP_V1``).
_V1_KIND = {
    "reader": "Reader",
    "psi": "Intersection",
    "coordinated_lr": "HeteroLR",
    "sshe_lr": "HeteroSSHELR",
    "evaluation": "Evaluation",
    "feature_scale": "FeatureScale",
    "toy_example": "SecureAddExample",
}
_ATOLL = {v: k for k, v in _V1_KIND.items()} | {k: k for k in _V1_KIND}
_DATA_TRANSFORM = ("DataTransform", "DataIO")


def _kind_of(module: str, task: str, v2: bool) -> str:
    """The rules key of a FATE module (1.x) or component_ref (2.x), found through the registry."""
    if not v2 and module.lower() in {m.lower() for m in _DATA_TRANSFORM}:
        return "DataTransform"
    try:
        atoll = get_component(module).name
    except ComponentError:
        atoll = None
    if atoll in _V1_KIND:
        return atoll if v2 else _V1_KIND[atoll]
    if v2:
        supported = sorted(_V1_KIND)
    else:
        supported = sorted([*_V1_KIND.values(), *_DATA_TRANSFORM])
    what = "component_ref" if v2 else "module"
    also = f" (Atoll's {atoll!r} has no FATE {what} mapping)" if atoll else ""
    raise FateImportError(
        f"FATE job: task {task!r}: {what} {module!r} is not supported{also}; "
        f"supported: {', '.join(supported)}"
    )


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _TASK_NAME.match(name):
        raise FateImportError(
            f"FATE job: task name {name!r} is not usable: letters, digits, '_' or '-', "
            "starting with a letter or '_'"
        )
    return name


def _pid(v: Any, where: str) -> int:
    if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
        raise FateImportError(f"FATE job: {where}: party id {v!r} is not a whole number")
    try:
        return int(v)
    except (TypeError, ValueError, OverflowError):
        raise FateImportError(f"FATE job: {where}: party id {v!r} is not a number") from None


def _short(v: Any, limit: int = 80) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mapping(v: Any, where: str) -> Mapping[str, Any]:
    """``v`` if it is a mapping (``None``: an empty one); else an error naming ``where``."""
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise FateImportError(f"FATE job: {where} must be a mapping, got {_short(v)}")
    return v


def _parties_from_roles(roles: Mapping[str, Any], where: str) -> list[_Party]:
    out: list[_Party] = []
    for role, ids in _mapping(roles, where).items():
        if role not in ROLES:
            raise FateImportError(f"FATE job: {where} names unknown role {role!r}")
        ids = ids if isinstance(ids, list) else [ids]
        if role != "host" and len(ids) > 1:
            raise FateImportError(
                f"FATE job: {where}: {len(ids)} {role}s {ids}; Atoll runs one {role} per job"
            )
        out.extend(_Party(role, i, _pid(p, where)) for i, p in enumerate(ids))
    if not out:
        raise FateImportError(f"FATE job: {where} names no parties")
    return sorted(out, key=lambda p: (ROLES.index(p.role), p.index))


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``; nested parameter objects merge key by key (as FATE does)."""
    out = dict(base)
    for k, v in _mapping(extra, "a parameter object").items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else [v]
