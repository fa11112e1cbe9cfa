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
    fewer ids are shared (a guard against aligning on the wrong id column);
    ``partitioned`` (ECDH only): run on Tables partition by partition in the site's
    workers, so no process holds more than a partition of points (for millions of
    ids; every party must set the same value)."""

    protocol: Literal["ecdh", "rsa"] = "ecdh"
    rsa_key_bits: int = 2048
    min_intersection: int = 1
    partitioned: bool = False


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
    if params.partitioned:
        ids, summary = _partitioned(ctx, frame, params)
    else:
        options: dict[str, Any] = {}
        if params.protocol == "ecdh":
            options["computing"] = ctx.computing
        elif ctx.role == "host":
            options["key_bits"] = params.rsa_key_bits
        result = psi.run(ctx.fed, frame.ids, protocol=params.protocol, mode="full", **options)
        ids, summary = result.ids, result.summary()
    seconds = time.perf_counter() - start
    count = summary["intersection_size"]
    if count < params.min_intersection:
        raise ValueError(
            f"psi: the parties share {count} ids of {frame.name}'s {frame.n_rows} "
            f"(min_intersection={params.min_intersection}); do both sides use the same id column?"
        )
    aligned = frame.reorder(ids, name=f"{frame.name} ∩ psi")
    summary = {**summary, "seconds": seconds}
    ctx.metrics.record("summary", summary)
    ctx.log.info(
        "psi: %d of %d ids shared (%s, %.2f s)",
        count,
        summary["input_size"],
        summary["protocol"],
        seconds,
    )
    return {"data": aligned}


def _partitioned(
    ctx: TaskContext, frame: Frame, params: PSIParams
) -> tuple[list[Any], dict[str, Any]]:
    """ECDH-PSI over a Table of this party's ids, partition by partition in the workers."""
    if params.protocol != "ecdh":
        raise ValueError("psi: partitioned=true needs protocol 'ecdh'")
    session = ctx.computing
    if session is None:
        raise ValueError("psi: partitioned=true needs the site's computing session")
    parts = max(session.default_partitions, frame.n_rows // 50_000)
    table = session.parallelize(((i, None) for i in frame.ids), partitions=parts)
    try:
        res = psi.run_table(ctx.fed, table, protocol="ecdh", mode="full")
        try:
            ids = res.ordered_ids()
            summary = res.summary()
        finally:
            if res.table is not None:
                res.table.destroy()
    finally:
        table.destroy()
    # a Table keeps one row per key: the frame's own duplicates never reach the protocol
    summary["duplicates"] = summary.get("duplicates", 0) + frame.n_rows - len(set(frame.ids))
    return ids, summary
