"""Fixed-base exponentiation tables and Pippenger multi-exponentiation over ``Z_M^*``.

Both are what make the HE layer fast in pure Python + gmpy2: the cost of a modular
multiplication of 4096-bit numbers (~6 us) dwarfs the interpreter's overhead, so the aim is
to do as few of them as possible.

:class:`FixedBaseTable` (Brickell-Gordon-McCurley-Wilson) stores ``b^(d * 2^(w*i))`` for every
window ``i`` and digit ``d < 2^w``; ``b^e`` then costs one multiplication per non-zero
``w``-bit digit of ``e`` and no squarings. For a 448-bit exponent and ``w = 8`` that is 56
multiplications instead of ~530 for square-and-multiply. Memory: ``ceil(bits/w) * 2^w``
residues (7.3 MB for a 2048-bit Paillier key), built lazily, one row at a time.

:func:`multiexp` computes ``prod b_i^e_i`` with Pippenger's bucket method: per ``c``-bit window
each base is multiplied into one bucket (one multiplication), and the buckets are combined
with ``2 * 2^c`` multiplications by the running-sum trick. The cost is about
``ceil(bits/c) * (N + 2^(c+1))`` multiplications instead of ``N`` exponentiations (each ~1.5
multiplications per exponent bit plus fixed overhead): for 100,000 bases and 35-bit
exponents about 3 multiplications per base instead of ~50.

Both run their many independent multiplications in batches: :class:`JointFixedBase` walks a
whole batch of exponents (over several bases at once, e.g. ``g^m h^r``) and
:func:`multiexp_columns` fills every window's buckets as rows of products. Where the native
kernel (:mod:`._native`: AVX-512 IFMA, 8 Montgomery products per instruction) is available,
those rows run there, 5-6x faster per multiplication than gmpy2 from Python; elsewhere the
same walks run in gmpy2 with the same results. :func:`powmod_many` (scalar multiplication,
decryption) batches plain exponentiations the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gmpy2
import numpy as np
from gmpy2 import mpz

from . import _native

__all__ = [
    "FixedBaseTable",
    "JointFixedBase",
    "exponent_digits",
    "multiexp",
    "multiexp_columns",
    "multiexp_signed",
    "pippenger_window",
    "powmod_many",
]

_ONE = mpz(1)


class FixedBaseTable:
    """Precomputed powers of one base modulo ``modulus`` for fast ``base ** e``.

    ``window`` bits per digit; rows are computed on first use, so a table sized for large
    exponents costs nothing until large exponents are seen.
    """

    __slots__ = ("_joint", "_rows", "base", "modulus", "window")

    def __init__(self, base: int, modulus: int, window: int = 8) -> None:
        if not 1 <= window <= 16:
            raise ValueError(f"window must be in [1, 16], got {window}")
        self.base = mpz(base) % modulus
        self.modulus = mpz(modulus)
        self.window = window
        self._rows: list[list[mpz]] = []
        self._joint: JointFixedBase | None = None

    def _row(self, i: int) -> list[mpz]:
        rows = self._rows
        m = self.modulus
        while len(rows) <= i:
            if rows:
                prev = rows[-1]
                v = prev[-1] * prev[1] % m  # b^(2^(w*(i-1)) * 2^w)
            else:
                v = self.base
            row = [_ONE, v]
            acc = v
            for _ in range((1 << self.window) - 2):
                acc = acc * v % m
                row.append(acc)
            rows.append(row)
        return rows[i]

    def precompute(self, max_bits: int) -> FixedBaseTable:
        """Build every row needed for exponents below ``2**max_bits`` now."""
        if max_bits > 0:
            self._row((max_bits - 1) // self.window)
        return self

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the table's residues."""
        size = (self.modulus.bit_length() + 7) // 8
        return sum(len(r) for r in self._rows) * size

    def pow(self, e: int) -> mpz:
        """``base ** e mod modulus`` for ``e >= 0``."""
        if e < 0:
            raise ValueError("FixedBaseTable.pow needs a non-negative exponent")
        m = self.modulus
        acc: mpz | None = None
        if self.window == 8:
            nbytes = (int(e).bit_length() + 7) // 8
            rows = self._rows
            if nbytes > len(rows):
                self._row(nbytes - 1)
            for i, d in enumerate(int(e).to_bytes(nbytes, "little")):
                if d:
                    t = rows[i][d]
                    acc = t if acc is None else acc * t % m
        else:
            w = self.window
            mask = (1 << w) - 1
            e = int(e)
            i = 0
            while e:
                d = e & mask
                if d:
                    t = self._row(i)[d]
                    acc = t if acc is None else acc * t % m
                e >>= w
                i += 1
        return _ONE if acc is None else acc

    def pow_many(self, exps: Sequence[int]) -> list[mpz]:
        """``[base ** e for e in exps]`` for ``e >= 0``: one batched table walk."""
        if self._joint is None:
            self._joint = JointFixedBase([self])
        return self._joint.pow_many([exps])


class JointFixedBase:
    """``prod_j base_j ** e_j`` for many exponent tuples over fixed bases sharing a modulus.

    Every table contributes its digits' rows to one walk, so for example an OU encryption
    ``g^m h^r`` is one product of ``|m|/w + |r|/w`` table entries. The digits of a whole
    batch are cut in one numpy pass; the products run in the native AVX-512 IFMA kernel
    (:mod:`._native`, 8 products per instruction, several times faster than gmpy2 from
    Python) when it is available, else in a gmpy2 loop with the same results.
    """

    #: Below this many products the native kernel's set-up costs more than it saves.
    NATIVE_MIN = 16

    def __init__(self, tables: Sequence[FixedBaseTable]) -> None:
        if not tables:
            raise ValueError("JointFixedBase needs at least one table")
        m = tables[0].modulus
        if any(t.modulus != m for t in tables):
            raise ValueError("JointFixedBase tables must share one modulus")
        self.tables = list(tables)
        self.modulus = m
        self._native: Any = None
        self._native_rows: tuple[int, ...] = ()

    def pow_many(self, exps: Sequence[Sequence[int]]) -> list[mpz]:
        """``exps[j][k]`` is table ``j``'s exponent in product ``k`` (all ``>= 0``)."""
        if len(exps) != len(self.tables):
            raise ValueError(f"{len(self.tables)} tables but {len(exps)} exponent lists")
        count = len(exps[0])
        if any(len(e) != count for e in exps):
            raise ValueError("every table needs one exponent per product")
        if count == 0:
            return []
        digits = []
        for t, es in zip(self.tables, exps, strict=True):
            if es and min(es) < 0:
                raise ValueError("JointFixedBase.pow_many needs non-negative exponents")
            top = max(int(e).bit_length() for e in es)
            ndig = max(1, -(-top // t.window))
            t._row(ndig - 1)
            digits.append(exponent_digits(es, t.window, ndig))
        if count >= self.NATIVE_MIN and _native.available():
            return self._native_products(digits)
        rows = [r for t, d in zip(self.tables, digits, strict=True) for r in t._rows[: d.shape[1]]]
        m = self.modulus
        out: list[mpz] = []
        for drow in np.hstack(digits).tolist():
            acc: mpz | None = None
            for row, d in zip(rows, drow, strict=True):
                if d:
                    acc = row[d] if acc is None else acc * row[d] % m
            out.append(_ONE if acc is None else acc)
        return out

    def _native_products(self, digits: list[np.ndarray]) -> list[mpz]:
        built = tuple(len(t._rows) for t in self.tables)
        if self._native is None or self._native_rows != built:
            entries = [v for t in self.tables for row in t._rows for v in row]
            self._native = _native.ModularProductTable(entries, self.modulus)
            self._native_rows = built
        parts = []
        offset = 0
        for t, d, nrows in zip(self.tables, digits, built, strict=True):
            size = 1 << t.window
            idx = d.astype(np.int64) + (offset + size * np.arange(d.shape[1], dtype=np.int64))
            parts.append(np.where(d == 0, -1, idx))
            offset += nrows * size
        result: list[mpz] = self._native.products(np.hstack(parts))
        return result

    def __getstate__(self) -> dict[str, object]:  # the native table stays in its process
        d = dict(self.__dict__)
        d["_native"], d["_native_rows"] = None, ()
        return d


def exponent_digits(exps: Sequence[int], window: int, ndigits: int) -> np.ndarray:
    """The base-``2^window`` digits of non-negative ``exps`` below ``2^(window*ndigits)``,
    least significant first, as a ``(len(exps), ndigits)`` integer array."""
    nbytes = -(-window * ndigits // 8)
    buf = b"".join(int(e).to_bytes(nbytes, "little") for e in exps)
    raw = np.frombuffer(buf, dtype=np.uint8).reshape(len(exps), nbytes)
    if window == 8:
        return raw[:, :ndigits]
    bits = np.unpackbits(raw, axis=1, bitorder="little")[:, : window * ndigits]
    weights = np.left_shift(1, np.arange(window, dtype=np.int64))
    return bits.reshape(len(exps), ndigits, window).astype(np.int64) @ weights


def pippenger_window(n: int, bits: int, sum_weight: float = 1) -> int:
    """The bucket width minimising ``ceil(bits/c) * (n + sum_weight * 2^(c+1))``
    multiplications (``sum_weight``: the cost of a running-sum step over a bucket step)."""
    best_c, best_cost = 1, None
    for c in range(1, 17):
        cost = -(-bits // c) * (n + sum_weight * (2 << c))
        if best_cost is None or cost < best_cost:
            best_c, best_cost = c, cost
    return best_c


def _as_exponent_array(exps: Sequence[int] | np.ndarray) -> np.ndarray:
    a = np.asarray(exps)
    if a.dtype.kind in "iu":
        if a.dtype.kind == "u" or (a.size and int(np.min(a)) <= -(1 << 62)):
            return np.array([int(v) for v in a.ravel().tolist()], dtype=object)
        return a.astype(np.int64).ravel()
    if a.dtype.kind == "O":
        vals = [int(v) for v in a.ravel().tolist()]
        if all(-(1 << 62) < v < (1 << 62) for v in vals):
            return np.array(vals, dtype=np.int64)
        return np.array(vals, dtype=object)
    raise TypeError(f"exponents must be integers, got dtype {a.dtype}")


def _naive(bases: Sequence[mpz], exps: Sequence[int], m: mpz) -> mpz:
    acc = _ONE
    for b, e in zip(bases, exps, strict=True):
        if e:
            acc = acc * gmpy2.powmod(b, e, m) % m
    return acc


def _pippenger(bases: Sequence[mpz], exps: np.ndarray, m: mpz, window: int) -> mpz:
    """Bucket method for non-negative ``exps`` (a numpy array aligned with ``bases``)."""
    n = len(exps)
    if n == 0:
        return _ONE
    bits = int(np.max(exps)).bit_length()
    if bits == 0:
        return _ONE
    c = window or pippenger_window(n, bits)
    # An exponentiation in GMP costs roughly 8 + 1.3 * bits multiplications here; with few
    # bases the bucket bookkeeping does not pay.
    if not window and n * (8 + 1.3 * bits) <= -(-bits // c) * (n + (2 << c)):
        return _naive(bases, [int(e) for e in exps.tolist()], m)
    mask = (1 << c) - 1
    nwin = -(-bits // c)
    acc: mpz | None = None
    for w in range(nwin - 1, -1, -1):
        digits = (exps >> (w * c)) & mask
        idx = np.flatnonzero(digits)
        buckets: list[mpz | None] = [None] * (mask + 1)
        for i, d in zip(idx.tolist(), digits[idx].tolist(), strict=True):
            cur = buckets[d]
            buckets[d] = bases[i] if cur is None else cur * bases[i] % m
        acc = _shift_in(acc, _bucket_sum(buckets, m), c, m)
    return _ONE if acc is None else acc


def _bucket_sum(buckets: Sequence[mpz | None], m: mpz) -> mpz | None:
    """``prod_d buckets[d] ** d`` (``buckets[0]`` unused, ``None`` = empty) by running sums:
    two multiplications per bucket."""
    running: mpz | None = None
    total: mpz | None = None
    for d in range(len(buckets) - 1, 0, -1):
        bd = buckets[d]
        if bd is not None:
            running = bd if running is None else running * bd % m
        if running is not None:
            total = running if total is None else total * running % m
    return total


def _shift_in(acc: mpz | None, total: mpz | None, c: int, m: mpz) -> mpz | None:
    """Horner's step over windows: ``acc ** (2^c) * total``."""
    if acc is None:
        return total
    acc = gmpy2.powmod(acc, 1 << c, m)
    return acc if total is None else acc * total % m


#: Pippenger on the native kernel: bucket products cost ~1/5 of a gmpy2 multiplication from
#: Python, so the Python-side running sums (``2^(c+1)`` per window) weigh this much more.
_NATIVE_SUM_WEIGHT = 4
#: Fewest bases for which the native bucket walk pays for converting them.
NATIVE_MULTIEXP_MIN = 256


def multiexp_columns(bases: Sequence[int], exps: np.ndarray, modulus: int) -> list[mpz]:
    """``[prod_i bases[i] ** exps[i, j] for j in columns]`` for signed exponents: one
    multi-exponentiation per column of the ``(len(bases), m)`` matrix ``exps``.

    With the native kernel the bases are converted once for all columns and every window's
    buckets are filled 8 at a time; else each column is :func:`multiexp_signed`.
    """
    e = np.asarray(exps)
    if e.ndim != 2 or e.shape[0] != len(bases):
        raise ValueError(f"exps must be ({len(bases)}, m), got shape {e.shape}")
    m = mpz(modulus)
    native = (
        len(bases) >= NATIVE_MULTIEXP_MIN
        and e.dtype.kind in "iu"
        and (e.size == 0 or int(np.max(np.abs(e.astype(np.int64)))) < 2**62)
        and _native.available()
    )
    if not native:
        return [multiexp_signed(bases, e[:, j], m) for j in range(e.shape[1])]
    table = _native.ModularProductTable(bases, m)
    e = e.astype(np.int64)
    out = []
    for j in range(e.shape[1]):
        col = e[:, j]
        pos = np.flatnonzero(col > 0)
        neg = np.flatnonzero(col < 0)
        acc = _pippenger_native(table, pos, col[pos], m)
        if len(neg):
            acc = acc * gmpy2.invert(_pippenger_native(table, neg, -col[neg], m), m) % m
        out.append(acc)
    return out


def _pippenger_native(table: Any, idx: np.ndarray, exps: np.ndarray, m: mpz) -> mpz:
    """``prod table[idx[i]] ** exps[i]`` (``exps`` positive int64): every window's buckets
    are rows of native products; the running sums and windows combine here."""
    n = len(idx)
    if n == 0:
        return _ONE
    bits = int(np.max(exps)).bit_length()
    c = pippenger_window(n, bits, _NATIVE_SUM_WEIGHT)
    mask = (1 << c) - 1
    nwin = -(-bits // c)
    members: list[np.ndarray] = []  # window-major, bucket 1..mask within a window
    for w in range(nwin):
        digits = (exps >> (w * c)) & mask
        order = np.argsort(digits, kind="stable")
        counts = np.bincount(digits, minlength=mask + 1)
        ends = np.cumsum(counts)
        sorted_idx = idx[order]
        members.extend(sorted_idx[ends[d - 1] : ends[d]] for d in range(1, mask + 1))
    products = _ragged_products(table, members)
    acc: mpz | None = None
    for w in range(nwin - 1, -1, -1):
        row = range(w * mask, (w + 1) * mask)
        buckets = [None, *(products[i] if len(members[i]) else None for i in row)]
        acc = _shift_in(acc, _bucket_sum(buckets, m), c, m)
    return _ONE if acc is None else acc


def _ragged_products(table: Any, rows: list[np.ndarray], chunk: int = 64) -> list[mpz]:
    """Native products of index lists of different lengths: rows sorted by length and cut
    into chunks, each padded (with the kernel's skip index -1) only to its own longest."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    out: list[mpz] = [_ONE] * len(rows)
    for start in range(0, len(rows), chunk):
        sel = order[start : start + chunk]
        width = int(lengths[sel[0]])
        if width == 0:
            break
        mat = np.full((len(sel), width), -1, dtype=np.int64)
        for k, r in enumerate(sel.tolist()):
            mat[k, : lengths[r]] = rows[r]
        for r, v in zip(sel.tolist(), table.products(mat), strict=True):
            out[r] = v
    return out


#: Fewest exponentiations for which the native kernel's 8-lane groups pay off.
POWMOD_NATIVE_MIN = 8


def powmod_many(bases: Sequence[int], exps: Sequence[int] | np.ndarray, modulus: int) -> list[mpz]:
    """``[b ** e mod modulus]`` for signed exponents (a negative one inverts ``b ** |e|``),
    8 per AVX-512 register on the native kernel when available, else ``gmpy2.powmod``."""
    if len(bases) != len(exps):
        raise ValueError(f"{len(bases)} bases but {len(exps)} exponents")
    m = mpz(modulus)
    es = [int(e) for e in exps]
    if len(es) >= POWMOD_NATIVE_MIN and _native.available():
        out = _native.powmod_many(bases, [abs(e) for e in es], m)
        return [gmpy2.invert(v, m) if e < 0 else v for v, e in zip(out, es, strict=True)]
    return [gmpy2.powmod(b, e, m) for b, e in zip(bases, es, strict=True)]


def multiexp(
    bases: Sequence[int], exps: Sequence[int] | np.ndarray, modulus: int, window: int = 0
) -> mpz:
    """``prod(bases[i] ** exps[i]) mod modulus`` for non-negative exponents (Pippenger).

    ``window`` 0 picks the bucket width from the number of bases and exponent size.
    """
    e = _as_exponent_array(exps)
    if len(e) != len(bases):
        raise ValueError(f"{len(bases)} bases but {len(e)} exponents")
    if len(e) and int(np.min(e)) < 0:
        raise ValueError("multiexp needs non-negative exponents; use multiexp_signed")
    return _pippenger(bases, e, mpz(modulus), window)


def multiexp_signed(
    bases: Sequence[int], exps: Sequence[int] | np.ndarray, modulus: int, window: int = 0
) -> mpz:
    """``prod(bases[i] ** exps[i])`` for exponents of either sign: ``P * N^-1``."""
    e = _as_exponent_array(exps)
    if len(e) != len(bases):
        raise ValueError(f"{len(bases)} bases but {len(e)} exponents")
    m = mpz(modulus)
    neg = np.flatnonzero(e < 0)
    if len(neg) == 0:
        return _pippenger(bases, e, m, window)
    pos = np.flatnonzero(e > 0)
    p = _pippenger([bases[i] for i in pos.tolist()], e[pos], m, window)
    q = _pippenger([bases[i] for i in neg.tolist()], -e[neg], m, window)
    return p * gmpy2.invert(q, m) % m
