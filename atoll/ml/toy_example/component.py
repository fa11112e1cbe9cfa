"""``toy_example`` (FATE: SecureAddExample, toy_example): a secure sum, to check a deployment.

Every party (the guest and each host) makes ``data_num`` random numbers from its
own ``seed`` and puts them in a computing Table of ``partition`` partitions. Each
number is split into additive shares, one per party, in the ring of integers
modulo ``2^64`` (a number ``v`` is the fixed-point integer ``v * 2^32``; a share is
uniformly random, the last one is what makes them add up). A party keeps one
share of each of its numbers and sends every other party a Table of one share
each (Tables stream partition by partition). Each party adds up the shares it
holds, the parties exchange these partial sums, and every party reconstructs
the total of all parties' numbers. A share or a partial sum alone is uniformly
random, so no party learns another's numbers, only the total.

Fixed point makes the sum exact: the numbers are multiples of ``2^-32`` in
``[0, 1)`` (see :func:`make_values`), so the reconstructed total equals the exact
sum of every party's numbers (rounded once, to the nearest double).

The guest records the metric ``summary`` (``sum``, ``data_num``, ``partition``,
``parties``, ``count``); both parties log it. There are no outputs.
"""

from __future__ import annotations

import secrets
import time
from operator import itemgetter
from typing import Any

import numpy as np
import pydantic

from atoll.ml.component import Params, TaskContext, component

__all__ = [
    "FRAC_BITS",
    "RING",
    "ToyExampleParams",
    "decode",
    "encode",
    "make_values",
    "run",
    "secure_sum",
]

#: Shares live in the integers modulo ``RING``.
RING = 1 << 64
#: Fractional bits of the fixed-point encoding.
FRAC_BITS = 32
#: At most this many numbers per party, so the total of all parties stays below ``2^63``.
MAX_DATA_NUM = 1 << 24


class ToyExampleParams(Params):
    """``seed``: where this party's numbers come from (None: fresh randomness);
    ``partition``: partitions of the Table; ``data_num``: how many numbers."""

    seed: int | None = None
    partition: int = pydantic.Field(default=4, ge=1, le=4096)
    data_num: int = pydantic.Field(default=1000, ge=1, le=MAX_DATA_NUM)


def make_values(seed: int | None, data_num: int) -> np.ndarray:
    """``data_num`` numbers in ``[0, 1)``, multiples of ``2^-32``, from ``seed``."""
    rng = np.random.default_rng(seed)
    ints = rng.integers(0, 1 << FRAC_BITS, size=data_num, dtype=np.uint64)
    return ints.astype(np.float64) / float(1 << FRAC_BITS)


def encode(value: float) -> int:
    """The ring element of ``value`` (exact for multiples of ``2^-32``)."""
    return round(value * (1 << FRAC_BITS)) % RING


def decode(x: int) -> float:
    """The number a ring element stands for (two's complement, then fixed point)."""
    x %= RING
    signed = x - RING if x >= RING // 2 else x
    return signed / (1 << FRAC_BITS)


def _add(a: int, b: int) -> int:
    return (a + b) % RING


class _Split:
    """``v -> n`` uniformly random shares that add up to ``v`` modulo ``RING``."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, v: int) -> tuple[int, ...]:
        shares = [secrets.randbits(64) for _ in range(self.n - 1)]
        shares.append((v - sum(shares)) % RING)
        return tuple(shares)


def secure_sum(
    ctx: Any, values: np.ndarray, partition: int, computing: Any
) -> tuple[float, dict[str, int]]:
    """This party's side of the secure sum over the guest and hosts of ``ctx``.

    Returns the total of every party's values and counts (``parties``, ``count``:
    how many numbers were added up in all).
    """
    parties = [ctx.job_parties.guest, *ctx.job_parties.hosts]
    me = parties.index(ctx.local)
    table = computing.parallelize(
        [(i, encode(float(v))) for i, v in enumerate(values)], partitions=partition
    )
    shares = table.map_values(_Split(len(parties)))
    mine = shares.map_values(itemgetter(me))
    for j, peer in enumerate(parties):
        if j != me:
            ctx.party(peer).put("share", shares.map_values(itemgetter(j)))
    held = mine.reduce(_add)
    count = table.count()
    for j, peer in enumerate(parties):
        if j != me:
            got = ctx.party(peer).get("share")
            held = _add(held, got.reduce(_add) or 0)
            count += got.count()
    for j, peer in enumerate(parties):
        if j != me:
            ctx.party(peer).put("partial_sum", held)
    total = held
    for j, peer in enumerate(parties):
        if j != me:
            total = _add(total, int(ctx.party(peer).get("partial_sum")))
    return decode(total), {"parties": len(parties), "count": count}


@component(
    "toy_example",
    roles=("guest", "host"),
    params=ToyExampleParams,
    inputs={},
    outputs={},
    fate_names=("SecureAddExample", "secure_add_example"),
)
def run(ctx: TaskContext, params: ToyExampleParams, inputs: dict[str, Any]) -> dict[str, Any]:
    """Secure sum of the guest's and hosts' random numbers (FATE's toy example)."""
    if ctx.computing is None:
        raise ValueError("toy_example: needs a computing session to make its Table")
    start = time.perf_counter()
    values = make_values(params.seed, params.data_num)
    total, counts = secure_sum(ctx.fed, values, params.partition, ctx.computing)
    summary = {
        "sum": total,
        "data_num": params.data_num,
        "partition": params.partition,
        **counts,
        "seconds": time.perf_counter() - start,
    }
    if ctx.role == "guest":
        ctx.metrics.record("summary", summary)
    ctx.log.info(
        "toy_example: secure sum of %d numbers from %d parties is %.6f (%d partitions)",
        counts["count"],
        counts["parties"],
        total,
        params.partition,
    )
    return {}
