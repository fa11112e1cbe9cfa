"""The party function of benchmarks/psi.py (imported by each party's process by name).

With ``params["tables"]`` the ids are written straight into a Table of the
site's session (never a list in this process) and PSI runs with
:func:`atoll.crypto.psi.run_table`; otherwise the list API runs on a list.
Either way the party reports its peak memory: the kernel's high-water mark of
resident memory (``VmHWM``) for this process and its largest worker process,
and, sampled, the peak of anonymous resident memory (``RssAnon``: the heap,
without the file pages of Tables that LMDB maps in, which the kernel may drop).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import psutil

from atoll.crypto import psi
from atoll.federation import Context

MB = 1024 * 1024


def iter_ids(role: str, n: int, overlap: float) -> Iterator[str]:
    """n ids per side; the first ``overlap * n`` of the host's are the guest's."""
    shared = int(n * overlap)
    if role == "guest":
        return (f"user-{i:09d}" for i in range(n))
    return itertools.chain(
        (f"user-{i:09d}" for i in range(shared)),
        (f"other-{i:09d}" for i in range(n - shared)),
    )


def make_ids(role: str, n: int, overlap: float) -> list[str]:
    return list(iter_ids(role, n, overlap))


def _status(pid: int | str, field: str) -> int:
    """A ``/proc/<pid>/status`` field in bytes (0 if unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class MemoryWatch:
    """Samples RssAnon of this process and of its descendants (the workers)."""

    def __init__(self, interval: float = 0.1) -> None:
        self.me = psutil.Process()
        self.driver_anon = 0
        self.worker_anon = 0
        self.worker_hwm = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._sample()

    def _sample(self) -> None:
        self.driver_anon = max(self.driver_anon, _status("self", "RssAnon"))
        try:
            children = self.me.children(recursive=True)
        except psutil.Error:
            return
        for child in children:
            self.worker_anon = max(self.worker_anon, _status(child.pid, "RssAnon"))
            self.worker_hwm = max(self.worker_hwm, _status(child.pid, "VmHWM"))

    def figures(self) -> dict[str, float]:
        return {
            "driver_peak_rss_mb": round(_status("self", "VmHWM") / MB, 1),
            "driver_peak_anon_mb": round(self.driver_anon / MB, 1),
            "worker_peak_rss_mb": round(self.worker_hwm / MB, 1),
            "worker_peak_anon_mb": round(self.worker_anon / MB, 1),
        }


def party(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    role, n, overlap = ctx.role, params["n"], params["overlap"]
    trace = bool(params.get("trace"))
    if trace:  # live Python memory (slows this process; its RSS then includes the traces)
        tracemalloc.start()
    with MemoryWatch() as watch:
        if params.get("tables"):
            session = ctx.computing
            assert session is not None
            with session.writer(params.get("partitions"), unique_keys=True) as writer:
                ids = iter_ids(role, n, overlap)
                while chunk := [(i, None) for i in itertools.islice(ids, 65536)]:
                    writer.put_all(chunk)
                table = writer.commit()
            input_rss = _status("self", "VmRSS")
            input_py = _reset_trace(trace)
            t0 = time.perf_counter()
            result = psi.run_table(ctx, table, protocol=params["protocol"])
            seconds = time.perf_counter() - t0
            count = result.count
        else:
            id_list = make_ids(role, n, overlap)
            input_rss = _status("self", "VmRSS")
            input_py = _reset_trace(trace)
            t0 = time.perf_counter()
            listed = psi.run(ctx, id_list, protocol=params["protocol"])
            seconds = time.perf_counter() - t0
            count = listed.count
    traced = {}
    if trace:
        traced = {
            "driver_py_input_mb": round(input_py / MB, 1),
            "driver_py_peak_mb": round(tracemalloc.get_traced_memory()[1] / MB, 1),
        }
        tracemalloc.stop()
    return {
        "seconds": seconds,
        "count": count,
        "pid": os.getpid(),
        "input_rss_mb": round(input_rss / MB, 1),
        **watch.figures(),
        **traced,
    }


def _reset_trace(trace: bool) -> int:
    """Live Python memory now (the input), and start measuring the peak from here."""
    if not trace:
        return 0
    now = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    return now
