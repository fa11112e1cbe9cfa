"""EncryptedVector against its plaintext twin (numpy), overflow bounds, parallel execution."""

from __future__ import annotations

import os

import numpy as np
import pytest

from atoll.crypto import he
from atoll.crypto.he import parallel as par
from atoll.crypto.he.multiexp import FixedBaseTable, multiexp, multiexp_signed

RNG = np.random.default_rng(0)
TOL = 1e-6


def test_elementwise_ops_match_numpy(keys):
    pk, sk = keys
    x = RNG.normal(size=7) * 100
    y = RNG.normal(size=7)
    vx = he.EncryptedVector.encrypt(pk, x)
    vy = he.EncryptedVector.encrypt(pk, y, frac_bits=20)
    np.testing.assert_allclose((vx + vy).decrypt(sk), x + y, atol=TOL)
    np.testing.assert_allclose((vx - vy).decrypt(sk), x - y, atol=TOL)
    np.testing.assert_allclose((vx + y).decrypt(sk), x + y, atol=TOL)
    np.testing.assert_allclose((2.5 - vx).decrypt(sk), 2.5 - x, atol=TOL)
    np.testing.assert_allclose((-vx).decrypt(sk), -x, atol=0)
    np.testing.assert_allclose((vx * y).decrypt(sk), x * y, atol=1e-4)
    np.testing.assert_allclose((y * vx).decrypt(sk), x * y, atol=1e-4)
    np.testing.assert_allclose(vx.sum().decrypt(sk), [x.sum()], atol=TOL)
    np.testing.assert_allclose((vx @ y).decrypt(sk), [x @ y], atol=1e-4)
    np.testing.assert_allclose(vx[2:5].decrypt(sk), x[2:5], atol=TOL)
    cat = he.EncryptedVector.concat([vx[:2], vy[:2]])
    np.testing.assert_allclose(cat.decrypt(sk), np.r_[x[:2], y[:2]], atol=TOL)


def test_int64_vectors_are_exact(keys):
    pk, sk = keys
    a = np.array([0, 1, -1, 2**62 - 1, -(2**62) + 1], dtype=np.int64)
    v = he.EncryptedVector.encrypt(pk, a)
    out = v.decrypt(sk)
    assert out.dtype == np.int64 and out.tolist() == a.tolist()
    assert (v * np.array([1, 2, 3, 1, 1])).decrypt(sk)[2] == -3


def test_matvec_and_vecmat_match_numpy(keys):
    pk, sk = keys
    n, m = 40, 3
    x = RNG.normal(size=n)
    mat = RNG.normal(size=(m, n))
    v = he.EncryptedVector.encrypt(pk, x)
    np.testing.assert_allclose((mat @ v).decrypt(sk), mat @ x, atol=1e-4)
    np.testing.assert_allclose((v @ mat.T).decrypt(sk), x @ mat.T, atol=1e-4)
    ints = RNG.integers(-1000, 1000, size=(n, m))
    np.testing.assert_array_equal(
        he.EncryptedVector.encrypt(pk, np.arange(n)).vecmat(ints).decrypt(sk), np.arange(n) @ ints
    )


def test_overflow_bound_raises_before_computing(paillier_keys):
    pk, _ = paillier_keys
    big = he.EncryptedVector.encrypt(pk, np.array([2**300, 1], dtype=object), frac_bits=0)
    with pytest.raises(he.EncodingOverflowError, match="max_int"):
        big.mul(np.array([2**800, 1], dtype=object))
    with pytest.raises(he.EncodingOverflowError):
        he.EncryptedVector.encrypt(pk, np.array([np.nan]))
    with pytest.raises(he.EncodingOverflowError):
        he.EncryptedVector.encrypt(pk, np.array([1e300]), frac_bits=1000)
    with pytest.raises(he.HEError, match="length"):
        big + he.EncryptedVector.encrypt(pk, np.array([1.0]))
    with pytest.raises(he.HEError):
        big * big


def test_operands_under_different_keys(paillier_keys, ou_keys):
    a = he.EncryptedVector.encrypt(paillier_keys[0], np.array([1.0]))
    b = he.EncryptedVector.encrypt(ou_keys[0], np.array([1.0]))
    with pytest.raises(he.KeyMismatchError):
        a + b


def test_fixedpoint_codec():
    c = he.FixedPointCodec(frac_bits=8, max_int=2**20)
    assert c.encode(1.5) == 384 and c.encode(-0.00390625) == -1
    assert c.encode(7) == 7
    assert c.decode(384, 8) == 1.5
    with pytest.raises(he.EncodingOverflowError):
        c.encode(2.0**13)
    with pytest.raises(he.EncodingOverflowError):
        c.encode(float("inf"))
    wide = he.FixedPointCodec(frac_bits=200)
    assert wide.encode(0.5) == 2**199
    assert wide.encode_array(np.array([0.5, -0.25])).tolist() == [2**199, -(2**198)]


def test_multiexp_and_fixed_base_against_naive(paillier_keys):
    pk, _ = paillier_keys
    m = pk.nsquare
    bases = [pk.encrypt(i) for i in range(50)]
    exps = [int(e) for e in RNG.integers(-(2**40), 2**40, size=50)]
    naive = 1
    for b, e in zip(bases, exps, strict=True):
        naive = naive * pow(int(b), e, int(m)) % int(m)
    assert multiexp_signed(bases, exps, m) == naive
    assert multiexp_signed(bases, np.array(exps), m, window=5) == naive
    assert multiexp(bases, [abs(e) for e in exps], m) == multiexp_signed(
        bases, [abs(e) for e in exps], m
    )
    with pytest.raises(ValueError):
        multiexp(bases[:1], [-1], m)
    t = FixedBaseTable(pk.hs, m, window=5)
    for e in (0, 1, 31, 32, 2**300 + 12345):
        assert t.pow(e) == pow(int(pk.hs), e, int(m))


@pytest.mark.multiprocess
def test_parallel_matches_serial(paillier_keys):
    pk, sk = paillier_keys
    n = 130
    x = RNG.normal(size=n)
    y = RNG.normal(size=n)
    mat = RNG.normal(size=(n, 3))
    v = he.EncryptedVector.encrypt(pk, x, workers=2)
    np.testing.assert_allclose(v.decrypt(sk, workers=2), x, atol=TOL)
    w = he.EncryptedVector.encrypt(pk, y, private_key=sk, workers=2)
    np.testing.assert_allclose(v.add(w, workers=2).decrypt(sk), x + y, atol=TOL)
    np.testing.assert_allclose(v.mul(y, workers=2).decrypt(sk), x * y, atol=1e-4)
    np.testing.assert_allclose(v.add(y, workers=2).decrypt(sk), x + y, atol=TOL)
    np.testing.assert_allclose(v.sum(workers=2).decrypt(sk), [x.sum()], atol=TOL)
    np.testing.assert_allclose(v.vecmat(mat, workers=2).decrypt(sk), x @ mat, atol=1e-4)
    np.testing.assert_allclose(v.rerandomize(workers=2).decrypt(sk), x, atol=TOL)
    pool = he.RandomnessPool(pk)
    pool.fill(70, workers=2)
    assert sk.decrypt_many(pk.encrypt_many(range(70), pool=pool)) == list(range(70))


def test_results_are_rerandomized_before_they_leave(paillier_keys):
    pk, sk = paillier_keys
    v = he.EncryptedVector.encrypt(pk, np.array([0.0, 1.0]))
    assert v.fresh
    zero = v * np.array([0, 0])  # c^0 = 1: the deterministic encryption of zero
    assert not zero.fresh and zero.data == [1, 1]
    msg = he.vector_to_message(zero)
    sent = he.vector_from_message(msg, pk)
    assert 1 not in sent.data and sent.decrypt(sk).tolist() == [0.0, 0.0]
    raw = he.vector_from_message(he.vector_to_message(zero, rerandomize=False), pk)
    assert raw.data == [1, 1]


def test_large_integers_are_encoded_exactly(paillier_keys):
    pk, sk = paillier_keys
    big = np.array([2**200 + 1, -(2**100) - 3], dtype=object)
    v = he.EncryptedVector.encrypt(pk, big, frac_bits=0)
    assert v.decrypt_integers(sk) == [2**200 + 1, -(2**100) - 3]
    w = he.EncryptedVector.encrypt(pk, np.array([3, -5]), frac_bits=70)
    assert w.decrypt_integers(sk) == [3 << 70, -5 << 70]
    assert w.decrypt(sk).tolist() == [3.0, -5.0]


def test_non_unit_ciphertext_is_refused(paillier_keys):
    _, sk = paillier_keys
    with pytest.raises(he.CiphertextError, match="unit"):
        sk.decrypt(sk.p * 12345)


def _where(i: int, ship: bool) -> tuple[int, bool, int]:
    return i, ship, os.getpid()


@pytest.mark.multiprocess
def test_the_caller_computes_its_share_and_order_is_kept(paillier_keys):
    """run_split: the first chunks go to the pool (shipped), the caller runs the last share
    itself; results come back in chunk order. Results computed here stay objects, those from
    the pool come as blobs, and gather joins both."""
    got = par.run_split(2, _where, 4, lambda i, ship: (i, ship))
    assert [g[0] for g in got] == [0, 1, 2, 3]
    assert [g[1] for g in got] == [True, True, False, False]
    assert {g[2] for g in got[2:]} == {os.getpid()}
    assert os.getpid() not in {g[2] for g in got[:2]}
    assert par.run_split(1, _where, 3, lambda i, ship: (i, ship)) == [
        (i, False, os.getpid()) for i in range(3)
    ]
    pk, _ = paillier_keys
    cs = pk.encrypt_many([5, -6, 7])
    assert par.pack(pk, cs) is cs  # not in a pool process
    assert par.gather(pk, [pk.ciphertexts_to_bytes(cs[:2]), cs[2:]]) == cs
    with pytest.raises(he.CiphertextError):
        par.unpack(pk, b"\x00" * pk.ciphertext_bytes)  # a zero ciphertext, from a blob
