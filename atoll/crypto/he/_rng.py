"""Randomness sources.

Every function that needs randomness takes an optional ``rng``. The default is
:class:`SystemRandom` (the operating system's CSPRNG through :mod:`secrets`). Tests and
known-answer vectors inject :class:`SeededRandom`, which is predictable and must never be
used for real keys or ciphertexts.
"""

from __future__ import annotations

import random
import secrets
from typing import Protocol, runtime_checkable

__all__ = ["RandomSource", "SeededRandom", "SystemRandom", "default_rng"]


@runtime_checkable
class RandomSource(Protocol):
    """What the HE layer needs from a random source."""

    def randbits(self, k: int) -> int:
        """A uniform integer in ``[0, 2**k)``."""
        ...

    def randbelow(self, n: int) -> int:
        """A uniform integer in ``[0, n)``."""
        ...


class SystemRandom:
    """Cryptographically secure randomness from the operating system."""

    def randbits(self, k: int) -> int:
        return secrets.randbits(k)

    def randbelow(self, n: int) -> int:
        return secrets.randbelow(n)


class SeededRandom:
    """Deterministic randomness for tests and known-answer vectors. NOT secure."""

    def __init__(self, seed: int) -> None:
        self._r = random.Random(seed)

    def randbits(self, k: int) -> int:
        return self._r.getrandbits(k) if k > 0 else 0

    def randbelow(self, n: int) -> int:
        return self._r.randrange(n)


_SYSTEM = SystemRandom()


def default_rng(rng: RandomSource | None) -> RandomSource:
    """``rng`` itself, or the shared secure source when it is ``None``."""
    return _SYSTEM if rng is None else rng
