"""Homomorphic laws (hypothesis) for every scheme, the contract every backend must meet."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoll.crypto import he

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def ints(pk, frac=4):
    """Signed values up to a quarter of the key's range (room for sums), with the edges."""
    lim = pk.max_int // frac
    return st.one_of(
        st.integers(-lim, lim),
        st.sampled_from([0, 1, -1, lim, -lim]),
        st.integers(-(2**64), 2**64),
    )


@given(data=st.data())
@SETTINGS
def test_add(keys, data):
    pk, sk = keys
    a, b = data.draw(ints(pk)), data.draw(ints(pk))
    assert sk.decrypt(pk.add(pk.encrypt(a), pk.encrypt(b))) == a + b
    assert sk.decrypt(pk.add_plain(pk.encrypt(a), b)) == a + b
    assert sk.decrypt(pk.sub(pk.encrypt(a), pk.encrypt(b))) == a - b


@given(data=st.data())
@SETTINGS
def test_scalar_mul_and_neg(keys, data):
    pk, sk = keys
    a = data.draw(st.integers(-(2**100), 2**100))
    k = data.draw(st.one_of(st.integers(-(2**64), 2**64), st.sampled_from([0, 1, -1])))
    c = pk.encrypt(a)
    assert sk.decrypt(pk.mul(c, k)) == a * k
    assert sk.decrypt(pk.neg(c)) == -a
    assert sk.decrypt(pk.add(c, pk.neg(c))) == 0


@given(data=st.data())
@SETTINGS
def test_extremes_roundtrip_and_rerandomize(keys, data):
    pk, sk = keys
    m = data.draw(st.sampled_from([pk.max_int, -pk.max_int, 0]))
    c = pk.encrypt(m)
    c2 = pk.rerandomize(c)
    assert sk.decrypt(c) == sk.decrypt(c2) == m
    if not pk.insecure:
        assert c != c2


@given(vals=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=12), data=st.data())
@SETTINGS
def test_dot_is_multiexp(keys, vals, data):
    pk, sk = keys
    ks = data.draw(st.lists(st.integers(-(2**30), 2**30), min_size=len(vals), max_size=len(vals)))
    cs = [pk.encrypt(v) for v in vals]
    assert sk.decrypt(pk.dot(cs, ks)) == sum(v * k for v, k in zip(vals, ks, strict=True))
    assert sk.decrypt(pk.sum(cs)) == sum(vals)


@given(
    rows=st.lists(
        st.lists(st.integers(-1000, 1000), min_size=3, max_size=3), min_size=1, max_size=6
    )
)
@SETTINGS
def test_packing_roundtrip_and_sums(keys, rows):
    pk, sk = keys
    packer = he.Packer.for_key(pk, value_bound=1000, max_additions=8)
    assert packer.slots >= 3
    v = packer.encrypt(pk, rows)
    assert packer.decrypt(sk, v, width=3).tolist() == rows
    total = packer.sum(v)
    expect = [sum(col) for col in zip(*rows, strict=True)]
    assert packer.decrypt(sk, total, additions=len(rows), width=3).tolist() == [expect]


def test_overflow_is_an_error_not_a_wrong_answer(keys):
    pk, sk = keys
    with pytest.raises(he.EncodingOverflowError):
        pk.encrypt(pk.max_int + 1)
    c = pk.encrypt(pk.max_int)
    with pytest.raises(he.EncodingOverflowError):
        sk.decrypt(pk.add(c, c))


def test_packing_overflow_raises_before_it_happens(paillier_keys):
    pk, _ = paillier_keys
    packer = he.Packer.for_key(pk, value_bound=100, max_additions=4)
    with pytest.raises(he.PackingOverflowError):
        packer.pack([[101]])
    with pytest.raises(he.PackingOverflowError):
        packer.check_additions(5)
    v = packer.encrypt(pk, [[1]] * 5)
    with pytest.raises(he.PackingOverflowError):
        packer.sum(v)
    with pytest.raises(he.PackingOverflowError):
        he.Packer.for_key(pk, value_bound=100, max_additions=4, slots=10_000)


@given(
    sums=st.lists(st.integers(-4000, 4000), min_size=1, max_size=40),
)
@SETTINGS
def test_compress_after_summation(keys, sums):
    pk, sk = keys
    packer = he.Packer.for_key(pk, value_bound=1000, max_additions=4)
    v = he.EncryptedVector(pk, [pk.encrypt(s) for s in sums], 0, 4000)
    packed = packer.compress(v)
    assert len(packed) == -(-len(sums) // packer.slots)
    assert packer.decompress(sk, packed, len(sums)) == sums


def test_compress_refuses_vectors_beyond_its_slots(paillier_keys):
    pk, _ = paillier_keys
    packer = he.Packer.for_key(pk, value_bound=10, max_additions=2)
    v = he.EncryptedVector(pk, [pk.encrypt(1)], 0, 21)
    with pytest.raises(he.PackingOverflowError):
        packer.compress(v)
