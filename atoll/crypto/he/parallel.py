"""Run large vector operations over worker processes.

A small helper, independent of the computing layer: ``workers`` means processes at work,
the caller included: :func:`run_chunks` hands the first contiguous chunks to a cached
:class:`concurrent.futures.ProcessPoolExecutor` of ``workers - 1`` processes (``spawn``
context, so it is safe with threads and on every OS) and computes the last share itself
instead of waiting idle (2 workers on 2 cores: ~1.9x one core). Ciphertexts cross the
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
    "Chunk",
    "chunk_bounds",
    "gather",
    "get_executor",
    "pack",
    "parallel_randomizers",
    "run_chunks",
    "run_split",
    "shutdown",
    "unpack",
    "warm_up",
]

#: Below this many elements a vector operation stays in the calling process.
MIN_PARALLEL = 64

_EXECUTORS: dict[int, ProcessPoolExecutor] = {}
T = TypeVar("T")
#: True in pool processes (set by their initializer), False in the calling process.
_IN_POOL = False


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
    global _IN_POOL
    _IN_POOL = True

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
    """Start the ``workers - 1`` pool processes :func:`run_chunks` uses beside the caller
    (and build ``key``'s tables in each, and in the caller) ahead of time."""
    if workers > 1:
        ex = get_executor(workers - 1)
        # each task holds its worker a moment, so that every worker gets one
        futs = [ex.submit(_w_warm, key) for _ in range(workers - 1)]
        for f in futs:
            f.result()
    if key is not None:
        _key(key).encrypt_many([0] * 32)


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
    """``[fn(*a) for a in args]`` over ``workers`` processes, in order (see :func:`run_split`;
    here every chunk's arguments are the same whichever process runs it)."""
    return run_split(workers, fn, len(args), lambda i, ship: args[i])


def run_split(
    workers: int, fn: Callable[..., T], chunks: int, make_args: Callable[[int, bool], Any]
) -> list[T]:
    """``[fn(*make_args(i, ship)) for i in range(chunks)]`` over ``workers`` processes.

    The caller is one of them: ``workers - 1`` pool processes take the first chunks while
    the calling process, which would otherwise wait idle, computes the last share itself.
    ``ship`` tells ``make_args`` whether chunk ``i`` crosses to a pool process (pass
    ciphertexts as one blob) or stays here (pass the objects: nothing to convert).
    """
    if workers <= 1 or chunks <= 1:
        return [fn(*make_args(i, False)) for i in range(chunks)]
    shipped = chunks - chunks // workers
    ex = get_executor(workers - 1)
    futs = [ex.submit(fn, *make_args(i, True)) for i in range(shipped)]
    mine = [fn(*make_args(i, False)) for i in range(shipped, chunks)]
    return [f.result() for f in futs] + mine


#: A chunk of ciphertexts: one fixed-width blob across processes, the objects within one.
Chunk = bytes | list[mpz]


def unpack(pk: PublicKey, chunk: Chunk) -> list[mpz]:
    """The ciphertexts of an argument chunk (range-checked when they come as a blob)."""
    return pk.ciphertexts_from_bytes(chunk) if isinstance(chunk, bytes) else chunk


def pack(pk: PublicKey, cs: list[mpz]) -> Chunk:
    """A result chunk: a blob from a pool process, the objects in the calling process."""
    return pk.ciphertexts_to_bytes(cs) if _IN_POOL else cs


def gather(pk: PublicKey, chunks: Sequence[Chunk]) -> list[mpz]:
    """The ciphertexts of result chunks, in order. Blobs come from this process's own pool,
    which computed them from checked inputs, so they are not range-checked again."""
    out: list[mpz] = []
    for c in chunks:
        out.extend(pk.ciphertexts_from_bytes(c, check=False) if isinstance(c, bytes) else c)
    return out


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


def _w_encrypt(pk: PublicKey, ms: list[int]) -> Chunk:
    pk = _key(pk)
    return pack(pk, pk.encrypt_many(ms))


def _w_encrypt_owner(sk: PrivateKey, ms: list[int]) -> Chunk:
    sk = _key(sk)
    return pack(sk.public_key, sk.encrypt_many(ms))


def _w_randomizers(pk: PublicKey, count: int) -> Chunk:
    pk = _key(pk)
    return pack(pk, pk.randomizers(count))


def _w_decrypt(sk: PrivateKey, a: Chunk) -> list[int]:
    sk = _key(sk)
    return sk.decrypt_many(unpack(sk.public_key, a))


def _w_mul(pk: PublicKey, a: Chunk, ks: list[int]) -> Chunk:
    pk = _key(pk)
    return pack(pk, pk.mul_many(unpack(pk, a), ks))


def _w_rerandomize(pk: PublicKey, a: Chunk) -> Chunk:
    pk = _key(pk)
    return pack(pk, pk.rerandomize_many(unpack(pk, a)))


def _w_dots(pk: PublicKey, a: Chunk, exps: np.ndarray) -> Chunk:
    """``exps`` is (len(a), m): one multi-exponentiation per column."""
    pk = _key(pk)
    return pack(pk, pk.dot_columns(unpack(pk, a), exps))


def parallel_randomizers(pk: PublicKey, count: int, workers: int) -> list[mpz]:
    """``count`` fresh randomizers computed over ``workers`` processes."""
    sizes = [b - a for a, b in chunk_bounds(count, workers * 2)]
    return gather(pk, run_chunks(workers, _w_randomizers, [(pk, s) for s in sizes if s]))
