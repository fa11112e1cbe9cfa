"""Known answers and algebraic laws of the PSI building blocks."""

from __future__ import annotations

import hashlib

import gmpy2
import pytest
import rbcl
from hypothesis import given, settings
from hypothesis import strategies as st

from atoll.codec import CodecError, decode
from atoll.crypto.psi import _ristretto as group
from atoll.crypto.psi import _rsa
from atoll.crypto.psi._errors import PeerDataError, PSIConfigError
from atoll.crypto.psi._ids import canonical, prepare_ids

# RFC 9496, appendix A.1 (multiples of the generator) and A.3 (hash to group of SHA-512 digests)
SMALL_MULTIPLES = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76",
    "6a493210f7499cd17fecb510ae0cea23a110e8d5b901f8acadd3095c73a3b919",
    "94741f5d5d52755ece4f23f044ee27d5d1ea1e2bd196b462166b16152a9d0259",
]
HASH_TO_GROUP = [
    (
        "Ristretto is traditionally a short shot of espresso coffee",
        "3066f82a1a747d45120d1740f14358531a8f04bbffe6a819f86dfe50f44a0a46",
    ),
    (
        "made with the normal amount of ground coffee but extracted with",
        "f26e5b6f7d362d2d2a94c5d0e7602cb4773c95a2e5c31a64f133189fa76ed61b",
    ),
    (
        "about half the amount of water in the same amount of time",
        "006ccd2a9e6867e6a2c5cea83d3302cc9de128dd2a9a57dd8ee7b9d7ffe02826",
    ),
    ("by using a finer grind.", "f8f0c87cf237953c5890aec3998169005dae3eca1fbb04548c635953c817f92a"),
    (
        "This produces a concentrated shot of coffee per volume.",
        "ae81e7dedf20a497e10c304a765c1767a42d6e06029758d2d7e8ef7cc4c41179",
    ),
    (
        "Just pulling a normal shot short will produce a weaker shot",
        "e2705652ff9f5e44d3e841bf1c251cf7dddb77d140870d1ab2ed64f1a9ce8628",
    ),
    (
        "and is not a Ristretto as some believe.",
        "80bd07262511cdde4863f8a7434cef696750681cb9510eea557088f76d9e5065",
    ),
]


@pytest.mark.parametrize(("k", "expected"), list(enumerate(SMALL_MULTIPLES))[1:])
def test_rfc9496_generator_multiples(k, expected):
    assert rbcl.crypto_scalarmult_ristretto255_base(k.to_bytes(32, "little")).hex() == expected


@pytest.mark.parametrize(("label", "expected"), HASH_TO_GROUP)
def test_rfc9496_hash_to_group(label, expected):
    digest = hashlib.sha512(label.encode()).digest()
    assert rbcl.crypto_core_ristretto255_from_hash(digest).hex() == expected
    # our hash-to-points with scalar 1 is from_hash of a domain-separated digest
    one = (1).to_bytes(32, "little")
    assert len(group.hash_to_points(b"salt", [label.encode()], one)) == 32


def test_textbook_rsa_vector_and_crt():
    # p=61, q=53: n=3233, e=17, d=2753; m=65 signs to 2790 (the classic worked example)
    key = _rsa.RSAKey.__new__(_rsa.RSAKey)
    object.__setattr__(key, "public", object())
    for name, value in {"p": 61, "q": 53, "d": 2753}.items():
        object.__setattr__(key, name, value)
    _rsa.RSAKey.__post_init__(key)
    assert pow(65, 17, 3233) == 2790
    assert key.sign([2790, 65]) == [65, pow(65, 2753, 3233)]  # CRT signing equals m^d mod n


@pytest.fixture(scope="module")
def rsa_key():
    return _rsa.generate_key(1024)


@given(st.integers(min_value=2, max_value=2**1000))
@settings(max_examples=30, deadline=None)
def test_blind_signature_unblinds_to_the_plain_signature(rsa_key, m):
    n, e = rsa_key.public.n, rsa_key.public.e
    m %= n
    r = 0x1234567 + m  # a unit with overwhelming probability
    assert gmpy2.gcd(r, n) == 1
    blinded = m * pow(r, e, n) % n
    (signed,) = rsa_key.sign([blinded])
    assert signed * pow(r, -1, n) % n == pow(m, rsa_key.d, n) == rsa_key.sign([m])[0]
    assert pow(rsa_key.sign([m])[0], e, n) == m


@given(st.binary(min_size=1, max_size=40), st.binary(min_size=16, max_size=32))
@settings(max_examples=25, deadline=None)
def test_blinding_commutes(key, salt):
    a, b = group.random_scalar(), group.random_scalar()
    ab = group.blind_blob(group.hash_to_points(salt, [key], a), b, peer="p", message="m")
    ba = group.blind_blob(group.hash_to_points(salt, [key], b), a, peer="p", message="m")
    assert ab == ba
    assert group.hash_to_points(salt, [key], a) != group.hash_to_points(salt + b"x", [key], a)


def test_full_domain_hash_is_in_range_and_salted(rsa_key):
    n = rsa_key.public.n
    values = {_rsa.full_domain_hash(b"s" * 16, str(i).encode(), n) for i in range(200)}
    assert len(values) == 200 and all(0 <= v < n for v in values)
    assert _rsa.full_domain_hash(b"s" * 16, b"1", n) != _rsa.full_domain_hash(b"t" * 16, b"1", n)


def test_invalid_points_from_a_peer_are_refused():
    good = group.hash_to_points(b"salt" * 4, [b"x"], group.random_scalar())
    with pytest.raises(PeerDataError, match=r"entry 1 is not a valid ristretto255 point"):
        group.blind_blob(good + b"\x01" * 32, group.random_scalar(), peer="host 10000", message="m")
    with pytest.raises(PeerDataError, match="whole number of points"):
        group.blind_blob(good + b"\x00", group.random_scalar(), peer="host 10000", message="m")
    with pytest.raises(PeerDataError, match="expected bytes"):
        group.split_blob([good], peer="host 10000", message="m")


def test_rsa_values_out_of_range_are_refused(rsa_key):
    n = rsa_key.public.n
    with pytest.raises(PeerDataError, match="entry 1 is not an integer"):
        _rsa.check_residues([5, n], n, peer="guest 9999", message="psi_rsa_blinded")
    with pytest.raises(PeerDataError, match="expected 3 values"):
        _rsa.check_residues([5], n, peer="guest 9999", message="m", count=3)


def test_rsa_key_size_and_public_key_checks():
    with pytest.raises(PSIConfigError, match="too small"):
        _rsa.generate_key(512)
    with pytest.raises(CodecError, match="not acceptable"):
        decode(_bad_public_key_bytes())


def _bad_public_key_bytes() -> bytes:
    # a public key message with a tiny modulus, as a hostile peer could send it
    import struct

    import msgpack

    body = msgpack.packb(msgpack.ExtType(6, msgpack.packb([410, [3233, 17]])))
    return struct.pack("<3sBIQ", b"ATL", 1, 0, len(body)) + body


def test_ids_are_canonical_and_deduplicated():
    assert canonical(42) == canonical("42") == b"42"
    assert canonical("é") == "é".encode()
    for bad in (1.5, None, b"x", True):
        with pytest.raises(PSIConfigError, match="strings or integers"):
            canonical(bad)
    ids = prepare_ids(["a", "b", "a", 1, "1", "c"])
    assert ids.ids == ["a", "b", 1, "c"] and ids.duplicates == 2
