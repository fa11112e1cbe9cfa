"""Exceptions of the homomorphic-encryption layer, in one tree::

    HEError                      base of everything raised on purpose here
    ├── EncodingOverflowError    a value (or a result that could be reached) does not fit the
    │   │                        plaintext space or the declared fixed-point range
    │   └── PackingOverflowError a packed slot could overflow into its neighbour
    ├── KeyMismatchError         operands under different keys, or the wrong private key
    ├── SchemeError              an unknown or unselected scheme, or bad key parameters
    └── CiphertextError          a ciphertext outside its group (corrupt or foreign)

``EncodingOverflowError`` also subclasses :class:`OverflowError` and ``HEError`` also
subclasses :class:`ValueError`, so generic handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "CiphertextError",
    "EncodingOverflowError",
    "HEError",
    "KeyMismatchError",
    "PackingOverflowError",
    "SchemeError",
]


class HEError(ValueError):
    """Base class of every error raised on purpose by :mod:`atoll.crypto.he`."""


class EncodingOverflowError(HEError, OverflowError):
    """A value, or a result an operation could produce, exceeds the plaintext range."""


class PackingOverflowError(EncodingOverflowError):
    """A packed slot could overflow into its neighbour (raised before it can happen)."""


class KeyMismatchError(HEError):
    """Operands were encrypted under different keys, or a private key does not match."""


class SchemeError(HEError):
    """Unknown scheme, a scheme that must be asked for explicitly, or bad key parameters."""


class CiphertextError(HEError):
    """A ciphertext is not an element of its key's ciphertext group."""
