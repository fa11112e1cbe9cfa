"""RSA blind signatures for PSI (FATE 1.x's default intersection protocol).

The host owns an RSA key (n, e, d). The guest blinds a full-domain hash of each
id, ``y = H(id) * r^e mod n``; the host signs blindly, ``z = y^d = H(id)^d * r``;
the guest unblinds, ``s = z / r = H(id)^d``, and compares ``G(s)`` with the
host's ``G(H(id')^d)`` for its own ids. The host never sees an id or an
unblinded hash (``r`` is uniform in the units of Z_n), and the guest cannot sign
anything itself. Signing uses the Chinese remainder theorem (about 3-4x faster
than one exponentiation mod n).

H is a full-domain hash: SHA-512 in counter mode expanded to 16 bytes more than
n, reduced mod n (statistically close to uniform). G is SHA-256 of the salted
signature, so the host's published values reveal nothing about ``H(id)^d``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import gmpy2
from cryptography.hazmat.primitives.asymmetric import rsa

from atoll.codec import message
from atoll.crypto.psi._errors import PeerDataError, PSIConfigError

__all__ = ["RSAKey", "RSAPublic", "full_domain_hash", "generate_key", "tag"]

MIN_BITS = 1024  # 1024 for tests only; 2048 is the default
_DOMAIN = b"atoll-psi-rsa-fdh-sha512-v1"


@message(type_id=410)
@dataclasses.dataclass(frozen=True)
class RSAPublic:
    """The host's public key, sent to the guest."""

    n: int
    e: int

    def __post_init__(self) -> None:
        if self.n.bit_length() < MIN_BITS or self.n % 2 == 0:
            raise PSIConfigError(f"RSA modulus of {self.n.bit_length()} bits is not acceptable")
        if self.e < 3 or self.e % 2 == 0 or self.e >= self.n:
            raise PSIConfigError(f"RSA public exponent {self.e} is not acceptable")


@dataclasses.dataclass(frozen=True)
class RSAKey:
    """The host's private key, with its CRT parameters. Never leaves the host."""

    public: RSAPublic
    p: int
    q: int
    d: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "_dp", gmpy2.mpz(self.d % (self.p - 1)))
        object.__setattr__(self, "_dq", gmpy2.mpz(self.d % (self.q - 1)))
        object.__setattr__(self, "_qinv", gmpy2.invert(gmpy2.mpz(self.q), gmpy2.mpz(self.p)))
        object.__setattr__(self, "_pm", gmpy2.mpz(self.p))
        object.__setattr__(self, "_qm", gmpy2.mpz(self.q))

    def sign(self, values: Sequence[int]) -> list[int]:
        """``v^d mod n`` for each value, by CRT: two half-size exponentiations and a recombination."""
        p, q = self._pm, self._qm  # type: ignore[attr-defined]
        dp, dq, qinv = self._dp, self._dq, self._qinv  # type: ignore[attr-defined]
        powmod = gmpy2.powmod
        out = []
        for v in values:
            mp = powmod(v, dp, p)
            mq = powmod(v, dq, q)
            out.append(int(mq + q * ((mp - mq) * qinv % p)))
        return out

    def __repr__(self) -> str:  # never print secrets in logs or tracebacks
        return f"RSAKey(n={self.public.n.bit_length()} bits, private)"


def generate_key(bits: int = 2048) -> RSAKey:
    if bits < MIN_BITS:
        raise PSIConfigError(
            f"RSA key of {bits} bits is too small (at least {MIN_BITS}; 2048 is the default)"
        )
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    nums = key.private_numbers()
    return RSAKey(RSAPublic(nums.public_numbers.n, nums.public_numbers.e), nums.p, nums.q, nums.d)


def full_domain_hash(salt: bytes, key: bytes, n: int) -> int:
    """H(salt, id) in Z_n: SHA-512 in counter mode over ``len(n) + 16`` bytes, mod n."""
    need = (n.bit_length() + 7) // 8 + 16
    seed = _DOMAIN + len(salt).to_bytes(2, "big") + salt + len(key).to_bytes(4, "big") + key
    blocks = []
    for counter in range((need + 63) // 64):
        blocks.append(hashlib.sha512(counter.to_bytes(4, "big") + seed).digest())
    return int.from_bytes(b"".join(blocks)[:need], "big") % n


def tag(salt: bytes, signature: int, nbytes: int) -> bytes:
    """G(s): what the parties compare, SHA-256 of the salted, fixed-width signature."""
    return hashlib.sha256(b"atoll-psi-rsa-tag" + salt + signature.to_bytes(nbytes, "big")).digest()


def check_residues(
    values: object, n: int, *, peer: str, message: str, count: int | None = None
) -> list[int]:
    """A peer's list of values mod n: ints in [1, n), of the expected count."""
    if type(values) is not list:
        raise PeerDataError(
            peer, message, f"expected a list of integers, got {type(values).__name__}"
        )
    if count is not None and len(values) != count:
        raise PeerDataError(peer, message, f"expected {count} values, got {len(values)}")
    for i, v in enumerate(values):
        if type(v) is not int or not 0 < v < n:
            raise PeerDataError(peer, message, f"entry {i} is not an integer in [1, n)")
    return values
