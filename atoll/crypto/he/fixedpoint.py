"""Fixed-point encoding of floats and integers into the plaintext space.

A real ``x`` is encoded as the integer ``round(x * 2^f)``; ``f`` (``frac_bits``) is the declared
precision: encoded values are exact multiples of ``2^-f`` and the rounding error is at most
``2^-(f+1)``. Integers (``int64`` arrays, Python ints) are encoded exactly with ``f = 0``.
Products of encodings carry ``f1 + f2`` fractional bits; :class:`~.vector.EncryptedVector`
tracks that, and an upper bound on every encoded magnitude, so an operation whose result
could leave the key's range raises :class:`~._errors.EncodingOverflowError` *before* it runs.
Non-finite floats (nan, inf) raise too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import EncodingOverflowError, HEError

__all__ = ["DEFAULT_FRAC_BITS", "EncodedArray", "FixedPointCodec"]

DEFAULT_FRAC_BITS = 32
_I64_SAFE = 1 << 62


@dataclass(frozen=True)
class EncodedArray:
    """Encoded integers (``int64`` when they fit, else an object array of Python ints)."""

    values: np.ndarray
    frac_bits: int
    bound: int  # max |value|

    def tolist(self) -> list[int]:
        return [int(v) for v in self.values.ravel().tolist()]


@dataclass(frozen=True)
class FixedPointCodec:
    """Encode floats with ``frac_bits`` fractional bits, integers exactly.

    ``max_int`` is the largest magnitude allowed (usually the key's ``max_int``); values
    beyond it raise :class:`EncodingOverflowError`.
    """

    frac_bits: int = DEFAULT_FRAC_BITS
    max_int: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.frac_bits <= 1024:
            raise HEError(f"frac_bits must be in [0, 1024], got {self.frac_bits}")

    def _check(self, bound: int) -> None:
        if self.max_int is not None and bound > self.max_int:
            raise EncodingOverflowError(
                f"encoded magnitude of {bound.bit_length()} bits exceeds max_int "
                f"({self.max_int.bit_length()} bits)"
            )

    def encode(self, x: float | int, frac_bits: int | None = None) -> int:
        """The integer encoding of one value: an integer ``x`` exactly (``x << frac_bits``,
        with ``frac_bits`` 0 when None), a float rounded to ``frac_bits`` fractional bits."""
        if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
            v = int(x) << (frac_bits or 0)
        else:
            f = self.frac_bits if frac_bits is None else frac_bits
            xf = float(x)
            if not math.isfinite(xf):
                raise EncodingOverflowError(f"cannot encode non-finite value {xf!r}")
            v = _round_scaled(xf, f)
        self._check(abs(v))
        return v

    def decode(self, m: int, frac_bits: int) -> float:
        """``m * 2^-frac_bits`` as a float (correctly rounded)."""
        return int(m) / (1 << frac_bits) if frac_bits else float(m)

    def encode_array(self, x: Any, frac_bits: int | None = None) -> EncodedArray:
        """Encode an array. Integers (integer dtypes, or object arrays of Python ints) are
        exact: ``v << frac_bits`` with ``frac_bits`` 0 when None. Floats are rounded to
        ``frac_bits`` (default: the codec's) fractional bits."""
        a = np.asarray(x)
        if a.dtype == np.bool_:
            a = a.astype(np.int64)
        shift = frac_bits or 0
        if a.dtype.kind in "iu":
            amax = max(abs(int(a.min())), abs(int(a.max()))) if a.size else 0
            big = (amax << shift) >= _I64_SAFE
            if big:
                items = [int(v) << shift for v in a.ravel().tolist()]
                vals = np.array(items, dtype=object).reshape(a.shape)
                bound = max((abs(v) for v in items), default=0)
            else:
                vals = a.astype(np.int64) << shift
                bound = int(np.max(np.abs(vals))) if a.size else 0
            self._check(bound)
            return EncodedArray(vals, shift, bound)
        if a.dtype.kind == "O":
            items = a.ravel().tolist()
            if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
                items = [v << shift for v in items]
                vals = np.array(items, dtype=object).reshape(a.shape)
                bound = max((abs(v) for v in items), default=0)
                self._check(bound)
                return EncodedArray(vals, shift, bound)
            a = a.astype(np.float64)
        if a.dtype.kind not in "fiu":
            raise HEError(f"cannot encode an array of dtype {a.dtype}")
        f = self.frac_bits if frac_bits is None else frac_bits
        af = a.astype(np.float64)
        if af.size and not np.all(np.isfinite(af)):
            raise EncodingOverflowError("cannot encode nan or inf")
        with np.errstate(over="ignore"):
            scaled = np.rint(np.ldexp(af, f))
        fmax = float(np.max(np.abs(scaled))) if af.size else 0.0
        if not math.isfinite(fmax):
            ints = [_round_scaled(v, f) for v in af.ravel().tolist()]
            vals = np.array(ints, dtype=object).reshape(af.shape)
            bound = max((abs(v) for v in ints), default=0)
        elif fmax < _I64_SAFE:
            vals = scaled.astype(np.int64)
            bound = int(np.max(np.abs(vals))) if af.size else 0
        else:
            vals = np.array([int(v) for v in scaled.ravel().tolist()], dtype=object)
            vals = vals.reshape(af.shape)
            bound = max((abs(int(v)) for v in vals.ravel()), default=0)
        self._check(bound)
        return EncodedArray(vals, f, bound)

    def decode_array(self, ms: list[int], frac_bits: int) -> np.ndarray:
        """Floats from encoded integers (``int64`` when ``frac_bits`` is 0 and they fit)."""
        if frac_bits == 0:
            if all(-_I64_SAFE < m < _I64_SAFE for m in ms):
                return np.array(ms, dtype=np.int64)
            return np.array(ms, dtype=object)
        if all(-(1 << 53) < m < (1 << 53) for m in ms):
            return np.ldexp(np.array(ms, dtype=np.float64), -frac_bits)
        return np.array([self.decode(m, frac_bits) for m in ms], dtype=np.float64)


def _round_scaled(x: float, f: int) -> int:
    """``round(x * 2^f)`` exactly, for any ``f`` (floats are dyadic rationals)."""
    mant, exp = math.frexp(x)  # x = mant * 2^exp, 0.5 <= |mant| < 1
    m53 = int(math.ldexp(mant, 53))  # exact
    e = exp - 53 + f
    if e >= 0:
        return m53 << e
    # round half to even, like np.rint
    q, r = divmod(m53, 1 << -e)
    half = 1 << (-e - 1)
    if r > half or (r == half and q & 1):
        q += 1
    return q
