"""Okamoto-Uchiyama (OU) encryption: additive, and much faster than Paillier.

``n = p^2 q`` with ``|p| = |q| = n_bits / 3``; public ``(n, g, h = g^n mod n)``. A ciphertext
of ``m`` is ``g^m * h^r mod n``; decryption is ``L(c^(p-1) mod p^2) / L(g^(p-1) mod p^2) mod p``
with ``L(x) = (x - 1) / p``. The plaintext space is ``Z_p`` (~680 bits at 2048), ciphertexts
are ``n_bits`` wide (half Paillier's), and all arithmetic is modulo ``n`` instead of ``n^2``,
so every operation is 3-4x cheaper than Paillier's at the same modulus size.

Choices and what they do to security and cost:

* **Fast decryption (Coron-Naccache-Paillier, "Accelerating Okamoto-Uchiyama's public-key
  cryptosystem", Electronics Letters 35(4), 1999).** Key generation picks ``p = 2 t u + 1``
  with a secret prime ``t`` of ``2 * security_bits(n)`` bits (224 at 2048) and a generator
  ``g`` of order ``p t`` modulo ``p^2``; ``h = g^n`` then has order ``t`` there, so
  ``c^t mod p^2`` removes the randomizer and decryption exponentiates by the 224-bit ``t``
  instead of the 680-bit ``p - 1``: about 3x faster. Security: finding ``t`` (which factors
  ``n``) by a generic order-finding walk costs ``2^(|t|/2) = 2^security_bits``.
* ``h^r`` uses a short ``r`` of ``randomizer_bits`` (default ``4 * security_bits(n)``, at
  least ``|t| + 64`` so ``r mod t`` is statistically uniform) and a fixed-base table, as for
  Paillier (see :mod:`.paillier`).
* ``g^m`` uses fixed-base tables for ``g`` and ``g^-1``, so a signed ``m`` costs one
  multiplication per non-zero byte of ``|m|``: fixed-point values of 64 bits cost 8. A batch
  of encryptions walks ``g``'s, ``g^-1``'s and ``h``'s tables as one product per ciphertext
  (:class:`~.multiexp.JointFixedBase`): 64 multiplications at the defaults, ~21 us each
  ciphertext on the native kernel, ~110 us in gmpy2.
* :class:`~._scheme.RandomnessPool` moves the ``h^r`` part off-line.

**Known weakness: chosen-ciphertext attacks.** OU is malleable like every additive scheme, and
worse, a decryption oracle breaks it completely: decrypting ``g^M`` for some ``M > p`` returns
``M mod p`` and so factors ``n``. It is therefore acceptable only where the key owner never
decrypts values chosen by someone else and reveals the result to them - e.g. vertical LR or
SecureBoost where the guest decrypts aggregates the protocol defines and checks their range
(our decryption raises on out-of-range residues instead of returning them). It is the wrong
choice for any service that decrypts on request. Also note ``n = p^2 q`` needs a larger
modulus than RSA for the same factoring security (use 3072 bits for long-term secrets).
"""

from __future__ import annotations

import gmpy2
from gmpy2 import mpz

from ._errors import SchemeError
from ._rng import RandomSource, default_rng
from ._scheme import PrivateKey, PublicKey, security_bits
from .multiexp import FixedBaseTable, JointFixedBase, powmod_many
from .paillier import _prime

__all__ = ["OUPrivateKey", "OUPublicKey", "generate_ou_keypair"]

MIN_BITS = 1024


class OUPublicKey(PublicKey):
    """OU public key ``(n, g, h)`` and the bit size of the (secret) plaintext prime ``p``."""

    scheme = "ou"

    def __init__(
        self,
        n: int,
        g: int,
        h: int,
        p_bits: int,
        randomizer_bits: int | None = None,
        window: int = 8,
    ) -> None:
        self.n = mpz(n)
        self.modulus = self.n
        self.n_bits = int(self.n.bit_length())
        self.g = mpz(g) % self.n
        self.h = mpz(h) % self.n
        if gmpy2.gcd(self.g, self.n) != 1 or gmpy2.gcd(self.h, self.n) != 1:
            raise SchemeError("OU g and h must be units modulo n")
        self.p_bits = int(p_bits)
        if not 3 * self.p_bits - 2 <= self.n_bits <= 3 * self.p_bits + 2:
            raise SchemeError(f"OU p_bits={p_bits} does not fit a {self.n_bits}-bit n")
        # p >= 2^(p_bits-1): the thirds rule of Paillier/phe on the smallest possible p
        self.max_int = (1 << (self.p_bits - 1)) // 3 - 1
        self.randomizer_bits = int(randomizer_bits or 4 * security_bits(self.n_bits))
        if self.randomizer_bits < 2 * security_bits(self.n_bits):
            raise SchemeError(f"randomizer_bits={self.randomizer_bits} is too short")
        self.window = window
        self._tables: tuple[FixedBaseTable, FixedBaseTable, FixedBaseTable] | None = None
        self._joint: JointFixedBase | None = None

    def _params(self) -> tuple[int, ...]:
        return (self.n, self.g, self.h, self.p_bits)

    @property
    def ciphertext_bytes(self) -> int:
        return (self.n_bits + 7) // 8

    @property
    def tables(self) -> tuple[FixedBaseTable, FixedBaseTable, FixedBaseTable]:
        """Fixed-base tables for ``h``, ``g`` and ``g^-1`` (rows for ``g`` built lazily)."""
        if self._tables is None:
            w = self.window
            th = FixedBaseTable(self.h, self.n, w).precompute(self.randomizer_bits)
            tg = FixedBaseTable(self.g, self.n, w).precompute(64)
            tgi = FixedBaseTable(gmpy2.invert(self.g, self.n), self.n, w).precompute(64)
            self._tables = (th, tg, tgi)
        return self._tables

    def randomizer(self, rng: RandomSource | None = None) -> mpz:
        return self.tables[0].pow(default_rng(rng).randbits(self.randomizer_bits))

    def randomizers(self, count: int, rng: RandomSource | None = None) -> list[mpz]:
        r = default_rng(rng)
        return self.tables[0].pow_many([r.randbits(self.randomizer_bits) for _ in range(count)])

    def _encrypt_fresh(self, ms: list[int], rng: RandomSource) -> list[mpz]:
        # g^m h^r as one walk over the three tables' digits
        if self._joint is None:
            self._joint = JointFixedBase(self.tables)
        xs = [rng.randbits(self.randomizer_bits) for _ in ms]
        pos = [m if m > 0 else 0 for m in ms]
        neg = [-m if m < 0 else 0 for m in ms]
        return self._joint.pow_many([xs, pos, neg])

    def _plain_part(self, m: int) -> mpz:
        _, tg, tgi = self.tables
        return tg.pow(m) if m >= 0 else tgi.pow(-m)

    def __getstate__(self) -> dict[str, object]:
        d = dict(self.__dict__)
        d["_tables"] = d["_joint"] = None
        return d


class OUPrivateKey(PrivateKey):
    """OU private key ``(p, q, t)``: ``t`` is the prime order of ``h`` modulo ``p^2``."""

    def __init__(self, public_key: OUPublicKey, p: int, q: int, t: int) -> None:
        p, q, t = mpz(p), mpz(q), mpz(t)
        if p * p * q != public_key.n:
            raise SchemeError("p^2 q does not match the public key's n")
        if p.bit_length() != public_key.p_bits:
            raise SchemeError("p does not have the public key's p_bits")
        if (p - 1) % t:
            raise SchemeError("t does not divide p - 1")
        self.public_key: OUPublicKey = public_key
        self.p, self.q, self.t = p, q, t
        self.psquare = p * p
        if gmpy2.powmod(public_key.h, t, self.psquare) != 1:
            raise SchemeError("OU h does not have order t modulo p^2")
        lg = (gmpy2.powmod(public_key.g, t, self.psquare) - 1) // p
        if lg % p == 0:
            raise SchemeError("OU g has no component of order p")
        self.lg_inverse = gmpy2.invert(lg, p)

    def _plaintext_modulus(self) -> int:
        return int(self.p)

    def _decrypt_raw(self, c: mpz) -> int:
        p = self.p
        a = (gmpy2.powmod(c % self.psquare, self.t, self.psquare) - 1) // p
        return int(a * self.lg_inverse % p)

    def _decrypt_raw_many(self, cs: list[mpz]) -> list[int]:
        p, psq, lgi = self.p, self.psquare, self.lg_inverse
        powers = powmod_many([c % psq for c in cs], [self.t] * len(cs), psq)
        return [int((a - 1) // p * lgi % p) for a in powers]


def generate_ou_keypair(
    n_bits: int = 2048,
    rng: RandomSource | None = None,
    *,
    randomizer_bits: int | None = None,
    window: int = 8,
) -> tuple[OUPublicKey, OUPrivateKey]:
    """An OU key pair with an ``n_bits`` modulus ``n = p^2 q``."""
    if n_bits < MIN_BITS:
        raise SchemeError(f"OU n_bits must be >= {MIN_BITS}, got {n_bits}")
    r = default_rng(rng)
    pb = n_bits // 3
    qb = n_bits - 2 * pb
    tb = 2 * security_bits(n_bits)
    t = _prime(tb, r)
    while True:
        # p = 2 t u + 1 of exactly pb bits
        u = (mpz(r.randbits(pb - tb - 1)) | (mpz(1) << (pb - tb - 2))) >> 1 << 1 | 1
        p = 2 * t * u + 1
        if p.bit_length() != pb or not gmpy2.is_prime(p, 25):
            continue
        q = _prime(qb, r)
        n = p * p * q
        if p != q and n.bit_length() == n_bits:
            break
    psquare = p * p
    cof = (p - 1) // t
    while True:
        g0 = mpz(r.randbelow(int(n) - 2)) + 2
        if gmpy2.gcd(g0, n) != 1:
            continue
        g = gmpy2.powmod(g0, cof, n)  # order p * t modulo p^2 (checked below)
        gt = gmpy2.powmod(g, t, psquare)
        if gt != 1 and gmpy2.powmod(g, p, psquare) != 1 and ((gt - 1) // p) % p:
            break
    h = gmpy2.powmod(g, n, n)
    bits = randomizer_bits or max(4 * security_bits(n_bits), tb + 64)
    pk = OUPublicKey(n, g, h, pb, bits, window)
    return pk, OUPrivateKey(pk, p, q, t)
