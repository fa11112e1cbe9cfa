"""Wire forms of keys and encrypted vectors: registered codec messages (type ids 300-399).

Public keys and encrypted vectors may cross between parties; private keys are registered
with ``secret=True``, so :func:`atoll.codec.encode` refuses them unless their owner exports
them on purpose inside ``atoll.codec.allow_secrets()``. An encrypted vector travels as one
fixed-width little-endian blob plus the fingerprint of its key; the receiver resolves the
key it already holds and the fingerprints must match (:class:`KeyMismatchError` otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from atoll.codec import message

from ._errors import KeyMismatchError, SchemeError
from ._scheme import PrivateKey, PublicKey
from .ou import OUPrivateKey, OUPublicKey
from .paillier import PaillierPrivateKey, PaillierPublicKey
from .plain import PlainPrivateKey, PlainPublicKey
from .vector import EncryptedVector

__all__ = [
    "EncryptedVectorMessage",
    "OUPrivateKeyMessage",
    "OUPublicKeyMessage",
    "PaillierPrivateKeyMessage",
    "PaillierPublicKeyMessage",
    "PlainPrivateKeyMessage",
    "PlainPublicKeyMessage",
    "private_key_from_message",
    "private_key_to_message",
    "public_key_from_message",
    "public_key_to_message",
    "vector_from_message",
    "vector_to_message",
]


@message(type_id=300)
@dataclass(frozen=True)
class PaillierPublicKeyMessage:
    n: int
    hs: int
    randomizer_bits: int


@message(type_id=301, secret=True)
@dataclass(frozen=True)
class PaillierPrivateKeyMessage:
    public_key: PaillierPublicKeyMessage
    p: int
    q: int


@message(type_id=302)
@dataclass(frozen=True)
class OUPublicKeyMessage:
    n: int
    g: int
    h: int
    p_bits: int
    randomizer_bits: int


@message(type_id=303, secret=True)
@dataclass(frozen=True)
class OUPrivateKeyMessage:
    public_key: OUPublicKeyMessage
    p: int
    q: int
    t: int


@message(type_id=304)
@dataclass(frozen=True)
class PlainPublicKeyMessage:
    n_bits: int
    key_id: int


@message(type_id=305, secret=True)
@dataclass(frozen=True)
class PlainPrivateKeyMessage:
    public_key: PlainPublicKeyMessage


@message(type_id=310)
@dataclass(frozen=True)
class EncryptedVectorMessage:
    key_fingerprint: bytes
    count: int
    frac_bits: int
    bound: int
    ciphertexts: bytes


PublicKeyMessage = PaillierPublicKeyMessage | OUPublicKeyMessage | PlainPublicKeyMessage
PrivateKeyMessage = PaillierPrivateKeyMessage | OUPrivateKeyMessage | PlainPrivateKeyMessage


def public_key_to_message(pk: PublicKey) -> PublicKeyMessage:
    if isinstance(pk, PaillierPublicKey):
        return PaillierPublicKeyMessage(int(pk.n), int(pk.hs), pk.randomizer_bits)
    if isinstance(pk, OUPublicKey):
        return OUPublicKeyMessage(int(pk.n), int(pk.g), int(pk.h), pk.p_bits, pk.randomizer_bits)
    if isinstance(pk, PlainPublicKey):
        return PlainPublicKeyMessage(pk.n_bits, pk.key_id)
    raise SchemeError(f"no wire form for {type(pk).__name__}")


def public_key_from_message(msg: PublicKeyMessage) -> PublicKey:
    if isinstance(msg, PaillierPublicKeyMessage):
        return PaillierPublicKey(msg.n, msg.hs, msg.randomizer_bits)
    if isinstance(msg, OUPublicKeyMessage):
        return OUPublicKey(msg.n, msg.g, msg.h, msg.p_bits, msg.randomizer_bits)
    if isinstance(msg, PlainPublicKeyMessage):
        return PlainPublicKey(msg.n_bits, msg.key_id)
    raise SchemeError(f"not a public key message: {type(msg).__name__}")


def private_key_to_message(sk: PrivateKey) -> PrivateKeyMessage:
    """The secret wire form; ``encode`` accepts it only inside ``allow_secrets()``."""
    if isinstance(sk, PaillierPrivateKey):
        pm = public_key_to_message(sk.public_key)
        assert isinstance(pm, PaillierPublicKeyMessage)
        return PaillierPrivateKeyMessage(pm, int(sk.p), int(sk.q))
    if isinstance(sk, OUPrivateKey):
        om = public_key_to_message(sk.public_key)
        assert isinstance(om, OUPublicKeyMessage)
        return OUPrivateKeyMessage(om, int(sk.p), int(sk.q), int(sk.t))
    if isinstance(sk, PlainPrivateKey):
        lm = public_key_to_message(sk.public_key)
        assert isinstance(lm, PlainPublicKeyMessage)
        return PlainPrivateKeyMessage(lm)
    raise SchemeError(f"no wire form for {type(sk).__name__}")


def private_key_from_message(msg: PrivateKeyMessage) -> PrivateKey:
    if isinstance(msg, PaillierPrivateKeyMessage):
        ppk = PaillierPublicKey(msg.public_key.n, msg.public_key.hs, msg.public_key.randomizer_bits)
        return PaillierPrivateKey(ppk, msg.p, msg.q)
    if isinstance(msg, OUPrivateKeyMessage):
        o = msg.public_key
        return OUPrivateKey(
            OUPublicKey(o.n, o.g, o.h, o.p_bits, o.randomizer_bits), msg.p, msg.q, msg.t
        )
    if isinstance(msg, PlainPrivateKeyMessage):
        return PlainPrivateKey(PlainPublicKey(msg.public_key.n_bits, msg.public_key.key_id))
    raise SchemeError(f"not a private key message: {type(msg).__name__}")


def vector_to_message(
    v: EncryptedVector, *, rerandomize: bool = True, workers: int = 1
) -> EncryptedVectorMessage:
    """Wire form of ``v``. A vector that is the result of homomorphic operations is
    re-randomised first (its ciphertexts could otherwise be related to ones the receiver
    has seen, e.g. to test guesses of the plaintext factors); ``rerandomize=False`` skips
    that, for a sender who knows the receiver learns nothing from it."""
    if rerandomize and not v.fresh:
        v = v.rerandomize(workers=workers)
    pk = v.public_key
    return EncryptedVectorMessage(
        pk.fingerprint, len(v), v.frac_bits, v.bound, pk.ciphertexts_to_bytes(v.data)
    )


def vector_from_message(msg: EncryptedVectorMessage, public_key: PublicKey) -> EncryptedVector:
    """The vector in ``msg``, which must be under ``public_key``."""
    if msg.key_fingerprint != public_key.fingerprint:
        raise KeyMismatchError(
            f"encrypted vector is under key {msg.key_fingerprint.hex()[:12]}, not {public_key!r}"
        )
    data = public_key.ciphertexts_from_bytes(msg.ciphertexts, msg.count)
    return EncryptedVector(public_key, data, msg.frac_bits, msg.bound)
