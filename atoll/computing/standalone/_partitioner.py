"""Deterministic key hashing: the same key goes to the same partition in every process.

Python's ``hash`` is salted per process for str and bytes (``PYTHONHASHSEED``),
so it cannot place rows. This module defines a 64-bit hash, version
:data:`PARTITIONER_VERSION`, stored with every saved Table::

    int k, -2**63 <= k < 2**63   mix(k mod 2**64)                  (numpy-vectorised)
    int k, otherwise             fold mix over its 64-bit limbs, tagged with the sign
    str                          mix(TAG_STR ^ crc32(utf-8))
    bytes                        mix(TAG_BYTES ^ crc32(data))
    tuple                        fold mix over the hashes of its items
    bool, numpy integers         as the int they equal (``True == 1`` is the same key)

``mix`` is splitmix64's finaliser. The partition of a key is ``hash % partitions``.
Anything else (float, None, list, arbitrary objects) is refused with
:class:`~atoll.computing.KeyTypeError`.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from atoll.computing._errors import KeyTypeError

__all__ = ["PARTITIONER_VERSION", "key_hash", "key_hashes", "partitions_of", "sample_mask"]

PARTITIONER_VERSION = 1

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB
_TAG_STR = 0x5354520000000001
_TAG_BYTES = 0x4259540000000002
_TAG_TUPLE = 0x5455500000000003
_TAG_BIGPOS = 0x4249470000000004
_TAG_BIGNEG = 0x4249470000000005
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

_U_GOLDEN = np.uint64(_GOLDEN)
_U_C1 = np.uint64(_C1)
_U_C2 = np.uint64(_C2)
_U30, _U27, _U31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix(x: int) -> int:
    x = (x + _GOLDEN) & _M64
    x = ((x ^ (x >> 30)) * _C1) & _M64
    x = ((x ^ (x >> 27)) * _C2) & _M64
    return x ^ (x >> 31)


def _mix_array(x: np.ndarray) -> np.ndarray:
    """Vectorised :func:`_mix` over a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + _U_GOLDEN
        x = (x ^ (x >> _U30)) * _U_C1
        x = (x ^ (x >> _U27)) * _U_C2
        return x ^ (x >> _U31)


def _describe(key: object) -> str:
    text = repr(key)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} of type {type(key).__module__}.{type(key).__qualname__}".replace(
        "builtins.", ""
    )


def _refuse(key: object, table: str, operation: str) -> KeyTypeError:
    return KeyTypeError(
        f"{operation} on table {table!r}: key {_describe(key)} cannot be hashed to a "
        "partition consistently; keys must be int, str, bytes or tuples of them"
    )


def key_hash(key: object, table: str = "?", operation: str = "?") -> int:
    """The 64-bit partitioning hash of one key (see the module docstring)."""
    cls = type(key)
    if cls is int or cls is bool or isinstance(key, (int, np.integer)):
        value = int(key)  # type: ignore[call-overload]
        if _INT64_MIN <= value <= _INT64_MAX:
            return _mix(value & _M64)
        h = _mix(_TAG_BIGNEG if value < 0 else _TAG_BIGPOS)
        mag = -value if value < 0 else value
        while mag:
            h = _mix(h ^ (mag & _M64))
            mag >>= 64
        return h
    if cls is str:
        return _mix(_TAG_STR ^ zlib.crc32(key.encode("utf-8", "surrogatepass")))  # type: ignore[attr-defined]
    if cls is bytes:
        return _mix(_TAG_BYTES ^ zlib.crc32(key))  # type: ignore[arg-type]
    if cls is tuple:
        h = _mix(_TAG_TUPLE ^ len(key))  # type: ignore[arg-type]
        for item in key:  # type: ignore[attr-defined]
            h = _mix(h ^ key_hash(item, table, operation))
        return h
    raise _refuse(key, table, operation)


def key_hashes(keys: Sequence[Any], table: str = "?", operation: str = "?") -> np.ndarray:
    """:func:`key_hash` of every key, as a uint64 array; fast for int64 and str keys."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    kinds = set(map(type, keys))
    if kinds == {int} or kinds <= {int, bool}:
        try:
            arr = np.array(keys, dtype=np.int64)
        except OverflowError:
            pass  # some int beyond 64 bits: per-key path below
        else:
            return _mix_array(arr.view(np.uint64))
    elif kinds == {str}:
        crcs = np.fromiter(
            (zlib.crc32(k.encode("utf-8", "surrogatepass")) for k in keys),
            dtype=np.uint64,
            count=n,
        )
        return _mix_array(crcs ^ np.uint64(_TAG_STR))
    elif kinds == {bytes}:
        crcs = np.fromiter(map(zlib.crc32, keys), dtype=np.uint64, count=n)
        return _mix_array(crcs ^ np.uint64(_TAG_BYTES))
    return np.fromiter((key_hash(k, table, operation) for k in keys), dtype=np.uint64, count=n)


def partitions_of(
    keys: Sequence[Any], partitions: int, table: str = "?", operation: str = "?"
) -> np.ndarray:
    """The partition index of every key, as an int64 array."""
    if partitions == 1:
        # Still validate the key types: a float key must fail the same way everywhere.
        key_hashes(keys, table, operation)
        return np.zeros(len(keys), dtype=np.int64)
    return (key_hashes(keys, table, operation) % np.uint64(partitions)).astype(np.int64)


def sample_mask(keys: Sequence[Any], fraction: float, seed: int) -> np.ndarray:
    """Boolean mask: keep a row iff ``mix(hash(key) ^ mix(seed)) < fraction * 2**64``."""
    if fraction >= 1.0:
        return np.ones(len(keys), dtype=bool)
    if fraction <= 0.0:
        return np.zeros(len(keys), dtype=bool)
    salt = np.uint64(_mix(seed & _M64))
    u = _mix_array(key_hashes(keys) ^ salt)
    # Compare the top 53 bits with the fraction scaled to 2**53 (exact in float64).
    threshold = np.uint64(int(fraction * (1 << 53)))
    return (u >> np.uint64(11)) < threshold
