"""The component registry: every algorithm a job can name, with its roles, parameters and I/O.

A component is a function ``fn(ctx, params, inputs) -> outputs`` registered with
:func:`component`. ``params`` is an instance of the component's pydantic model,
already merged from the job's common, per-role and per-party parameters and
validated; ``inputs`` maps input names to artifacts (:class:`~atoll.ml.data.Frame`
for ``data``, :class:`~atoll.ml.data.Predictions` for ``predictions``, a
:class:`Model` for ``model``); the function returns its outputs by name.

Built-in components live next to their algorithm (``atoll/ml/<algo>/component.py``)
and are imported on first use of the registry, so importing the registry stays cheap.
FATE module names (``HeteroLR``, ``Intersection``, ...) map to components through
``fate_names``.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

import pydantic

__all__ = [
    "BUILTIN_MODULES",
    "ComponentError",
    "ComponentSpec",
    "IOSpec",
    "Kind",
    "all_components",
    "component",
    "get_component",
    "validate_params",
]

Kind = Literal["data", "model", "predictions"]

#: Modules that register the built-in components when imported.
BUILTIN_MODULES = (
    "atoll.ml.reader.component",
    "atoll.ml.psi.component",
    "atoll.ml.feature_scale.component",
    "atoll.ml.coordinated_lr.component",
    "atoll.ml.sshe_lr.component",
    "atoll.ml.evaluation.component",
    "atoll.ml.hetero_pearson.component",
    "atoll.ml.model_io.component",
    "atoll.ml.toy_example.component",
)

_REGISTRY: dict[str, ComponentSpec] = {}
_loaded = False


class ComponentError(ValueError):
    """A job names a component, input, output or parameter that does not fit."""


@dataclasses.dataclass(frozen=True)
class IOSpec:
    """One input or output: its kind, whether it may be left out, which roles have it."""

    kind: Kind
    optional: bool = False
    roles: tuple[str, ...] | None = None  # None: every role the task runs on

    def on(self, role: str) -> bool:
        return self.roles is None or role in self.roles


@dataclasses.dataclass(frozen=True)
class ComponentSpec:
    name: str
    fn: Callable[..., dict[str, Any]]
    roles: tuple[str, ...]
    params: type[pydantic.BaseModel]
    inputs: Mapping[str, IOSpec]
    outputs: Mapping[str, IOSpec]
    fate_names: tuple[str, ...]
    description: str
    path_params: tuple[str, ...] = ()

    def run(
        self, ctx: Any, params: pydantic.BaseModel, inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        return self.fn(ctx, params, dict(inputs))


F = TypeVar("F", bound=Callable[..., dict[str, Any]])


def component(
    name: str,
    *,
    roles: tuple[str, ...],
    params: type[pydantic.BaseModel],
    inputs: Mapping[str, IOSpec | Kind] | None = None,
    outputs: Mapping[str, IOSpec | Kind] | None = None,
    fate_names: tuple[str, ...] = (),
    path_params: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Register ``fn`` as component ``name`` (see the module docstring).

    ``path_params`` name the parameters that are file paths: a job file's relative
    paths are taken relative to the job file's directory.
    """

    def norm(io: Mapping[str, IOSpec | Kind] | None) -> dict[str, IOSpec]:
        return {k: v if isinstance(v, IOSpec) else IOSpec(v) for k, v in (io or {}).items()}

    def register(fn: F) -> F:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ComponentError(f"component {name!r} is registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = ComponentSpec(
            name=name,
            fn=fn,
            roles=tuple(roles),
            params=params,
            inputs=norm(inputs),
            outputs=norm(outputs),
            fate_names=tuple(fate_names),
            description=doc[0] if doc else "",
            path_params=tuple(path_params),
        )
        return fn

    return register


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def all_components() -> dict[str, ComponentSpec]:
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def get_component(name: str) -> ComponentSpec:
    """The component called ``name`` (Atoll's name, or a FATE module name)."""
    comps = all_components()
    if name in comps:
        return comps[name]
    for spec in comps.values():
        if name in spec.fate_names or name.lower() in {f.lower() for f in spec.fate_names}:
            return spec
    raise ComponentError(
        f"unknown component {name!r}; supported: {', '.join(comps)} "
        f"(FATE names: {', '.join(sorted(f for s in comps.values() for f in s.fate_names))})"
    )


def validate_params(
    spec: ComponentSpec, values: Mapping[str, Any], where: str
) -> pydantic.BaseModel:
    """``values`` checked against the component's parameter model; errors name each parameter."""
    try:
        return spec.params.model_validate(dict(values))
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(parameters)"
            problems.append(f"{loc}: {err['msg']}")
        raise ComponentError(
            f"{where}: invalid parameters for component {spec.name!r}: " + "; ".join(problems)
        ) from None


class Params(pydantic.BaseModel):
    """Base of component parameter models: unknown parameters are errors, not silently ignored."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


D = TypeVar("D")


def params_from_dataclass(
    dc: type[Any],
    name: str,
    *,
    exclude: tuple[str, ...] = (),
    extra: Mapping[str, tuple[Any, Any]] | None = None,
) -> type[Params]:
    """A component parameter model with the fields of an algorithm's parameter dataclass.

    The dataclass stays the one place that defines and checks the parameters: the
    model takes its field names, types and defaults, and validating the model also
    builds the dataclass, so its ``__post_init__`` errors (which name the parameter)
    become job-file errors before anything runs. ``exclude`` leaves fields out (the
    component fills them, e.g. ``workers`` from the site); ``extra`` adds fields.
    """
    hints = typing.get_type_hints(dc)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(dc):
        if f.name in exclude or not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = pydantic.Field(default_factory=f.default_factory)
        else:
            default = ...
        fields[f.name] = (hints[f.name], default)
    own = set(fields)
    fields.update(extra or {})

    def check(self: Any) -> Any:
        try:
            dc(**{k: getattr(self, k) for k in own})
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc)) from None
        return self

    validators: dict[str, Any] = {
        "check_with_dataclass": pydantic.model_validator(mode="after")(check)
    }
    model = pydantic.create_model(name, __base__=Params, __validators__=validators, **fields)
    model.__doc__ = dc.__doc__
    return model


def to_dataclass(params: pydantic.BaseModel, dc: type[D], **overrides: Any) -> D:
    """The algorithm's parameter dataclass from a component's validated parameters."""
    names = {f.name for f in dataclasses.fields(dc) if f.init}  # type: ignore[arg-type]
    values = {k: v for k, v in params.model_dump().items() if k in names}
    values.update(overrides)
    return dc(**values)


__all__ += ["Params", "params_from_dataclass", "to_dataclass"]
