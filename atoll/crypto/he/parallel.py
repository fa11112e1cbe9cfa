"""Run large vector operations over worker processes.

A small helper, independent of the computing layer: a cached
:class:`concurrent.futures.ProcessPoolExecutor` per worker count (``spawn`` context, so it
is safe with threads and on every OS), fed with contiguous chunks. Ciphertexts cross the
process boundary as fixed-width byte blobs, keys as their public parameters (workers cache
the rebuilt key and its fixed-base tables by fingerprint, so tables are built once per
worker). Private keys are sent only to the owner's own local workers, for decryption.

Everything here is deterministic in its result (not in its randomness); the first call
with a new worker count pays for starting the processes (~0.5 s), :func:`warm_up` moves
that cost out of a timed region, :func:`shutdown` stops them (also at interpreter exit).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar

import numpy as np
from gmpy2 import mpz

from ._scheme import PrivateKey, PublicKey

__all__ = [
    "MIN_PARALLEL",
    "chunk_bounds",
    "get_executor",
    "parallel_randomizers",
    "shutdown",
    "warm_up",
]

#: Below this many elements a vector operation stays in the calling process.
MIN_PARALLEL = 64

_EXECUTORS: dict[int, ProcessPoolExecutor] = {}
T = TypeVar("T")


def get_executor(workers: int) -> Executor:
    """The shared process pool with ``workers`` processes (created on first use)."""
    ex = _EXECUTORS.get(workers)
    if ex is None:
        ex = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
        _EXECUTORS[workers] = ex
    return ex


def _exit_with_parent(parent: int) -> None:
    """In each worker: exit when the process that started the pool is gone (killed), so no
    worker is left blocked on its task queue forever."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="atoll-he-parent-watch", daemon=True).start()


def shutdown() -> None:
    """Stop every worker process started here."""
    while _EXECUTORS:
        _, ex = _EXECUTORS.popitem()
        ex.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)


def warm_up(workers: int, key: PublicKey | PrivateKey | None = None) -> None:
    """Start the workers (and build ``key``'s tables in each) ahead of time."""
    ex = get_executor(workers)
    # each task holds its worker a moment, so that every worker gets one
    futs = [ex.submit(_w_warm, key) for _ in range(workers)]
    for f in futs:
        f.result()


def chunk_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous, nearly equal ``[start, stop)`` ranges covering ``range(n)``."""
    parts = max(1, min(parts, n))
    step, extra = divmod(n, parts)
    out = []
    start = 0
    for i in range(parts):
        stop = start + step + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def run_chunks(workers: int, fn: Callable[..., T], args: Sequence[tuple[Any, ...]]) -> list[T]:
    """``[fn(*a) for a in args]`` on the pool, in order."""
    ex = get_executor(workers)
    futs = [ex.submit(fn, *a) for a in args]
    return [f.result() for f in futs]


# -- worker side ----------------------------------------------------------------------------
_KEYS: dict[bytes, Any] = {}


def _key(k: Any) -> Any:
    """The worker's cached copy of key ``k`` (so its tables survive between tasks)."""
    pk = k.public_key if isinstance(k, PrivateKey) else k
    fp = pk.fingerprint + (b"s" if isinstance(k, PrivateKey) else b"p")
    cached = _KEYS.get(fp)
    if cached is None:
        if len(_KEYS) >= 8:  # a worker keeps the tables of its 8 most recent keys
            del _KEYS[next(iter(_KEYS))]
        _KEYS[fp] = cached = k
    return cached


def _w_warm(key: PublicKey | PrivateKey | None) -> None:
    t = time.monotonic()
    if key is not None:
        # a batch as large as the native kernel's threshold builds every table it uses
        _key(key).encrypt_many([0] * 32)
    time.sleep(max(0.0, 0.2 - (time.monotonic() - t)))


def _w_encrypt(pk: PublicKey, ms: list[int]) -> bytes:
    pk = _key(pk)
    return pk.ciphertexts_to_bytes(pk.encrypt_many(ms))


def _w_encrypt_owner(sk: PrivateKey, ms: list[int]) -> bytes:
    sk = _key(sk)
    return sk.public_key.ciphertexts_to_bytes(sk.encrypt_many(ms))


def _w_randomizers(pk: PublicKey, count: int) -> bytes:
    pk = _key(pk)
    return pk.ciphertexts_to_bytes(pk.randomizers(count))


def _w_decrypt(sk: PrivateKey, blob: bytes) -> list[int]:
    sk = _key(sk)
    return sk.decrypt_many(sk.public_key.ciphertexts_from_bytes(blob))


def _w_mul(pk: PublicKey, a: bytes, ks: list[int]) -> bytes:
    pk = _key(pk)
    xs = pk.ciphertexts_from_bytes(a)
    return pk.ciphertexts_to_bytes(pk.mul_many(xs, ks))


def _w_rerandomize(pk: PublicKey, a: bytes) -> bytes:
    pk = _key(pk)
    return pk.ciphertexts_to_bytes(pk.rerandomize_many(pk.ciphertexts_from_bytes(a)))


def _w_dots(pk: PublicKey, a: bytes, exps: np.ndarray) -> bytes:
    """``exps`` is (len(a), m): one multi-exponentiation per column."""
    pk = _key(pk)
    xs = pk.ciphertexts_from_bytes(a)
    out = pk.dot_columns(xs, exps)
    return pk.ciphertexts_to_bytes(out)


def parallel_randomizers(pk: PublicKey, count: int, workers: int) -> list[mpz]:
    """``count`` fresh randomizers computed over ``workers`` processes."""
    sizes = [b - a for a, b in chunk_bounds(count, workers * 2)]
    blobs = run_chunks(workers, _w_randomizers, [(pk, s) for s in sizes if s])
    return [c for blob in blobs for c in pk.ciphertexts_from_bytes(blob)]
