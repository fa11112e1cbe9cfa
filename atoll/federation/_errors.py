"""The federation's exception tree, in one place.

::

    FederationError                      anything raised by atoll.federation
    ├── ConfigError                      a site config file or value is wrong (names file and field)
    ├── CertificateError                 a certificate is missing, expired, foreign or names the wrong party
    ├── UsageError                       the API was misused: bad name, a message put twice, wrong role
    ├── PayloadError                     a payload could not be decoded, or is not what was declared
    └── TransportError                   a message could not be moved
        ├── RefusedError                 a gateway refused the message (bad certificate, spoofed
        │                                source, unknown destination, oversized chunk, ...)
        ├── PeerGoneError                the peer is known to be gone: its gateway refused the
        │                                connection or the connection dropped mid-message
        ├── GetTimeoutError              nothing arrived before the job's timeout (also a TimeoutError)
        ├── RemoteError                  a partner's control handler answered with an error
        └── StreamInterrupted            (internal) a message broke off while being read; the
                                         context waits for the sender's retry, then PeerGoneError

Every message names the job, the peer, the message name and the tag path where
they are known, so a failed run says which exchange broke.
"""

from __future__ import annotations

__all__ = [
    "CertificateError",
    "ConfigError",
    "FederationError",
    "GetTimeoutError",
    "PayloadError",
    "PeerGoneError",
    "RefusedError",
    "RemoteError",
    "StreamInterrupted",
    "TransportError",
    "UsageError",
]


class FederationError(Exception):
    """Base class of every error raised by :mod:`atoll.federation`."""


class ConfigError(FederationError, ValueError):
    """A site configuration is invalid; the message names the file and the field."""


class CertificateError(FederationError):
    """A certificate or key is missing, unreadable, expired, foreign, or names the wrong party."""


class UsageError(FederationError):
    """The federation API was used wrongly (a bad name, a message put twice, a wrong role)."""


class PayloadError(FederationError):
    """A payload could not be encoded or decoded, or has the wrong type."""


class TransportError(FederationError):
    """A message could not be moved between parties."""


class RefusedError(TransportError):
    """A gateway refused a message or a connection; ``reason`` says why."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class PeerGoneError(TransportError):
    """The peer is known to be gone (connection refused or dropped), reported at once."""


class GetTimeoutError(TransportError, TimeoutError):
    """``get`` waited for the job's timeout and nothing arrived."""


class StreamInterrupted(TransportError):
    """A message broke off while its receiver was reading it; the sender may retry.

    Raised inside the transport; :class:`Context` catches it, discards what it
    read and waits for the retry, so components never see it.
    """


class RemoteError(TransportError):
    """A partner site's control handler answered a control message with an error.

    ``code`` is the partner's error code (``"forbidden"``, ``"not_found"``, ...) and
    ``text`` its message; the exception's message names the partner too."""

    def __init__(self, party_id: int, kind: str, code: str, text: str) -> None:
        super().__init__(f"party {party_id} answered {kind!r} with {code}: {text}")
        self.party_id = party_id
        self.kind = kind
        self.code = code
        self.text = text
