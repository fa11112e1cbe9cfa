"""LMDB storage of Table partitions: one LMDB environment (a directory) per Table.

Rows are stored in *blocks*: one LMDB record holds a codec-encoded
``[keys, values]`` pair of lists for up to :data:`BLOCK_ROWS` rows and about
:data:`BLOCK_BYTES` bytes (a single huge value is a block of its own). The
record key is ``struct.pack(">IIQ", partition, source, seq)``, so reading a
partition is one prefix scan and a shuffle can write one block per target
partition from every source partition without coordination.

Every process (driver or worker) opens an environment at most once, through
:func:`open_env`, which caches a few of them; LMDB forbids opening the same
environment twice in one process.
"""

from __future__ import annotations

import os
import shutil
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import lmdb

from atoll.codec import CodecError, decode, encode

__all__ = [
    "BLOCK_BYTES",
    "BLOCK_ROWS",
    "BlockWriter",
    "UnencodableRow",
    "close_env",
    "close_under",
    "copy_env",
    "create_env",
    "iter_blocks",
    "open_env",
    "refresh_env",
    "remove_env",
]

BLOCK_ROWS = 8192
BLOCK_BYTES = 2 << 20  # a block then fits a 4 MiB federation chunk whole
FLUSH_BYTES = 64 << 20
MAP_SIZE = (1 << 40) if struct.calcsize("P") == 8 else (1 << 30)
_CACHE_SIZE = 32  # each environment maps MAP_SIZE of address space
_KEY = struct.Struct(">IIQ")
_PREFIX = struct.Struct(">I")

_envs: OrderedDict[str, tuple[lmdb.Environment, int]] = OrderedDict()
# Parties of an in-process federation share one session from several threads.
_envs_lock = threading.RLock()


class UnencodableRow(Exception):
    """The codec refused the row with ``key``; ``cause`` is its ``CodecError``."""

    def __init__(self, key: object, cause: CodecError) -> None:
        super().__init__(str(cause))
        self.key = key
        self.cause = cause


def _open(path: str, *, create: bool) -> lmdb.Environment:
    return lmdb.open(
        path,
        map_size=MAP_SIZE,
        subdir=True,
        create=create,
        sync=False,
        metasync=False,
        max_dbs=0,
        max_readers=512,
        lock=True,
    )


def _inode(path: str) -> int:
    try:
        return os.stat(os.path.join(path, "data.mdb")).st_ino
    except FileNotFoundError:
        return -1


def _evict_stale() -> None:
    """Close cached environments whose directory was removed (by ``destroy``)."""
    with _envs_lock:
        for path in [p for p, (_, ino) in _envs.items() if _inode(p) != ino]:
            _envs.pop(path)[0].close()


def open_env(path: str) -> lmdb.Environment:
    """The environment at ``path`` (which must exist), from this process's cache."""
    with _envs_lock:
        entry = _envs.get(path)
        if entry is not None:
            _envs.move_to_end(path)
            return entry[0]
        _evict_stale()
        ino = _inode(path)
        if ino < 0:
            raise FileNotFoundError(f"no LMDB environment at {path}")
        env = _open(path, create=False)
        _envs[path] = (env, ino)
        while len(_envs) > _CACHE_SIZE:
            _envs.popitem(last=False)[1][0].close()
        return env


def refresh_env(path: str) -> None:
    """Drop the cached environment at ``path`` if the directory was replaced since.

    Called once per task for each input: a saved Table overwritten by another
    process gets a new ``data.mdb`` (new inode) that must be opened afresh.
    """
    with _envs_lock:
        entry = _envs.get(path)
        if entry is not None and _inode(path) != entry[1]:
            close_env(path)


def create_env(path: str) -> None:
    """Create an empty environment at ``path`` (the parent directory must exist)."""
    close_env(path)
    os.makedirs(path, exist_ok=False)
    _open(path, create=True).close()


def close_env(path: str) -> None:
    with _envs_lock:
        entry = _envs.pop(path, None)
        if entry is not None:
            entry[0].close()


def remove_env(path: str) -> None:
    """Close and delete the environment at ``path``; a missing one is fine."""
    close_env(path)
    shutil.rmtree(path, ignore_errors=True)


def copy_env(src: str, dst: str) -> None:
    """Copy (compacting) the environment ``src`` into the new directory ``dst``."""
    os.makedirs(dst, exist_ok=False)
    env = open_env(src)
    env.sync(True)
    env.copy(dst, compact=True)
    fd = os.open(os.path.join(dst, "data.mdb"), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def iter_raw_blocks(path: str, partition: int) -> Iterator[bytes]:
    """The encoded blocks of one partition, in (source, seq) order.

    Each block is read in its own short read transaction, so a consumer may stop
    or pause between blocks without pinning the environment.
    """
    prefix = _PREFIX.pack(partition)
    start = prefix
    while True:
        env = open_env(path)
        with env.begin() as txn:
            cursor = txn.cursor()
            if not cursor.set_range(start):
                return
            key, value = cursor.item()
        if not key.startswith(prefix):
            return
        start = key + b"\x00"
        yield value


def iter_blocks(path: str, partition: int) -> Iterator[tuple[list[Any], list[Any]]]:
    """The decoded ``(keys, values)`` blocks of one partition."""
    for raw in iter_raw_blocks(path, partition):
        block: Any = decode(raw)
        yield block[0], block[1]


class BlockWriter:
    """Buffers rows per partition, encodes full blocks, writes them in batches.

    ``source`` is the middle field of every block key this writer makes; two
    writers into the same environment at the same time must use different
    sources. ``counts[p]`` is the number of rows written to partition ``p``.
    Raises the codec's ``CodecError`` from :meth:`extend` or :meth:`close` for an
    unencodable row; the caller reports it and removes the environment.
    """

    def __init__(self, path: str, partitions: int, source: int) -> None:
        self.path = path
        self.source = source
        self.counts = [0] * partitions
        self._keys: list[list[Any]] = [[] for _ in range(partitions)]
        self._values: list[list[Any]] = [[] for _ in range(partitions)]
        self._seq = [0] * partitions
        self._limit = BLOCK_ROWS
        self._pending: list[tuple[bytes, bytes]] = []
        self._pending_bytes = 0

    def extend(self, partition: int, keys: list[Any], values: list[Any]) -> None:
        """Add rows to ``partition`` (the caller has hashed the keys to it)."""
        if not keys:
            return
        buf_k, buf_v = self._keys[partition], self._values[partition]
        if not buf_k and len(keys) == self._limit:
            self._encode(partition, keys, values)
            return
        buf_k.extend(keys)
        buf_v.extend(values)
        while len(buf_k) >= self._limit:
            n = self._limit
            self._encode(partition, buf_k[:n], buf_v[:n])
            del buf_k[:n], buf_v[:n]

    def _encode(self, partition: int, keys: list[Any], values: list[Any]) -> None:
        try:
            data = encode([keys, values])
        except CodecError as exc:
            for key, value in zip(keys, values, strict=True):
                try:
                    encode(key)
                    encode(value)
                except CodecError as row_exc:
                    raise UnencodableRow(key, row_exc) from None
            raise UnencodableRow(keys[0] if keys else None, exc) from None
        rows = len(keys)
        size = len(data)
        if size > 2 * BLOCK_BYTES and rows > 1:
            # Too big: split so that each block holds about BLOCK_BYTES.
            step = max(1, rows * BLOCK_BYTES // size)
            for i in range(0, rows, step):
                self._put(partition, encode([keys[i : i + step], values[i : i + step]]))
            self.counts[partition] += rows
            self._limit = step
            return
        if rows == self._limit:
            # Adapt the block size to the row size seen (a few big values: fewer rows).
            self._limit = max(1, min(BLOCK_ROWS, rows * BLOCK_BYTES // max(size, 1)))
        self._put(partition, data)
        self.counts[partition] += rows

    def _put(self, partition: int, data: bytes) -> None:
        key = _KEY.pack(partition, self.source, self._seq[partition])
        self._seq[partition] += 1
        self._pending.append((key, data))
        self._pending_bytes += len(data)
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write the encoded blocks so far in one write transaction."""
        if not self._pending:
            return
        env = open_env(self.path)
        with env.begin(write=True) as txn:
            for key, data in self._pending:
                txn.put(key, data)
        self._pending = []
        self._pending_bytes = 0

    def close(self) -> list[int]:
        """Encode what is buffered, write everything, and return the row counts."""
        for partition, buf_k in enumerate(self._keys):
            if buf_k:
                self._encode(partition, buf_k, self._values[partition])
                self._keys[partition] = []
                self._values[partition] = []
        self.flush()
        return self.counts


def close_under(directory: str) -> None:
    """Close every cached environment below ``directory`` (before it is removed)."""
    prefix = os.path.join(directory, "")
    for path in [p for p in _envs if p.startswith(prefix)]:
        close_env(path)
