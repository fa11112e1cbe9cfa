"""``psi`` (FATE: Intersection, PSI): align the guest's and hosts' rows on their shared ids.

Every party's output has the rows of its input whose ids all parties hold, in
the same id order everywhere (the order the protocol fixes), so row ``i`` is the
same sample at every party. The summary metric records input sizes, duplicates,
the intersection size, seconds and the protocol.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from atoll.crypto import psi
from atoll.ml.component import Params, TaskContext, component
from atoll.ml.data import Frame

__all__ = ["PSIParams", "run"]


class PSIParams(Params):
    """``protocol``: ``ecdh`` (ristretto255, default) or ``rsa`` (FATE 1.x's blind
    signatures); ``rsa_key_bits`` for ``rsa``; ``min_intersection``: fail the job when
    fewer ids are shared (a guard against aligning on the wrong id column)."""

    protocol: Literal["ecdh", "rsa"] = "ecdh"
    rsa_key_bits: int = 2048
    min_intersection: int = 1


@component(
    "psi",
    roles=("guest", "host"),
    params=PSIParams,
    inputs={"data": "data"},
    outputs={"data": "data"},
    fate_names=("Intersection", "PSI", "intersection", "psi"),
)
def run(ctx: TaskContext, params: PSIParams, inputs: dict[str, Any]) -> dict[str, Any]:
    """Private set intersection of the parties' ids; outputs the aligned rows."""
    frame: Frame = inputs["data"]
    start = time.perf_counter()
    options: dict[str, Any] = {}
    if params.protocol == "ecdh":
        options["computing"] = ctx.computing
    elif ctx.role == "host":
        options["key_bits"] = params.rsa_key_bits
    result = psi.run(ctx.fed, frame.ids, protocol=params.protocol, mode="full", **options)
    seconds = time.perf_counter() - start
    if result.count < params.min_intersection:
        raise ValueError(
            f"psi: the parties share {result.count} ids of {frame.name}'s {frame.n_rows} "
            f"(min_intersection={params.min_intersection}); do both sides use the same id column?"
        )
    aligned = frame.reorder(result.ids, name=f"{frame.name} ∩ psi")
    summary = {**result.summary(), "seconds": seconds}
    ctx.metrics.record("summary", summary)
    ctx.log.info(
        "psi: %d of %d ids shared (%s, %.2f s)",
        result.count,
        result.input_size,
        result.protocol,
        seconds,
    )
    return {"data": aligned}
