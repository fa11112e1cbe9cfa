"""The parameter map: per FATE module (1.x) and component (2.x), each parameter's rule.

:data:`PARAMETER_MAP_V1` and :data:`PARAMETER_MAP_V2` (together :data:`PARAMETER_MAP`)
say how each FATE parameter becomes Atoll's; :func:`_post` makes the checks that need
several parameters at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from atoll.flow.fate._rules import (
    Rule,
    _At,
    _callbacks,
    _init,
    _need_false,
    _number,
    choice,
    ignore,
    nested,
    only,
    to,
)

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
