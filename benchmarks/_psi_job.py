"""The party function of benchmarks/psi.py (imported by each party's process by name)."""

from __future__ import annotations

import time
from typing import Any

from atoll.crypto import psi
from atoll.federation import Context


def make_ids(role: str, n: int, overlap: float) -> list[str]:
    """n ids per side; the first ``overlap * n`` of the host's are the guest's."""
    shared = int(n * overlap)
    if role == "guest":
        return [f"user-{i:09d}" for i in range(n)]
    return [f"user-{i:09d}" for i in range(shared)] + [f"other-{i:09d}" for i in range(n - shared)]


def party(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    ids = make_ids(ctx.role, params["n"], params["overlap"])
    t0 = time.perf_counter()
    result = psi.run(ctx, ids, protocol=params["protocol"])
    return {"seconds": time.perf_counter() - t0, "count": result.count}
