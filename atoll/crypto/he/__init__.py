"""Additively homomorphic encryption for Atoll's vertical algorithms.

Schemes (one API, :class:`PublicKey` / :class:`PrivateKey`):

- ``paillier`` (default): DJN fixed-base short-exponent encryption, CRT decryption,
  optional :class:`RandomnessPool`, CRT owner encryption. See :mod:`.paillier`.
- ``ou``: Okamoto-Uchiyama, 3-4x cheaper per operation; chosen-ciphertext weakness
  documented in :mod:`.ou`.
- ``plain``: no encryption, for debugging; needs ``insecure=True`` and logs a warning.

On top: :class:`FixedPointCodec` (floats with declared precision, exact integers, overflow
errors), :class:`EncryptedVector` (elementwise ops, sum, dot, ``M @ v`` and ``v @ M`` by
Pippenger multi-exponentiation, ``workers`` for process parallelism), :class:`Packer`
(several bounded values per ciphertext).

Speed: the hot loops (fixed-base encryption walks, Pippenger buckets, batched
exponentiations) run in an optional native kernel (:mod:`._native`, AVX-512 IFMA, built
with the system C compiler on first use and cached per user) where the CPU and a compiler
allow, else in gmpy2; results are identical. ``ATOLL_NATIVE=0`` turns it off.

Wire: keys and vectors convert to registered codec messages (:mod:`._wire`); private keys
are secret messages the codec refuses to encode outside ``allow_secrets()``.

Example (the gradient step of vertical logistic regression)::

    pk, sk = generate_keypair("paillier", 2048)            # guest
    d = EncryptedVector.encrypt(pk, residuals, workers=2)   # guest -> host
    g = d.vecmat(features, workers=2)                       # host: [[d]] @ X, Pippenger
    msg = vector_to_message(g)                              # re-randomised, compact blob
    grad = vector_from_message(msg, pk).decrypt(sk)         # guest
"""

from __future__ import annotations

from ._errors import (
    CiphertextError,
    EncodingOverflowError,
    HEError,
    KeyMismatchError,
    PackingOverflowError,
    SchemeError,
)
from ._rng import RandomSource, SeededRandom, SystemRandom
from ._scheme import PrivateKey, PublicKey, RandomnessPool, security_bits
from ._wire import (
    EncryptedVectorMessage,
    private_key_from_message,
    private_key_to_message,
    public_key_from_message,
    public_key_to_message,
    vector_from_message,
    vector_to_message,
)
from .fixedpoint import DEFAULT_FRAC_BITS, FixedPointCodec
from .multiexp import FixedBaseTable, multiexp, multiexp_signed
from .ou import OUPrivateKey, OUPublicKey, generate_ou_keypair
from .packing import Packer
from .paillier import PaillierPrivateKey, PaillierPublicKey, generate_paillier_keypair
from .plain import PlainPrivateKey, PlainPublicKey, generate_plain_keypair
from .vector import EncryptedVector

__all__ = [
    "DEFAULT_FRAC_BITS",
    "SCHEMES",
    "CiphertextError",
    "EncodingOverflowError",
    "EncryptedVector",
    "EncryptedVectorMessage",
    "FixedBaseTable",
    "FixedPointCodec",
    "HEError",
    "KeyMismatchError",
    "OUPrivateKey",
    "OUPublicKey",
    "Packer",
    "PackingOverflowError",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "PlainPrivateKey",
    "PlainPublicKey",
    "PrivateKey",
    "PublicKey",
    "RandomSource",
    "RandomnessPool",
    "SchemeError",
    "SeededRandom",
    "SystemRandom",
    "generate_keypair",
    "generate_ou_keypair",
    "generate_paillier_keypair",
    "generate_plain_keypair",
    "multiexp",
    "multiexp_signed",
    "private_key_from_message",
    "private_key_to_message",
    "public_key_from_message",
    "public_key_to_message",
    "security_bits",
    "vector_from_message",
    "vector_to_message",
]

SCHEMES = ("paillier", "ou", "plain")


def generate_keypair(
    scheme: str = "paillier",
    n_bits: int = 2048,
    *,
    rng: RandomSource | None = None,
    insecure: bool = False,
    randomizer_bits: int | None = None,
    window: int = 8,
) -> tuple[PublicKey, PrivateKey]:
    """A key pair for ``scheme``. ``plain`` (no encryption) needs ``insecure=True``."""
    if scheme == "paillier":
        return generate_paillier_keypair(
            n_bits, rng, randomizer_bits=randomizer_bits, window=window
        )
    if scheme == "ou":
        return generate_ou_keypair(n_bits, rng, randomizer_bits=randomizer_bits, window=window)
    if scheme == "plain":
        if not insecure:
            raise SchemeError(
                "scheme 'plain' does no encryption; pass insecure=True to select it explicitly"
            )
        return generate_plain_keypair(n_bits, rng)
    raise SchemeError(f"unknown HE scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
