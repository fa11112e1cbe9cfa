"""Cut id lists into batches and run the curve work over a site's worker processes.

The heavy step of PSI (hash to the group, scalar multiplication: tens of
microseconds per id) is embarrassingly parallel. With a computing session the
batches become rows of a temporary Table and ``map_values`` runs them in the
site's worker processes; without one they run here, one after the other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from atoll.computing import ComputingSession

__all__ = ["BATCH", "map_batches", "session_of"]

T = TypeVar("T")
BATCH = 4096  # ids per task: ~0.2 s of curve work, large enough to hide the overhead

log = logging.getLogger("atoll.crypto.psi")


def session_of(ctx: Any, computing: ComputingSession | None) -> ComputingSession | None:
    """The session to run batches on: the one given, else the context's, if it is a real one."""
    if computing is not None:
        return computing
    found = getattr(ctx, "computing", None)
    return found if isinstance(found, ComputingSession) else None


def map_batches(
    session: ComputingSession | None, fn: Callable[[int, Sequence[Any]], T], items: Sequence[Any]
) -> list[T]:
    """``[fn(start, batch) for each batch of items]``, in order, in parallel where possible.

    ``start`` is the position of the batch's first item in ``items``, so errors
    can name the item at fault.
    """
    batches = [(i, items[i : i + BATCH]) for i in range(0, len(items), BATCH)]
    if session is None or len(batches) <= 1 or session.default_partitions <= 1:
        out = []
        t0 = last = time.monotonic()
        for n, (start, b) in enumerate(batches, 1):
            out.append(fn(start, b))
            if time.monotonic() - last > 10:  # long work shows progress
                last = time.monotonic()
                log.info("PSI: %d of %d ids done (%.0f s)", n * BATCH, len(items), last - t0)
        return out
    table = session.parallelize(batches, partitions=session.default_partitions)
    try:
        done = table.map(lambda start, batch: (start, fn(start, batch)))
        try:
            return [value for _, value in sorted(done.collect(), key=lambda kv: kv[0])]
        finally:
            done.destroy()
    finally:
        table.destroy()
