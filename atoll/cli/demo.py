"""``atoll demo``: two organisations screen each other's columns without sharing data.

A bank (the guest) has customers, their income, age and debt ratio, and a
label: who defaulted. A retailer (the host) shares many of the same customers
and knows other things about them. Before they train a model together they want
to know which of the retailer's columns carry signal about defaults. The demo:

1. starts each organisation as its own OS process with its own gateway
   (gRPC, mutual TLS with throwaway certificates) and its own Table storage;
2. finds the shared customers with ECDH private set intersection, so neither
   side learns the other's other customers;
3. computes the Pearson correlation of every retailer column with the bank's
   label and columns under Paillier encryption (hetero Pearson), so the
   retailer learns nothing and the bank learns only the correlations;
4. checks the result against the plaintext computation on the joined data and
   shows, from the transcript, everything that crossed between the sites.

The data are generated (the same world, seeded, seen through each party's
columns), so the demo runs anywhere.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from typing import Any

import numpy as np

from atoll.computing import ComputingSession
from atoll.crypto import psi
from atoll.federation import Context, JobParties, Party
from atoll.federation.launch import PartyFailed, run_local_job
from atoll.ml import hetero_pearson
from atoll.ml.hetero_pearson import PearsonParams

__all__ = ["add_parser", "make_world", "party"]

GUEST, HOST = 9999, 10000
GUEST_COLUMNS = ["income", "age", "debt_ratio"]
HOST_COLUMNS = [
    "monthly_spend",
    "late_payments_12m",
    "tenure_months",
    "store_card_utilisation",
    "online_share",
    "loyalty_points",
]


def add_parser(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="run the demo job: two sites, PSI, encrypted feature screening")
    p.add_argument(
        "--rows", type=int, default=3000, help="customers in the generated world (default 3000)"
    )
    p.add_argument("--key-bits", type=int, default=2048, help="Paillier key size (default 2048)")
    p.add_argument("--psi", choices=sorted(psi.PROTOCOLS), default="ecdh", help="PSI protocol")
    p.add_argument(
        "--workers", type=int, default=0, help="worker processes per site (default: cores/2)"
    )
    p.add_argument("--seed", type=int, default=2026, help="seed of the generated world")
    p.add_argument("--quiet", action="store_true", help="hide the parties' progress lines")
    p.set_defaults(handler=run)


def make_world(rows: int, seed: int) -> dict[str, Any]:
    """The whole (never pooled) world: every customer's columns at both organisations."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(rows, 4))
    risk = 1.4 * z[:, 0] - 0.9 * z[:, 1] + 0.4 * z[:, 2]
    defaulted = (rng.random(rows) < 1 / (1 + np.exp(-(risk - 1.5)))).astype(np.float64)
    guest = np.column_stack(
        [
            np.round(52_000 + 14_000 * z[:, 1] + 4_000 * rng.normal(size=rows), -2),
            np.clip(np.round(41 + 12 * rng.normal(size=rows)), 18, 90),
            1 / (1 + np.exp(-(0.8 * z[:, 0] + 0.5 * rng.normal(size=rows)))),
        ]
    )
    host = np.column_stack(
        [
            np.round(np.exp(6 + 0.35 * z[:, 1] + 0.2 * rng.normal(size=rows)), 2),
            rng.poisson(np.exp(0.7 * z[:, 0] - 0.3)).astype(np.float64),
            np.round(np.clip(48 + 30 * z[:, 3], 1, None)),
            1 / (1 + np.exp(-(0.6 * z[:, 0] + 0.3 * z[:, 2] + 0.6 * rng.normal(size=rows)))),
            rng.random(rows),
            np.round(np.abs(900 + 400 * z[:, 1] + 300 * rng.normal(size=rows))),
        ]
    )
    ids = np.array([f"cust-{i:07d}" for i in rng.permutation(rows * 3)[:rows]])
    at_guest = rng.random(rows) < 0.85
    at_host = rng.random(rows) < 0.8
    return {
        "ids": ids,
        "label": defaulted,
        "guest": guest,
        "host": host,
        "at_guest": at_guest,
        "at_host": at_host,
    }


def party(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """One organisation's side of the demo job (runs in that organisation's process)."""
    log = logging.getLogger("atoll.demo")
    world = make_world(params["rows"], params["seed"])
    is_guest = ctx.role == "guest"
    mask = world["at_guest"] if is_guest else world["at_host"]
    ids = world["ids"][mask].tolist()
    columns = world["guest"][mask] if is_guest else world["host"][mask]
    session = ctx.computing
    if not isinstance(session, ComputingSession):
        raise RuntimeError("the demo needs a computing session")
    rows = session.parallelize(
        (
            (cid, (columns[i], float(world["label"][mask][i]) if is_guest else None))
            for i, cid in enumerate(ids)
        ),
        name="customers",
    )
    log.info("loaded %d customers into a Table of %d partitions", rows.count(), rows.num_partitions)

    t0 = time.perf_counter()
    found = psi.run(
        ctx.sub("psi"), (k for k, _ in rows.collect()), protocol=params["psi"], computing=session
    )
    psi_seconds = time.perf_counter() - t0
    log.info(
        "PSI: %d of %d customers are shared (%.2f s)", found.count, found.input_size, psi_seconds
    )

    # the shared customers' rows, in the order PSI gave both sides
    order = session.parallelize(((cid, pos) for pos, cid in enumerate(found.ids)), name="psi-order")
    aligned = sorted(
        order.join(rows, lambda pos, row: (pos, row)).collect(), key=lambda kv: kv[1][0]
    )
    features = np.array([row[0] for _, (_, row) in aligned]).reshape(len(aligned), -1)
    pearson = PearsonParams(key_bits=params["key_bits"], workers=params["workers"])
    t0 = time.perf_counter()
    if is_guest:
        label = np.array([row[1] for _, (_, row) in aligned])
        result = hetero_pearson.guest(
            ctx.sub("pearson"), label, features, feature_names=GUEST_COLUMNS, params=pearson
        )
        out = {
            "shared": found.count,
            "input": found.input_size,
            "psi_seconds": psi_seconds,
            "pearson_seconds": time.perf_counter() - t0,
            "guest_columns": result.guest_columns,
            "host_columns": result.host_columns[HOST],
            "corr": result.corr[HOST],
            "ids_head": found.ids[:3],
        }
    else:
        hetero_pearson.host(
            ctx.sub("pearson"),
            features,
            feature_names=HOST_COLUMNS,
            share_names=True,
            params=pearson,
        )
        out = {"shared": found.count, "input": found.input_size, "ids_head": found.ids[:3]}
    order.destroy()
    rows.destroy()
    return out


def _plaintext_twin(world: dict[str, Any]) -> np.ndarray:
    """What the joined data would give, were it pooled: the check, never part of the protocol."""
    both = world["at_guest"] & world["at_host"]
    g = np.column_stack([world["label"][both], world["guest"][both]])
    h = world["host"][both]
    return np.array(
        [
            [np.corrcoef(g[:, i], h[:, j])[0, 1] for j in range(h.shape[1])]
            for i in range(g.shape[1])
        ]
    )


def _bar(value: float, width: int = 24) -> str:
    n = round(abs(value) * width)
    return ("+" if value >= 0 else "-") + "#" * n + "." * (width - n)


def run(args: argparse.Namespace) -> int:
    workers = args.workers or max(1, (os.cpu_count() or 2) // 2)
    parties = JobParties.of(guest=GUEST, hosts=[HOST])
    print(__doc__.split("\n\n")[0].replace("``", ""), flush=True)
    print(
        f"\nguest {GUEST} is the bank (label: defaulted; {', '.join(GUEST_COLUMNS)}),\n"
        f"host {HOST} is the retailer ({', '.join(HOST_COLUMNS)}).\n"
        f"Starting both sites: own process, own gateway, mutual TLS, {workers} worker(s) each.\n",
        flush=True,
    )
    params = {
        "rows": args.rows,
        "seed": args.seed,
        "psi": args.psi,
        "key_bits": args.key_bits,
        "workers": workers,
    }
    t0 = time.perf_counter()
    try:
        outcomes = run_local_job(
            "atoll.cli.demo:party",
            parties,
            {p: params for p in parties},
            job_id="demo",
            workers=workers,
            transcript=True,
            log_level=logging.WARNING if args.quiet else logging.INFO,
        )
    except PartyFailed as exc:
        print(
            f"\nthe demo failed at {exc.party}: {exc.kind}: {exc.text}\n{exc.trace}",
            file=sys.stderr,
        )
        return 1
    wall = time.perf_counter() - t0
    g = outcomes[Party("guest", GUEST)].result
    h = outcomes[Party("host", HOST)].result
    print(f"\n1. Private set intersection ({args.psi}): {g['shared']} shared customers")
    print(f"   the bank had {g['input']}, the retailer {h['input']}; both now hold the same ids")
    print(f"   in the same order (first: {', '.join(g['ids_head'])}) and nothing about the others.")
    print(f"   {g['psi_seconds']:.2f} s")
    corr = np.asarray(g["corr"])
    print(
        f"\n2. Correlation of the retailer's columns with the bank's label, under Paillier-{args.key_bits}"
    )
    print(f"   ({g['pearson_seconds']:.2f} s; the retailer saw only ciphertexts):\n")
    order = np.argsort(-np.abs(np.nan_to_num(corr[0])))
    for j in order:
        name = g["host_columns"][j]
        print(f"   {name:<24} {corr[0, j]:+.3f}  {_bar(float(corr[0, j]))}")
    world = make_world(args.rows, args.seed)
    diff = float(np.nanmax(np.abs(corr - _plaintext_twin(world))))
    verdict = "matches" if diff < 1e-6 else "DOES NOT MATCH"
    print(f"\n3. Check: the encrypted result {verdict} numpy.corrcoef on the pooled data")
    print(f"   (all {corr.size} correlations; max |difference| = {diff:.1e}).")
    print("\n4. What crossed between the sites (from the transcript):\n")
    for outcome in outcomes.values():
        for r in outcome.transcript:
            if r["op"] == "put":
                print(
                    f"   {r['source']:>12} -> {r['destination']:<12} {r['tag'] + '/' + r['name']:<44} {r['summary']:<28} {r['nbytes']:>10,} B"
                )
    print(f"\nDone in {wall:.1f} s.")
    return 0 if diff < 1e-6 else 1
