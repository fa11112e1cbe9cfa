"""Batched fixed-base walks: the same values as one exponentiation at a time, on whichever
engine runs them (the native AVX-512 kernel where available, else the gmpy2 loop)."""

from __future__ import annotations

import importlib

import gmpy2
import numpy as np
import pytest
from gmpy2 import mpz
from hypothesis import given, settings
from hypothesis import strategies as st

from atoll.crypto import he
from atoll.crypto.he import _native
from atoll.crypto.he.multiexp import FixedBaseTable, JointFixedBase, exponent_digits

multiexp_module = importlib.import_module("atoll.crypto.he.multiexp")

MOD = mpz(2**1279 - 1)  # a prime: every base is a unit
BASES = [mpz(3), mpz(2**1000 + 12345), MOD - 2]


@pytest.fixture(params=["native", "gmpy2"])
def engine(request, monkeypatch):
    """Run the test on both engines (the native one only where it is available)."""
    if request.param == "native":
        if not _native.available():
            pytest.skip(f"native kernel not available here: {_native.reason()}")
        monkeypatch.setattr(JointFixedBase, "NATIVE_MIN", 1)
    else:
        monkeypatch.setattr(_native, "available", lambda: False)
    return request.param


@pytest.mark.parametrize("window", [1, 5, 8, 11, 16])
def test_exponent_digits_rebuild_the_exponent(window):
    rng = np.random.default_rng(window)
    exps = [0, 1, 2**200 - 1] + [int(x) for x in rng.integers(0, 2**62, size=20)]
    ndig = -(-200 // window)
    d = exponent_digits(exps, window, ndig)
    assert d.shape == (len(exps), ndig)
    rebuilt = [sum(int(v) << (window * i) for i, v in enumerate(row)) for row in d.tolist()]
    assert rebuilt == exps


@given(st.lists(st.integers(0, 2**300), min_size=0, max_size=40), st.sampled_from([4, 8, 11]))
@settings(max_examples=25, deadline=None)
def test_pow_many_equals_powmod(exps, window):
    for engine_native in (False, True):
        if engine_native and not _native.available():
            continue
        old = JointFixedBase.NATIVE_MIN
        JointFixedBase.NATIVE_MIN = 1 if engine_native else 10**9
        try:
            t = FixedBaseTable(BASES[1], MOD, window)
            assert t.pow_many(exps) == [gmpy2.powmod(BASES[1], e, MOD) for e in exps]
        finally:
            JointFixedBase.NATIVE_MIN = old


def test_joint_walk_is_the_product_of_powers(engine):
    tables = [FixedBaseTable(b, MOD, w) for b, w in zip(BASES, (8, 6, 11), strict=True)]
    rng = np.random.default_rng(1)
    count = 37
    exps = [[int(x) for x in rng.integers(0, 2**60, size=count)] for _ in tables]
    exps[2][::3] = [0] * len(exps[2][::3])
    exps[0][5] = exps[1][5] = exps[2][5] = 0  # an all-zero row is 1
    exps[1][7] = 2**400 + 1  # grows table 1 after a first walk
    joint = JointFixedBase(tables)
    first = joint.pow_many([e[:10] for e in exps])
    got = joint.pow_many(exps)
    want = []
    for k in range(count):
        acc = mpz(1)
        for b, e in zip(BASES, exps, strict=True):
            acc = acc * gmpy2.powmod(b, e[k], MOD) % MOD
        want.append(acc)
    assert got == want
    assert first == want[:10]
    assert got[5] == 1


def test_joint_walk_refuses_bad_input():
    a = FixedBaseTable(3, MOD)
    with pytest.raises(ValueError, match="share one modulus"):
        JointFixedBase([a, FixedBaseTable(3, MOD - 2)])
    with pytest.raises(ValueError, match="at least one"):
        JointFixedBase([])
    joint = JointFixedBase([a, a])
    with pytest.raises(ValueError, match="2 tables but 1"):
        joint.pow_many([[1]])
    with pytest.raises(ValueError, match="one exponent per product"):
        joint.pow_many([[1, 2], [1]])
    with pytest.raises(ValueError, match="non-negative"):
        joint.pow_many([[1], [-1]])
    assert joint.pow_many([[], []]) == []


def test_batches_draw_the_same_randomness_as_single_calls(keys, engine):
    """Batched randomizers, encryptions and rerandomizations are value-for-value the
    single-element operations under the same seeded randomness."""
    pk, sk = keys
    ms = [0, 1, -1, pk.max_int, -pk.max_int, 2**53, -(2**40) + 3, *range(-20, 20)]
    assert pk.randomizers(len(ms), he.SeededRandom(5)) == [
        pk.randomizer(r) for r in [he.SeededRandom(5)] for _ in ms
    ]
    r1, r2 = he.SeededRandom(6), he.SeededRandom(6)
    batch = pk.encrypt_many(ms, rng=r1)
    assert batch == [pk.encrypt(m, r2) for m in ms]
    assert sk.decrypt_many(batch) == ms
    owner = sk.encrypt_many(ms, rng=he.SeededRandom(7))
    assert sk.decrypt_many(owner) == ms
    fresh = pk.rerandomize_many(batch, he.SeededRandom(8))
    assert sk.decrypt_many(fresh) == ms
    r3 = he.SeededRandom(8)
    assert fresh == [pk.rerandomize(c, r3) for c in batch]
    if not pk.insecure:
        assert all(a != b for a, b in zip(fresh, batch, strict=True))


def test_vector_paths_agree_across_engines(paillier_keys, ou_keys, monkeypatch):
    """Encrypt, pool and rerandomize of a vector decrypt to the input on both engines."""
    x = np.random.default_rng(3).normal(size=50) * 1e3
    for pk, sk in (paillier_keys, ou_keys):
        for native in (True, False):
            if native and not _native.available():
                continue
            monkeypatch.setattr(JointFixedBase, "NATIVE_MIN", 1 if native else 10**9)
            v = he.EncryptedVector.encrypt(pk, x)
            np.testing.assert_allclose(v.decrypt(sk), x, atol=1e-6)
            np.testing.assert_allclose(v.rerandomize().decrypt(sk), x, atol=1e-6)
            pool = he.RandomnessPool(pk)
            pool.fill(20)
            vp = he.EncryptedVector.encrypt(pk, x, pool=pool)
            assert len(pool) == 0
            np.testing.assert_allclose(vp.decrypt(sk), x, atol=1e-6)
            vo = he.EncryptedVector.encrypt(pk, x, private_key=sk)
            np.testing.assert_allclose(vo.decrypt(sk), x, atol=1e-6)


def test_scalar_mul_decrypt_and_matrix_products_agree_across_engines(keys, engine, monkeypatch):
    """mul_many, decrypt_many and dot_columns above the native thresholds give gmpy2's
    exact answers (signed scalars, zero, and exponent columns of both signs)."""
    monkeypatch.setattr(multiexp_module, "NATIVE_MULTIEXP_MIN", 1)
    pk, sk = keys
    rng = np.random.default_rng(11)
    ms = [int(x) for x in rng.integers(-(2**40), 2**40, size=40)]
    cs = pk.encrypt_many(ms)
    ks = [int(x) for x in rng.integers(-(2**20), 2**20, size=40)]
    ks[3] = 0
    prods = pk.mul_many(cs, ks)
    assert prods == [pk.mul(c, k) for c, k in zip(cs, ks, strict=True)]
    assert sk.decrypt_many(prods) == [m * k for m, k in zip(ms, ks, strict=True)]
    assert sk.decrypt_many(cs) == ms
    e = rng.integers(-(2**30), 2**30, size=(40, 3))
    e[:, 2] = np.abs(e[:, 2])
    got = pk.dot_columns(cs, e)
    assert got == [pk.dot(cs, e[:, j]) for j in range(3)]
    want = np.array(ms, dtype=object) @ e.astype(object)
    assert sk.decrypt_many(got) == [int(x) for x in want]
