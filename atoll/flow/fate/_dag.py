"""FATE 2.x: reading a DAG (``dag: {parties, tasks, party_tasks}``) into tasks."""

from __future__ import annotations

import logging
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
    _pid,
    _Ref,
    _Task,
)

log = logging.getLogger("atoll.flow.fate")


def _dag_parties(items: Any, where: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    if items is not None and not isinstance(items, list):
        raise FateImportError(f"FATE DAG: {where} must be a list of {{role, party_id}}")
    for item in items or []:
        if not isinstance(item, Mapping) or "role" not in item:
            raise FateImportError(f"FATE DAG: {where}: a party is {{role, party_id}}, got {item!r}")
        for pid in _as_list(item.get("party_id", [])):
            out.append((str(item["role"]), _pid(pid, where)))
    return out


def _from_dag(doc: Mapping[str, Any]) -> tuple[list[_Party], list[_Task]]:
    dag = _mapping(doc, "the DAG").get("dag")
    if not isinstance(dag, Mapping):
        raise FateImportError("FATE DAG: 'dag' is missing")
    kind = doc.get("kind", "fate")
    if kind != "fate":
        raise FateImportError(f"FATE DAG: kind {kind!r} is not supported (only 'fate')")
    by_role: dict[str, list[int]] = {}
    for role, pid in _dag_parties(dag.get("parties"), "dag.parties"):
        by_role.setdefault(role, []).append(pid)
    parties = _parties_from_roles(by_role, "dag.parties")
    lookup = {(p.role, p.party_id): p for p in parties}
    if dag.get("stage") == "cross_validation":
        raise FateImportError("FATE DAG: stage 'cross_validation' is not supported")
    if dag.get("conf"):
        log.info("FATE DAG: dag.conf ignored: runtime settings of FATE's scheduler")

    def members(items: Any, where: str) -> set[_Party]:
        out = set()
        for role, pid in _dag_parties(items, where):
            if (role, pid) not in lookup:
                raise FateImportError(f"FATE DAG: {where} names {role} {pid}, not in dag.parties")
            out.add(lookup[(role, pid)])
        return out

    own: dict[str, dict[_Party, dict[str, Any]]] = {}
    for alias, pt in _mapping(dag.get("party_tasks"), "DAG dag.party_tasks").items():
        at = f"DAG dag.party_tasks.{alias}"
        pt = _mapping(pt, at)
        who = members(pt.get("parties"), f"party_tasks.{alias}.parties")
        for tname, tbody in _mapping(pt.get("tasks"), f"{at}.tasks").items():
            tbody = _mapping(tbody, f"{at}.tasks.{tname}")
            tparams = _mapping(tbody.get("parameters"), f"{at}.tasks.{tname}.parameters")
            for p in who:
                slot = own.setdefault(tname, {})
                slot[p] = _merge(slot.get(p, {}), tparams)

    tasks: list[_Task] = []
    for name, body in _mapping(dag.get("tasks"), "DAG dag.tasks").items():
        _check_name(name)
        body = _mapping(body, f"DAG dag.tasks.{name}")
        ref = body.get("component_ref")
        if not ref:
            raise FateImportError(f"FATE DAG: task {name!r} has no component_ref")
        k = _kind_of(str(ref), name, v2=True)
        if body.get("stage") == "cross_validation":
            raise FateImportError(
                f"FATE DAG: task {name!r}: stage 'cross_validation' is not supported"
            )
        inputs: dict[str, list[_Ref]] = {}
        at = f"DAG dag.tasks.{name}.inputs"
        for group in ("data", "model"):
            for key, src in _mapping(
                _mapping(body.get("inputs"), at).get(group), f"{at}.{group}"
            ).items():
                inputs[key] = _refs_v2(name, key, group, src)
        runs_on = members(body["parties"], f"tasks.{name}.parties") if body.get("parties") else None
        params = {
            p: _merge(
                dict(_mapping(body.get("parameters"), f"DAG dag.tasks.{name}.parameters")),
                own.get(name, {}).get(p, {}),
            )
            for p in parties
        }
        deps = [str(d) for d in _as_list(body.get("dependent_tasks") or [])]
        tasks.append(_Task(name, str(ref), k, inputs, params, parties=runs_on, deps=deps))
    if not tasks:
        raise FateImportError("FATE DAG: dag.tasks is empty")
    unknown = set(own) - {t.name for t in tasks}
    if unknown:
        raise FateImportError(
            f"FATE DAG: party_tasks configure tasks {sorted(unknown, key=str)} that dag.tasks lacks"
        )
    return parties, tasks


def _refs_v2(task: str, key: str, group: str, src: Any) -> list[_Ref]:
    if not isinstance(src, Mapping):
        raise FateImportError(
            f"FATE DAG: task {task!r}: input {key!r} must be a mapping, got {src!r}"
        )
    if "task_output_artifact" not in src:
        what = ", ".join(map(str, src)) or "nothing"
        raise FateImportError(
            f"FATE DAG: task {task!r}: input {key!r} comes from {what}; Atoll takes inputs only "
            "from earlier tasks (task_output_artifact), not FATE's model or data warehouse"
        )
    out = []
    for art in _as_list(src["task_output_artifact"]):
        if not isinstance(art, Mapping) or "producer_task" not in art:
            raise FateImportError(
                f"FATE DAG: task {task!r}: input {key!r} needs producer_task and output_artifact_key"
            )
        if art.get("parties"):
            log.info(
                "FATE DAG: task %r input %r: 'parties' ignored: each party takes the input "
                "where the producer has it",
                task,
                key,
            )
        out.append(_Ref(str(art["producer_task"]), str(art.get("output_artifact_key", "")), group))
    return out
