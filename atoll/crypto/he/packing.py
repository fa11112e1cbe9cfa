"""Ciphertext packing: several small bounded integers in one plaintext.

SecureBoost sends a gradient and a hessian per sample and sums them into histogram bins;
one 2048-bit Paillier plaintext has room for dozens of such values. A :class:`Packer` is
built from what the protocol knows in advance: a bound ``B`` on every value's magnitude and
the largest number of packed ciphertexts that will ever be added together (``max_additions``).
Each value is shifted to ``v + B`` in ``[0, 2B]``; after ``k <= max_additions`` additions a
slot holds at most ``2 B k``, so ``slot_bits = bit_length(2 B max_additions)`` guarantees that
no slot carries into its neighbour. Anything that could break that guarantee raises
:class:`~._errors.PackingOverflowError` *before* it happens: a value beyond ``B`` when packing,
a sum over more than ``max_additions`` ciphertexts, more slots than the key holds.

Only additions of packed ciphertexts are allowed (a plaintext scalar multiplication would
scale every slot and its offset); unpacking needs the number of summands to remove offsets.

Packing *after* summation (:meth:`Packer.compress`): a party holding many encrypted sums
(SecureBoost's histogram bins, each the sum of at most ``max_additions`` values bounded by
``B``) folds ``slots`` of them into one ciphertext by Horner's rule,
``C = (...(c_k * 2^s + c_(k-1)) * 2^s + ...) + c_1`` homomorphically (``s`` squarings per
slot), after adding the offset ``B * max_additions`` to each. The key owner then decrypts
one ciphertext instead of ``slots`` (a 2048-bit Paillier key holds 30+ 60-bit slots), and
the message shrinks by the same factor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._errors import HEError, PackingOverflowError
from ._rng import RandomSource
from ._scheme import PrivateKey, PublicKey
from .vector import EncryptedVector

__all__ = ["Packer"]


@dataclass(frozen=True)
class Packer:
    """Packs ``slots`` signed integers with ``|v| <= value_bound`` per plaintext."""

    value_bound: int
    max_additions: int
    slots: int
    slot_bits: int

    @classmethod
    def for_key(
        cls, public_key: PublicKey, value_bound: int, max_additions: int, slots: int | None = None
    ) -> Packer:
        """The packer for ``public_key`` with as many slots as fit (or exactly ``slots``)."""
        if value_bound < 0 or max_additions < 1:
            raise HEError("value_bound must be >= 0 and max_additions >= 1")
        slot_bits = max(1, (2 * value_bound * max_additions).bit_length())
        capacity = (public_key.max_int.bit_length() - 1) // slot_bits
        if slots is None:
            slots = capacity
        if slots < 1 or slots > capacity:
            raise PackingOverflowError(
                f"{slots} slots of {slot_bits} bits do not fit the key's "
                f"{public_key.max_int.bit_length()}-bit plaintexts (capacity {capacity})"
            )
        return cls(int(value_bound), int(max_additions), int(slots), slot_bits)

    def pack(self, values: Sequence[Sequence[int]] | np.ndarray) -> list[int]:
        """Rows of ``<= slots`` integers -> one plaintext integer per row."""
        b = self.value_bound
        out = []
        for row in values:
            ints = [int(v) for v in row]
            if len(ints) > self.slots:
                raise PackingOverflowError(f"row of {len(ints)} values > {self.slots} slots")
            acc = 0
            for j, v in enumerate(ints):
                if not -b <= v <= b:
                    raise PackingOverflowError(
                        f"value {v} is beyond the packer's bound {b} (slot {j})"
                    )
                acc |= (v + b) << (j * self.slot_bits)
            out.append(acc)
        return out

    def check_additions(self, count: int) -> None:
        if count > self.max_additions:
            raise PackingOverflowError(
                f"summing {count} packed ciphertexts could overflow slots sized for "
                f"{self.max_additions} additions"
            )

    def unpack(
        self, packed: Sequence[int], additions: int = 1, width: int | None = None
    ) -> list[list[int]]:
        """Plaintexts that are sums of ``additions`` packed rows -> rows of ``width`` ints."""
        self.check_additions(additions)
        width = self.slots if width is None else width
        mask = (1 << self.slot_bits) - 1
        off = self.value_bound * additions
        rows = []
        for m in packed:
            m = int(m)
            if m < 0:
                raise PackingOverflowError("packed plaintext is negative: not a packed sum")
            rows.append([((m >> (j * self.slot_bits)) & mask) - off for j in range(width)])
        return rows

    # -- encrypted helpers ----------------------------------------------------------------
    def encrypt(
        self,
        public_key: PublicKey,
        values: Sequence[Sequence[int]] | np.ndarray,
        rng: RandomSource | None = None,
        workers: int = 1,
    ) -> EncryptedVector:
        """One ciphertext per row of ``values`` (an ``(n, <= slots)`` integer array)."""
        packed = self.pack(values)
        arr = np.array(packed, dtype=object)
        return EncryptedVector.encrypt(public_key, arr, frac_bits=0, rng=rng, workers=workers)

    def sum(self, vector: EncryptedVector, additions_so_far: int = 1) -> EncryptedVector:
        """The sum of a packed vector's elements, checked against ``max_additions``."""
        self.check_additions(len(vector) * additions_so_far)
        return vector.sum()

    def compress(self, vector: EncryptedVector) -> EncryptedVector:
        """Fold encrypted sums (each of ``<= max_additions`` values with ``|v| <= value_bound``,
        as declared to this packer) into ``ceil(len / slots)`` ciphertexts."""
        pk = vector.public_key
        if vector.bound > self.value_bound * self.max_additions:
            raise PackingOverflowError(
                f"vector's bound ({vector.bound.bit_length()} bits) exceeds what the slots hold "
                f"({(self.value_bound * self.max_additions).bit_length()} bits)"
            )
        off = self.value_bound * self.max_additions
        shift = 1 << self.slot_bits
        out = []
        data = vector.data
        for start in range(0, len(data), self.slots):
            group = data[start : start + self.slots]
            acc = pk.add_plain(group[-1], off)
            for c in reversed(group[:-1]):
                acc = pk.add(pk.mul(acc, shift), pk.add_plain(c, off))
            out.append(acc)
        bound = (1 << (self.slot_bits * self.slots)) - 1
        return EncryptedVector(pk, out, vector.frac_bits, min(bound, pk.max_int))

    def decompress(self, private_key: PrivateKey, packed: EncryptedVector, count: int) -> list[int]:
        """The ``count`` signed sums folded by :meth:`compress` (encoded integers)."""
        mask = (1 << self.slot_bits) - 1
        off = self.value_bound * self.max_additions
        out: list[int] = []
        for m in packed.decrypt_integers(private_key):
            if m < 0:
                raise PackingOverflowError("compressed plaintext is negative: not a packed sum")
            for _ in range(self.slots):
                if len(out) == count:
                    break
                out.append((m & mask) - off)
                m >>= self.slot_bits
        if len(out) != count:
            raise PackingOverflowError(f"{count} values requested, {len(out)} packed")
        return out

    def decrypt(
        self,
        private_key: PrivateKey,
        vector: EncryptedVector,
        additions: int = 1,
        width: int | None = None,
    ) -> np.ndarray:
        rows = self.unpack(vector.decrypt_integers(private_key), additions, width)
        return np.array(rows, dtype=object if self.slot_bits > 62 else np.int64)
