"""Run a FATE job with Atoll: convert its DSL and conf (or its DAG) into an Atoll job file.

Three FATE formats are read:

* **DSL v1** (FATE 1.x): a DSL ``{"components": {name: {"module", "input", "output"}}}``
  and a conf with ``role`` (party ids per role), ``role_parameters`` (per role, per
  component, each value a list with one entry per party of that role; ``args.data``
  names the input tables) and ``algorithm_parameters`` (common to all parties);
* **DSL v2** (FATE 1.5+, ``dsl_version: 2``): the same DSL with ``Reader`` components,
  and a conf with ``component_parameters`` ``{"common": {...}, "role": {role: {"0":
  {...}, "0|1": {...}, "all": {...}}}}`` (or the early v2 form: ``role_parameters``
  keyed by party index plus ``algorithm_parameters``);
* **FATE 2.x DAG** (YAML): ``dag: {parties, tasks: {name: {component_ref, inputs,
  parameters, parties, ...}}, party_tasks: {alias: {parties, tasks: {name:
  {parameters}}}}}``. Pass it as ``dsl`` with no conf.

::

    from atoll.flow.fate_import import import_fate_job, load_fate_job
    spec = load_fate_job("hetero_lr_dsl.json", "hetero_lr_conf.json",
                         tables={"experiment.breast_hetero_guest": "guest.csv",
                                 "experiment.breast_hetero_host": "host.csv"})
    job = atoll.flow.spec.parse_job(spec)

Modules map to Atoll components through the registry's FATE names (``Reader``,
``Intersection``, ``HeteroLR``, ...). FATE's ``DataTransform`` / ``DataIO`` has no
component of its own: its label and id settings are folded into the reader task
that feeds it, and references to it become references to that reader. A FATE
table (``namespace.name``) becomes the reader's ``path`` through ``tables``.

Parameters are translated one by one (:data:`PARAMETER_MAP` lists each module's).
A parameter Atoll cannot honour is refused with an error naming the task, module,
parameter and what is supported; the few that change nothing Atoll computes
(FATE's fixed-point precision, cache and logging settings, ...) are ignored and
logged on the ``atoll.flow.fate`` logger. Raw (plaintext-hash) intersection is
refused: it reveals ids. Parameters a FATE job leaves out take Atoll's defaults.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from atoll.flow.spec import JobSpecError, parse_job
from atoll.ml.component import ComponentError, get_component

__all__ = ["PARAMETER_MAP", "FateImportError", "import_fate_job", "load_fate_job"]

log = logging.getLogger("atoll.flow.fate")

ROLES = ("guest", "host", "arbiter")
_TASK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,127}\Z")
_INDEX_SPEC = re.compile(r"(all|\d+(\|\d+)*)\Z")


class FateImportError(JobSpecError):
    """A FATE job Atoll cannot run as given; the message names the task, module and parameter."""


# --------------------------------------------------------------------------------------------
# parameter rules: each takes (value, out, at) and writes Atoll parameters into ``out``
# --------------------------------------------------------------------------------------------

Rule = Callable[[Any, dict[str, Any], "_At"], None]


@dataclasses.dataclass(frozen=True)
class _At:
    """Where a parameter is: task, FATE module, parameter path (for messages)."""

    task: str
    module: str
    path: str = ""

    def child(self, key: str) -> _At:
        return dataclasses.replace(self, path=f"{self.path}.{key}" if self.path else key)

    def __str__(self) -> str:
        return f"task {self.task!r} ({self.module}), parameter {self.path!r}"

    def refuse(self, why: str) -> FateImportError:
        return FateImportError(f"FATE job: {self}: {why}")


_ignored_seen: set[tuple[str, str]] = set()


def _note_ignored(at: _At, value: Any, why: str) -> None:
    key = (at.task, at.path)
    if key not in _ignored_seen:
        _ignored_seen.add(key)
        log.info("FATE job: %s = %r ignored: %s", at, value, why)


def to(name: str, conv: Callable[[Any, _At], Any] | None = None, doc: str = "") -> Rule:
    """The value goes to Atoll's ``name`` (through ``conv``); ``doc`` describes it."""

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        out[name] = conv(v, at) if conv is not None else v

    rule.__doc__ = doc or f"-> {name}"
    return rule


def choice(name: str, mapping: Mapping[Any, Any], refused: Mapping[Any, str] | None = None) -> Rule:
    """FATE's value, looked up in ``mapping`` (case-insensitively for text), goes to ``name``."""
    lowered = {(k.lower() if isinstance(k, str) else k): v for k, v in mapping.items()}

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        key = v.lower() if isinstance(v, str) else v
        if refused and key in refused:
            raise at.refuse(f"{v!r} is refused: {refused[key]}")
        if key not in lowered:
            supported = ", ".join(repr(k) for k in mapping)
            raise at.refuse(f"{v!r} is not supported (supported: {supported})")
        out[name] = lowered[key]

    pairs = ", ".join(f"{k!r}->{v!r}" for k, v in mapping.items())
    no = f"; refused: {', '.join(repr(k) for k in refused)}" if refused else ""
    rule.__doc__ = f"-> {name} ({pairs}{no})"
    return rule


def ignore(why: str) -> Rule:
    """Accepted and ignored (logged): it changes nothing Atoll computes."""

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        _note_ignored(at, v, why)

    rule.__doc__ = f"ignored: {why}"
    return rule


def only(*allowed: Any, why: str = "") -> Rule:
    """Accepted only with these values (FATE's defaults: they change nothing); else refused."""

    def norm(x: Any) -> Any:
        return x.lower() if isinstance(x, str) else x

    ok = [norm(a) for a in allowed]

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        if norm(v) not in ok:
            supported = " or ".join(repr(a) for a in allowed)
            raise at.refuse(
                f"{v!r} is not supported; Atoll supports only {supported}"
                + (f" ({why})" if why else "")
            )

    rule.__doc__ = "only " + " or ".join(repr(a) for a in allowed)
    return rule


def nested(rules: Mapping[str, Rule]) -> Rule:
    """A FATE parameter object (``init_param``, ``encrypt_param``, ...): its fields' own rules."""

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        if v is None:
            return
        if not isinstance(v, Mapping):
            raise at.refuse(f"expected a mapping of {', '.join(rules)}, got {v!r}")
        _apply(rules, v, out, at)

    rule.__doc__ = (
        "{" + ", ".join(f"{k}: {(r.__doc__ or '').strip()}" for k, r in rules.items()) + "}"
    )
    return rule


def _apply(
    rules: Mapping[str, Rule], values: Mapping[str, Any], out: dict[str, Any], at: _At
) -> None:
    for key, v in values.items():
        here = at.child(key)
        r = rules.get(key)
        if r is None:
            raise here.refuse(
                f"FATE parameter {key!r} of {at.module} is not supported by Atoll "
                f"(supported: {', '.join(sorted(rules))})"
            )
        r(v, out, here)


def _number(v: Any, at: _At) -> Any:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise at.refuse(f"expected a number, got {v!r}")
    return v


def _need_false(flag: str) -> Rule:
    """A FATE parameter object that is off unless ``flag`` is true (cv_param, stepwise_param)."""

    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        if isinstance(v, Mapping) and v.get(flag):
            raise at.child(flag).refuse(
                f"{v.get(flag)!r} is not supported; Atoll supports only False"
            )
        _note_ignored(at, v, f"{flag} is off, so its other settings do nothing")

    rule.__doc__ = f"only {flag}=False"
    return rule


def _callbacks(v: Any, out: dict[str, Any], at: _At) -> None:
    """only callbacks ['ModelCheckpoint'] (ignored: the final model is always saved)"""
    if not v:
        return
    if not isinstance(v, Mapping):
        raise at.refuse(f"expected a mapping, got {v!r}")
    cbs = v.get("callbacks") or []
    bad = [c for c in cbs if c != "ModelCheckpoint"]
    if bad:
        raise at.child("callbacks").refuse(
            f"{bad!r} are not supported (Atoll trains without validation callbacks; only "
            "'ModelCheckpoint' is accepted, and ignored: the final model is always saved)"
        )
    _note_ignored(at, v, "no callbacks beyond saving the model")


def _init_method(v: Any, out: dict[str, Any], at: _At, allowed: tuple[str, ...]) -> None:
    key = v.lower() if isinstance(v, str) else v
    if key == "ones" and "const" in allowed:
        out["init"], out["init_const"] = "const", 1.0
        return
    if key not in allowed:
        raise at.refuse(f"{v!r} is not supported (supported: {', '.join(allowed)})")
    out["init"] = key


def _init(*allowed: str) -> Rule:
    def rule(v: Any, out: dict[str, Any], at: _At) -> None:
        _init_method(v, out, at, allowed)

    extra = ", 'ones'->'const' with init_const 1" if "const" in allowed else ""
    rule.__doc__ = f"-> init ({', '.join(allowed)}{extra})"
    return rule


_PRECISION = ignore("Atoll chooses its own fixed-point encoding")
_MODE_CALC = ignore("a speed setting of FATE's encryption; Atoll's is always strict")
_PENALTY = {"L2": "l2", "L1": "l1", "none": None, None: None}
_OPTIMIZERS = {
    "sgd": "sgd",
    "rmsprop": "rmsprop",
    "adam": "adam",
    "adagrad": "adagrad",
    "nesterov_momentum_sgd": "nesterov_momentum",
}
_RAW = {
    "raw": "it leaks ids: raw intersection sends every id (at best hashed, which a "
    "dictionary reverses) to the other party; use 'rsa' or 'ecdh'"
}
_VALIDATION = {
    "validation_freqs": only(None, why="validation during training is not supported"),
    "early_stopping_rounds": only(None, why="validation during training is not supported"),
    "metrics": only(None, [], why="validation during training is not supported"),
    "use_first_metric_only": only(False),
}
_COMMON_LR_V1: dict[str, Rule] = {
    "tol": to("tol", _number),
    "alpha": to("alpha", _number),
    "batch_size": to("batch_size"),
    "learning_rate": to("learning_rate", _number),
    "max_iter": to("epochs"),
    "encrypt_param": nested(
        {
            "method": choice("scheme", {"Paillier": "paillier"}),
            "key_length": to("key_bits"),
        }
    ),
    "predict_param": nested({"threshold": to("threshold", _number)}),
    "cv_param": _need_false("need_cv"),
    "decay": to("decay", _number),
    "multi_class": only("ovr", why="binary labels only; FATE's 'ovr' is a no-op on them"),
    **_VALIDATION,
    "floating_point_precision": _PRECISION,
    "encrypted_mode_calculator_param": _MODE_CALC,
    "callback_param": _callbacks,
    "stepwise_param": _need_false("need_stepwise"),
    "need_run": only(True),
}

#: FATE 1.x module -> (its Atoll component, FATE parameter -> rule).
PARAMETER_MAP_V1: dict[str, dict[str, Rule]] = {
    "HeteroLR": {
        **_COMMON_LR_V1,
        "penalty": choice("penalty", _PENALTY),
        "optimizer": choice("optimizer", _OPTIMIZERS, {"sqn": "quasi-Newton is not supported"}),
        "batch_strategy": only("full", why="Atoll's mini-batches cover every row each epoch"),
        "masked_rate": ignore("used only by batch_strategy 'random'"),
        "shuffle": to("shuffle"),
        "init_param": nested(
            {
                "init_method": _init("zeros", "random_uniform", "random_normal", "const"),
                "init_const": to("init_const", _number),
                "fit_intercept": to("fit_intercept"),
                "random_seed": to("seed"),
            }
        ),
        "early_stop": choice("early_stop", {k: k for k in ("diff", "abs", "weight_diff")}),
        "decay_sqrt": to("decay_sqrt"),
        "sqn_param": ignore("used only by optimizer 'sqn'"),
    },
    "HeteroSSHELR": {
        **_COMMON_LR_V1,
        "penalty": choice("penalty", {"L2": "l2", "none": None, None: None}),
        "optimizer": choice("optimizer", {"sgd": "sgd"}),
        "batch_strategy": only("full"),
        "masked_rate": ignore("used only by batch_strategy 'random'"),
        "shuffle": only(True, why="Atoll's SSHE-LR always shuffles its mini-batches"),
        "init_param": nested(
            {
                "init_method": _init("zeros", "random_uniform"),
                "init_const": ignore("used only by init_method 'const'"),
                "fit_intercept": to("fit_intercept"),
                "random_seed": to("seed"),
            }
        ),
        "early_stop": choice("early_stop", {"diff": "diff", "abs": "abs"}),
        "decay_sqrt": to("_decay_sqrt", doc="only False, or True with decay 0"),
        "use_mix_rand": ignore("a speed setting of FATE's random shares"),
        "reveal_strategy": only("respectively"),
        "reveal_every_iter": to("reveal_every_epoch"),
        "compute_loss": to(
            "reveal_loss_freq",
            lambda v, at: 1 if v else 0,
            "-> reveal_loss_freq (True->1, False->0)",
        ),
    },
    "Intersection": {
        "intersect_method": choice(
            "protocol",
            {"rsa": "rsa", "ecdh": "ecdh"},
            _RAW,
        ),
        "rsa_params": nested(
            {
                "key_length": to("rsa_key_bits"),
                "hash_method": ignore("Atoll's RSA PSI fixes its hash; the result is the same"),
                "final_hash_method": ignore(
                    "Atoll's RSA PSI fixes its hash; the result is the same"
                ),
                "salt": ignore("Atoll's RSA PSI fixes its hash; the result is the same"),
                "split_calculation": only(False),
                "random_base_fraction": only(None),
                "random_bit": ignore("Atoll picks its own blinding"),
            }
        ),
        "ecdh_params": nested(
            {
                "curve": only("curve25519", why="Atoll's ECDH PSI uses ristretto255 (curve25519)"),
                "hash_method": ignore("Atoll's ECDH PSI fixes its hash; the result is the same"),
                "salt": ignore("Atoll's ECDH PSI fixes its hash; the result is the same"),
            }
        ),
        "raw_params": ignore("settings of raw intersection, which is not used"),
        "dh_params": ignore("settings of DH intersection, which is not used"),
        "intersect_cache_param": ignore("settings of the cache, which is not used"),
        "intersect_preprocess_params": ignore("settings of preprocessing, which is not used"),
        "sync_intersect_ids": only(True, why="every party learns the intersection"),
        "only_output_key": only(False),
        "join_role": only("guest"),
        "with_encode": only(False),
        "encode_params": ignore("used only with with_encode"),
        "run_cache": only(False),
        "run_preprocess": only(False),
        "cardinality_only": only(False),
        "sync_cardinality": only(False),
        "sample_id_generator": only("guest"),
        "repeated_id_process": only(False),
        "repeated_id_owner": ignore("used only with repeated_id_process"),
        "allow_info_share": only(False),
        "info_owner": ignore("used only with allow_info_share"),
        "with_sample_id": only(False),
        "new_join_id": only(False),
        "random_bit": ignore("Atoll picks its own blinding"),
        "need_run": only(True),
    },
    "Evaluation": {
        "eval_type": only("binary", why="Atoll evaluates binary classification"),
        "pos_label": only(1),
        "metrics": ignore("Atoll records its full set (AUC, KS, accuracy, ...) every time"),
        "unfold_multi_result": ignore("binary results are never multi"),
        "run_clustering_arbiter_metric": only(False),
        "need_run": only(True),
    },
    "FeatureScale": {
        "method": choice("method", {"standard_scale": "standard", "min_max_scale": "min_max"}),
        "mode": only("normal"),
        "area": only("all"),
        "scale_col_indexes": to("_scale_indexes", doc="only -1 (every column) or []"),
        "scale_names": to("columns"),
        "feature_upper": only(None),
        "feature_lower": only(None),
        "with_mean": only(True),
        "with_std": only(True),
        "need_run": only(True),
    },
    "SecureAddExample": {
        "seed": to("seed"),
        "partition": to("partition"),
        "data_num": to("data_num"),
    },
}

_HE_V2 = nested(
    {"kind": choice("scheme", {"paillier": "paillier", "ou": "ou"}), "key_length": to("key_bits")}
)
_INIT_V2 = {
    "fit_intercept": to("fit_intercept"),
    "random_state": to("seed"),
}

#: FATE 2.x component -> FATE parameter -> rule.
PARAMETER_MAP_V2: dict[str, dict[str, Rule]] = {
    "coordinated_lr": {
        "epochs": to("epochs"),
        "batch_size": to("batch_size"),
        "optimizer": nested(
            {
                "method": choice(
                    "optimizer", {k: k for k in ("sgd", "rmsprop", "adam", "adagrad")}
                ),
                "penalty": choice("penalty", _PENALTY),
                "alpha": to("alpha", _number),
                "optimizer_params": nested(
                    {
                        "lr": to("learning_rate", _number),
                        "weight_decay": only(0, why="use penalty and alpha"),
                    }
                ),
            }
        ),
        "learning_rate_scheduler": to(
            "_scheduler", doc="only constant (method constant, or linear with factors 1.0)"
        ),
        "tol": to("tol", _number),
        "early_stop": choice("early_stop", {k: k for k in ("diff", "abs", "weight_diff")}),
        "he_param": _HE_V2,
        "init_param": nested(
            {
                "method": _init("zeros", "random_uniform", "random_normal", "const"),
                "fill_val": to("init_const", _number),
                **_INIT_V2,
            }
        ),
        "threshold": to("threshold", _number),
        "floating_point_precision": _PRECISION,
    },
    "sshe_lr": {
        "epochs": to("epochs"),
        "batch_size": to("batch_size"),
        "tol": to("tol", _number),
        "early_stop": choice("early_stop", {"diff": "diff", "abs": "abs"}),
        "learning_rate": to("learning_rate", _number),
        "reveal_every_epoch": to("reveal_every_epoch"),
        "reveal_loss_freq": to("reveal_loss_freq"),
        "init_param": nested(
            {
                "method": _init("zeros", "random_uniform"),
                "fill_val": ignore("used only by method 'const'"),
                **_INIT_V2,
            }
        ),
        "threshold": to("threshold", _number),
        "he_param": _HE_V2,
    },
    "psi": {
        "protocol": choice(
            "protocol",
            {"ecdh_psi": "ecdh", "ecdh": "ecdh", "rsa": "rsa"},
            {**_RAW, "raw_psi": _RAW["raw"]},
        ),
        "curve_type": only("curve25519", why="Atoll's ECDH PSI uses ristretto255 (curve25519)"),
    },
    "evaluation": {
        "metrics": ignore("Atoll records its full set (AUC, KS, accuracy, ...) every time"),
        "label_column_name": only(None),
        "predict_column_name": only(None),
        "default_eval_setting": only("binary", why="Atoll evaluates binary classification"),
    },
    "feature_scale": {
        "method": choice("method", {"standard": "standard", "min_max": "min_max"}),
        "scale_col": to("columns"),
        "scale_idx": only(None, [], why="Atoll selects columns by name (scale_col)"),
        "feature_range": to("_feature_range", doc="-> feature_range (one range for every column)"),
        "strict_range": only(True),
        "use_anonymous": only(False),
    },
    "toy_example": {
        "seed": to("seed"),
        "partition": to("partition"),
        "data_num": to("data_num"),
    },
}

#: Every translated FATE parameter, by format and module (see the module docstring).
PARAMETER_MAP = {"v1": PARAMETER_MAP_V1, "v2": PARAMETER_MAP_V2}

#: Values an Atoll component gets before FATE's parameters, where FATE's component differs.
_FIXED_V2: dict[str, dict[str, Any]] = {
    "sshe_lr": {"penalty": None}
}  # FATE 2.x SSHE-LR: no penalty


def _post(atoll: str, out: dict[str, Any], at: _At) -> dict[str, Any]:
    """Checks that need several FATE parameters at once; drops the ``_`` helpers."""
    decay_sqrt = out.pop("_decay_sqrt", False)
    if decay_sqrt and out.get("decay", 0):
        raise dataclasses.replace(at, path="decay_sqrt").refuse(
            "True with decay > 0 is not supported by Atoll's SSHE-LR "
            "(it decays as lr / (1 + decay * epoch)); set decay_sqrt False or decay 0"
        )
    if "_scale_indexes" in out:
        idx = out.pop("_scale_indexes")
        if idx == -1:
            out.pop("columns", None)  # every column
        elif idx not in (None, []):
            raise dataclasses.replace(at, path="scale_col_indexes").refuse(
                f"{idx!r} is not supported: Atoll selects columns by name (scale_names), or -1 for all"
            )
    if "_feature_range" in out:
        fr = out.pop("_feature_range")
        ranges = list(fr.values()) if isinstance(fr, Mapping) else [fr]
        ranges = [tuple(r) for r in ranges if r is not None]
        if len(set(ranges)) > 1:
            raise dataclasses.replace(at, path="feature_range").refuse(
                f"{fr!r}: Atoll scales every column to one range"
            )
        if ranges:
            out["feature_range"] = list(ranges[0])
    if "_scheduler" in out:
        sch = out.pop("_scheduler") or {}
        if not isinstance(sch, Mapping):
            raise dataclasses.replace(at, path="learning_rate_scheduler").refuse(
                f"expected {{method, scheduler_params}}, got {sch!r}"
            )
        method = sch.get("method", "constant")
        params = sch.get("scheduler_params") or {}
        constant = method == "constant" or (
            method == "linear"
            and params.get("start_factor", 1.0) == 1.0
            and params.get("end_factor", 1.0) == 1.0
        )
        if not constant:
            raise dataclasses.replace(at, path="learning_rate_scheduler").refuse(
                f"{sch!r} is not supported: Atoll's learning rate is constant "
                "(or lr / (1 + decay * epoch) with decay)"
            )
    if atoll in ("coordinated_lr", "sshe_lr") and out.get("batch_size") is None:
        out.pop("batch_size", None)
    return out


# --------------------------------------------------------------------------------------------
# the job in between: tasks with per-party FATE parameters
# --------------------------------------------------------------------------------------------


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
    try:
        return int(v)
    except (TypeError, ValueError):
        raise FateImportError(f"FATE job: {where}: party id {v!r} is not a number") from None


def _parties_from_roles(roles: Mapping[str, Any], where: str) -> list[_Party]:
    out: list[_Party] = []
    for role, ids in roles.items():
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
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = _merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------------------------
# FATE 1.x: DSL v1 / v2 and their confs
# --------------------------------------------------------------------------------------------


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
    by_role: Mapping[str, Any], parties: list[_Party], where: str
) -> dict[_Party, dict[str, dict[str, Any]]]:
    """``{role: {"0": {task: params}, "0|1": ..., "all": ...}}`` -> party -> task -> params."""
    out: dict[_Party, dict[str, dict[str, Any]]] = {p: {} for p in parties}
    for role, specs in (by_role or {}).items():
        members = [p for p in parties if p.role == role]
        if not isinstance(specs, Mapping):
            raise FateImportError(f"FATE conf: {where}.{role} must be a mapping of party indices")
        # "all" first, then several indices, then one: the most specific wins
        ordered = sorted(specs, key=lambda s: (s != "all", -s.count("|")))
        for spec in ordered:
            if not _INDEX_SPEC.match(str(spec)):
                raise FateImportError(
                    f"FATE conf: {where}.{role}: {spec!r} is not a party index ('0', '0|1', 'all')"
                )
            for i in _indices(str(spec), len(members), f"{where}.{role}.{spec}"):
                party = members[i]
                for task, params in (specs[spec] or {}).items():
                    out[party][task] = _merge(out[party].get(task, {}), params or {})
    return out


def _is_v2_indexed(role_parameters: Mapping[str, Any]) -> bool:
    return any(
        isinstance(v, Mapping) and v and all(_INDEX_SPEC.match(str(k)) for k in v)
        for v in role_parameters.values()
    )


def _from_dsl(dsl: Mapping[str, Any], conf: Mapping[str, Any]) -> tuple[list[_Party], list[_Task]]:
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
    cp = conf.get("component_parameters")
    if cp is not None:
        common = {k: dict(v or {}) for k, v in (cp.get("common") or {}).items()}
        per_party = _v2_role_params(cp.get("role") or {}, parties, "component_parameters.role")
    common = {
        **{k: dict(v or {}) for k, v in (conf.get("algorithm_parameters") or {}).items()},
        **common,
    }
    rp = conf.get("role_parameters") or {}
    if rp and _is_v2_indexed(rp):
        for party, by_task in _v2_role_params(rp, parties, "role_parameters").items():
            for t, params in by_task.items():
                per_party[party][t] = _merge(per_party[party].get(t, {}), params)
    elif rp:
        for role, by_task in rp.items():
            for party in (p for p in parties if p.role == role):
                for t, params in (by_task or {}).items():
                    picked = _pick(params, party.index, f"{role}.{t}")
                    if t == "args":
                        args[party] = picked
                    else:
                        per_party[party][t] = _merge(per_party[party].get(t, {}), picked)

    configured = set(common) | {t for by_task in per_party.values() for t in by_task}
    stray = sorted(configured - set(comps))
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
        inp = body.get("input") or {}
        for key, refs in (inp.get("data") or {}).items():
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
            for o in _as_list((body.get("output") or {}).get(key) or [])
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


def _as_list(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list | tuple) else [v]


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
                data = (args.get(p) or {}).get("data") or {}
                if out in data:
                    table = data[out]
                    params[p] = {"table": table[0] if isinstance(table, list) else table}
            implicit[name] = _Task(name, "Reader", "Reader", {}, params, parties=set(params))
        return _Ref(name, "data", "data")
    return _Ref(src, out, kind)


# --------------------------------------------------------------------------------------------
# FATE 2.x: the DAG
# --------------------------------------------------------------------------------------------


def _dag_parties(items: Any, where: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for item in items or []:
        if not isinstance(item, Mapping) or "role" not in item:
            raise FateImportError(f"FATE DAG: {where}: a party is {{role, party_id}}, got {item!r}")
        for pid in _as_list(item.get("party_id", [])):
            out.append((str(item["role"]), _pid(pid, where)))
    return out


def _from_dag(doc: Mapping[str, Any]) -> tuple[list[_Party], list[_Task]]:
    dag = doc.get("dag")
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
    for alias, pt in (dag.get("party_tasks") or {}).items():
        who = members(pt.get("parties"), f"party_tasks.{alias}.parties")
        for tname, tbody in (pt.get("tasks") or {}).items():
            for p in who:
                slot = own.setdefault(tname, {})
                slot[p] = _merge(slot.get(p, {}), (tbody or {}).get("parameters") or {})

    tasks: list[_Task] = []
    for name, body in (dag.get("tasks") or {}).items():
        _check_name(name)
        ref = body.get("component_ref")
        if not ref:
            raise FateImportError(f"FATE DAG: task {name!r} has no component_ref")
        k = _kind_of(str(ref), name, v2=True)
        if body.get("stage") == "cross_validation":
            raise FateImportError(
                f"FATE DAG: task {name!r}: stage 'cross_validation' is not supported"
            )
        inputs: dict[str, list[_Ref]] = {}
        for group in ("data", "model"):
            for key, src in ((body.get("inputs") or {}).get(group) or {}).items():
                inputs[key] = _refs_v2(name, key, group, src)
        runs_on = members(body["parties"], f"tasks.{name}.parties") if body.get("parties") else None
        params = {
            p: _merge(dict(body.get("parameters") or {}), own.get(name, {}).get(p, {}))
            for p in parties
        }
        deps = [str(d) for d in body.get("dependent_tasks") or []]
        tasks.append(_Task(name, str(ref), k, inputs, params, parties=runs_on, deps=deps))
    if not tasks:
        raise FateImportError("FATE DAG: dag.tasks is empty")
    unknown = set(own) - {t.name for t in tasks}
    if unknown:
        raise FateImportError(
            f"FATE DAG: party_tasks configure tasks {sorted(unknown)} that dag.tasks lacks"
        )
    return parties, tasks


def _refs_v2(task: str, key: str, group: str, src: Any) -> list[_Ref]:
    if not isinstance(src, Mapping):
        raise FateImportError(
            f"FATE DAG: task {task!r}: input {key!r} must be a mapping, got {src!r}"
        )
    if "task_output_artifact" not in src:
        what = ", ".join(src) or "nothing"
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


# --------------------------------------------------------------------------------------------
# from FATE tasks to Atoll tasks
# --------------------------------------------------------------------------------------------

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


def _reader_params(
    task: _Task, fate: Mapping[str, Any], tables: Mapping[str, str], v2: bool
) -> dict[str, Any]:
    """A FATE reader's table (1.x ``table: {name, namespace}``, 2.x ``name``/``namespace``) -> path."""
    at = _At(task.name, task.module)
    out: dict[str, Any] = {}
    rest = dict(fate)
    table = rest.pop("table", None)
    if table is None and ("name" in rest or "namespace" in rest):
        table = {"name": rest.pop("name", None), "namespace": rest.pop("namespace", None)}
    if "path" in rest:
        out["path"] = rest.pop("path")
    elif table is not None:
        if not isinstance(table, Mapping) or not table.get("name"):
            raise at.child("table").refuse(f"expected {{name, namespace}}, got {table!r}")
        key = f"{table.get('namespace') or ''}.{table['name']}".lstrip(".")
        if key not in tables:
            known = ", ".join(sorted(tables)) or "none given"
            raise FateImportError(
                f"FATE job: task {task.name!r} ({task.module}) reads FATE table {key!r}, which "
                f"tables= does not map to a file (mapped: {known})"
            )
        out["path"] = str(tables[key])
    else:
        raise at.refuse("the reader names no table (table: {name, namespace})")
    rules: dict[str, Rule] = {
        "format": choice("format", {"csv": "csv", "parquet": "parquet"}),
        "id_name": to("id_column"),
        "delimiter": to("delimiter"),
        "label_name": to("label_column"),
        "label_type": ignore("Atoll reads labels as numbers"),
        "dtype": ignore("Atoll reads features as float64"),
        "match_id_name": to("id_column"),
        "sample_id_name": ignore("Atoll keeps one id column"),
    }
    _apply(rules, rest, out, at)
    if v2 and "label_column" not in out:
        out["label_column"] = "auto"  # FATE 2.x keeps the label in the table's meta ("y")
    return out


def _data_transform(task: _Task, fate: Mapping[str, Any]) -> dict[str, Any]:
    """DataTransform / DataIO settings -> the reader's parameters (label, id, missing values)."""
    at = _At(task.name, task.module)
    f = dict(fate)
    out: dict[str, Any] = {}
    with_label = f.pop("with_label", False)
    label_name = f.pop("label_name", "y")
    if with_label:
        out["label_column"] = label_name
    else:
        out["label_column"] = None
    if f.pop("with_match_id", False) or "match_id_name" in f:
        name = f.pop("match_id_name", None)
        if name:
            out["id_column"] = name
    missing_fill = f.pop("missing_fill", False)
    method = f.pop("missing_fill_method", None)
    default = f.pop("default_value", 0)
    impute = f.pop("missing_impute", None)
    if missing_fill:
        if method not in (None, "designated"):
            raise at.child("missing_fill_method").refuse(
                f"{method!r} is not supported; Atoll fills missing cells with one value "
                "(missing_fill_method None or 'designated' with default_value)"
            )
        if isinstance(default, list | dict):
            raise at.child("default_value").refuse(
                f"{default!r}: Atoll fills every column with one value"
            )
        out["missing"] = "fill"
        out["fill_value"] = float(default if default is not None else 0)
        if impute is not None:
            out["missing_values"] = [str(x) for x in _as_list(impute)]
    outlier = f.pop("outlier_replace", False)
    o_impute = f.pop("outlier_impute", None)
    o_method = f.pop("outlier_replace_method", None)
    o_value = f.pop("outlier_replace_value", 0)
    if outlier and o_impute not in (None, []):
        raise at.child("outlier_impute").refuse(
            f"{o_impute!r}: replacing outliers is not supported (without outlier_impute "
            "nothing counts as an outlier, and outlier_replace is accepted)"
        )
    del o_method, o_value
    rules: dict[str, Rule] = {
        "label_type": ignore("Atoll reads labels as numbers"),
        "output_format": only("dense"),
        "input_format": only("dense"),
        "delimitor": to("delimiter"),
        "data_type": ignore("Atoll reads features as float64"),
        "exclusive_data_type": only(None),
        "tag_with_value": only(False),
        "tag_value_delimitor": ignore("used only by input_format 'tag'"),
        "match_id_index": only(0),
        "need_run": only(True),
    }
    _apply(rules, f, out, at)
    return out


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


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def import_fate_job(
    dsl: Mapping[str, Any] | None,
    conf: Mapping[str, Any] | None = None,
    *,
    tables: Mapping[str, str] | None = None,
    name: str | None = None,
    base_dir: str | None = None,
    validate: bool = True,
) -> dict[str, Any]:
    """An Atoll job spec (the dict :func:`atoll.flow.spec.parse_job` takes) from a FATE job.

    ``dsl`` and ``conf`` are FATE 1.x's DSL (v1 or v2) and runtime conf; a FATE 2.x DAG
    (``{"dag": ...}``) is passed as ``dsl`` alone (a conf holding the DAG works too).
    ``tables`` maps FATE tables (``"namespace.name"``) to files. ``name`` is the job's
    name (default ``fate-job``); ``base_dir`` anchors relative paths. With ``validate``
    the result is checked with ``parse_job``, so every error surfaces here.
    Raises :class:`FateImportError`.
    """
    _ignored_seen.clear()
    tables = dict(tables or {})
    doc: Mapping[str, Any] | None = dsl
    if doc is not None and "dag" in doc:
        if conf is not None:
            raise FateImportError(
                "FATE DAG: pass the DAG alone (its parties are in it), not with a conf"
            )
        parties, tasks = _from_dag(doc)
        v2 = True
    elif doc is None and conf is not None and "dag" in conf:
        parties, tasks = _from_dag(conf)
        v2 = True
    else:
        if doc is None:
            raise FateImportError("FATE job: no DSL given")
        if conf is None:
            raise FateImportError("FATE DSL: a DSL v1/v2 job needs its conf (roles and parameters)")
        parties, tasks = _from_dsl(doc, conf)
        v2 = False
    spec = _convert(parties, tasks, tables, v2, name or "fate-job")
    if base_dir is not None:
        spec["base_dir"] = str(base_dir)
    if validate:
        try:
            parse_job(spec, f"FATE job {spec['name']!r}")
        except FateImportError:
            raise
        except JobSpecError as exc:
            raise FateImportError(str(exc)) from None
    return spec


def _read(path: str | Path) -> Any:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise FateImportError(f"{p}: cannot read: {exc.strerror}") from None
    try:
        return json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise FateImportError(
            f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {exc}"
        ) from None


def load_fate_job(
    dsl_path: str | Path,
    conf_path: str | Path | None = None,
    tables: Mapping[str, str] | None = None,
    *,
    validate: bool = True,
) -> dict[str, Any]:
    """:func:`import_fate_job` on files (JSON or YAML); relative table paths are relative
    to the DSL's directory, and the job is named after the DSL file."""
    dsl = _read(dsl_path)
    conf = None if conf_path is None else _read(conf_path)
    if not isinstance(dsl, Mapping) or (conf is not None and not isinstance(conf, Mapping)):
        raise FateImportError(f"{dsl_path}: a FATE DSL, conf or DAG is a mapping")
    stem = Path(dsl_path).stem
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem) or "fate-job"
    return import_fate_job(
        dsl,
        conf,
        tables=tables,
        name=safe,
        base_dir=str(Path(dsl_path).resolve().parent),
        validate=validate,
    )
