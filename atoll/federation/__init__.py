"""Federation: parties exchange messages through their sites' gateways.

A component sees a :class:`Context`: ``ctx.guest``, ``ctx.hosts``,
``ctx.arbiter``, ``ctx.parties`` (and ``ctx.peers``) with ``put(name, obj)``
and ``get(name)``, and ``ctx.sub(...)`` / ``ctx.iterations(...)`` for tags.
Messages may be declared once with :func:`declare`. The same context runs over

* :class:`InProcessFederation`: every party in one process, no sockets (unit tests);
* a site's :class:`Gateway` (gRPC, mutual TLS): ``gateway.context(...)`` in the
  gateway's process, or :class:`LocalTransport` from the site's worker
  processes over a private Unix socket.

Payloads are codec-encoded and cut into chunks; Tables stream partition by
partition. Sites are configured with :func:`load_site_config`; certificates
come from :mod:`atoll.federation.certs`; :mod:`atoll.federation.throwaway` lays
out a one-machine federation. Errors form the tree drawn in ``_errors.py``.
"""

from atoll.federation._context import Context, JobOptions, PartyGroup, PartyHandle
from atoll.federation._errors import (
    CertificateError,
    ConfigError,
    FederationError,
    GetTimeoutError,
    PayloadError,
    PeerGoneError,
    RefusedError,
    RemoteError,
    StreamInterrupted,
    TransportError,
    UsageError,
)
from atoll.federation._messages import MessageDef, declare
from atoll.federation._party import JobParties, Party, Role
from atoll.federation._tags import Namespace
from atoll.federation._transport import Envelope, Incoming, Transport
from atoll.federation.config import SiteConfig, load_site_config
from atoll.federation.grpc_gateway import Gateway, LocalTransport, RouteCheck
from atoll.federation.inprocess import InProcessFederation, InProcessTransport
from atoll.federation.transcript import Transcript, TranscriptRecord, summarize

__all__ = [
    "CertificateError",
    "ConfigError",
    "Context",
    "Envelope",
    "FederationError",
    "Gateway",
    "GetTimeoutError",
    "InProcessFederation",
    "InProcessTransport",
    "Incoming",
    "JobOptions",
    "JobParties",
    "LocalTransport",
    "MessageDef",
    "Namespace",
    "Party",
    "PartyGroup",
    "PartyHandle",
    "PayloadError",
    "PeerGoneError",
    "RefusedError",
    "RemoteError",
    "Role",
    "RouteCheck",
    "SiteConfig",
    "StreamInterrupted",
    "Transcript",
    "TranscriptRecord",
    "Transport",
    "TransportError",
    "UsageError",
    "declare",
    "load_site_config",
    "summarize",
]
