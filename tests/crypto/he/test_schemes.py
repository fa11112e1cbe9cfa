"""Scheme-specific behaviour: keys, errors, pools, owner encryption, OU, plain, wire."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from atoll.codec import CodecError, allow_secrets, decode, encode
from atoll.crypto import he


def test_public_api_is_pinned():
    assert set(he.__all__) == {
        "DEFAULT_FRAC_BITS", "SCHEMES", "CiphertextError", "EncodingOverflowError",
        "EncryptedVector", "EncryptedVectorMessage", "FixedBaseTable", "FixedPointCodec",
        "HEError", "KeyMismatchError", "OUPrivateKey", "OUPublicKey", "Packer",
        "PackingOverflowError", "PaillierPrivateKey", "PaillierPublicKey", "PlainPrivateKey",
        "PlainPublicKey", "PrivateKey", "PublicKey", "RandomSource", "RandomnessPool",
        "SchemeError", "SeededRandom", "SystemRandom", "generate_keypair",
        "generate_ou_keypair", "generate_paillier_keypair", "generate_plain_keypair",
        "multiexp", "multiexp_signed", "private_key_from_message", "private_key_to_message",
        "public_key_from_message", "public_key_to_message", "security_bits",
        "vector_from_message", "vector_to_message",
    }  # fmt: skip
    for name in he.__all__:
        assert hasattr(he, name)


def test_error_tree():
    assert issubclass(he.EncodingOverflowError, he.HEError)
    assert issubclass(he.EncodingOverflowError, OverflowError)
    assert issubclass(he.PackingOverflowError, he.EncodingOverflowError)
    for e in (he.KeyMismatchError, he.SchemeError, he.CiphertextError):
        assert issubclass(e, he.HEError)


def test_key_sizes_and_seeded_keygen_is_deterministic(paillier_keys, ou_keys):
    pk, sk = paillier_keys
    assert pk.n_bits == 1024 and sk.p * sk.q == pk.n
    again, _ = he.generate_keypair("paillier", 1024, rng=he.SeededRandom(1))
    assert again == pk and again.fingerprint == pk.fingerprint
    opk, osk = ou_keys
    assert opk.n_bits == 1024 and osk.p**2 * osk.q == opk.n
    assert "p=" not in repr(sk) and str(int(sk.p)) not in repr(sk)


def test_bad_parameters():
    with pytest.raises(he.SchemeError, match="unknown HE scheme"):
        he.generate_keypair("rsa")
    with pytest.raises(he.SchemeError, match="n_bits"):
        he.generate_keypair("paillier", 512)
    with pytest.raises(he.SchemeError, match="randomizer_bits"):
        he.generate_keypair("paillier", 1024, randomizer_bits=64)


def test_plain_must_be_asked_for_and_says_so(caplog):
    with pytest.raises(he.SchemeError, match="insecure=True"):
        he.generate_keypair("plain")
    with caplog.at_level(logging.WARNING, logger="atoll.crypto.he"):
        pk, _ = he.generate_keypair("plain", 1024, insecure=True)
    assert pk.insecure and "NOTHING IS ENCRYPTED" in caplog.text


def test_ciphertext_out_of_range(paillier_keys):
    pk, sk = paillier_keys
    with pytest.raises(he.CiphertextError):
        sk.decrypt(pk.nsquare + 5)
    with pytest.raises(he.CiphertextError):
        pk.ciphertexts_from_bytes(b"\x00" * 7)


def test_randomness_pool_and_owner_encryption(keys):
    pk, sk = keys
    pool = he.RandomnessPool(pk)
    pool.fill(5)
    assert len(pool) == 5
    cs = pk.encrypt_many([1, 2, 3], pool=pool)
    assert len(pool) == 2
    cs += pk.encrypt_many([4, 5, 6], pool=pool)  # 2 from the pool, 1 computed
    assert len(pool) == 0
    assert sk.decrypt_many(cs) == [1, 2, 3, 4, 5, 6]
    assert sk.decrypt(sk.encrypt(-99)) == -99


def test_ou_decrypts_only_in_range(ou_keys):
    pk, sk = ou_keys
    assert pk.max_int < sk.p // 2
    c = pk.encrypt(-12345)
    assert sk.decrypt(c) == -12345
    assert sk.decrypt(pk.mul(c, -3)) == 37035


def test_wrong_private_key_is_refused(paillier_keys):
    pk, _ = paillier_keys
    _, other_sk = he.generate_keypair("paillier", 1024, rng=he.SeededRandom(99))
    v = he.EncryptedVector.encrypt(pk, np.array([1.0]))
    with pytest.raises(he.KeyMismatchError):
        v.decrypt(other_sk)


def test_wire_roundtrip_and_private_key_refusal(keys):
    pk, sk = keys
    pk2 = he.public_key_from_message(decode(encode(he.public_key_to_message(pk))))
    assert pk2 == pk
    v = he.EncryptedVector.encrypt(pk, np.array([1.25, -3.5, 0.0])).rerandomize()
    blob = encode(he.vector_to_message(v))
    assert len(blob) < len(v) * pk.ciphertext_bytes + 200  # one compact blob
    v2 = he.vector_from_message(decode(blob), pk2)
    assert v2.decrypt(sk).tolist() == [1.25, -3.5, 0.0]
    with pytest.raises(CodecError, match="secret"):
        encode(he.private_key_to_message(sk))
    with allow_secrets():
        exported = encode(he.private_key_to_message(sk))
    sk2 = he.private_key_from_message(decode(exported))
    assert v.decrypt(sk2).tolist() == [1.25, -3.5, 0.0]
    other, _ = he.generate_keypair("paillier", 1024, rng=he.SeededRandom(5))
    with pytest.raises(he.KeyMismatchError):
        he.vector_from_message(decode(blob), other)
