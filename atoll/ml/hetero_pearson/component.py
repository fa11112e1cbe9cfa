"""``hetero_pearson`` (FATE: HeteroPearson): the guest's label and columns against each host's.

Rows must be aligned (run ``psi`` first). Only the guest learns the
correlations, recorded as the ``correlation`` metric (per host: the guest's
column names, the host's column names or ``host<id>_x<j>`` unless the host
sets ``share_names``, and the matrix); hosts see only ciphertexts.
"""

from __future__ import annotations

from typing import Any

from atoll.ml.component import Params, TaskContext, component, params_from_dataclass, to_dataclass
from atoll.ml.hetero_pearson import PearsonParams, guest, host

__all__ = ["HeteroPearsonParams", "run"]

HeteroPearsonParams: type[Params] = params_from_dataclass(
    PearsonParams,
    "HeteroPearsonParams",
    exclude=("workers", "insecure"),
    extra={"share_names": (bool, False)},
)


@component(
    "hetero_pearson",
    roles=("guest", "host"),
    params=HeteroPearsonParams,
    inputs={"data": "data"},
    fate_names=("HeteroPearson", "hetero_pearson"),
)
def run(ctx: TaskContext, params: Params, inputs: dict[str, Any]) -> dict[str, Any]:
    """Pearson correlations across parties under homomorphic encryption."""
    p = to_dataclass(params, PearsonParams, workers=ctx.workers, insecure=ctx.insecure)
    frame = inputs["data"]
    if ctx.role == "host":
        host(
            ctx.fed,
            frame.features,
            feature_names=frame.columns,
            share_names=bool(params.share_names),  # type: ignore[attr-defined]
            params=p,
        )
        return {}
    label = frame.require_label("hetero_pearson guest data")
    result = guest(ctx.fed, label, frame.features, feature_names=frame.columns, params=p)
    ctx.metrics.record(
        "correlation",
        {
            str(pid): {
                "guest_columns": result.guest_columns,
                "host_columns": result.host_columns[pid],
                "corr": result.corr[pid],
            }
            for pid in result.corr
        },
    )
    ctx.log.info("hetero_pearson: %d rows, %d hosts", result.rows, len(result.corr))
    return {}
