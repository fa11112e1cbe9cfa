"""A job whose parties write their pid and then wait forever (for tests/federation/test_launch.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from atoll.federation import Context, JobParties
from atoll.federation.launch import run_local_job


def party(ctx: Context, params: dict[str, Any]) -> None:
    Path(params["dir"], f"{ctx.role}.pid").write_text(str(os.getpid()))
    ctx.peers[0].get("never_sent")  # blocks until the job timeout


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    parties = JobParties.of(guest=9999, hosts=[10000])
    run_local_job(
        "_blocking_job:party", parties, {p: {"dir": sys.argv[1]} for p in parties}, timeout=600
    )


def pool_party(ctx: Context, params: dict[str, Any]) -> int:
    """Starts a process pool that only an ``atexit`` handler stops (as the HE layer's does)."""
    import atexit
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    atexit.register(pool.shutdown)
    assert list(pool.map(abs, [-1, -2])) == [1, 2]
    pids = [p.pid for p in pool._processes.values()]
    Path(params["dir"], f"{ctx.role}.workers").write_text(" ".join(map(str, pids)))
    return len(pids)
