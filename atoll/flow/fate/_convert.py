"""From FATE tasks to Atoll's job dict: parameter translation, per-party compression,
task ordering, inputs and outputs."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from atoll.flow.fate._errors import FateImportError
from atoll.flow.fate._parameters import _FIXED_V2, PARAMETER_MAP_V1, PARAMETER_MAP_V2, _post
from atoll.flow.fate._reader import _data_transform, _reader_params
from atoll.flow.fate._rules import _apply, _At
from atoll.flow.fate._tasks import _ATOLL, ROLES, _merge, _Party, _Ref, _Task
from atoll.ml.component import get_component

log = logging.getLogger("atoll.flow.fate")

# FATE input key -> Atoll input, per Atoll component (v1 and 2.x names together)
_INPUTS: dict[str, dict[str, str]] = {
    "psi": {"data": "data", "input_data": "data"},
    "coordinated_lr": {
        "train_data": "train_data",
        "test_data": "test_data",
        "eval_data": "test_data",
        "model": "input_model",
        "input_model": "input_model",
        "warm_start_model": "input_model",
    },
    "evaluation": {"data": "data", "input_data": "data", "input_datas": "data"},
    "feature_scale": {
        "data": "train_data",
        "train_data": "train_data",
        "test_data": "test_data",
        "model": "input_model",
        "input_model": "input_model",
    },
    "toy_example": {},
    "reader": {},
}
_INPUTS["sshe_lr"] = _INPUTS["coordinated_lr"]
_OUTPUTS_V2: dict[str, dict[str, str]] = {
    "reader": {"output_data": "data"},
    "psi": {"output_data": "data"},
    "coordinated_lr": {
        "train_output_data": "train_output_data",
        "test_output_data": "test_output_data",
        "output_model": "output_model",
    },
    "feature_scale": {
        "train_output_data": "train_data",
        "test_output_data": "test_data",
        "output_model": "output_model",
    },
}
_OUTPUTS_V2["sshe_lr"] = _OUTPUTS_V2["coordinated_lr"]


def _translate(task: _Task, atoll: str, fate: Mapping[str, Any], v2: bool) -> dict[str, Any]:
    rules = (PARAMETER_MAP_V2 if v2 else PARAMETER_MAP_V1)[task.kind]
    at = _At(task.name, task.module)
    out: dict[str, Any] = dict(_FIXED_V2.get(task.kind, {})) if v2 else {}
    _apply(rules, fate, out, at)
    return _post(atoll, out, at)


def _compress(per_party: Mapping[_Party, dict[str, Any]], where: str) -> dict[str, Any]:
    """Per-party parameters -> ``parameters``, ``role_parameters``, ``party_parameters``."""
    parties = sorted(per_party)
    if not parties:
        return {}

    def same(ps: list[_Party], key: str) -> bool:
        first = per_party[ps[0]]
        return all(key in per_party[p] and per_party[p][key] == first.get(key) for p in ps) and (
            key in first
        )

    keys = {k for p in parties for k in per_party[p]}
    common = {k: per_party[parties[0]][k] for k in sorted(keys) if same(parties, k)}
    role_params: dict[str, dict[str, Any]] = {}
    party_params: dict[int, dict[str, Any]] = {}
    for role in ROLES:
        members = [p for p in parties if p.role == role]
        if not members:
            continue
        for k in sorted(keys - set(common)):
            if same(members, k):
                role_params.setdefault(role, {})[k] = per_party[members[0]][k]
        for p in members:
            for k, v in per_party[p].items():
                if k in common or k in role_params.get(role, {}):
                    continue
                party_params.setdefault(p.party_id, {})[k] = v
    # check: merging back gives every party its own parameters (a party id in two roles)
    for p in parties:
        merged = {**common, **role_params.get(p.role, {}), **party_params.get(p.party_id, {})}
        if merged != per_party[p]:
            raise FateImportError(
                f"FATE job: {where}: party {p.party_id} is {p.role} and another role with "
                "different parameters; give each role its own party id"
            )
    out: dict[str, Any] = {}
    if common:
        out["parameters"] = common
    if role_params:
        out["role_parameters"] = role_params
    if party_params:
        out["party_parameters"] = party_params
    return out


def _toposort(tasks: list[_Task], refs: Mapping[str, list[str]]) -> list[_Task]:
    by_name = {t.name: t for t in tasks}
    done: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise FateImportError(
                f"FATE job: tasks depend on each other in a cycle: {' -> '.join(path)}"
            )
        state[name] = 1
        for dep in refs.get(name, []):
            if dep in by_name:
                visit(dep, [*path, dep])
        state[name] = 2
        done.append(name)

    for t in tasks:
        visit(t.name, [t.name])
    return [by_name[n] for n in done]


def _convert(
    parties: list[_Party], tasks: list[_Task], tables: Mapping[str, str], v2: bool, name: str
) -> dict[str, Any]:
    by_name = {t.name: t for t in tasks}
    for t in tasks:
        for refs in t.inputs.values():
            for r in refs:
                if r.task not in by_name:
                    raise FateImportError(
                        f"FATE job: task {t.name!r} takes input from {r.task!r}, which is not a task"
                    )

    # DataTransform / DataIO: folded into the reader that feeds it
    alias: dict[str, str] = {}  # folded task -> the reader task that replaces it
    folded: dict[str, tuple[_Task, dict[_Party, dict[str, Any]]]] = {}
    for t in tasks:
        if t.kind != "DataTransform":
            continue
        data = [r for refs in t.inputs.values() for r in refs if r.kind == "data"]
        if len(data) != 1 or by_name[data[0].task].kind not in ("Reader", "DataTransform"):
            raise FateImportError(
                f"FATE job: task {t.name!r} ({t.module}) must read one table from a Reader "
                "(Atoll folds its label and id settings into the reader)"
            )
        src = alias.get(data[0].task, data[0].task)
        # a DataTransform with a model input (predict) starts from that model's settings
        models = [r.task for r in t.inputs.get("model", [])]
        settings: dict[_Party, dict[str, Any]] = {}
        for p in parties:
            base: dict[str, Any] = {}
            for m in models:
                if m in by_name and by_name[m].kind == "DataTransform":
                    base = _merge(base, by_name[m].params.get(p, {}))
            settings[p] = _merge(base, t.params.get(p, {}))
        if src in folded:
            raise FateImportError(
                f"FATE job: reader {src!r} feeds two DataTransform tasks; give each its own Reader"
            )
        folded[src] = (t, settings)
        alias[t.name] = src

    def producer(ref: _Ref) -> str:
        return alias.get(ref.task, ref.task)

    atoll_tasks: dict[str, dict[str, Any]] = {}
    order_refs: dict[str, list[str]] = {}
    emitted = [t for t in tasks if t.kind != "DataTransform"]
    trained = {t.name for t in emitted if _is_training(t)}
    for t in emitted:
        atoll = _ATOLL[t.kind]
        comp = get_component(atoll)
        # which parties run it, and FATE's need_run per party
        runs = [p for p in parties if p.role in comp.roles]
        if t.parties is not None:
            roles = {p.role for p in t.parties}
            for role in roles:
                full = {p for p in parties if p.role == role}
                if not full <= t.parties:
                    raise FateImportError(
                        f"FATE job: task {t.name!r} runs on some {role}s only; Atoll runs a task "
                        f"on every party of a role"
                    )
            runs = [p for p in runs if p.role in roles]
        off = {p for p in runs if t.params.get(p, {}).get("need_run") is False}
        for p in off:
            t.params[p] = {k: v for k, v in t.params[p].items() if k != "need_run"}
        for role in {p.role for p in off}:
            if any(p.role == role and p not in off for p in runs):
                raise FateImportError(
                    f"FATE job: task {t.name!r}: need_run is False at some {role}s only"
                )
        runs = [p for p in runs if p not in off]
        skipped = sorted({p.role for p in parties if p not in runs and t.params.get(p)})
        if skipped:
            log.debug(
                "FATE job: task %r (%s): parameters of %s ignored: Atoll's %s does not run there",
                t.name,
                t.module,
                ", ".join(skipped),
                atoll,
            )
        # parameters, per party
        per_party: dict[_Party, dict[str, Any]] = {}
        for p in runs:
            fate = t.params.get(p, {})
            if t.kind in ("Reader", "reader"):
                out = _reader_params(t, fate, tables, v2)
                if t.name in folded:
                    dt, settings = folded[t.name]
                    out.update(_data_transform(dt, settings[p]))
                per_party[p] = out
            else:
                per_party[p] = _translate(t, atoll, fate, v2)
        task: dict[str, Any] = {"component": atoll}
        # inputs
        inputs: dict[str, str] = {}
        deps = [alias.get(d, d) for d in t.deps]
        has_model = any(r.kind == "model" for refs in t.inputs.values() for r in refs)
        for key, refs in t.inputs.items():
            slots = _INPUTS[atoll]
            target = slots.get(key)
            if key == "validate_data":
                raise FateImportError(
                    f"FATE job: task {t.name!r} ({t.module}): input 'validate_data' is not "
                    "supported (Atoll trains without validation data)"
                )
            if target is None:
                raise FateImportError(
                    f"FATE job: task {t.name!r} ({t.module}): input {key!r} is not supported "
                    f"(supported: {', '.join(slots) or 'none'})"
                )
            if atoll == "feature_scale" and key == "data" and has_model:
                target = "test_data"
            if atoll in ("coordinated_lr", "sshe_lr") and key == "data":
                target = "test_data" if has_model else "train_data"
            names = [target]
            if atoll == "evaluation" and len(refs) > 1:
                names = ["data", "validate_data"]
                if len(refs) > 2:
                    raise FateImportError(
                        f"FATE job: task {t.name!r} ({t.module}) evaluates {len(refs)} inputs; "
                        "Atoll's evaluation takes two at most"
                    )
            elif len(refs) > 1:
                raise FateImportError(
                    f"FATE job: task {t.name!r} ({t.module}): input {key!r} has {len(refs)} "
                    "sources; Atoll takes one"
                )
            for slot, r in zip(names, refs, strict=False):
                src = producer(r)
                inputs[slot] = f"{src}.{_output_of(by_name[r.task], by_name, r, trained, v2, t)}"
                deps.append(src)
        if inputs:
            task["inputs"] = inputs
        run_roles = sorted({p.role for p in runs}, key=ROLES.index)
        default_roles = [r for r in comp.roles if any(p.role == r for p in parties)]
        if run_roles != default_roles:
            task["run_on"] = run_roles
        task.update(_compress(per_party, f"task {t.name!r}"))
        atoll_tasks[t.name] = task
        order_refs[t.name] = deps
    ordered = _toposort(emitted, order_refs)
    job_parties: dict[str, Any] = {}
    for role in ROLES:
        ids = [p.party_id for p in parties if p.role == role]
        if ids:
            job_parties[role] = ids if role == "host" else ids[0]
    return {
        "name": name,
        "parties": job_parties,
        "tasks": {t.name: atoll_tasks[t.name] for t in ordered},
    }


def _is_training(t: _Task) -> bool:
    has_model = any(r.kind == "model" for refs in t.inputs.values() for r in refs)
    return "train_data" in t.inputs or ("data" in t.inputs and not has_model)


def _output_of(
    src: _Task, by_name: Mapping[str, _Task], ref: _Ref, trained: set[str], v2: bool, user: _Task
) -> str:
    """The Atoll output a FATE reference names."""
    if src.kind == "DataTransform" or src.kind in ("Reader", "reader"):
        if ref.kind != "data":
            # DataTransform's model (its settings) is folded into the reader: no Atoll input
            raise FateImportError(
                f"FATE job: task {user.name!r} takes {ref.task}.{ref.output}, the model of a "
                f"{src.module}; only a DataTransform may take it (its settings are folded)"
            )
        return "data"
    atoll = _ATOLL[src.kind]
    if v2:
        outs = _OUTPUTS_V2.get(atoll, {})
        if ref.output not in outs:
            raise FateImportError(
                f"FATE job: task {user.name!r} takes {ref.task!r}'s output {ref.output!r}, which "
                f"Atoll's {atoll} does not have (outputs: {', '.join(outs) or 'none'})"
            )
        return outs[ref.output]
    if atoll in ("evaluation", "toy_example"):
        raise FateImportError(
            f"FATE job: task {user.name!r} takes {ref.task}.{ref.output}, but {src.module} has "
            "no outputs in Atoll"
        )
    if ref.kind == "model":
        return "output_model"
    if atoll == "psi":
        return "data"
    fitted = src.name in trained
    if atoll == "feature_scale":
        fitted = not any(r.kind == "model" for refs in src.inputs.values() for r in refs)
        return "train_data" if fitted else "test_data"
    return "train_output_data" if fitted else "test_output_data"
