"""What travels between gateways, besides payload chunks.

Two gRPC methods, with raw ``bytes`` on the wire (generic handlers, no protoc):

``/atoll.federation.Gateway/Push`` (client streaming)
    first frame: ``codec.encode(Envelope)``; then the payload chunks, each at
    most the receiver's ``max_chunk_size``; reply: ``codec.encode(PushAck)``.
``/atoll.federation.Gateway/Deliver`` (unary)
    a message whose payload is one chunk, in one round trip: a 4-byte big-endian
    header length, ``codec.encode(Envelope)``, then the payload chunk;
    reply: ``codec.encode(PushAck)``.
``/atoll.federation.Gateway/Ping`` (unary)
    ``codec.encode(PingRequest)`` -> ``codec.encode(PingReply)``.
``/atoll.federation.Gateway/Control`` (unary)
    ``codec.encode(ControlRequest)`` -> ``codec.encode(ControlReply)``: a message
    between the sites themselves (a job proposal, a stop, a task's state), not
    between the parties of a job; the receiving site's control handler answers.

A refused push is answered with a gRPC status (PERMISSION_DENIED for a spoofed
source or an unknown partner, NOT_FOUND for a party this gateway does not serve,
RESOURCE_EXHAUSTED for an oversized chunk, INVALID_ARGUMENT for a malformed
header) and the reason in its details.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import Any

from atoll.codec import message

SERVICE = "atoll.federation.Gateway"
PUSH = f"/{SERVICE}/Push"
PING = f"/{SERVICE}/Ping"
DELIVER = f"/{SERVICE}/Deliver"
CONTROL = f"/{SERVICE}/Control"
_HEADER_LEN = struct.Struct(">I")

# gRPC adds a little framing around a message; leave room for it.
GRPC_SLACK = 64 * 1024


@message(type_id=202)
@dataclasses.dataclass(frozen=True)
class PushAck:
    status: str  # "delivered" or "duplicate"
    nbytes: int


@message(type_id=203)
@dataclasses.dataclass(frozen=True)
class PingRequest:
    party_id: int  # who the caller says it is (checked against its certificate)


@message(type_id=204)
@dataclasses.dataclass(frozen=True)
class PingReply:
    party_id: int  # the party this gateway serves
    peer_party_id: int  # the party the gateway saw in the caller's certificate (0: insecure)


@message(type_id=206)
@dataclasses.dataclass(frozen=True)
class ControlRequest:
    party_id: int  # the calling site (checked against its certificate)
    kind: str  # what is asked: "propose", "stop", "task_state", ...
    body: Any  # codec data


@message(type_id=207)
@dataclasses.dataclass(frozen=True)
class ControlReply:
    ok: bool
    body: Any  # the handler's answer when ok
    code: str  # the error code when not ok ("forbidden", "not_found", "internal", ...)
    message: str  # the error message when not ok


def pack_delivery(header: bytes, payload: bytes) -> bytes:
    return _HEADER_LEN.pack(len(header)) + header + payload


def unpack_delivery(request: bytes) -> tuple[bytes, bytes]:
    """Split a Deliver request; ValueError if it is malformed."""
    if len(request) < _HEADER_LEN.size:
        raise ValueError("request shorter than its header length")
    (n,) = _HEADER_LEN.unpack_from(request)
    end = _HEADER_LEN.size + n
    if end > len(request):
        raise ValueError(f"header length {n} runs past the end of the request")
    return request[_HEADER_LEN.size : end], request[end:]
