"""Paillier encryption, fast: DJN fixed-base short-exponent encryption, CRT decryption.

Ciphertext of ``m`` under ``n = p q``: ``c = (1 + n)^m * R mod n^2 = (1 + m n) * R mod n^2``
with a randomizer ``R`` that is an ``n``-th residue. Ciphertexts are standard Paillier
ciphertexts with ``g = n + 1``: python-paillier (``phe``) decrypts ours and we decrypt its.

Choices and what they do to security and cost (2048-bit key, one core, gmpy2):

* **Randomizer (Damgard-Jurik-Nielsen, "A generalization of Paillier's public-key system
  with applications to electronic voting", IJIS 2010: short exponent, fixed base).** The
  textbook randomizer is ``r^n mod n^2`` for uniform ``r`` in ``Z_n^*``: an exponentiation
  with a 2048-bit exponent modulo a 4096-bit number (~10 ms; ``phe`` does this, ~100/s).
  Keygen here picks ``h = -y^2 mod n`` and publishes ``hs = h^n mod n^2``; a randomizer is
  ``hs^x`` with ``x`` of ``randomizer_bits`` bits, computed from a precomputed table of
  ``hs^(d * 256^i)`` (:class:`~.multiexp.FixedBaseTable`), i.e. ``randomizer_bits / 8``
  multiplications (~0.3 ms for 448 bits in gmpy2, ~0.06 ms on the native kernel).
  Security: ciphertexts stay semantically secure under DCR plus the short-exponent
  assumption (``h^x`` with short ``x`` is indistinguishable from a random element of
  ``<h>``); the best known attack on ``L``-bit exponents costs ``2^(L/2)``. The default
  ``L = 4 * security_bits(n)`` (448 for 2048-bit keys, 512 for 3072) leaves a factor-two
  margin in the exponent over that bound; ``randomizer_bits=n_bits // 2`` is DJN's own
  conservative choice at about 2x the cost. Memory: ``ceil(L/8) * 256``
  ciphertext-sized residues per key and process (7.3 MB at 2048 bits, and as much again in
  the native kernel's Montgomery form once it is used). HEU's OU, for comparison, draws
  110-bit randomizers at 2048 bits: a 2^55 kangaroo walk recovers one, which is why Atoll
  refuses anything under ``2 * security_bits`` (224).
* **Randomness pool** (:class:`~._scheme.RandomnessPool`): randomizers precomputed off-line;
  online encryption is then one multiplication. Same security as above as long as each value
  is used once (the pool hands each out once) and the pool never leaves the process.
* **Owner encryption with CRT** (:meth:`PaillierPrivateKey.encrypt`): the owner computes the
  randomizer modulo ``p^2`` and ``q^2`` (2048-bit arithmetic instead of 4096-bit): 1.1-1.5x
  faster, as both halves need their own table walk. Same distribution of ciphertexts, so
  same security.
* **CRT decryption**: ``m mod p`` and ``m mod q`` from two exponentiations with ``(p-1)`` and
  ``(q-1)`` modulo ``p^2`` and ``q^2``, recombined: ~4x faster than ``c^lambda mod n^2``.
  Decryption leaks nothing new; gmpy2's ``powmod`` is not constant-time, so a co-resident
  attacker timing decryptions is out of scope (as for ``phe`` and FATE).
* Signed plaintexts: ``|m| <= max_int = n // 3``; a decrypted residue between ``max_int``
  and ``n - max_int`` raises :class:`~._errors.EncodingOverflowError` (the ``phe`` convention).
"""

from __future__ import annotations

from collections.abc import Iterable

import gmpy2
from gmpy2 import mpz

from ._errors import SchemeError
from ._rng import RandomSource, default_rng
from ._scheme import PrivateKey, PublicKey, security_bits
from .multiexp import FixedBaseTable, powmod_many

__all__ = ["PaillierPrivateKey", "PaillierPublicKey", "generate_paillier_keypair"]

MIN_BITS = 1024


def default_randomizer_bits(n_bits: int) -> int:
    return 4 * security_bits(n_bits)


class PaillierPublicKey(PublicKey):
    """Paillier public key ``(n, hs)``; ``hs`` enables fast DJN encryption."""

    scheme = "paillier"

    def __init__(
        self, n: int, hs: int, randomizer_bits: int | None = None, window: int = 8
    ) -> None:
        n = mpz(n)
        if n < 3 or n % 2 == 0:
            raise SchemeError("Paillier modulus must be an odd integer > 2")
        self.n = n
        self.nsquare = n * n
        self.modulus = self.nsquare
        self.n_bits = int(n.bit_length())
        self.hs = mpz(hs) % self.nsquare
        if gmpy2.gcd(self.hs, n) != 1:
            raise SchemeError("Paillier hs must be a unit modulo n^2")
        self.max_int = int(n // 3 - 1)
        self.randomizer_bits = int(randomizer_bits or default_randomizer_bits(self.n_bits))
        if self.randomizer_bits < 2 * security_bits(self.n_bits):
            raise SchemeError(
                f"randomizer_bits={self.randomizer_bits} is below 2 x security level "
                f"({2 * security_bits(self.n_bits)}) for a {self.n_bits}-bit key"
            )
        self.window = window
        self._table: FixedBaseTable | None = None

    def _params(self) -> tuple[int, ...]:
        return (self.n, self.hs)

    @property
    def ciphertext_bytes(self) -> int:
        return (int(self.nsquare.bit_length()) + 7) // 8

    @property
    def table(self) -> FixedBaseTable:
        """The fixed-base table for ``hs`` (built on first use, ~0.1 s at 2048 bits)."""
        if self._table is None:
            self._table = FixedBaseTable(self.hs, self.nsquare, self.window).precompute(
                self.randomizer_bits
            )
        return self._table

    def randomizer(self, rng: RandomSource | None = None) -> mpz:
        return self.table.pow(default_rng(rng).randbits(self.randomizer_bits))

    def randomizers(self, count: int, rng: RandomSource | None = None) -> list[mpz]:
        r = default_rng(rng)
        return self.table.pow_many([r.randbits(self.randomizer_bits) for _ in range(count)])

    def _plain_part(self, m: int) -> mpz:
        return (m % self.n) * self.n + 1

    def raw_encrypt(self, m: int, r: int) -> mpz:
        """Textbook ``(1 + n)^m * r^n mod n^2`` with the caller's ``r`` (known-answer tests;
        equals ``phe``'s ``raw_encrypt(m, r_value=r)``)."""
        return self._plain_part(m) * gmpy2.powmod(r, self.n, self.nsquare) % self.nsquare

    def __getstate__(self) -> dict[str, object]:  # worker processes rebuild the table
        d = dict(self.__dict__)
        d["_table"] = None
        return d


class PaillierPrivateKey(PrivateKey):
    """Paillier private key ``(p, q)`` with CRT decryption and CRT owner encryption."""

    def __init__(self, public_key: PaillierPublicKey, p: int, q: int) -> None:
        p, q = mpz(p), mpz(q)
        if p * q != public_key.n:
            raise SchemeError("p * q does not match the public key's n")
        if p == q:
            raise SchemeError("Paillier needs two distinct primes")
        if q < p:
            p, q = q, p
        self.public_key: PaillierPublicKey = public_key
        self.p, self.q = p, q
        self.psquare, self.qsquare = p * p, q * q
        self.p_inverse = gmpy2.invert(p, q)  # for CRT recombination mod n
        n = public_key.n
        self.hp = self._h(p, self.psquare, n)
        self.hq = self._h(q, self.qsquare, n)
        self._psq_inv_qsq = gmpy2.invert(self.psquare, self.qsquare)
        self._tp: FixedBaseTable | None = None
        self._tq: FixedBaseTable | None = None

    @staticmethod
    def _h(x: mpz, xsquare: mpz, n: mpz) -> mpz:
        # h_x = L_x(g^(x-1) mod x^2)^-1 mod x with g = n + 1 = 1 + (x-1) n mod x^2 (binomial)
        return gmpy2.invert(((x - 1) * n % xsquare) // x, x)

    def _plaintext_modulus(self) -> int:
        return int(self.public_key.n)

    def _decrypt_raw(self, c: mpz) -> int:
        p, q = self.p, self.q
        mp = (gmpy2.powmod(c % self.psquare, p - 1, self.psquare) - 1) // p * self.hp % p
        mq = (gmpy2.powmod(c % self.qsquare, q - 1, self.qsquare) - 1) // q * self.hq % q
        # m = mp + p * ((mq - mp) * p^-1 mod q)
        return int(mp + p * ((mq - mp) * self.p_inverse % q))

    def _decrypt_raw_many(self, cs: list[mpz]) -> list[int]:
        p, q, psq, qsq = self.p, self.q, self.psquare, self.qsquare
        aps = powmod_many([c % psq for c in cs], [p - 1] * len(cs), psq)
        aqs = powmod_many([c % qsq for c in cs], [q - 1] * len(cs), qsq)
        hp, hq, pinv = self.hp, self.hq, self.p_inverse
        out = []
        for ap, aq in zip(aps, aqs, strict=True):
            mp = (ap - 1) // p * hp % p
            mq = (aq - 1) // q * hq % q
            out.append(int(mp + p * ((mq - mp) * pinv % q)))
        return out

    def _tables(self) -> tuple[FixedBaseTable, FixedBaseTable]:
        if self._tp is None or self._tq is None:
            pk = self.public_key
            bits = pk.randomizer_bits
            self._tp = FixedBaseTable(pk.hs, self.psquare, pk.window).precompute(bits)
            self._tq = FixedBaseTable(pk.hs, self.qsquare, pk.window).precompute(bits)
        return self._tp, self._tq

    def randomizer(self, rng: RandomSource | None = None) -> mpz:
        """The public randomizer ``hs^x mod n^2``, computed by CRT (owner only)."""
        tp, tq = self._tables()
        x = default_rng(rng).randbits(self.public_key.randomizer_bits)
        rp, rq = tp.pow(x), tq.pow(x)
        return rp + self.psquare * ((rq - rp) * self._psq_inv_qsq % self.qsquare)

    def encrypt(self, m: int, rng: RandomSource | None = None) -> mpz:
        """Owner-side encryption with a CRT randomizer (1.1-1.5x faster than the public path)."""
        pk = self.public_key
        return pk._plain_part(pk.check_plaintext(m)) * self.randomizer(rng) % pk.nsquare

    def randomizers(self, count: int, rng: RandomSource | None = None) -> list[mpz]:
        """``count`` randomizers by CRT, walked as two batches (mod ``p^2`` and ``q^2``)."""
        tp, tq = self._tables()
        r = default_rng(rng)
        xs = [r.randbits(self.public_key.randomizer_bits) for _ in range(count)]
        psq, qsq, inv = self.psquare, self.qsquare, self._psq_inv_qsq
        return [
            rp + psq * ((rq - rp) * inv % qsq)
            for rp, rq in zip(tp.pow_many(xs), tq.pow_many(xs), strict=True)
        ]

    def encrypt_many(self, ms: Iterable[int], rng: RandomSource | None = None) -> list[mpz]:
        pk = self.public_key
        ms = [pk.check_plaintext(m) for m in ms]
        nsq = pk.nsquare
        rs = self.randomizers(len(ms), rng)
        return [pk._plain_part(m) * rr % nsq for m, rr in zip(ms, rs, strict=True)]

    def __getstate__(self) -> dict[str, object]:
        d = dict(self.__dict__)
        d["_tp"] = d["_tq"] = None
        return d


def _prime(bits: int, rng: RandomSource) -> mpz:
    """A random prime of exactly ``bits`` bits with the top two bits set."""
    while True:
        x = mpz(rng.randbits(bits)) | (mpz(3) << (bits - 2)) | 1
        p = gmpy2.next_prime(x)
        if p.bit_length() == bits and gmpy2.is_prime(p, 25):  # GMP 6.3: BPSW + Miller-Rabin
            return p


def generate_paillier_keypair(
    n_bits: int = 2048,
    rng: RandomSource | None = None,
    *,
    randomizer_bits: int | None = None,
    window: int = 8,
) -> tuple[PaillierPublicKey, PaillierPrivateKey]:
    """A Paillier key pair with an ``n_bits`` modulus (2048 default; 1024 for tests only)."""
    if n_bits < MIN_BITS or n_bits % 2:
        raise SchemeError(f"Paillier n_bits must be even and >= {MIN_BITS}, got {n_bits}")
    r = default_rng(rng)
    half = n_bits // 2
    while True:
        p = _prime(half, r)
        q = _prime(half, r)
        n = p * q
        if p != q and n.bit_length() == n_bits and gmpy2.gcd(n, (p - 1) * (q - 1)) == 1:
            break
    while True:
        y = mpz(r.randbelow(int(n) - 2)) + 2
        if gmpy2.gcd(y, n) == 1:
            break
    h = (-(y * y)) % n
    # hs = h^n mod n^2, by CRT over p^2 and q^2 (4x cheaper than one exponentiation mod n^2)
    p2, q2 = p * p, q * q
    hp, hq = gmpy2.powmod(h, n, p2), gmpy2.powmod(h, n, q2)
    hs = hp + p2 * ((hq - hp) * gmpy2.invert(p2, q2) % q2)
    pk = PaillierPublicKey(n, hs, randomizer_bits, window)
    return pk, PaillierPrivateKey(pk, p, q)
