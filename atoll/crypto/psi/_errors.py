"""Errors of the PSI protocols.

::

    PSIError                      base of everything raised here
    ├── PSIConfigError            bad parameters: mode, key size, protocol mismatch between parties
    └── PeerDataError             a peer sent something malformed: names the peer, message, index
"""

from __future__ import annotations

__all__ = ["PSIConfigError", "PSIError", "PeerDataError"]


class PSIError(Exception):
    """Base class of PSI errors."""


class PSIConfigError(PSIError, ValueError):
    """Parameters that cannot work: an unknown mode, a key too small, parties that disagree."""


class PeerDataError(PSIError):
    """A peer's message is malformed (wrong length, not a group element, out of range)."""

    def __init__(self, peer: str, message: str, problem: str) -> None:
        super().__init__(f"malformed {message!r} from {peer}: {problem}")
        self.peer = peer
        self.message = message
        self.problem = problem
