"""PSI throughput: Atoll's ECDH-PSI through two real gateways beside OpenMined's PSI, same run.

Both parties run on this machine, each in its own process with its own gateway
(gRPC, mutual TLS), with 1 and with 2 worker processes per site. Sets of n ids
per side with 50% overlap: 10^5 and 10^6 (``--quick``: 10^4). OpenMined PSI
(P-256, C++, one thread) runs client and server in one process on the same sets.

Figures: wall time, ids per second per side, ids (both sides) per second per
core, bytes exchanged, and our speed ratio to OpenMined.

``--tables``: instead, the list API (``psi.run``) against the Table API
(``psi.run_table``: ids in a Table, points never in one process) on 10^6 ids
per side (``--quick``: 10^4), same gateways, ``--workers`` per site, the Table
path's input in ``--partitions`` partitions. Figures per path: wall and
protocol time, bytes exchanged, and per party the peak resident memory of the
party process and of its largest worker (``VmHWM``) and the sampled peak of
their anonymous memory (``RssAnon``: without the Tables' LMDB file pages);
``--trace`` adds the peak of live Python memory (tracemalloc) of each party process.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, parse_args
from _psi_job import make_ids

from atoll.federation import JobParties
from atoll.federation.launch import run_local_job


def atoll_run(
    n: int,
    workers: int,
    *,
    tables: bool = False,
    partitions: int | None = None,
    trace: bool = False,
) -> dict[str, Any]:
    parties = JobParties.of(guest=9999, hosts=[10000])
    params = {
        "n": n,
        "overlap": 0.5,
        "protocol": "ecdh",
        "tables": tables,
        "partitions": partitions,
        "trace": trace,
    }
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
    memory = {
        f"{p.role}_{key}": value
        for p, o in out.items()
        for key, value in o.result.items()
        if key.endswith("_mb")
    }
    return {"protocol_s": protocol_s, "wall_s": wall, "bytes": sent, **memory}


def tables_main(args: argparse.Namespace) -> None:
    """List API against Table API: time and memory, same sizes, same run."""
    n = 10_000 if args.quick else 1_000_000
    report = Report("psi_tables", quick=args.quick)
    for name, tables in (("list", False), ("tables", True)):
        ours = atoll_run(
            n, args.workers, tables=tables, partitions=args.partitions, trace=args.trace
        )
        report.add(f"atoll_n{n}_w{args.workers}_{name}", {k: _r(v) for k, v in ours.items()})
    report.finish()


def _r(x: Any) -> Any:
    return round(x, 2) if isinstance(x, float) else x


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tables", action="store_true", help="list API against Table API: time and peak memory"
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="with --tables: also the peak of live Python memory in each party process "
        "(tracemalloc; slower, and its RSS figures then include the traces)",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes per site")
    parser.add_argument(
        "--partitions", type=int, default=16, help="partitions of the Table path's input"
    )


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
    args = parse_args(__doc__.splitlines()[0], _extra)
    if args.tables:
        tables_main(args)
        return
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
