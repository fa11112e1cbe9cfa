"""The host's heavy work as Table operations (``host_compute='table'``).

The host keeps its encoded feature rows (``round(x * 2^feature_frac_bits)``, int64) in a
Table of row blocks (at most :data:`BLOCK_ROWS` rows each), the same number on each of the
computing session's default partitions (:func:`balanced_keys`), so the two
costly steps of every batch run where the session runs its tasks (worker processes on the
standalone backend, executors on Spark):

* the forward encryption ``[[0.25 X_b w]]``: the encoded plaintexts, cut into chunks, go
  into a Table whose ``map_values`` encrypts each chunk;
* the encrypted gradient ``[[d]]^T X_b``: the batch's ciphertexts of ``d``, grouped by the
  block holding each row, go into a Table with the blocks' keys; joined with the features
  (co-partitioned: no shuffle), each partition computes its rows' share with one
  Pippenger multi-exponentiation per column, and ``map_reduce_partitions`` multiplies the
  shares together (adds them homomorphically).

The results are the same integers as the in-process path's: a product of ciphertext powers
modulo the key's modulus does not depend on how the factors are grouped, and the forward
plaintexts are encoded once, at the driver, exactly as ``EncryptedVector.encrypt`` encodes
them. Only the gradient's overflow bound differs: it is the exact column L1 norm here (the
in-process path rounds a float64 norm up), never larger, so no result that fits one way
overflows the other.

What crosses into a task: the public key (its fixed-base table is dropped when pickled and
rebuilt once per worker process, cached by fingerprint), int64 arrays, plain ints and
ciphertexts as fixed-width byte blobs, all of which the storage codec and cloudpickle carry
unchanged. No private key, label or residual in the clear ever enters a Table.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from gmpy2 import mpz

from atoll.computing import ComputingSession, Table
from atoll.crypto.he import EncryptedVector, FixedPointCodec, PublicKey

__all__ = ["BLOCK_ROWS", "TableHost", "balanced_keys"]

#: Rows per feature block: small enough to spread a few thousand rows over the partitions,
#: large enough that a block's Table row stays cheap (the multi-exponentiation runs over
#: all rows of a partition at once, whatever the block size).
BLOCK_ROWS = 4096
#: Chunks per partition of the forward encryption.
ENCRYPT_CHUNKS_PER_PARTITION = 1

_I63 = 1 << 63


class TableHost:
    """One host's encoded features as a Table, and the per-batch work over it.

    ``xe``: the (n, k) int64 encoded features; ``pk``: the arbiter's public key. Call
    :meth:`close` (or use as a context manager) to destroy the Table.
    """

    def __init__(
        self, session: ComputingSession, xe: np.ndarray, pk: PublicKey, *, name: str = "clr-host"
    ) -> None:
        n = int(xe.shape[0])
        self.session = session
        self.pk = pk
        self.name = name
        self.rows = n
        self.columns = int(xe.shape[1])
        self.partitions = max(1, int(session.default_partitions))
        needed = -(-n // BLOCK_ROWS)  # blocks of at most BLOCK_ROWS rows
        per_partition = max(1, -(-needed // self.partitions))
        blocks = min(n, per_partition * self.partitions)
        cuts = [i * n // blocks for i in range(blocks + 1)]
        self.starts = np.array(cuts[:-1], dtype=np.int64)
        sizes = [hi - lo for lo, hi in itertools.pairwise(cuts)]
        #: the block holding each row
        self.block_of = np.repeat(np.arange(blocks, dtype=np.int64), sizes)
        #: row keys that fall round-robin on the partitions: block ``b`` (and chunk ``b`` of
        #: an encryption) is stored under ``keys[b]``, so every partition gets its share
        self.keys = balanced_keys(
            session, self.partitions, max(blocks, ENCRYPT_CHUNKS_PER_PARTITION * self.partitions)
        )
        self.features: Table | None = session.parallelize(
            (
                (self.keys[b], np.ascontiguousarray(xe[lo:hi], dtype=np.int64))
                for b, (lo, hi) in enumerate(itertools.pairwise(cuts))
            ),
            partitions=self.partitions,
            name=f"{name}-features",
        )

    # -- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        if self.features is not None:
            self.features.destroy()
            self.features = None

    def __enter__(self) -> TableHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the forward: [[values]] ------------------------------------------------------------------
    def encrypt(self, values: np.ndarray, frac_bits: int) -> EncryptedVector:
        """``EncryptedVector.encrypt(pk, values, frac_bits=frac_bits)``, chunk by chunk as
        Table work (same encoding, same bound, fresh randomness)."""
        pk = self.pk
        enc = FixedPointCodec(frac_bits, pk.max_int).encode_array(np.ravel(values), frac_bits)
        ms = enc.tolist()
        chunks = max(1, min(len(ms), ENCRYPT_CHUNKS_PER_PARTITION * self.partitions))
        cuts = [i * len(ms) // chunks for i in range(chunks + 1)]
        keys = self.keys
        table = self.session.parallelize(
            ((keys[i], ms[a:b]) for i, (a, b) in enumerate(itertools.pairwise(cuts))),
            partitions=self.partitions,
            name=f"{self.name}-forward",
        )
        try:
            encrypted = table.map_values(functools.partial(_encrypt_chunk, pk))
            try:
                blobs = dict(encrypted.collect())
            finally:
                encrypted.destroy()
        finally:
            table.destroy()
        data = [c for i in range(chunks) for c in pk.ciphertexts_from_bytes(blobs[keys[i]])]
        return EncryptedVector(pk, data, enc.frac_bits, enc.bound, fresh=not pk.insecure)

    # -- the gradient: [[d]]^T X_b ----------------------------------------------------------------
    def gradient(self, d: EncryptedVector, rows: np.ndarray | None) -> EncryptedVector:
        """``d.vecmat(xe[rows])`` (``rows``: the batch's row indices in batch order; None:
        every row in order), as Table work: per-partition shares, multiplied together."""
        if self.features is None:
            raise RuntimeError(f"{self.name}: the feature Table is closed")
        pk = self.pk
        idx = np.arange(self.rows, dtype=np.int64) if rows is None else np.asarray(rows)
        if len(d) != len(idx):
            raise ValueError(f"{self.name}: {len(d)} ciphertexts for a batch of {len(idx)} rows")
        blk = self.block_of[idx]
        by_block = np.argsort(blk, kind="stable")  # batch positions grouped by block
        sorted_blk = blk[by_block]
        cuts = np.flatnonzero(np.diff(sorted_blk)) + 1
        pieces = []
        for pos in np.split(by_block, cuts):
            b = int(blk[pos[0]])
            local = (idx[pos] - self.starts[b]).astype(np.int64)
            blob = pk.ciphertexts_to_bytes([d.data[p] for p in pos.tolist()])
            pieces.append((self.keys[b], (local, blob)))
        residuals = self.session.parallelize(
            pieces, partitions=self.partitions, name=f"{self.name}-residual"
        )
        tables = [residuals]
        try:
            joined = self.features.join(residuals, _pair)
            tables.append(joined)
            shares = joined.map_reduce_partitions(
                functools.partial(_partition_share, pk), functools.partial(_add_shares, pk)
            )
            tables.append(shares)
            result = shares.collect()
            (_, (blob, l1)) = next(iter(result))
        finally:
            for t in reversed(tables):
                t.destroy()
        data = pk.ciphertexts_from_bytes(blob, self.columns)
        return EncryptedVector(pk, data, d.frac_bits, d.bound * max(l1, default=0))


def balanced_keys(session: ComputingSession, partitions: int, count: int) -> list[int]:
    """``count`` distinct int keys such that key ``i`` lies in partition ``i % partitions``
    of a ``partitions``-partition Table (every backend places a key by the same
    process-independent hash, so a small probe Table tells where keys go)."""
    per = -(-count // partitions)
    size = 2 * per * partitions + 64
    while True:
        probe = session.parallelize(
            ((k, None) for k in range(size)), partitions=partitions, name="clr-key-probe"
        )
        try:
            where = [[k for k, _ in probe.iter_partition(p)] for p in range(partitions)]
        finally:
            probe.destroy()
        if all(len(ks) >= per for ks in where):
            return [where[i % partitions][i // partitions] for i in range(count)]
        size *= 2


# -- task functions (module level: pickled by reference, run in workers) ------------------------
_KEYS: dict[bytes, PublicKey] = {}


def _cached_key(pk: PublicKey) -> PublicKey:
    """This process's copy of ``pk``, so its fixed-base table is built once per worker."""
    fp = pk.fingerprint
    cached = _KEYS.get(fp)
    if cached is None:
        if len(_KEYS) >= 8:
            del _KEYS[next(iter(_KEYS))]
        _KEYS[fp] = cached = pk
    return cached


def _encrypt_chunk(pk: PublicKey, ms: list[int]) -> bytes:
    key = _cached_key(pk)
    return key.ciphertexts_to_bytes(key.encrypt_many(ms))


def _pair(block: np.ndarray, residual: tuple[np.ndarray, bytes]) -> tuple[np.ndarray, bytes]:
    local, blob = residual
    return np.asarray(block)[np.asarray(local, dtype=np.int64)], blob


def _column_l1(e: np.ndarray) -> list[int]:
    """The exact L1 norm of every column of an int64 matrix, as Python ints."""
    if e.size == 0:
        return [0] * e.shape[1]
    amax = max(abs(int(e.min())), abs(int(e.max())))
    if amax * e.shape[0] < _I63:
        return [int(v) for v in np.abs(e).sum(axis=0).tolist()]
    return [sum(abs(int(v)) for v in e[:, j].tolist()) for j in range(e.shape[1])]


def _partition_share(
    pk: PublicKey, rows: Iterator[tuple[Any, Any]]
) -> Iterable[tuple[int, tuple[bytes, list[int]]]]:
    """One partition's ``prod_i c_i^x_ij`` for every column ``j`` (one multi-exponentiation
    over all its rows) and its column L1 norms."""
    key = _cached_key(pk)
    bases: list[mpz] = []
    parts: list[np.ndarray] = []
    for _, (exps, blob) in rows:
        e = np.asarray(exps, dtype=np.int64)
        bases.extend(key.ciphertexts_from_bytes(blob, e.shape[0]))
        parts.append(e)
    if not parts:
        return []
    e = np.concatenate(parts, axis=0)
    out = key.dot_columns(bases, e)
    return [(0, (key.ciphertexts_to_bytes(out), _column_l1(e)))]


def _add_shares(
    pk: PublicKey, a: tuple[bytes, list[int]], b: tuple[bytes, list[int]]
) -> tuple[bytes, list[int]]:
    key = _cached_key(pk)
    xs = key.ciphertexts_from_bytes(a[0])
    ys = key.ciphertexts_from_bytes(b[0])
    total = [key.add(x, y) for x, y in zip(xs, ys, strict=True)]
    l1 = [int(p) + int(q) for p, q in zip(a[1], b[1], strict=True)]
    return key.ciphertexts_to_bytes(total), l1
