"""The host side of one coordinated-LR epoch, as Table work on a given computing session.

:func:`host_epoch` times what a host does per epoch with ``host_compute='table'``
(:class:`atoll.ml.coordinated_lr._table.TableHost`): for every mini-batch, the forward
encryption ``[[0.25 X_b w]]`` and the encrypted gradient ``[[d]]^T X_b``. Set-up is
plaintext-free and outside the timing: random features and weights, a fresh key pair, a
random residual vector encrypted once (the guest's part, not the host's), the feature
Table built. The federation (sending and receiving) is not part of it. ``benchmarks/
computing.py`` calls it with a standalone and a Spark session; run on its own::

    python benchmarks/_lr_host_epoch.py --quick     # standalone, 1 and 2 workers
    python benchmarks/_lr_host_epoch.py --rows 100000 --features 300 --batch-size 20000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, parse_args

from atoll.computing import ComputingSession, open_session
from atoll.crypto.he import EncryptedVector, generate_keypair
from atoll.ml.coordinated_lr._common import (
    RESIDUAL_FRAC_BITS,
    batch_bounds,
    batch_count,
    encode_features,
)
from atoll.ml.coordinated_lr._table import TableHost

__all__ = ["host_epoch", "host_epoch_local"]

FEATURE_FRAC_BITS = 16  # CoordinatedLRParams' default


def host_epoch(
    session: ComputingSession,
    rows: int,
    features: int,
    batch_size: int | None,
    key_bits: int,
    seed: int,
    *,
    setup: dict[str, float] | None = None,
) -> float:
    """Seconds of one epoch of the host's heavy work over ``session``'s Tables.

    ``batch_size`` None (or >= ``rows``) is the full batch. ``setup``, if given, receives
    the untimed set-up's seconds (``keygen_s``, ``residual_s``, ``table_s``).
    """
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    pk, _sk = generate_keypair("paillier", key_bits)
    t_key = time.perf_counter()
    x = rng.standard_normal((rows, features))
    w = rng.standard_normal(features) * 0.1
    xe = encode_features(x, FEATURE_FRAC_BITS, "benchmark x")
    bs, nb = batch_count(rows, batch_size)
    # the guest's [[d]], encrypted once: each batch uses its first len(batch) elements
    d = EncryptedVector.encrypt(pk, rng.standard_normal(bs + 1) * 0.5, frac_bits=32)
    t_res = time.perf_counter()
    with TableHost(session, xe, pk, name="bench-host") as table:
        t_table = time.perf_counter()
        order = rng.permutation(rows) if nb > 1 else None
        start = time.perf_counter()
        for lo, hi in batch_bounds(rows, nb):
            idx = None if order is None else order[lo:hi]
            xb = x if idx is None else x[idx]
            table.encrypt(0.25 * (xb @ w), RESIDUAL_FRAC_BITS)
            table.gradient(d[: hi - lo], idx)
        seconds = time.perf_counter() - start
    if setup is not None:
        setup.update(keygen_s=t_key - t0, residual_s=t_res - t_key, table_s=t_table - t_res)
    return seconds


def host_epoch_local(
    rows: int, features: int, batch_size: int | None, key_bits: int, seed: int
) -> float:
    """The same epoch on the in-process path (``host_compute='local'``, one process): the
    baseline the Table path is compared with."""
    rng = np.random.default_rng(seed)
    pk, _sk = generate_keypair("paillier", key_bits)
    x = rng.standard_normal((rows, features))
    w = rng.standard_normal(features) * 0.1
    xe = encode_features(x, FEATURE_FRAC_BITS, "benchmark x")
    bs, nb = batch_count(rows, batch_size)
    d = EncryptedVector.encrypt(pk, rng.standard_normal(bs + 1) * 0.5, frac_bits=32)
    order = rng.permutation(rows) if nb > 1 else None
    start = time.perf_counter()
    for lo, hi in batch_bounds(rows, nb):
        idx = None if order is None else order[lo:hi]
        xb, xeb = (x, xe) if idx is None else (x[idx], xe[idx])
        EncryptedVector.encrypt(pk, 0.25 * (xb @ w), frac_bits=RESIDUAL_FRAC_BITS)
        d[: hi - lo].vecmat(xeb)
    return time.perf_counter() - start


def main() -> None:
    def extra(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--features", type=int, default=300)
        parser.add_argument("--batch-size", type=int, default=20_000)
        parser.add_argument("--key-bits", type=int, default=2048)
        parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])

    args = parse_args(__doc__.splitlines()[0], extra)
    if args.quick:
        rows, features, batch, bits = 2_000, 20, 500, 1024
    else:
        rows, features, batch, bits = args.rows, args.features, args.batch_size, args.key_bits
    report = Report("lr_host_epoch", quick=args.quick)
    report.add("rows", rows)
    report.add("features", features)
    report.add("batch_size", batch)
    report.add("key_bits", bits)
    report.add("local_s", round(host_epoch_local(rows, features, batch, bits, 0), 3))
    for workers in args.workers:
        with (
            tempfile.TemporaryDirectory() as data_dir,
            open_session(data_dir=data_dir, workers=workers) as session,
        ):
            # a first, untimed epoch starts the workers and builds the key's tables in them
            host_epoch(session, min(rows, 256), features, None, 1024, seed=0)
            times = []
            for r in range(1 if args.quick else max(1, args.repeat)):
                setup: dict[str, float] = {}
                times.append(host_epoch(session, rows, features, batch, bits, r, setup=setup))
            report.add(f"standalone_w{workers}_s", round(min(times), 3))
            report.add(f"standalone_w{workers}_table_setup_s", round(setup["table_s"], 3))
    report.finish()


if __name__ == "__main__":
    main()
