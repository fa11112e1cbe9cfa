"""One site as its own OS process: start the gateway, run a scenario, report, wait, stop.

Scenarios are plain functions here, looked up by name, so the parent passes
only strings and numbers to the child (spawn start method, nothing pickled but
the arguments).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import resource
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from atoll.federation import Context, Gateway, JobOptions, JobParties, Party, load_site_config
from tests.federation._tables import CountingSession, SyntheticTable

PARTIES = JobParties.of(guest=9999, hosts=[10000], arbiter=10001)
ROLE_OF = {9999: PARTIES.guest, 10000: PARTIES.hosts[0], 10001: PARTIES.arbiter}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def broadcast_gather(ctx: Context, p: dict[str, Any]) -> Any:
    if ctx.role == "guest":
        ctx.peers.put("weights", np.arange(10.0))
        return ctx.peers.get("reply")
    w = ctx.guest.get("weights")
    ctx.guest.put("reply", float(w.sum()) + ctx.party_id)
    return None


def ping_pong(ctx: Context, p: dict[str, Any]) -> Any:
    """A ring guest -> host -> arbiter -> guest, ``n`` times."""
    n = int(p["n"])
    start = time.perf_counter()
    for it in ctx.iterations("round", n):
        if ctx.role == "guest":
            it.hosts[0].put("ball", it.namespace.segments[-1][1])
            got = it.arbiter.get("ball")
            if got != it.namespace.segments[-1][1]:
                raise AssertionError(f"round {it.tag}: got {got}")
        elif ctx.role == "host":
            it.arbiter.put("ball", it.guest.get("ball"))
        else:
            it.guest.put("ball", it.hosts[0].get("ball"))
    return {"n": n, "seconds": time.perf_counter() - start}


def table_transfer(ctx: Context, p: dict[str, Any]) -> Any:
    rows, row_bytes = int(p["rows"]), int(p["row_bytes"])
    base = _rss_mb()
    if ctx.role == "guest":
        ctx.hosts[0].put("table", SyntheticTable(8, rows, row_bytes))
        return {"base_mb": base, "peak_mb": _rss_mb()}
    if ctx.role == "host":
        got = ctx.guest.get("table")
        return {**got, "base_mb": base, "peak_mb": _rss_mb()}
    return None


def two_jobs(ctx: Context, p: dict[str, Any]) -> Any:
    """Runs in two threads with two job ids; the same message names in both."""
    if ctx.role == "guest":
        for it in ctx.iterations("step", 20):
            it.peers.put("value", f"{ctx.job_id}:{it.tag}")
        return [ctx.sub("step", i).peers.get("echo") for i in range(20)]
    out = []
    for it in ctx.iterations("step", 20):
        v = it.guest.get("value")
        out.append(v)
        it.guest.put("echo", v)
    return out


SCENARIOS: dict[str, Callable[[Context, dict[str, Any]], Any]] = {
    "broadcast_gather": broadcast_gather,
    "ping_pong": ping_pong,
    "table_transfer": table_transfer,
    "two_jobs": two_jobs,
}


def site_main(
    config_path: str,
    scenario: str,
    params: dict[str, Any],
    jobs: list[str],
    results: Any,
    done: Any,
) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    cfg = load_site_config(Path(config_path))
    gw = Gateway(cfg).start()
    party: Party = ROLE_OF[cfg.party_id]
    try:
        fn = SCENARIOS[scenario]
        outs: dict[str, Any] = {}
        errors: list[str] = []

        def run(job_id: str) -> None:
            try:
                ctx = gw.context(
                    job_id,
                    party,
                    PARTIES,
                    options=JobOptions(timeout=float(params.get("timeout", 60))),
                    computing=CountingSession(),
                )
                outs[job_id] = fn(ctx, params)
            except BaseException:
                errors.append(traceback.format_exc())

        threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        results.put((cfg.party_id, "error" if errors else "ok", errors[0] if errors else outs))
        done.wait(120)
    finally:
        gw.close()


def run_sites(
    configs: dict[int, Path],
    scenario: str,
    params: dict[str, Any] | None = None,
    *,
    jobs: tuple[str, ...] = ("job-1",),
    timeout: float = 120,
) -> dict[int, Any]:
    """Start one process per site, run ``scenario`` everywhere, return each site's result."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    done = ctx.Event()
    procs = [
        ctx.Process(
            target=site_main,
            args=(str(path), scenario, params or {}, list(jobs), results, done),
            name=f"site-{pid}",
        )
        for pid, path in configs.items()
    ]
    for p in procs:
        p.start()
    out: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(out) < len(procs):
            try:
                pid, status, value = results.get(timeout=0.5)
            except queue.Empty:
                dead = [p.name for p in procs if p.exitcode is not None and p.exitcode != 0]
                if dead:
                    raise AssertionError(f"site processes died: {dead}") from None
                if time.monotonic() > deadline:
                    raise AssertionError(f"sites did not finish within {timeout} s") from None
                continue
            if status != "ok":
                raise AssertionError(f"site {pid} failed:\n{value}")
            out[pid] = value
    finally:
        done.set()
        for p in procs:
            p.join(15)
            if p.is_alive():
                p.kill()
                p.join()
        results.close()
        results.join_thread()
    return out


def slow_sender(config_path: str, started: Any) -> None:
    """Start site 9999 and send a slow Table to host 10000; the test kills this process."""
    from tests.federation._tables import SlowTable

    cfg = load_site_config(Path(config_path))
    gw = Gateway(cfg).start()
    ctx = gw.context(
        "job-kill", PARTIES.guest, PARTIES, options=JobOptions(timeout=60, chunk_size=64 * 1024)
    )
    started.set()
    ctx.hosts[0].put("table", SlowTable(2, 4000, 16 * 1024, 0.005))
    gw.close()


def component_main(
    socket_path: str, party_id: int, scenario: str, params: dict[str, Any], results: Any
) -> None:
    """A worker process of a site: no gateway of its own, only the site's local socket."""
    from atoll.federation import LocalTransport

    transport = LocalTransport(socket_path, party_id=party_id)
    try:
        ctx = Context(
            job_id="job-local",
            local=ROLE_OF[party_id],
            parties=PARTIES,
            transport=transport,
            options=JobOptions(timeout=float(params.get("timeout", 60))),
            computing=CountingSession(),
        )
        results.put((party_id, "ok", SCENARIOS[scenario](ctx, params)))
    except BaseException:
        results.put((party_id, "error", traceback.format_exc()))
    finally:
        transport.close()


def file_main(argv: list[str]) -> int:
    """``python -m tests.federation._siteproc CONFIG SCENARIO PARAMS_JSON OUT STOP``.

    For sites started by a command line (inside a network namespace): writes the
    result as JSON to OUT, then keeps the gateway up until the file STOP exists.
    """
    import json

    config_path, scenario, params_json, out_path, stop_path = argv
    params = json.loads(params_json)
    logging.basicConfig(level=logging.WARNING)
    cfg = load_site_config(Path(config_path))
    gw = Gateway(cfg).start()
    try:
        ctx = gw.context("job-ns", ROLE_OF[cfg.party_id], PARTIES, options=JobOptions(timeout=60))
        try:
            result: Any = {"ok": SCENARIOS[scenario](ctx, params)}
        except Exception:
            result = {"error": traceback.format_exc()}
        Path(out_path).write_text(json.dumps(result))
        deadline = time.monotonic() + 120
        while not Path(stop_path).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        gw.close()
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(file_main(sys.argv[1:]))


def idle_site(config_path: str, started: Any) -> None:
    """Start a site's gateway and idle: the test kills the whole process."""
    gw = Gateway(load_site_config(Path(config_path))).start()
    started.set()
    time.sleep(120)
    gw.close()
