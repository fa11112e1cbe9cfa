"""PSI throughput: Atoll's ECDH-PSI through two real gateways beside OpenMined's PSI, same run.

Both parties run on this machine, each in its own process with its own gateway
(gRPC, mutual TLS), with 1 and with 2 worker processes per site. Sets of n ids
per side with 50% overlap: 10^5 and 10^6 (``--quick``: 10^4). OpenMined PSI
(P-256, C++, one thread) runs client and server in one process on the same sets.

Figures: wall time, ids per second per side, ids (both sides) per second per
core, bytes exchanged, and our speed ratio to OpenMined.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, parse_args
from _psi_job import make_ids

from atoll.federation import JobParties
from atoll.federation.launch import run_local_job


def atoll_run(n: int, workers: int) -> dict[str, float]:
    parties = JobParties.of(guest=9999, hosts=[10000])
    params = {"n": n, "overlap": 0.5, "protocol": "ecdh"}
    t0 = time.perf_counter()
    out = run_local_job(
        "_psi_job:party",
        parties,
        {p: params for p in parties},
        workers=workers,
        transcript=True,
        log_level=logging.WARNING,
        timeout=3600,
    )
    wall = time.perf_counter() - t0
    protocol_s = max(o.result["seconds"] for o in out.values())
    counts = {o.result["count"] for o in out.values()}
    if counts != {n // 2}:
        raise RuntimeError(f"wrong intersection size {counts}, expected {n // 2}")
    sent = sum(r["nbytes"] for o in out.values() for r in o.transcript if r["op"] == "put")
    return {"protocol_s": protocol_s, "wall_s": wall, "bytes": sent}


def openmined_run(n: int) -> dict[str, float] | None:
    try:
        import private_set_intersection.python as om
    except ImportError:
        return None
    client_ids = make_ids("guest", n, 0.5)
    server_ids = make_ids("host", n, 0.5)
    t0 = time.perf_counter()
    client = om.client.CreateWithNewKey(True)
    server = om.server.CreateWithNewKey(True)
    setup = server.CreateSetupMessage(0.0, len(client_ids), server_ids, om.DataStructure.RAW)
    request = client.CreateRequest(client_ids)
    response = server.ProcessRequest(request)
    found = client.GetIntersection(setup, response)
    seconds = time.perf_counter() - t0
    if len(found) != n // 2:
        raise RuntimeError(f"OpenMined found {len(found)}, expected {n // 2}")
    sent = sum(len(m.SerializeToString()) for m in (setup, request, response))
    return {"protocol_s": seconds, "wall_s": seconds, "bytes": sent}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    sizes = [10_000] if args.quick else [100_000, 1_000_000]
    cores = os.cpu_count() or 1
    report = Report("psi", quick=args.quick)
    for n in sizes:
        peer = openmined_run(n)
        if peer is not None:
            report.add(
                f"openmined_n{n}", {**peer, "ids_per_s_per_core": round(2 * n / peer["protocol_s"])}
            )
        for workers in (1, 2):
            ours = atoll_run(n, workers)
            used = min(cores, 2 * workers)
            report.add(
                f"atoll_n{n}_w{workers}",
                {
                    **ours,
                    "ids_per_s_per_core": round(2 * n / ours["protocol_s"] / used),
                    "cores": used,
                },
            )
            if peer is not None:
                report.compare(
                    f"ecdh_n{n}_w{workers}_ids_per_s",
                    n / ours["protocol_s"],
                    n / peer["protocol_s"],
                    "ids/s",
                    higher_is_better=True,
                    peer="openmined",
                )
    report.finish()


if __name__ == "__main__":
    main()
