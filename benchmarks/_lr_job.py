"""The party function of benchmarks/hetero_lr.py's scale runs (imported by each party by name).

Every party draws the same synthetic world from the seed and keeps only its own
columns (the guest also the label), so no data crosses the launcher.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from atoll.federation import Context
from atoll.ml import coordinated_lr, sshe_lr


def make_world(n: int, guest_features: int, host_features: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    xg = rng.standard_normal((n, guest_features))
    xh = rng.standard_normal((n, host_features))
    wg = rng.normal(0, 1 / np.sqrt(guest_features + host_features), guest_features)
    wh = rng.normal(0, 1 / np.sqrt(guest_features + host_features), host_features)
    logit = 2.0 * (xg @ wg + xh @ wh)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    return {"xg": xg, "xh": xh, "y": y}


def party(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    world = make_world(
        params["n"], params["guest_features"], params["host_features"], params["seed"]
    )
    algo = coordinated_lr if params["algorithm"] == "coordinated_lr" else sshe_lr
    options = {
        "epochs": params["epochs"],
        "batch_size": None,
        "key_bits": params["key_bits"],
        "workers": params["workers"],
        "seed": params["seed"],
        "learning_rate": 0.15,
    }
    if algo is coordinated_lr:
        p: Any = coordinated_lr.CoordinatedLRParams(**options, early_stop="diff", tol=0.0)
    else:
        p = sshe_lr.SSHELRParams(**options, tol=0.0)
    t0 = time.perf_counter()
    if ctx.role == "guest":
        result = algo.guest(ctx, world["xg"], world["y"], p)
    elif ctx.role == "host":
        result = algo.host(ctx, world["xh"], p)
    else:
        result = coordinated_lr.arbiter(ctx, p)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "epochs": result.epochs, "loss": list(result.loss_history)}
