"""Two-party additive secret sharing over ``Z_{2^128}`` with fixed-point values.

**Ring and encoding.** A shared value lives in the ring ``Z_Q`` with ``Q = 2^128``
(:data:`RING_BITS`). A real ``x`` is encoded as ``round(x * 2^f) mod Q``; residues at or
above ``Q / 2`` stand for negative numbers. ``f`` is the fixed-point scale (default
:data:`FRAC_BITS` = 20 fractional bits, i.e. a resolution of ``~1e-6``). A secret ``x``
is held as two shares ``x0 + x1 = x (mod Q)``; each share alone is uniformly random and
says nothing about ``x``. Vectors are numpy object arrays of Python ints in ``[0, Q)``:
every element-wise operation on 100,000 of them costs milliseconds, which is nothing next
to the homomorphic encryption they travel with.

**Linear operations** (addition of shares, addition of a public constant by one party,
multiplication by a public integer) are local. The product of two fixed-point values has
``2f`` fractional bits and must be truncated back.

**Truncation (SecureML, Mohassel and Zhang, S&P 2017, Theorem 1).** Each party shifts
its own share, no communication: party 0 takes ``floor(x0 / 2^k)``, party 1 takes
``Q - floor((Q - x1) / 2^k)``. If ``|x| < 2^l_x`` the result reconstructs to
``floor(x / 2^k)`` or that plus one (an error of at most one unit in the last place),
except with probability at most ``2^(l_x + 1 - 128)``, when it is off by about ``Q / 2^k``
(a wrong answer, not an error). Callers keep ``l_x`` far below 128 (the logistic
regression in :mod:`atoll.ml.sshe_lr` stays below ``2^90``: failure probability
``< 2^-37`` per truncated element, ``< 2^-60`` in the usual case).

**HE-assisted product** (:func:`send_encrypted_share`, :func:`receive_encrypted_share`,
:func:`owner_product`, :func:`finish_product`): party A holds a plaintext integer matrix
``M``, party B holds a share vector ``s`` and a Paillier (or OU) key pair. B sends ``[[s]]``
under its own key; A computes ``[[M s]]`` or ``[[M^T s]]`` with multi-exponentiations,
never one scalar multiplication per element: ``M^T s`` (few outputs over many
ciphertexts) by Pippenger (:meth:`~atoll.crypto.he.EncryptedVector.vecmat`), ``M s`` (many
rows over the same few ciphertexts) by fixed-base tables (:func:`fixed_base_matvec`, or
Pippenger per row via ``matvec`` for small inputs). A adds a mask ``m = 2^B + u`` with ``u``
uniform on ``[0, 2^(B + 40))`` and ``|M s| < 2^B`` (from the ciphertexts' tracked bounds),
keeps ``-m mod Q`` as its share and sends ``[[M s + m]]`` back, re-randomised, optionally
packing several masked values into one ciphertext (``pack_bits`` apart, agreed by both:
fewer re-randomisations, decryptions and bytes). B decrypts and reduces modulo ``Q``. B's
plaintexts are statistically hidden (distance ``<= 2^-40`` per value); A sees only
ciphertexts under B's key. The result is exact modulo ``Q`` (no fixed-point error of its
own).

A *channel* is anything with ``put(name, obj)`` and ``get(name)`` towards the one peer,
e.g. a :class:`~atoll.federation.PartyHandle`. Ring vectors cross it as plain lists of
ints (the codec packs them at fixed width).
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

import gmpy2
import numpy as np

from atoll.crypto.he import (
    EncryptedVector,
    FixedBaseTable,
    PrivateKey,
    PublicKey,
    vector_from_message,
    vector_to_message,
)
from atoll.crypto.he import parallel as par
from atoll.crypto.he.multiexp import JointFixedBase

__all__ = [
    "FRAC_BITS",
    "RING",
    "RING_BITS",
    "STAT_BITS",
    "Channel",
    "decode",
    "encode",
    "finish_product",
    "fixed_base_matvec",
    "from_signed",
    "from_wire",
    "owner_product",
    "random_mask",
    "random_ring",
    "receive_encrypted_share",
    "receive_share",
    "reconstruct",
    "ring_matmul",
    "scale",
    "send_encrypted_share",
    "share",
    "slots_per_ciphertext",
    "split",
    "to_signed",
    "to_wire",
    "truncate",
]

RING_BITS = 128
RING = 1 << RING_BITS
_HALF = RING >> 1
FRAC_BITS = 20
#: statistical security of the masks in the HE-assisted product
STAT_BITS = 40


class Channel(Protocol):
    """The peer: ``put`` sends it a message, ``get`` receives one (e.g. a PartyHandle)."""

    def put(self, name: Any, obj: object) -> None: ...

    def get(self, name: Any) -> Any: ...


def _obj(values: Any) -> np.ndarray:
    a = np.asarray(values, dtype=object)
    return a.reshape(-1) if a.ndim != 1 else a


def random_ring(n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``n`` uniform elements of ``Z_Q``: from the OS's CSPRNG, or from ``rng`` (tests only)."""
    raw = rng.bytes(16 * n) if rng is not None else secrets.token_bytes(16 * n)
    limbs = np.frombuffer(raw, dtype="<u8").reshape(n, 2)
    lo = limbs[:, 0].astype(object)
    hi = limbs[:, 1].astype(object)
    return _obj((hi << 64) | lo) if n else np.zeros(0, dtype=object)


def encode(x: Any, frac_bits: int = FRAC_BITS) -> np.ndarray:
    """``round(x * 2^frac_bits) mod Q`` for a float array (1-D object array of ints)."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise ValueError("cannot encode nan or inf into the ring")
    scaled = np.rint(np.ldexp(a, frac_bits))
    if a.size and float(np.max(np.abs(scaled))) >= 2.0 ** (RING_BITS - 2):
        raise ValueError(f"value too large for the {RING_BITS}-bit ring at scale 2^{frac_bits}")
    if a.size and float(np.max(np.abs(scaled))) < 2.0**62:
        ints = scaled.astype(np.int64).astype(object)
    else:
        ints = np.array([int(v) for v in scaled.tolist()], dtype=object)
    return _obj(ints % RING)


def to_signed(v: Any) -> np.ndarray:
    """Signed representatives in ``[-Q/2, Q/2)`` (object array of ints)."""
    a = _obj(v) % RING
    return _obj(np.where(a >= _HALF, a - RING, a))


def from_signed(v: Any) -> np.ndarray:
    """Integers of either sign into the ring (``v mod Q``)."""
    return _obj(_obj(v) % RING)


def decode(v: Any, frac_bits: int = FRAC_BITS) -> np.ndarray:
    """Floats ``signed(v) / 2^frac_bits``."""
    s = to_signed(v)
    return np.array([int(x) / (1 << frac_bits) for x in s.tolist()], dtype=np.float64)


def split(x: Any, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two shares of the ring vector ``x``: ``(x - r, r)`` with ``r`` uniform."""
    a = _obj(x)
    r = random_ring(len(a), rng)
    return _obj((a - r) % RING), r


def scale(v: Any, k: Any) -> np.ndarray:
    """``v * k mod Q`` for a public integer (or integer array) ``k``; local on each share."""
    kk = np.asarray(k, dtype=object) if not isinstance(k, int) else k
    return _obj((_obj(v) * kk) % RING)


def truncate(share_: Any, bits: int, party: int) -> np.ndarray:
    """SecureML local truncation of one share by ``2^bits`` (``party`` 0 or 1); see the
    module docstring for the error (one ulp, or with probability ``<= 2^(l_x+1-128)`` a
    wrong result)."""
    if bits < 0:
        raise ValueError(f"truncate: bits must be >= 0, got {bits}")
    a = _obj(share_) % RING
    if bits == 0:
        return a
    if party == 0:
        return _obj(a >> bits)
    if party == 1:
        return _obj((RING - ((RING - a) % RING >> bits)) % RING)
    raise ValueError(f"truncate: party must be 0 or 1, got {party}")


def ring_matmul(a: np.ndarray, v: Any) -> np.ndarray:
    """``a @ v mod Q`` for a plaintext int64 matrix ``a`` (m x k) and a ring vector ``v``.

    Exact: ``v`` is cut into limbs narrow enough that every partial product sums exactly
    in float64 (BLAS), and the limbs are recombined with Python integers.
    """
    a = np.asarray(a)
    if a.ndim != 2 or a.dtype.kind not in "iu":
        raise ValueError(f"ring_matmul: expected a 2-D integer matrix, got {a.dtype} {a.shape}")
    vv = _obj(v) % RING
    m, k = a.shape
    if len(vv) != k:
        raise ValueError(f"ring_matmul: matrix has {k} columns, vector has {len(vv)} elements")
    if m == 0:
        return np.zeros(0, dtype=object)
    if k == 0:
        return _obj(np.zeros(m, dtype=np.int64).astype(object))
    amax = int(np.max(np.abs(a)))
    limb = 52 - amax.bit_length() - int(k).bit_length()
    if limb < 4:
        return _obj((a.astype(object) @ vv) % RING)
    limb = min(limb, 30)
    nl = -(-RING_BITS // limb)
    mask = (1 << limb) - 1
    limbs = np.empty((k, nl), dtype=np.float64)
    for j in range(nl):
        limbs[:, j] = ((vv >> (limb * j)) & mask).astype(np.float64)
    p = np.rint(a.astype(np.float64) @ limbs).astype(np.int64)
    acc = p[:, 0].astype(object)
    for j in range(1, nl):
        acc = acc + (p[:, j].astype(object) << (limb * j))
    return _obj(acc % RING)


# -- over a channel ------------------------------------------------------------------------
def to_wire(v: Any) -> list[int]:
    return [int(x) for x in (_obj(v) % RING).tolist()]


def from_wire(payload: Any, count: int | None, what: str) -> np.ndarray:
    """A ring vector from a peer's list of ints, checked for type, length and range."""
    if not isinstance(payload, list):
        raise ValueError(f"{what}: expected a list of ring elements, got {type(payload).__name__}")
    if count is not None and len(payload) != count:
        raise ValueError(f"{what}: expected {count} ring elements, got {len(payload)}")
    for x in payload:
        if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x < RING:
            raise ValueError(f"{what}: element outside Z_(2^{RING_BITS})")
    return _obj(np.array(payload, dtype=object)) if payload else np.zeros(0, dtype=object)


def share(ch: Channel, name: Any, x: Any, rng: np.random.Generator | None = None) -> np.ndarray:
    """Split the ring vector ``x``, send one share to the peer, return the other."""
    mine, theirs = split(x, rng)
    ch.put(name, to_wire(theirs))
    return mine


def receive_share(ch: Channel, name: Any, count: int | None = None) -> np.ndarray:
    """The share a peer sent with :func:`share`."""
    return from_wire(ch.get(name), count, f"share {name}")


def reconstruct(
    ch: Channel, name: Any, mine: Any, *, send: bool = True, receive: bool = True
) -> np.ndarray | None:
    """Open a shared vector: send my share (``send``) and/or add the peer's (``receive``).

    ``send=True, receive=False`` reveals the value to the peer only;
    ``send=False, receive=True`` reveals it to me only. Returns the ring value or None.
    """
    m = _obj(mine) % RING
    if send:
        ch.put(name, to_wire(m))
    if not receive:
        return None
    theirs = from_wire(ch.get(name), len(m), f"share {name}")
    return _obj((m + theirs) % RING)


# -- HE-assisted product: plaintext matrix (owner) x secret-shared vector -----------------
def send_encrypted_share(
    ch: Channel,
    name: Any,
    share_: Any,
    public_key: PublicKey,
    *,
    private_key: PrivateKey | None = None,
    workers: int = 1,
) -> None:
    """Key holder, step 1: send ``[[share]]`` under its own key."""
    enc = EncryptedVector.encrypt(
        public_key, _obj(share_) % RING, workers=workers, private_key=private_key
    )
    ch.put(name, vector_to_message(enc, workers=workers))


def receive_encrypted_share(
    ch: Channel, name: Any, peer_key: PublicKey, count: int
) -> EncryptedVector:
    """Matrix owner, step 1: the key holder's ``[[s]]`` (checked: length, integer, in Z_Q)."""
    enc = vector_from_message(ch.get(name), peer_key)
    if len(enc) != count:
        raise ValueError(f"{name}: the peer sent {len(enc)} ciphertexts, expected {count}")
    if enc.frac_bits != 0 or enc.bound >= RING:
        raise ValueError(f"{name}: the peer's vector is not a ring share")
    return enc


def owner_product(
    ch: Channel,
    masked_name: Any,
    enc: EncryptedVector,
    matrix: np.ndarray,
    *,
    transpose: bool = False,
    workers: int = 1,
    rng: np.random.Generator | None = None,
    pack_bits: int | None = None,
) -> np.ndarray:
    """Matrix owner, step 2: send back ``[[M s + m]]`` (``M^T s`` with ``transpose``) and
    return ``-m mod Q``, my share of ``M s``.

    The mask ``m`` is ``2^B`` plus a uniform value on ``[0, 2^(B + 40))``, where
    ``|M s| < 2^B``: every masked value lies in ``[0, 2^(B + 41))`` and is statistically
    hidden (distance ``<= 2^-40``). ``B`` comes from the ciphertexts' tracked bounds, or,
    with ``pack_bits``, from the agreed slot width (``B = pack_bits - 41``), so that the
    mask's size says nothing about ``M``.
    ``pack_bits`` (agreed with the key holder, see :func:`slots_per_ciphertext`) packs
    several masked values into one ciphertext, ``pack_bits`` bits apart: fewer
    re-randomisations, decryptions and bytes. ``rng`` (tests only) seeds the mask.
    """
    m = np.asarray(matrix)
    if m.ndim != 2 or m.dtype.kind not in "iu":
        raise ValueError(f"owner_product: expected a 2-D integer matrix, got {m.dtype} {m.shape}")
    inner = m.shape[0] if transpose else m.shape[1]
    if len(enc) != inner:
        raise ValueError(
            f"owner_product {masked_name}: {len(enc)} ciphertexts, the matrix needs {inner}"
        )
    if transpose:
        prod = enc.vecmat(m, workers=workers)
    else:
        prod = fixed_base_matvec(enc, m, workers=workers)
    b = int(prod.bound).bit_length()
    if pack_bits is not None:
        if b + STAT_BITS + 1 > pack_bits:
            raise ValueError(
                f"owner_product {masked_name}: masked values need {b + STAT_BITS + 1} bits, "
                f"more than the agreed slot of {pack_bits}"
            )
        # a mask sized by the agreed slot, not by the data: its size reveals nothing
        b = pack_bits - STAT_BITS - 1
    mask = random_mask(len(prod), b + STAT_BITS, rng) + (1 << b)
    masked = prod.add(mask) if len(prod) else prod
    if pack_bits is not None:
        masked = _pack(masked, pack_bits, slots_per_ciphertext(enc.public_key, pack_bits), workers)
    ch.put(masked_name, vector_to_message(masked, workers=workers))
    return _obj((-mask) % RING) if len(mask) else np.zeros(0, dtype=object)


def slots_per_ciphertext(public_key: PublicKey, pack_bits: int) -> int:
    """How many ``pack_bits``-bit values one ciphertext under ``public_key`` holds."""
    k = (int(public_key.max_int).bit_length() - 1) // pack_bits
    if k < 1:
        raise ValueError(f"a {pack_bits}-bit slot does not fit the key's plaintext space")
    return k


def _pack(v: EncryptedVector, width: int, slots: int, workers: int) -> EncryptedVector:
    """Horner packing: ciphertext ``g`` holds ``sum_j v[g * slots + j] 2^(j width)``."""
    pk = v.public_key
    n = len(v)
    groups = -(-n // slots)
    zero = pk.encrypt_deterministic(0)
    data = list(v.data) + [zero] * (groups * slots - n)
    cols = [EncryptedVector(pk, data[j::slots], v.frac_bits, v.bound) for j in range(slots)]
    acc = cols[-1]
    for j in range(slots - 2, -1, -1):
        acc = acc.mul(1 << width, workers=workers).add(cols[j])
    return acc


def random_mask(count: int, bits: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``count`` integers uniform on ``[0, 2^bits)`` (CSPRNG unless ``rng``, for tests)."""
    nbytes = -(-bits // 8)
    drop = nbytes * 8 - bits
    if rng is None:
        vals = [secrets.randbits(bits) for _ in range(count)]
    else:
        vals = [int.from_bytes(rng.bytes(nbytes), "little") >> drop for _ in range(count)]
    return np.array(vals, dtype=object) if count else np.zeros(0, dtype=object)


def finish_product(
    ch: Channel,
    masked_name: Any,
    private_key: PrivateKey,
    count: int,
    *,
    workers: int = 1,
    pack_bits: int | None = None,
) -> np.ndarray:
    """Key holder, step 2: decrypt ``M s + m`` (unpacking with the agreed ``pack_bits``);
    my share of ``M s`` is that modulo ``Q``."""
    enc = vector_from_message(ch.get(masked_name), private_key.public_key)
    slots = 1 if pack_bits is None else slots_per_ciphertext(private_key.public_key, pack_bits)
    expect = -(-count // slots)
    if len(enc) != expect or enc.frac_bits != 0:
        raise ValueError(
            f"finish_product {masked_name}: expected {expect} integer ciphertexts, got {len(enc)}"
        )
    vals = np.array(enc.decrypt_integers(private_key, workers=workers), dtype=object)
    if pack_bits is not None and len(vals):
        if any(v < 0 or v >> (slots * pack_bits) for v in vals.tolist()):
            raise ValueError(f"finish_product {masked_name}: a packed value is out of range")
        lim = (1 << pack_bits) - 1
        parts = np.stack([(vals >> (j * pack_bits)) & lim for j in range(slots)], axis=1)
        vals = parts.reshape(-1)[:count]
    return _obj(vals % RING) if count else np.zeros(0, dtype=object)


# -- fixed-base products: many rows x the same few ciphertexts -----------------------------
#: digit width of the fixed-base tables (2^8 residues per base and window)
FIXED_BASE_WINDOW = 8


def fixed_base_matvec(
    enc: EncryptedVector, matrix: np.ndarray, *, workers: int = 1
) -> EncryptedVector:
    """``matrix @ enc`` for an int matrix with many rows: every row multiplies the same
    ``len(enc)`` ciphertexts, so each ciphertext gets a table of its powers
    ``c^(d 2^(8 k))`` (:class:`~atoll.crypto.he.FixedBaseTable`, built once per worker) and
    an element costs one multiplication per non-zero 8-bit digit of its (offset,
    non-negative) exponent: 2 for exponents below 2^16, against ~5 (300 bases) to ~15 (30
    bases) for a per-row Pippenger. Exponents are offset by ``o`` to be non-negative and every output is
    multiplied by ``(prod c_j)^-o`` once. Falls back to Pippenger
    (:meth:`~atoll.crypto.he.EncryptedVector.matvec`) for few rows or the plain scheme."""
    m = np.asarray(matrix)
    pk = enc.public_key
    rows, cols = m.shape
    if pk.insecure or rows < 4 * (1 << FIXED_BASE_WINDOW) or cols == 0:
        return enc.matvec(m, workers=workers)
    if m.dtype.kind not in "iu" or int(np.max(np.abs(m))) >= 1 << 40:
        return enc.matvec(m, workers=workers)
    a = m.astype(np.int64)
    l1 = int(np.max(np.abs(a).sum(axis=1)))
    bound = enc.bound * l1
    enc._check_bound(bound, "fixed_base_matvec")
    bits = int(np.max(np.abs(a))).bit_length() + 1
    offset = 1 << (bits - 1)
    e = a + offset  # in [0, 2^bits)
    e = e.astype(np.uint16 if bits <= 16 else np.uint32 if bits <= 32 else np.int64)
    if workers > 1 and rows >= par.MIN_PARALLEL:
        bounds = par.chunk_bounds(rows, workers * 2)
        blob = pk.ciphertexts_to_bytes(enc.data)

        def args(i: int, ship: bool) -> tuple[Any, ...]:
            s, t = bounds[i]
            return (pk, blob if ship else enc.data, e[s:t], offset, bits)

        data = par.gather(pk, par.run_split(workers, _w_fixed_base, len(bounds), args))
    else:
        data = par.gather(pk, [_w_fixed_base(pk, enc.data, e, offset, bits)])
    return EncryptedVector(pk, data, enc.frac_bits, bound)


def _w_fixed_base(pk: PublicKey, a: par.Chunk, e: np.ndarray, offset: int, bits: int) -> par.Chunk:
    """Worker: one output per row of the non-negative exponent matrix ``e`` (see above), all
    rows as one joint fixed-base walk over the bases' tables (native kernel if available)."""
    bases = par.unpack(pk, a)
    mod = pk.modulus
    tables = [FixedBaseTable(b, mod, FIXED_BASE_WINDOW).precompute(bits) for b in bases]
    corr = gmpy2.powmod(gmpy2.invert(pk.sum(bases), mod), offset, mod)
    prods = JointFixedBase(tables).pow_many([e[:, j].tolist() for j in range(e.shape[1])])
    return par.pack(pk, [corr * p % mod for p in prods])
