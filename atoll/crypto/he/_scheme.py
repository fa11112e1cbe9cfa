"""The common API of every additive scheme (Paillier, Okamoto-Uchiyama, plain).

Keys work on signed Python integers and raw ciphertexts (``gmpy2.mpz``); the fixed-point
layer (:mod:`.fixedpoint`) and :class:`~.vector.EncryptedVector` sit on top. A raw ciphertext
carries no reference to its key: that keeps a vector of 100,000 ciphertexts a plain list of
big integers; vectors check key identity (:attr:`PublicKey.fingerprint`) on every binary
operation instead.

For the two real schemes a ciphertext is an element of a multiplicative group ``Z_M^*``
(``M = n^2`` for Paillier, ``M = n`` for OU); ciphertext addition is multiplication modulo
``M``, scalar multiplication is exponentiation, negation is inversion. ``_GroupPublicKey``
implements all of that once; a scheme supplies the deterministic plaintext part
(:meth:`_plain_part`) and a fresh randomizer (:meth:`randomizer`).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import ClassVar

import gmpy2
import numpy as np
from gmpy2 import mpz

from ._errors import CiphertextError, EncodingOverflowError, KeyMismatchError
from ._rng import RandomSource, default_rng
from .multiexp import multiexp_columns, multiexp_signed, powmod_many

__all__ = ["PrivateKey", "PublicKey", "RandomnessPool", "security_bits"]


def security_bits(n_bits: int) -> int:
    """Classical security level of an RSA-type modulus (NIST SP 800-57 table)."""
    if n_bits >= 15360:
        return 256
    if n_bits >= 7680:
        return 192
    if n_bits >= 3072:
        return 128
    if n_bits >= 2048:
        return 112
    return 80


class PublicKey(ABC):
    """What anyone holding the public key can do: encrypt and compute on ciphertexts."""

    scheme: ClassVar[str]
    #: True only for the ``plain`` scheme, which does no encryption.
    insecure: ClassVar[bool] = False

    n_bits: int
    #: Largest magnitude of a signed plaintext; results beyond it are overflow.
    max_int: int

    # -- identity -------------------------------------------------------------------------
    @abstractmethod
    def _params(self) -> tuple[int, ...]: ...

    @property
    def fingerprint(self) -> bytes:
        """16-byte identity of the key (SHA-256 over scheme and public parameters)."""
        fp: bytes | None = getattr(self, "_fp", None)
        if fp is None:
            h = hashlib.sha256(self.scheme.encode())
            for p in self._params():
                b = int(p).to_bytes((int(p).bit_length() + 8) // 8, "big", signed=True)
                h.update(len(b).to_bytes(4, "big") + b)
            fp = h.digest()[:16]
            self._fp = fp
        return fp

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.n_bits}-bit {self.fingerprint.hex()[:12]}>"

    def check_plaintext(self, m: int) -> int:
        m = int(m)
        if -self.max_int <= m <= self.max_int:
            return m
        raise EncodingOverflowError(
            f"plaintext of {m.bit_length()} bits exceeds the {self.scheme} key's range "
            f"|m| <= max_int ({self.max_int.bit_length()} bits)"
        )

    # -- encryption -----------------------------------------------------------------------
    @property
    @abstractmethod
    def ciphertext_bytes(self) -> int:
        """Width of one ciphertext in the fixed-width wire encoding."""

    @abstractmethod
    def randomizer(self, rng: RandomSource | None = None) -> mpz:
        """A fresh blinding factor (an encryption of zero)."""

    @abstractmethod
    def _plain_part(self, m: int) -> mpz:
        """The deterministic encryption of ``m`` with randomizer 1 (no range check)."""

    def randomizers(self, count: int, rng: RandomSource | None = None) -> list[mpz]:
        """``count`` fresh randomizers; schemes with a fixed-base table walk them as one batch
        (the same values, in the same order of ``rng`` draws, as ``count`` calls of
        :meth:`randomizer`)."""
        r = default_rng(rng)
        return [self.randomizer(r) for _ in range(count)]

    def encrypt(self, m: int, rng: RandomSource | None = None) -> mpz:
        """Encrypt the signed integer ``m`` (``|m| <= max_int``)."""
        return self._combine(self._plain_part(self.check_plaintext(m)), self.randomizer(rng))

    def encrypt_many(
        self,
        ms: Iterable[int],
        rng: RandomSource | None = None,
        pool: RandomnessPool | None = None,
    ) -> list[mpz]:
        """Encrypt many integers; randomizers come from ``pool`` while it lasts."""
        ms = [self.check_plaintext(m) for m in ms]
        rs = pool.take(len(ms)) if pool is not None else []
        out = [self._combine(self._plain_part(m), rr) for m, rr in zip(ms, rs, strict=False)]
        if len(rs) < len(ms):
            out.extend(self._encrypt_fresh(ms[len(rs) :], default_rng(rng)))
        return out

    def _encrypt_fresh(self, ms: list[int], rng: RandomSource) -> list[mpz]:
        """Range-checked ``ms`` with fresh randomizers; schemes may fuse the two parts."""
        rs = self.randomizers(len(ms), rng)
        return [self._combine(self._plain_part(m), rr) for m, rr in zip(ms, rs, strict=True)]

    def encrypt_deterministic(self, m: int) -> mpz:
        """Encryption with randomizer 1: NOT semantically secure; for constants in sums."""
        return self._plain_part(self.check_plaintext(m))

    def _combine(self, a: mpz, b: mpz) -> mpz:
        return a * b % self.modulus

    # -- homomorphic operations -----------------------------------------------------------
    #: The modulus of the ciphertext group.
    modulus: mpz

    def add(self, c1: mpz, c2: mpz) -> mpz:
        """``Enc(a) , Enc(b) -> Enc(a + b)``."""
        return c1 * c2 % self.modulus

    def sub(self, c1: mpz, c2: mpz) -> mpz:
        """``Enc(a) , Enc(b) -> Enc(a - b)``."""
        return c1 * gmpy2.invert(c2, self.modulus) % self.modulus

    def add_plain(self, c: mpz, m: int) -> mpz:
        """``Enc(a) , b -> Enc(a + b)`` (no fresh randomness needed)."""
        return c * self._plain_part(self.check_plaintext(m)) % self.modulus

    def mul(self, c: mpz, k: int) -> mpz:
        """``Enc(a) , k -> Enc(k * a)`` for a signed integer ``k``."""
        k = int(k)
        if k == 0:
            return self._plain_part(0)
        return gmpy2.powmod(c, k, self.modulus)

    def mul_many(self, cs: Sequence[mpz], ks: Sequence[int]) -> list[mpz]:
        """:meth:`mul` elementwise, as one batch of exponentiations."""
        return powmod_many(cs, ks, self.modulus)

    def neg(self, c: mpz) -> mpz:
        """``Enc(a) -> Enc(-a)``."""
        return gmpy2.invert(c, self.modulus)

    def sum(self, cs: Iterable[mpz]) -> mpz:
        """``Enc(a_i) -> Enc(sum a_i)``."""
        m = self.modulus
        acc = mpz(1)
        for c in cs:
            acc = acc * c % m
        return acc

    def dot(self, cs: Sequence[mpz], ks: Sequence[int] | np.ndarray) -> mpz:
        """``Enc(a_i), k_i -> Enc(sum k_i a_i)`` by Pippenger multi-exponentiation."""
        return multiexp_signed(cs, ks, self.modulus)

    def dot_columns(self, cs: Sequence[mpz], ks: np.ndarray) -> list[mpz]:
        """:meth:`dot` of ``cs`` with every column of the ``(len(cs), m)`` matrix ``ks``
        (the bases are prepared once for all columns)."""
        return multiexp_columns(cs, ks, self.modulus)

    def rerandomize(self, c: mpz, rng: RandomSource | None = None) -> mpz:
        """A fresh-looking ciphertext of the same plaintext (do this before sending)."""
        return c * self.randomizer(rng) % self.modulus

    def rerandomize_many(self, cs: Sequence[mpz], rng: RandomSource | None = None) -> list[mpz]:
        """:meth:`rerandomize` for each of ``cs``, with one batch of randomizers."""
        rs = self.randomizers(len(cs), rng)
        return [self._combine(c, r) for c, r in zip(cs, rs, strict=True)]

    def identity(self) -> mpz:
        """The deterministic encryption of zero (neutral element of ``add``)."""
        return mpz(1)

    def check_ciphertext(self, c: int) -> mpz:
        c = mpz(c)
        if not 0 < c < self.modulus:
            raise CiphertextError(f"ciphertext outside [1, M) for {self!r}")
        return c

    # -- serialization of ciphertexts -----------------------------------------------------
    def ciphertexts_to_bytes(self, cs: Sequence[int]) -> bytes:
        """Fixed-width little-endian blob of ``len(cs) * ciphertext_bytes`` bytes."""
        w = self.ciphertext_bytes
        return b"".join(mpz(c).to_bytes(w, "little") for c in cs)

    def ciphertexts_from_bytes(
        self, blob: bytes, count: int | None = None, *, check: bool = True
    ) -> list[mpz]:
        """The ciphertexts of a fixed-width blob, each checked to lie in ``[1, M)`` unless
        ``check=False`` (only for blobs this process's own workers computed)."""
        w = self.ciphertext_bytes
        if len(blob) % w or (count is not None and len(blob) != count * w):
            raise CiphertextError(
                f"ciphertext blob of {len(blob)} bytes is not {count} x {w}-byte ciphertexts"
            )
        mv = memoryview(blob)
        out = [mpz.from_bytes(mv[i : i + w], "little") for i in range(0, len(blob), w)]
        if check:
            m = self.modulus
            for c in out:
                if not 0 < c < m:
                    raise CiphertextError(f"ciphertext outside [1, M) for {self!r}")
        return out


class PrivateKey(ABC):
    """What only the key's owner can do: decrypt. Never leaves its owner (see codec)."""

    public_key: PublicKey

    @abstractmethod
    def _decrypt_raw(self, c: mpz) -> int:
        """The plaintext residue in ``[0, plaintext modulus)``."""

    @abstractmethod
    def _plaintext_modulus(self) -> int: ...

    def decrypt(self, c: int) -> int:
        """The signed plaintext of ``c``; an overflowed result raises instead of wrapping."""
        return self.decrypt_many([c])[0]

    def decrypt_many(self, cs: Iterable[int]) -> list[int]:
        """:meth:`decrypt` of each, with the exponentiations as one batch."""
        pk = self.public_key
        checked = [pk.check_ciphertext(c) for c in cs]
        if not pk.insecure:
            n = pk.n  # type: ignore[attr-defined]
            for c in checked:
                if gmpy2.gcd(c, n) != 1:
                    raise CiphertextError(f"ciphertext is not a unit modulo n of {pk!r}")
        return [self._signed(m) for m in self._decrypt_raw_many(checked)]

    def _decrypt_raw_many(self, cs: list[mpz]) -> list[int]:
        return [self._decrypt_raw(c) for c in cs]

    def _signed(self, m: int) -> int:
        mx = self.public_key.max_int
        pm = self._plaintext_modulus()
        if m <= mx:
            return int(m)
        if m >= pm - mx:
            return int(m - pm)
        raise EncodingOverflowError(
            "decrypted value is outside the signed range: a homomorphic result overflowed "
            f"|m| <= max_int ({mx.bit_length()} bits)"
        )

    def encrypt(self, m: int, rng: RandomSource | None = None) -> mpz:
        """Owner-side encryption; schemes with a faster private path override it."""
        return self.public_key.encrypt(m, rng)

    def encrypt_many(self, ms: Iterable[int], rng: RandomSource | None = None) -> list[mpz]:
        """Owner-side encryption of many integers."""
        return self.public_key.encrypt_many(ms, rng)

    def check_key(self, pk: PublicKey) -> None:
        if pk.fingerprint != self.public_key.fingerprint:
            raise KeyMismatchError(
                f"private key of {self.public_key!r} cannot decrypt data under {pk!r}"
            )

    def __repr__(self) -> str:  # never print secrets
        return f"<{type(self).__name__} for {self.public_key!r}>"


class RandomnessPool:
    """Randomizers computed ahead of time, each handed out once.

    Encryption is then one multiplication instead of a fixed-base exponentiation (Paillier:
    ~25x faster online). Security: each value is used once and dropped; the pool is as secret
    as the plaintexts it will hide (a leaked randomizer decrypts its ciphertext), so it lives
    only in the encrypting process's memory and is never serialised. Cost: one ciphertext of
    memory per entry (512 bytes for Paillier-2048) and the same total work, moved off-line.
    """

    def __init__(self, public_key: PublicKey) -> None:
        self.public_key = public_key
        self._values: list[mpz] = []

    def __len__(self) -> int:
        return len(self._values)

    def fill(self, count: int, rng: RandomSource | None = None, workers: int = 1) -> None:
        """Add ``count`` fresh randomizers (over ``workers`` processes if > 1)."""
        if workers > 1:
            from .parallel import parallel_randomizers

            self._values.extend(parallel_randomizers(self.public_key, count, workers))
            return
        self._values.extend(self.public_key.randomizers(count, rng))

    def take(self, count: int) -> list[mpz]:
        """Up to ``count`` randomizers, removed from the pool."""
        count = min(count, len(self._values))
        if count == 0:
            return []
        out = self._values[-count:]
        del self._values[-count:]
        return out
