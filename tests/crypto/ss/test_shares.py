"""Additive secret sharing over Z_2^128: known answers, properties, HE-assisted products."""

from __future__ import annotations

from collections import defaultdict, deque

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from atoll.crypto import he, ss
from atoll.crypto.ss import RING


class Pipe:
    """Both ends of an in-memory channel; sequential calls in one thread suffice."""

    def __init__(self):
        self.queues = defaultdict(deque)

    def end(self, me, peer):
        pipe = self

        class End:
            def put(self, name, obj):
                pipe.queues[(me, peer, str(name))].append(obj)

            def get(self, name):
                return pipe.queues[(peer, me, str(name))].popleft()

        return End()


@pytest.fixture(scope="module")
def paillier():
    return he.generate_keypair("paillier", 1024, rng=he.SeededRandom(11))


PLAIN = he.generate_keypair("plain", 1024, rng=he.SeededRandom(12), insecure=True)


# -- known answers --------------------------------------------------------------------------
def test_encode_decode_known_answers():
    x = np.array([0.0, 1.0, -1.0, 0.5, -2.25, 3e-7])
    enc = ss.encode(x, 20)
    assert enc.tolist()[:5] == [0, 1 << 20, RING - (1 << 20), 1 << 19, RING - (9 << 18)]
    assert enc.tolist()[5] == round(3e-7 * 2**20)  # rounds to 0
    np.testing.assert_array_equal(ss.decode(enc, 20)[:5], x[:5])
    assert ss.to_signed([RING - 5, 7]).tolist() == [-5, 7]
    assert ss.from_signed([-5, 7]).tolist() == [RING - 5, 7]


def test_share_reconstruct_fixed_vector_seeded():
    x = ss.encode([1.5, -3.0, 0.0, 1234.5678])
    a, b = ss.split(x, np.random.default_rng(7))
    a2, b2 = ss.split(x, np.random.default_rng(7))
    assert a.tolist() == a2.tolist() and b.tolist() == b2.tolist()  # seeded: reproducible
    assert ((a + b) % RING).tolist() == x.tolist()
    assert all(0 <= v < RING for v in a.tolist() + b.tolist())
    assert a.tolist() != x.tolist()
    # over a channel
    pipe = Pipe()
    g, h = pipe.end("g", "h"), pipe.end("h", "g")
    mine = ss.share(g, "x", x, np.random.default_rng(3))
    theirs = ss.receive_share(h, "x", 4)
    ss.reconstruct(h, "open", theirs, receive=False)  # h reveals to g only
    opened = ss.reconstruct(g, "open", mine, send=False)
    assert opened.tolist() == x.tolist()
    np.testing.assert_allclose(ss.decode(opened), [1.5, -3.0, 0.0, 1234.5678], atol=2**-20)


def test_truncate_known_answers():
    x = ss.encode([3.0, -3.0, 0.75], 20)  # scale 2^20
    a, b = ss.split(x, np.random.default_rng(1))
    t = (ss.truncate(a, 10, 0) + ss.truncate(b, 10, 1)) % RING
    got = ss.to_signed(t).tolist()
    want = [3 << 10, -(3 << 10), 3 << 8]
    assert all(abs(g - w) <= 1 for g, w in zip(got, want, strict=True))
    with pytest.raises(ValueError, match="party"):
        ss.truncate(a, 3, 2)


def test_ring_matmul_exact():
    rng = np.random.default_rng(0)
    a = rng.integers(-(2**20), 2**20, size=(7, 5))
    v = ss.random_ring(5, rng)
    want = ((a.astype(object) @ v) % RING).tolist()
    assert ss.ring_matmul(a, v).tolist() == want
    big = rng.integers(-(2**40), 2**40, size=(3, 4))  # falls back to object arithmetic
    v4 = ss.random_ring(4, rng)
    assert ss.ring_matmul(big, v4).tolist() == ((big.astype(object) @ v4) % RING).tolist()


def test_from_wire_rejects_bad_payloads():
    with pytest.raises(ValueError, match="expected 2"):
        ss.from_wire([1], 2, "w")
    with pytest.raises(ValueError, match="outside"):
        ss.from_wire([RING], 1, "w")
    with pytest.raises(ValueError, match="list"):
        ss.from_wire(b"x", 1, "w")


# -- properties ------------------------------------------------------------------------------
floats = hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-1e6, 1e6, allow_nan=False))


@given(floats, st.integers(0, 2**32), st.integers(-1000, 1000))
@settings(max_examples=60, deadline=None)
def test_sharing_is_linear(x, seed, k):
    rng = np.random.default_rng(seed)
    y = x[::-1].copy()
    ex, ey = ss.encode(x), ss.encode(y)
    xa, xb = ss.split(ex, rng)
    ya, yb = ss.split(ey, rng)
    sa = (xa + ya) % RING
    sb = (xb + yb) % RING
    assert ((sa + sb) % RING).tolist() == ((ex + ey) % RING).tolist()
    ka, kb = ss.scale(xa, k), ss.scale(xb, k)
    assert ((ka + kb) % RING).tolist() == ss.from_signed(ss.to_signed(ex) * k).tolist()


@given(
    st.lists(st.integers(-(2**90), 2**90), min_size=1, max_size=10),
    st.integers(0, 60),
    st.integers(0, 2**32),
)
@settings(max_examples=80, deadline=None)
def test_truncation_error_at_most_one_ulp(xs, bits, seed):
    # |x| < 2^91: failure probability per element <= 2^(92 - 128) = 2^-36
    x = ss.from_signed(xs)
    a, b = ss.split(x, np.random.default_rng(seed))
    t = ss.to_signed((ss.truncate(a, bits, 0) + ss.truncate(b, bits, 1)) % RING).tolist()
    for got, v in zip(t, xs, strict=True):
        assert 0 <= got - (v >> bits) <= 1


def _he_product(keys, matrix, s_share_peer, transpose, seed=None):
    """Owner holds ``matrix``; the key holder holds ``s_share_peer`` and ``keys``."""
    pk, sk = keys
    pipe = Pipe()
    owner, holder = pipe.end("o", "k"), pipe.end("k", "o")
    ss.send_encrypted_share(holder, "enc", s_share_peer, pk, private_key=sk)
    inner = matrix.shape[0] if transpose else matrix.shape[1]
    enc = ss.receive_encrypted_share(owner, "enc", pk, inner)
    rng = None if seed is None else np.random.default_rng(seed)
    mine = ss.owner_product(owner, "masked", enc, matrix, transpose=transpose, rng=rng)
    count = matrix.shape[1] if transpose else matrix.shape[0]
    theirs = ss.finish_product(holder, "masked", sk, count)
    return mine, theirs


@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.booleans(),
    st.integers(0, 2**32),
)
@settings(max_examples=40, deadline=None)
def test_he_product_equals_numpy(rows, cols, transpose, seed):
    """Plaintext matrix x secret-shared vector == numpy within fixed-point error."""
    rng = np.random.default_rng(seed)
    xf = rng.normal(size=(rows, cols))
    inner = rows if transpose else cols
    v = rng.normal(size=inner) * 10
    xi = np.rint(np.ldexp(xf, 12)).astype(np.int64)  # features at 12 bits
    # v shared: the owner's share stays local, the key holder's goes through HE
    va, vb = ss.split(ss.encode(v, 20), rng)
    mat = xi.T if transpose else xi
    local = ss.ring_matmul(mat, va)
    mine, theirs = _he_product(PLAIN, xi, vb, transpose)
    total = (local + mine + theirs) % RING
    got = ss.decode(total, 32)
    want = (xf.T if transpose else xf) @ v
    # error: features quantised to 2^-13, v to 2^-21
    tol = 2**-13 * np.abs(v).sum() + 2**-21 * np.abs(xf).sum() * 2 + 1e-9
    np.testing.assert_allclose(got, want, atol=tol)


def test_he_product_paillier_exact_and_masked(paillier):
    rng = np.random.default_rng(5)
    x = rng.integers(-(2**12), 2**12, size=(9, 4))
    v = ss.random_ring(4, rng)
    mine, theirs = _he_product(paillier, x, v, False, seed=9)
    assert ((mine + theirs) % RING).tolist() == ((x.astype(object) @ v) % RING).tolist()
    # transposed (gradient shape)
    t = ss.random_ring(9, rng)
    mine, theirs = _he_product(paillier, x, t, True, seed=9)
    assert ((mine + theirs) % RING).tolist() == ((x.T.astype(object) @ t) % RING).tolist()
    # the key holder's share is not the product itself
    assert theirs.tolist() != ((x.T.astype(object) @ t) % RING).tolist()


def test_he_product_checks_lengths(paillier):
    pk, _ = paillier
    pipe = Pipe()
    owner, holder = pipe.end("o", "k"), pipe.end("k", "o")
    ss.send_encrypted_share(holder, "enc", ss.random_ring(3), pk)
    with pytest.raises(ValueError, match="expected 4"):
        ss.receive_encrypted_share(owner, "enc", pk, 4)


def test_packed_product_round_trip(paillier):
    """Several masked values per ciphertext: same shares, fewer ciphertexts."""
    pk, sk = paillier
    rng = np.random.default_rng(8)
    x = rng.integers(-(2**12), 2**12, size=(23, 5))
    v = ss.random_ring(5, rng)
    width = 128 + 13 + 3 + 40 + 2
    slots = ss.slots_per_ciphertext(pk, width)
    assert slots == 5  # 1024-bit key: 1021 usable bits
    pipe = Pipe()
    owner, holder = pipe.end("o", "k"), pipe.end("k", "o")
    ss.send_encrypted_share(holder, "enc", v, pk, private_key=sk)
    enc = ss.receive_encrypted_share(owner, "enc", pk, 5)
    mine = ss.owner_product(owner, "masked", enc, x, pack_bits=width)
    assert pipe.queues[("o", "k", "masked")][0].count == 5  # ceil(23 / 5)
    theirs = ss.finish_product(holder, "masked", sk, 23, pack_bits=width)
    assert ((mine + theirs) % RING).tolist() == ((x.astype(object) @ v) % RING).tolist()
    # a slot too narrow for the mask is refused by the owner
    ss.send_encrypted_share(holder, "enc2", v, pk)
    enc = ss.receive_encrypted_share(owner, "enc2", pk, 5)
    with pytest.raises(ValueError, match="more than the agreed slot"):
        ss.owner_product(owner, "masked2", enc, x, pack_bits=150)


@pytest.mark.parametrize("workers", [1, 2])
def test_fixed_base_matvec_equals_pippenger(paillier, workers):
    pk, sk = paillier
    rng = np.random.default_rng(4)
    x = rng.integers(-(2**13), 2**13, size=(4 * 256 + 3, 3))
    v = he.EncryptedVector.encrypt(pk, np.array([5, -7, 2**100], dtype=object))
    got = ss.fixed_base_matvec(v, x, workers=workers)
    want = x.astype(object) @ np.array([5, -7, 2**100], dtype=object)
    assert got.decrypt_integers(sk) == want.tolist()
    assert got.bound >= max(abs(int(w)) for w in want)
