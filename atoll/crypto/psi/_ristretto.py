"""The prime-order group ristretto255 (RFC 9496) over Curve25519, via libsodium.

libsodium's ristretto255 functions are bound by the ``rbcl`` package (PyNaCl
does not expose them). Points are 32-byte canonical encodings; scalars 32-byte
little-endian integers below the group order. ristretto255 has prime order, so
blinding with a random scalar is a bijection and no cofactor handling is needed.

Batches of points travel as one ``bytes`` blob of ``32 * n`` bytes, which the
codec moves without per-point overhead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import rbcl

from atoll.crypto.psi._errors import PeerDataError

__all__ = [
    "POINT_BYTES",
    "blind_blob",
    "blind_points",
    "hash_to_points",
    "random_scalar",
    "split_blob",
]

POINT_BYTES = 32
_DOMAIN = b"atoll-psi-ecdh-ristretto255-sha512-v1"
_from_hash = rbcl.crypto_core_ristretto255_from_hash
_mul = rbcl.crypto_scalarmult_ristretto255
_valid = rbcl.crypto_core_ristretto255_is_valid_point


def random_scalar() -> bytes:
    """A uniformly random non-zero scalar from libsodium's CSPRNG."""
    return bytes(rbcl.crypto_core_ristretto255_scalar_random())


def hash_to_points(salt: bytes, keys: Sequence[bytes], scalar: bytes) -> bytes:
    """``scalar * H(salt, key)`` for each key, as one blob.

    H is RFC 9496's hash-to-group (``from_hash`` of a SHA-512 digest) over a
    domain-separated, length-prefixed encoding of the salt and the id, so no
    two different (salt, id) pairs hash the same input.
    """
    prefix = _DOMAIN + len(salt).to_bytes(2, "big") + salt
    sha512 = hashlib.sha512
    return b"".join(
        [
            _mul(scalar, _from_hash(sha512(prefix + len(k).to_bytes(4, "big") + k).digest()))
            for k in keys
        ]
    )


def split_blob(blob: object, *, peer: str, message: str, count: int | None = None) -> list[bytes]:
    """Check a peer's blob of points and cut it into 32-byte encodings."""
    if type(blob) is not bytes:
        raise PeerDataError(peer, message, f"expected bytes, got {type(blob).__name__}")
    if len(blob) % POINT_BYTES:
        raise PeerDataError(peer, message, f"{len(blob)} bytes is not a whole number of points")
    n = len(blob) // POINT_BYTES
    if count is not None and n != count:
        raise PeerDataError(peer, message, f"expected {count} points, got {n}")
    return [blob[i : i + POINT_BYTES] for i in range(0, len(blob), POINT_BYTES)]


def blind_blob(
    blob: bytes, scalar: bytes, *, peer: str, message: str, count: int | None = None
) -> bytes:
    """``scalar * P`` for every point P of a peer's blob, refusing invalid encodings."""
    points = split_blob(blob, peer=peer, message=message, count=count)
    return b"".join(blind_points(0, points, scalar=scalar, peer=peer, message=message))


def blind_points(
    start: int, points: Sequence[bytes], *, scalar: bytes, peer: str, message: str
) -> list[bytes]:
    """``scalar * P`` for each of a peer's points; ``start`` numbers them in errors."""
    out = []
    for i, point in enumerate(points, start):
        if not _valid(point):
            raise PeerDataError(peer, message, f"entry {i} is not a valid ristretto255 point")
        out.append(_mul(scalar, point))
    return out
