"""Components: the algorithms a job names, and the context they run in.

See :mod:`._registry` for how a component is declared and :mod:`._context` for
what it sees (``TaskContext``: federation, metrics, progress, workdir).
"""

from atoll.ml.component._context import Metrics, Model, TaskContext
from atoll.ml.component._registry import (
    BUILTIN_MODULES,
    ComponentError,
    ComponentSpec,
    IOSpec,
    Kind,
    Params,
    all_components,
    component,
    get_component,
    params_from_dataclass,
    to_dataclass,
    validate_params,
)

__all__ = [
    "BUILTIN_MODULES",
    "ComponentError",
    "ComponentSpec",
    "IOSpec",
    "Kind",
    "Metrics",
    "Model",
    "Params",
    "TaskContext",
    "all_components",
    "component",
    "get_component",
    "params_from_dataclass",
    "to_dataclass",
    "validate_params",
]
