"""The job file: parties, tasks (components with inputs and parameters), and its validation.

::

    name: breast-lr
    parties: {guest: 9999, host: [10000], arbiter: 10001}
    tasks:
      read:
        component: reader
        role_parameters:
          guest: {path: guest.csv, label_column: y}
          host:  {path: host.csv}
      psi:
        component: psi
        inputs: {data: read.data}
      lr:
        component: coordinated_lr
        inputs: {train_data: psi.data}
        parameters: {epochs: 20, batch_size: 240, optimizer: rmsprop}

A task runs on every role of the job its component supports, or on ``run_on``.
Its parameters are ``parameters`` (common), then ``role_parameters[role]``, then
``party_parameters[party_id]``, later ones overriding earlier ones; the merged
result is validated against the component's parameter model, per party.
Inputs name an earlier task's output as ``task.output``. Relative paths in path
parameters are relative to the job file's directory.

The same file is what a site's scheduler receives (the flow issue), so ``atoll run``
and a real deployment share one format.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import yaml

from atoll.federation import JobParties, Party, UsageError
from atoll.ml.component import ComponentError, ComponentSpec, get_component, validate_params

__all__ = [
    "JobSpec",
    "JobSpecError",
    "PartyPlan",
    "TaskPlan",
    "TaskSpec",
    "load_job",
    "parse_job",
    "task_order",
]

ROLES = ("guest", "host", "arbiter")


class JobSpecError(ValueError):
    """A job file that cannot run: the message names the task, input or parameter."""


class _Strict(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class PartiesSpec(_Strict):
    guest: int | None = None
    host: list[int] = []
    arbiter: int | None = None

    @pydantic.field_validator("host", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, int) else v

    @pydantic.field_validator("guest", "arbiter", mode="before")
    @classmethod
    def _single(cls, v: Any) -> Any:
        if isinstance(v, list):
            if len(v) != 1:
                raise ValueError("exactly one party id")
            return v[0]
        return v


class TaskSpec(_Strict):
    component: str
    inputs: dict[str, str] = {}
    parameters: dict[str, Any] = {}
    role_parameters: dict[str, dict[str, Any]] = {}
    party_parameters: dict[int, dict[str, Any]] = {}
    run_on: list[str] | None = None


class JobOptionsSpec(_Strict):
    timeout: float = 3600.0
    workers: int = 1
    insecure: bool = False


class JobSpec(_Strict):
    name: str = "job"
    parties: PartiesSpec
    tasks: dict[str, TaskSpec]
    options: JobOptionsSpec = JobOptionsSpec()
    base_dir: str = "."

    def job_parties(self) -> JobParties:
        return JobParties.of(
            guest=self.parties.guest, hosts=self.parties.host, arbiter=self.parties.arbiter
        )


class TaskPlan(_Strict):
    """One task as one party runs it: merged parameters, resolved inputs."""

    name: str
    component: str
    params: dict[str, Any]
    inputs: dict[str, tuple[str, str] | None]
    outputs: list[str]


class PartyPlan(_Strict):
    role: str
    party_id: int
    tasks: list[TaskPlan]


def load_job(path: str | Path) -> JobSpec:
    """Read and validate a job file; relative paths become relative to its directory."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JobSpecError(f"{p}: cannot read the job file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise JobSpecError(f"{p}: not UTF-8 text (byte {exc.start}): {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise JobSpecError(f"{p}: not valid YAML: {exc}") from None
    except RecursionError:
        raise JobSpecError(f"{p}: the YAML is nested too deeply") from None
    if not isinstance(raw, dict):
        raise JobSpecError(f"{p}: a job file is a mapping with 'parties' and 'tasks'")
    raw.setdefault("base_dir", str(p.resolve().parent))
    return parse_job(raw, str(p))


def parse_job(raw: Mapping[str, Any], where: str = "job") -> JobSpec:
    if not isinstance(raw, Mapping):
        raise JobSpecError(
            f"{where}: a job is a mapping with 'parties' and 'tasks', got {type(raw).__name__}"
        )
    try:
        spec = JobSpec.model_validate(dict(raw))
    except RecursionError:
        raise JobSpecError(f"{where}: the job is nested too deeply") from None
    except pydantic.ValidationError as exc:
        problems = [
            f"{'.'.join(str(x) for x in e['loc']) or '(job)'}: {e['msg']}" for e in exc.errors()
        ]
        raise JobSpecError(f"{where}: " + "; ".join(problems)) from None
    plan_job(spec, where)  # every check, once, before anything runs
    return spec


def _roles_of(spec: JobSpec) -> list[str]:
    p = spec.parties
    return [
        r
        for r, present in (("guest", p.guest), ("host", p.host), ("arbiter", p.arbiter))
        if present
    ]


def _task_roles(
    name: str, task: TaskSpec, comp: ComponentSpec, job_roles: list[str], where: str
) -> list[str]:
    if task.run_on is None:
        return [r for r in comp.roles if r in job_roles]
    for r in task.run_on:
        if r not in comp.roles:
            raise JobSpecError(
                f"{where}: task {name!r}: component {comp.name!r} has no role {r!r} "
                f"(it runs on {', '.join(comp.roles)})"
            )
        if r not in job_roles:
            raise JobSpecError(f"{where}: task {name!r} runs on {r!r}, but the job has no {r}")
    return list(task.run_on)


def _merged(task: TaskSpec, party: Party, comp: ComponentSpec, base_dir: Path) -> dict[str, Any]:
    values = {**task.parameters, **task.role_parameters.get(party.role, {})}
    values.update(task.party_parameters.get(party.party_id, {}))
    for key in comp.path_params:
        v = values.get(key)
        if isinstance(v, str) and v and not Path(v).is_absolute():
            values[key] = str((base_dir / v).resolve())
    return values


def _topological(spec: JobSpec, where: str) -> list[str]:
    """Task names with every producer before its consumers (file order where free)."""
    deps: dict[str, list[str]] = {}
    for name, task in spec.tasks.items():
        deps[name] = []
        for inp, ref in task.inputs.items():
            src, dot, out = ref.partition(".")
            if not dot or not out:
                raise JobSpecError(
                    f"{where}: task {name!r}: input {inp!r} is {ref!r}; write it as 'task.output'"
                )
            if src not in spec.tasks:
                raise JobSpecError(
                    f"{where}: task {name!r}: input {inp!r} refers to {ref!r}, but there is no "
                    f"task {src!r} (tasks: {', '.join(spec.tasks)})"
                )
            deps[name].append(src)
    order: list[str] = []
    state: dict[str, int] = {}  # 1: visiting, 2: done

    # depth first, without recursion (a long chain of tasks must not hit the recursion limit)
    for root in spec.tasks:
        if state.get(root) == 2:
            continue
        path, stack = [root], [iter(deps[root])]
        state[root] = 1
        while stack:
            d = next(stack[-1], None)
            if d is None:
                stack.pop()
                done = path.pop()
                state[done] = 2
                order.append(done)
            elif state.get(d) == 1:
                cycle = " -> ".join([*path[path.index(d) :], d])
                raise JobSpecError(f"{where}: the tasks' inputs form a cycle: {cycle}")
            elif state.get(d) != 2:
                state[d] = 1
                path.append(d)
                stack.append(iter(deps[d]))
    return order


def task_order(spec: JobSpec) -> list[str]:
    """Every task name, each producer before its consumers, ties in file order: the
    job's one canonical order, the same wherever the same job file is read."""
    return _topological(spec, "job")


def plan_job(spec: JobSpec, where: str = "job") -> dict[Party, PartyPlan]:
    """Each party's list of tasks, in order, with merged and validated parameters."""
    try:
        parties = spec.job_parties()
    except (UsageError, ValueError) as exc:  # a party listed twice, no party at all
        raise JobSpecError(f"{where}: parties: {exc}") from None
    job_roles = _roles_of(spec)
    if not spec.tasks:
        raise JobSpecError(f"{where}: the job has no tasks")
    ids = {p.party_id for p in parties}
    base = Path(spec.base_dir)
    comps: dict[str, ComponentSpec] = {}
    runs: dict[str, list[str]] = {}
    order: list[str] = []
    for name in _topological(spec, where):
        task = spec.tasks[name]
        at = f"{where}: task {name!r}"
        try:
            comp = comps[name] = get_component(task.component)
        except ComponentError as exc:
            raise JobSpecError(f"{at}: {exc}") from None
        for role in task.role_parameters:
            if role not in ROLES:
                raise JobSpecError(f"{at}: role_parameters names unknown role {role!r}")
        for pid in task.party_parameters:
            if pid not in ids:
                raise JobSpecError(f"{at}: party_parameters names party {pid}, not in this job")
        roles = runs[name] = _task_roles(name, task, comp, job_roles, where)
        if not roles:
            raise JobSpecError(f"{at}: component {comp.name!r} runs on none of this job's roles")
        for inp, ref in task.inputs.items():
            if inp not in comp.inputs:
                raise JobSpecError(
                    f"{at}: component {comp.name!r} has no input {inp!r} "
                    f"(inputs: {', '.join(comp.inputs) or 'none'})"
                )
            src, _, out = ref.partition(".")
            if out not in comps[src].outputs:
                raise JobSpecError(
                    f"{at}: input {inp!r} refers to {ref!r}, but {comps[src].name!r} has no "
                    f"output {out!r} (outputs: {', '.join(comps[src].outputs)})"
                )
            if comps[src].outputs[out].kind != comp.inputs[inp].kind:
                raise JobSpecError(
                    f"{at}: input {inp!r} needs {comp.inputs[inp].kind}, {ref!r} is "
                    f"{comps[src].outputs[out].kind}"
                )
        order.append(name)

    plans: dict[Party, PartyPlan] = {}
    for party in parties:
        tasks: list[TaskPlan] = []
        for name in order:
            task, comp = spec.tasks[name], comps[name]
            if party.role not in runs[name]:
                continue
            at = f"{where}: task {name!r} at {party}"
            inputs: dict[str, tuple[str, str] | None] = {}
            for inp, io in comp.inputs.items():
                if not io.on(party.role):
                    continue
                given = task.inputs.get(inp)
                src, _, out = (given or "").partition(".")
                available = (
                    given is not None
                    and party.role in runs[src]
                    and comps[src].outputs[out].on(party.role)
                )
                if available:
                    inputs[inp] = (src, out)
                elif io.optional:
                    inputs[inp] = None
                elif given:
                    raise JobSpecError(
                        f"{at}: input {inp!r} ({given}) has no value at the {party.role}"
                    )
                else:
                    raise JobSpecError(f"{at}: required input {inp!r} is not given")
            values = _merged(task, party, comp, base)
            try:
                params = validate_params(comp, values, at)
            except ComponentError as exc:
                raise JobSpecError(str(exc)) from None
            tasks.append(
                TaskPlan(
                    name=name,
                    component=comp.name,
                    params=params.model_dump(mode="json", exclude_unset=True),
                    inputs=inputs,
                    outputs=[o for o, io in comp.outputs.items() if io.on(party.role)],
                )
            )
        plans[party] = PartyPlan(role=party.role, party_id=party.party_id, tasks=tasks)
    return plans
