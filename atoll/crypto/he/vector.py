"""Encrypted vectors: numpy-like operations on many ciphertexts at once.

:class:`EncryptedVector` holds a list of raw ciphertexts (gmpy2 integers: one object each,
~10% over the raw bytes; the wire form is one fixed-width byte blob), the key they are under,
the number of fractional bits of their fixed-point plaintexts, and an upper bound on every
plaintext's magnitude. The bound is what makes overflow an error instead of a wrong answer:
every operation computes the bound of its result first and raises
:class:`~._errors.EncodingOverflowError` if it could exceed the key's ``max_int``.

Plaintext matrix x encrypted vector (``M @ v``) and encrypted vector x plaintext matrix
(``v @ M``, the gradient step of vertical LR) use Pippenger multi-exponentiation per output
(:mod:`.multiexp`), never one scalar multiplication per element. ``workers > 1`` spreads the
expensive operations (encryption, decryption, scalar multiplication, multi-exponentiation,
re-randomisation) over local worker processes (:mod:`.parallel`); additions and sums cost
less than shipping their operands to a worker, so they always run in the calling process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from gmpy2 import mpz

from . import parallel as par
from ._errors import EncodingOverflowError, HEError, KeyMismatchError
from ._rng import RandomSource
from ._scheme import PrivateKey, PublicKey, RandomnessPool
from .fixedpoint import DEFAULT_FRAC_BITS, EncodedArray, FixedPointCodec

T = TypeVar("T")

__all__ = ["EncryptedVector"]

_Plain = Any  # a scalar or array-like of numbers


class EncryptedVector:
    """A 1-D vector of ciphertexts under one public key (see the module docstring)."""

    __slots__ = ("bound", "data", "frac_bits", "fresh", "public_key")

    def __init__(
        self,
        public_key: PublicKey,
        data: list[mpz],
        frac_bits: int,
        bound: int,
        *,
        fresh: bool = False,
    ) -> None:
        self.public_key = public_key
        self.data = data
        self.frac_bits = int(frac_bits)
        self.bound = int(bound)
        #: True while every element carries randomness of its own (just encrypted or
        #: re-randomised); any homomorphic operation clears it, and
        #: :func:`~._wire.vector_to_message` re-randomises vectors that are not fresh.
        self.fresh = fresh
        self._check_bound(self.bound, "construct")

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def encrypt(
        cls,
        public_key: PublicKey,
        values: _Plain,
        *,
        frac_bits: int | None = None,
        rng: RandomSource | None = None,
        pool: RandomnessPool | None = None,
        workers: int = 1,
        private_key: PrivateKey | None = None,
    ) -> EncryptedVector:
        """Encrypt a 1-D array: integer dtypes exactly, floats with ``frac_bits``
        (default 32) fractional bits. ``private_key`` (the owner's) selects the faster CRT
        encryption path where the scheme has one."""
        codec = FixedPointCodec(
            DEFAULT_FRAC_BITS if frac_bits is None else frac_bits, public_key.max_int
        )
        enc = codec.encode_array(np.ravel(np.asarray(values)), frac_bits)
        ms = enc.tolist()
        if private_key is not None:
            private_key.check_key(public_key)
        if workers > 1 and len(ms) >= par.MIN_PARALLEL and pool is None and rng is None:
            fn = par._w_encrypt if private_key is None else par._w_encrypt_owner
            key: Any = public_key if private_key is None else private_key
            bounds = par.chunk_bounds(len(ms), workers * 2)
            args = [(key, ms[a:b]) for a, b in bounds]
            data = par.gather(public_key, par.run_chunks(workers, fn, args))
        elif private_key is not None and pool is None:
            data = private_key.encrypt_many(ms, rng)
        else:
            data = public_key.encrypt_many(ms, rng=rng, pool=pool)
        return cls(public_key, data, enc.frac_bits, enc.bound, fresh=not public_key.insecure)

    @classmethod
    def concat(cls, vectors: Sequence[EncryptedVector]) -> EncryptedVector:
        if not vectors:
            raise HEError("concat needs at least one vector")
        first = vectors[0]
        for v in vectors[1:]:
            first._same_key(v)
        f = max(v.frac_bits for v in vectors)
        parts = [v._rescaled(f) for v in vectors]
        data = [c for p in parts for c in p.data]
        fresh = all(p.fresh for p in parts)
        return cls(first.public_key, data, f, max(p.bound for p in parts), fresh=fresh)

    # -- decryption -----------------------------------------------------------------------
    def decrypt_integers(self, private_key: PrivateKey, workers: int = 1) -> list[int]:
        """The signed encoded integers (``value * 2^frac_bits``)."""
        private_key.check_key(self.public_key)
        if workers > 1 and len(self) >= par.MIN_PARALLEL:
            parts = self._split(workers, par._w_decrypt, lambda a, _: (private_key, a))
            return [m for part in parts for m in part]
        return private_key.decrypt_many(self.data)

    def decrypt(self, private_key: PrivateKey, workers: int = 1) -> np.ndarray:
        """Decoded plaintexts: ``int64`` for integer vectors, ``float64`` otherwise."""
        ms = self.decrypt_integers(private_key, workers)
        return FixedPointCodec(self.frac_bits).decode_array(ms, self.frac_bits)

    # -- container protocol ---------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, idx: int | slice | Sequence[int] | np.ndarray) -> EncryptedVector:
        if isinstance(idx, (int, np.integer)):
            data = [self.data[int(idx)]]
        elif isinstance(idx, slice):
            data = self.data[idx]
        else:
            data = [self.data[int(i)] for i in np.asarray(idx).ravel().tolist()]
        return EncryptedVector(self.public_key, data, self.frac_bits, self.bound, fresh=self.fresh)

    def __repr__(self) -> str:
        return (
            f"EncryptedVector(len={len(self)}, key={self.public_key!r}, "
            f"frac_bits={self.frac_bits}, bound_bits={self.bound.bit_length()})"
        )

    # -- checks ---------------------------------------------------------------------------
    def _check_bound(self, bound: int, op: str) -> None:
        mx = self.public_key.max_int
        if bound > mx:
            raise EncodingOverflowError(
                f"{op}: the result could reach {bound.bit_length()} bits, beyond the key's "
                f"max_int ({mx.bit_length()} bits); use fewer fractional bits, smaller "
                "values or a larger key"
            )

    def _same_key(self, other: EncryptedVector) -> None:
        if other.public_key.fingerprint != self.public_key.fingerprint:
            raise KeyMismatchError(
                f"operands are under different keys: {self.public_key!r} and {other.public_key!r}"
            )

    def _same_len(self, n: int, op: str) -> None:
        if n != len(self):
            raise HEError(f"{op}: length {n} does not match the encrypted vector's {len(self)}")

    def _rescaled(self, frac_bits: int, workers: int = 1) -> EncryptedVector:
        """The same values with more fractional bits (multiplies by ``2^diff``)."""
        diff = frac_bits - self.frac_bits
        if diff == 0:
            return self
        if diff < 0:
            raise HEError("cannot drop fractional bits of ciphertexts")
        k = 1 << diff
        bound = self.bound * k
        self._check_bound(bound, "rescale")
        return EncryptedVector(
            self.public_key, self._map_mul([k] * len(self), workers), frac_bits, bound
        )

    def _encode_plain(self, other: _Plain, frac_bits: int | None) -> EncodedArray:
        codec = FixedPointCodec(
            DEFAULT_FRAC_BITS if frac_bits is None else frac_bits, self.public_key.max_int
        )
        return codec.encode_array(other, frac_bits)

    def _broadcast(self, enc: EncodedArray, op: str) -> list[int]:
        vals = enc.values
        if vals.ndim == 0:
            return [int(vals)] * len(self)
        if vals.ndim != 1:
            raise HEError(f"{op}: expected a scalar or 1-D array, got shape {vals.shape}")
        self._same_len(len(vals), op)
        return enc.tolist()

    # -- elementwise kernels (serial or parallel) -----------------------------------------
    def _split(
        self,
        workers: int,
        fn: Callable[..., T],
        make_args: Callable[[par.Chunk, slice], tuple[Any, ...]],
    ) -> list[T]:
        """``fn`` over contiguous chunks of this vector on ``workers`` processes:
        ``make_args(chunk, rows)`` gets the chunk's ciphertexts (a blob for a pool process,
        the objects for the caller's own share) and its rows."""
        pk = self.public_key
        bounds = par.chunk_bounds(len(self), workers * 2)

        def args(i: int, ship: bool) -> tuple[Any, ...]:
            rows = slice(*bounds[i])
            cs = self.data[rows]
            return make_args(pk.ciphertexts_to_bytes(cs) if ship else cs, rows)

        return par.run_split(workers, fn, len(bounds), args)

    def _map_mul(self, ks: list[int], workers: int) -> list[mpz]:
        pk = self.public_key
        if workers > 1 and len(self) >= par.MIN_PARALLEL:
            parts = self._split(workers, par._w_mul, lambda a, rows: (pk, a, ks[rows]))
            return par.gather(pk, parts)
        return pk.mul_many(self.data, ks)

    # Additions cost one modular multiplication (~2-6 us): shipping a ciphertext to a worker
    # and back costs about as much, so they always run here, whatever ``workers`` says.
    def _map_add_plain(self, ms: list[int], workers: int) -> list[mpz]:
        pk = self.public_key
        return [pk.add_plain(c, m) for c, m in zip(self.data, ms, strict=True)]

    def _map_binary(self, op: str, other: EncryptedVector, workers: int) -> list[mpz]:
        pk = self.public_key
        f = pk.add if op == "add" else pk.sub
        return [f(x, y) for x, y in zip(self.data, other.data, strict=True)]

    # -- arithmetic -----------------------------------------------------------------------
    def add(self, other: EncryptedVector | _Plain, workers: int = 1) -> EncryptedVector:
        """Elementwise ``self + other`` (encrypted or plaintext scalar/array)."""
        if isinstance(other, EncryptedVector):
            return self._add_encrypted(other, "add", workers)
        enc = self._encode_plain(other, self.frac_bits)
        ms = self._broadcast(enc, "add")
        bound = self.bound + enc.bound
        self._check_bound(bound, "add")
        return EncryptedVector(
            self.public_key, self._map_add_plain(ms, workers), self.frac_bits, bound
        )

    def sub(self, other: EncryptedVector | _Plain, workers: int = 1) -> EncryptedVector:
        """Elementwise ``self - other``."""
        if isinstance(other, EncryptedVector):
            return self._add_encrypted(other, "sub", workers)
        enc = self._encode_plain(other, self.frac_bits)
        ms = [-m for m in self._broadcast(enc, "sub")]
        bound = self.bound + enc.bound
        self._check_bound(bound, "sub")
        return EncryptedVector(
            self.public_key, self._map_add_plain(ms, workers), self.frac_bits, bound
        )

    def _add_encrypted(self, other: EncryptedVector, op: str, workers: int) -> EncryptedVector:
        self._same_key(other)
        self._same_len(len(other), op)
        f = max(self.frac_bits, other.frac_bits)
        a, b = self._rescaled(f, workers), other._rescaled(f, workers)
        bound = a.bound + b.bound
        self._check_bound(bound, op)
        return EncryptedVector(self.public_key, a._map_binary(op, b, workers), f, bound)

    def neg(self) -> EncryptedVector:
        pk = self.public_key
        return EncryptedVector(pk, [pk.neg(c) for c in self.data], self.frac_bits, self.bound)

    def mul(
        self, other: _Plain, *, frac_bits: int | None = None, workers: int = 1
    ) -> EncryptedVector:
        """Elementwise product with a plaintext scalar or array (integers exactly, floats
        with ``frac_bits`` fractional bits); the result has ``self.frac_bits + frac_bits``."""
        enc = self._encode_plain(other, frac_bits)
        ks = self._broadcast(enc, "mul")
        bound = self.bound * enc.bound
        self._check_bound(bound, "mul")
        return EncryptedVector(
            self.public_key, self._map_mul(ks, workers), self.frac_bits + enc.frac_bits, bound
        )

    def sum(self, workers: int = 1) -> EncryptedVector:
        """The encrypted sum of all elements, as a length-1 vector."""
        pk = self.public_key
        bound = self.bound * len(self)
        self._check_bound(bound, "sum")
        total = pk.sum(self.data)  # one multiplication per element: cheaper than shipping
        return EncryptedVector(pk, [total], self.frac_bits, bound)

    def dot(
        self, other: _Plain, *, frac_bits: int | None = None, workers: int = 1
    ) -> EncryptedVector:
        """``sum_i self[i] * other[i]`` by multi-exponentiation, as a length-1 vector."""
        a = np.asarray(other)
        if a.ndim != 1:
            raise HEError(f"dot: expected a 1-D plaintext vector, got shape {a.shape}")
        return self.vecmat(a.reshape(-1, 1), frac_bits=frac_bits, workers=workers)

    def vecmat(
        self, matrix: _Plain, *, frac_bits: int | None = None, workers: int = 1
    ) -> EncryptedVector:
        """``self @ matrix`` for a plaintext ``(len(self), m)`` matrix: ``m`` outputs, each
        one Pippenger multi-exponentiation over a column."""
        a = np.asarray(matrix)
        if a.ndim != 2:
            raise HEError(f"vecmat: expected a 2-D plaintext matrix, got shape {a.shape}")
        self._same_len(a.shape[0], "vecmat")
        enc = self._encode_plain(a, frac_bits)
        e = enc.values
        if e.dtype != object:
            # an upper bound on the largest column's L1 norm; float64 sums of non-negative
            # terms err by < N * 2^-53 relatively, far inside the 2^-30 margin
            l1f = float(np.max(np.abs(e.astype(np.float64)).sum(axis=0), initial=0.0))
            l1 = int(l1f * (1 + 2.0**-30)) + 1
        else:
            l1 = max((sum(abs(int(x)) for x in e[:, j]) for j in range(e.shape[1])), default=0)
        bound = self.bound * l1
        self._check_bound(bound, "vecmat")
        pk = self.public_key
        m = e.shape[1]
        if workers > 1 and len(self) >= par.MIN_PARALLEL and m >= workers:
            # whole columns per worker: each multi-exponentiation keeps all N bases, which
            # is where Pippenger is most efficient
            blob = pk.ciphertexts_to_bytes(self.data)
            cols = par.chunk_bounds(m, workers)

            def args(i: int, ship: bool) -> tuple[Any, ...]:
                return (pk, blob if ship else self.data, e[:, slice(*cols[i])])

            out = par.gather(pk, par.run_split(workers, par._w_dots, len(cols), args))
        elif workers > 1 and len(self) >= par.MIN_PARALLEL:
            chunks = self._split(workers, par._w_dots, lambda a, rows: (pk, a, e[rows]))
            parts = [par.gather(pk, [c]) for c in chunks]
            out = [pk.sum(p[j] for p in parts) for j in range(m)]
        else:
            out = pk.dot_columns(self.data, e)
        return EncryptedVector(pk, out, self.frac_bits + enc.frac_bits, bound)

    def matvec(
        self, matrix: _Plain, *, frac_bits: int | None = None, workers: int = 1
    ) -> EncryptedVector:
        """``matrix @ self`` for a plaintext ``(m, len(self))`` matrix."""
        a = np.asarray(matrix)
        if a.ndim != 2:
            raise HEError(f"matvec: expected a 2-D plaintext matrix, got shape {a.shape}")
        return self.vecmat(a.T, frac_bits=frac_bits, workers=workers)

    def rerandomize(self, rng: RandomSource | None = None, workers: int = 1) -> EncryptedVector:
        """Fresh randomness on every element: do this before a vector leaves its computer."""
        pk = self.public_key
        if workers > 1 and len(self) >= par.MIN_PARALLEL and rng is None:
            data = par.gather(pk, self._split(workers, par._w_rerandomize, lambda a, _: (pk, a)))
        else:
            data = pk.rerandomize_many(self.data, rng)
        return EncryptedVector(pk, data, self.frac_bits, self.bound, fresh=not pk.insecure)

    # -- operators ------------------------------------------------------------------------
    def __add__(self, other: EncryptedVector | _Plain) -> EncryptedVector:
        return self.add(other)

    def __radd__(self, other: _Plain) -> EncryptedVector:
        return self.add(other)

    def __sub__(self, other: EncryptedVector | _Plain) -> EncryptedVector:
        return self.sub(other)

    def __rsub__(self, other: _Plain) -> EncryptedVector:
        return self.neg().add(other)

    def __neg__(self) -> EncryptedVector:
        return self.neg()

    def __mul__(self, other: _Plain) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            raise HEError("additive HE cannot multiply two ciphertexts")
        return self.mul(other)

    def __rmul__(self, other: _Plain) -> EncryptedVector:
        return self.mul(other)

    def __matmul__(self, other: _Plain) -> EncryptedVector:
        a = np.asarray(other)
        return self.dot(a) if a.ndim == 1 else self.vecmat(a)

    def __rmatmul__(self, other: _Plain) -> EncryptedVector:
        a = np.asarray(other)
        return self.dot(a) if a.ndim == 1 else self.matvec(a)

    __array_ufunc__ = None  # make numpy defer to our reflected operators
