"""The ``plain`` scheme: the same API as Paillier with NO encryption, for debugging.

A "ciphertext" is the plaintext itself reduced modulo ``2^n_bits``, so sums, products and
overflow behave exactly as they would under a real key of that size (a result beyond
``max_int`` raises on decryption), but everything is readable and ~1000x faster. It exists
for algorithm tests and for debugging a protocol; it must be selected explicitly
(``generate_keypair("plain", insecure=True)``), the key says ``insecure = True``, and every
key made logs a warning on the ``atoll.crypto.he`` logger that job output shows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from gmpy2 import mpz

from ._rng import RandomSource, default_rng
from ._scheme import PrivateKey, PublicKey

__all__ = ["PlainPrivateKey", "PlainPublicKey", "generate_plain_keypair"]

log = logging.getLogger("atoll.crypto.he")

INSECURE_WARNING = (
    "HE scheme 'plain' selected: NOTHING IS ENCRYPTED; values travel in the clear. "
    "Use only for debugging and tests."
)


class PlainPublicKey(PublicKey):
    """A mock public key: identity "encryption" modulo ``2^n_bits``."""

    scheme = "plain"
    insecure = True

    def __init__(self, n_bits: int = 2048, key_id: int = 0) -> None:
        self.n_bits = int(n_bits)
        self.key_id = int(key_id)
        self.modulus = mpz(1) << self.n_bits
        self.max_int = int(self.modulus // 3 - 1)
        log.warning(INSECURE_WARNING)

    def _params(self) -> tuple[int, ...]:
        return (self.n_bits, self.key_id)

    @property
    def ciphertext_bytes(self) -> int:
        return (self.n_bits + 7) // 8

    def randomizer(self, rng: RandomSource | None = None) -> mpz:
        return mpz(0)

    def _plain_part(self, m: int) -> mpz:
        return mpz(m) % self.modulus

    def _combine(self, a: mpz, b: mpz) -> mpz:
        return (a + b) % self.modulus

    def add(self, c1: mpz, c2: mpz) -> mpz:
        return (c1 + c2) % self.modulus

    def sub(self, c1: mpz, c2: mpz) -> mpz:
        return (c1 - c2) % self.modulus

    def add_plain(self, c: mpz, m: int) -> mpz:
        return (c + self.check_plaintext(m)) % self.modulus

    def mul(self, c: mpz, k: int) -> mpz:
        return c * int(k) % self.modulus

    def mul_many(self, cs: Sequence[mpz], ks: Sequence[int]) -> list[mpz]:
        return [self.mul(c, k) for c, k in zip(cs, ks, strict=True)]

    def neg(self, c: mpz) -> mpz:
        return -c % self.modulus

    def sum(self, cs: object) -> mpz:
        acc = mpz(0)
        for c in cs:  # type: ignore[attr-defined]
            acc += c
        return acc % self.modulus

    def dot(self, cs: Sequence[mpz], ks: Sequence[int] | np.ndarray) -> mpz:
        acc = mpz(0)
        for c, k in zip(cs, ks, strict=True):
            acc += c * int(k)
        return acc % self.modulus

    def dot_columns(self, cs: Sequence[mpz], ks: np.ndarray) -> list[mpz]:
        return [self.dot(cs, ks[:, j]) for j in range(ks.shape[1])]

    def rerandomize(self, c: mpz, rng: RandomSource | None = None) -> mpz:
        return mpz(c)

    def identity(self) -> mpz:
        return mpz(0)

    def check_ciphertext(self, c: int) -> mpz:
        return mpz(c) % self.modulus

    def ciphertexts_from_bytes(
        self, blob: bytes, count: int | None = None, *, check: bool = True
    ) -> list[mpz]:
        w = self.ciphertext_bytes
        if len(blob) % w or (count is not None and len(blob) != count * w):
            from ._errors import CiphertextError

            raise CiphertextError(f"blob of {len(blob)} bytes is not {count} x {w} bytes")
        mv = memoryview(blob)
        return [mpz.from_bytes(mv[i : i + w], "little") for i in range(0, len(blob), w)]


class PlainPrivateKey(PrivateKey):
    """The matching mock private key."""

    def __init__(self, public_key: PlainPublicKey) -> None:
        self.public_key: PlainPublicKey = public_key

    def _plaintext_modulus(self) -> int:
        return int(self.public_key.modulus)

    def _decrypt_raw(self, c: mpz) -> int:
        return int(c)


def generate_plain_keypair(
    n_bits: int = 2048, rng: RandomSource | None = None
) -> tuple[PlainPublicKey, PlainPrivateKey]:
    """A mock key pair; the caller must have asked for ``insecure=True`` (see ``keygen``)."""
    pk = PlainPublicKey(n_bits, default_rng(rng).randbits(64))
    return pk, PlainPrivateKey(pk)
