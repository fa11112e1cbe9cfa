"""FATE 1.x: reading a DSL (v1 or v2) and its conf into tasks with per-party parameters."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from atoll.flow.fate._errors import FateImportError
from atoll.flow.fate._tasks import (
    _as_list,
    _check_name,
    _kind_of,
    _mapping,
    _merge,
    _parties_from_roles,
    _Party,
    _Ref,
    _Task,
)

log = logging.getLogger("atoll.flow.fate")

_INDEX_SPEC = re.compile(r"(all|\d+(\|\d+)*)\Z")


def _pick(value: Any, index: int, at: str) -> Any:
    """A v1 ``role_parameters`` value at party ``index``: leaves are lists, one per party."""
    if isinstance(value, Mapping):
        return {k: _pick(v, index, f"{at}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        if index >= len(value):
            raise FateImportError(
                f"FATE conf: role_parameters {at} has {len(value)} value(s), none for party index {index}"
            )
        return value[index]
    raise FateImportError(
        f"FATE conf: role_parameters {at} must be a list with one value per party, got {value!r}"
    )


def _indices(spec: str, n: int, where: str) -> list[int]:
    if spec == "all":
        return list(range(n))
    out = [int(x) for x in spec.split("|")]
    for i in out:
        if i >= n:
            raise FateImportError(f"FATE conf: {where} names party index {i}, but there are {n}")
    return out


def _v2_role_params(
    by_role: Any, parties: list[_Party], where: str
) -> dict[_Party, dict[str, dict[str, Any]]]:
    """``{role: {"0": {task: params}, "0|1": ..., "all": ...}}`` -> party -> task -> params."""
    out: dict[_Party, dict[str, dict[str, Any]]] = {p: {} for p in parties}
    for role, specs in _mapping(by_role, f"conf {where}").items():
        members = [p for p in parties if p.role == role]
        if not isinstance(specs, Mapping):
            raise FateImportError(f"FATE conf: {where}.{role} must be a mapping of party indices")
        # "all" first, then several indices, then one: the most specific wins
        ordered = sorted(specs, key=lambda s: (str(s) != "all", -str(s).count("|"), str(s)))
        for spec in ordered:
            if not _INDEX_SPEC.match(str(spec)):
                raise FateImportError(
                    f"FATE conf: {where}.{role}: {spec!r} is not a party index ('0', '0|1', 'all')"
                )
            for i in _indices(str(spec), len(members), f"{where}.{role}.{spec}"):
                party = members[i]
                at = f"conf {where}.{role}.{spec}"
                for task, params in _mapping(specs[spec], at).items():
                    params = _mapping(params, f"{at}.{task}")
                    out[party][task] = _merge(out[party].get(task, {}), params)
    return out


def _is_v2_indexed(role_parameters: Mapping[str, Any]) -> bool:
    return any(
        isinstance(v, Mapping) and v and all(_INDEX_SPEC.match(str(k)) for k in v)
        for v in role_parameters.values()
    )


def _from_dsl(dsl: Mapping[str, Any], conf: Mapping[str, Any]) -> tuple[list[_Party], list[_Task]]:
    dsl = _mapping(dsl, "the DSL")
    conf = _mapping(conf, "the conf")
    comps = dsl.get("components")
    if not isinstance(comps, Mapping) or not comps:
        raise FateImportError("FATE DSL: 'components' is missing or empty")
    roles = conf.get("role")
    if not isinstance(roles, Mapping):
        raise FateImportError("FATE conf: 'role' (party ids per role) is missing")
    parties = _parties_from_roles(roles, "conf 'role'")
    for key in ("initiator", "job_parameters"):
        if key in conf:
            log.info("FATE conf: %r ignored: runtime settings of FATE's scheduler", key)

    common: dict[str, dict[str, Any]] = {}
    per_party: dict[_Party, dict[str, dict[str, Any]]] = {p: {} for p in parties}
    args: dict[_Party, dict[str, Any]] = {p: {} for p in parties}
    cp = _mapping(conf.get("component_parameters"), "conf component_parameters")
    if cp:
        at = "conf component_parameters.common"
        common = {
            k: dict(_mapping(v, f"{at}.{k}")) for k, v in _mapping(cp.get("common"), at).items()
        }
        per_party = _v2_role_params(cp.get("role"), parties, "component_parameters.role")
    at = "conf algorithm_parameters"
    common = {
        **{
            k: dict(_mapping(v, f"{at}.{k}"))
            for k, v in _mapping(conf.get("algorithm_parameters"), at).items()
        },
        **common,
    }
    rp = _mapping(conf.get("role_parameters"), "conf role_parameters")
    if rp and _is_v2_indexed(rp):
        for party, by_task in _v2_role_params(rp, parties, "role_parameters").items():
            for t, params in by_task.items():
                per_party[party][t] = _merge(per_party[party].get(t, {}), params)
    elif rp:
        for role, by_task in rp.items():
            for party in (p for p in parties if p.role == role):
                for t, params in _mapping(by_task, f"conf role_parameters.{role}").items():
                    picked = _pick(params, party.index, f"{role}.{t}")
                    picked = _mapping(picked, f"conf role_parameters.{role}.{t}")
                    if t == "args":
                        args[party] = dict(picked)
                    else:
                        per_party[party][t] = _merge(per_party[party].get(t, {}), picked)

    configured = set(common) | {t for by_task in per_party.values() for t in by_task}
    stray = sorted(str(t) for t in configured - set(comps))
    if stray:
        log.warning(
            "FATE conf: parameters of %s ignored: the DSL has no such component", ", ".join(stray)
        )
    tasks: list[_Task] = []
    implicit: dict[str, _Task] = {}
    for name, body in comps.items():
        _check_name(name)
        if not isinstance(body, Mapping) or "module" not in body:
            raise FateImportError(f"FATE DSL: component {name!r} has no 'module'")
        module = str(body["module"])
        kind = _kind_of(module, name, v2=False)
        inputs: dict[str, list[_Ref]] = {}
        inp = _mapping(body.get("input"), f"DSL component {name!r}: input")
        for key, refs in _mapping(inp.get("data"), f"DSL component {name!r}: input.data").items():
            inputs[key] = [
                _ref_v1(r, "data", name, implicit, args, parties) for r in _as_list(refs)
            ]
        for key in inp:
            if key == "data":
                continue
            if key != "model":
                raise FateImportError(
                    f"FATE DSL: component {name!r} ({module}): input {key!r} is not supported "
                    "(inputs: data, model)"
                )
            inputs["model"] = [
                _ref_v1(r, "model", name, implicit, args, parties) for r in _as_list(inp[key])
            ]
        merged = {
            p: _merge(dict(common.get(name, {})), per_party[p].get(name, {})) for p in parties
        }
        tasks.append(_Task(name, module, kind, inputs, merged))
    declared = {
        name: {
            str(o)
            for key in ("data", "model")
            for o in _as_list(
                _mapping(body["output"], f"DSL component {name!r}: output").get(key) or []
            )
        }
        for name, body in comps.items()
        if isinstance(body, Mapping) and body.get("output")
    }
    for user in tasks:
        for refs in user.inputs.values():
            for r in refs:
                outs = declared.get(r.task)
                if outs is not None and r.output not in outs:
                    raise FateImportError(
                        f"FATE DSL: component {user.name!r} takes {r.task}.{r.output}, but "
                        f"{r.task!r} declares no output {r.output!r} (outputs: {', '.join(sorted(outs))})"
                    )
    return parties, list(implicit.values()) + tasks


def _ref_v1(
    ref: Any,
    kind: str,
    task: str,
    implicit: dict[str, _Task],
    args: Mapping[_Party, Mapping[str, Any]],
    parties: list[_Party],
) -> _Ref:
    if not isinstance(ref, str) or "." not in ref:
        raise FateImportError(
            f"FATE DSL: component {task!r}: input {ref!r} is not 'component.output'"
        )
    src, _, out = ref.partition(".")
    if src == "pipeline" and "." in out:  # predict DSL: pipeline.<component>.<model>
        raise FateImportError(
            f"FATE DSL: component {task!r}: {ref!r} loads a model from FATE's model store, "
            "which Atoll cannot read; run training and prediction as one Atoll job"
        )
    if src == "args":  # DSL v1: a table named in role_parameters.<role>.args.data.<out>
        name = f"args_{out}"
        if name not in implicit:
            params: dict[_Party, dict[str, Any]] = {}
            for p in parties:
                data = _mapping(
                    _mapping(args.get(p), f"conf role_parameters.{p.role}.args").get("data"),
                    f"conf role_parameters.{p.role}.args.data",
                )
                if out in data:
                    table = data[out]
                    params[p] = {"table": table[0] if isinstance(table, list) else table}
            implicit[name] = _Task(name, "Reader", "Reader", {}, params, parties=set(params))
        return _Ref(name, "data", "data")
    return _Ref(src, out, kind)
