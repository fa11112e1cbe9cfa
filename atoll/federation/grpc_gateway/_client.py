"""Outgoing side of a gateway: one TLS channel per partner, pushes with retries."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc

from atoll import codec
from atoll.federation._errors import PayloadError, PeerGoneError, RefusedError
from atoll.federation._transport import ChunkSource, Envelope
from atoll.federation.certs import server_name
from atoll.federation.grpc_gateway._wire import (
    CONTROL,
    DELIVER,
    GRPC_SLACK,
    PING,
    PUSH,
    ControlReply,
    ControlRequest,
    PingReply,
    PingRequest,
    PushAck,
    pack_delivery,
)

log = logging.getLogger("atoll.federation")

_REFUSALS = {
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNIMPLEMENTED,
}
_TLS_HINTS = ("handshake", "ssl", "tls", "certificate", "tsi_", "alpn", "verification")


class UnreachableError(PeerGoneError):
    """The peer's gateway did not answer for the whole retry window."""


@dataclasses.dataclass(frozen=True)
class TlsMaterial:
    cert: bytes
    key: bytes
    ca: bytes


def is_tls_failure(details: str) -> bool:
    low = details.lower()
    return any(h in low for h in _TLS_HINTS)


class GatewayClient:
    def __init__(
        self,
        *,
        party_id: int,
        routes: dict[int, str],
        tls: TlsMaterial | None,
        max_message: int,
    ) -> None:
        self.party_id = party_id
        self.routes = dict(routes)
        self.tls = tls
        self.max_message = max_message + GRPC_SLACK
        self._lock = threading.Lock()
        self._channels: dict[int, grpc.Channel] = {}

    def channel(self, party_id: int) -> grpc.Channel:
        with self._lock:
            ch = self._channels.get(party_id)
            if ch is None:
                address = self.routes.get(party_id)
                if address is None:
                    raise RefusedError(
                        f"party {self.party_id} has no route to party {party_id}", reason="no route"
                    )
                ch = self._channels[party_id] = open_channel(
                    address, party_id, self.tls, self.max_message
                )
            return ch

    def reset(self, party_id: int) -> None:
        with self._lock:
            ch = self._channels.pop(party_id, None)
        if ch is not None:
            ch.close()

    def close(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for ch in channels:
            ch.close()

    def push(self, env: Envelope, chunks: ChunkSource, *, retry_for: float) -> int:
        """Stream one message to its destination's gateway; retry while it is unreachable."""
        dst = env.dst.party_id
        deadline = time.monotonic() + retry_for
        delay = 0.05
        header = codec.encode(env)
        attempt = 0
        while True:
            attempt += 1
            sent = [0]
            failure: list[BaseException] = []
            try:
                source = iter(chunks())
                first = next(source, b"")
                second = next(source, None)
            except PayloadError:
                raise
            except Exception as exc:
                raise PayloadError(f"{env.describe()}: cannot produce the payload: {exc}") from exc
            try:
                if second is None:  # one chunk: a single unary call, one round trip
                    sent[0] = len(first)
                    call = self.channel(dst).unary_unary(DELIVER)
                    raw = call(pack_delivery(header, first), wait_for_ready=False)
                else:
                    stream = self.channel(dst).stream_unary(PUSH)
                    frames = _frames(header, [first, second], source, sent, failure)
                    raw = stream(frames, wait_for_ready=False)
                reply: Any = codec.decode(raw)
            except grpc.RpcError as exc:
                if failure:
                    raise failure[0] from None
                code, details = exc.code(), exc.details() or ""
                if code in _REFUSALS:
                    log.warning(
                        "party %s: %s REFUSED by party %s: %s",
                        self.party_id,
                        env.describe(),
                        dst,
                        details,
                    )
                    raise RefusedError(
                        f"gateway of party {dst} refused {env.describe()}: {code.name}: {details}",
                        reason=details,
                    ) from None
                if code == grpc.StatusCode.UNAVAILABLE and is_tls_failure(details):
                    log.warning(
                        "party %s: TLS with party %s failed: %s", self.party_id, dst, details
                    )
                    raise PeerGoneError(
                        f"gateway of party {dst} refused the connection (TLS handshake failed) "
                        f"while sending {env.describe()}: {details}"
                    ) from None
                if time.monotonic() + delay >= deadline:
                    raise UnreachableError(
                        f"gateway of party {dst} at {self.routes.get(dst)} is unreachable after "
                        f"{attempt} attempts while sending {env.describe()}: {code.name}: {details}"
                    ) from None
                log.info(
                    "party %s: push to party %s failed (%s: %s); retry %d in %.2f s",
                    self.party_id,
                    dst,
                    code.name,
                    details,
                    attempt,
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            if not isinstance(reply, PushAck):
                raise RefusedError(
                    f"gateway of party {dst} sent a malformed reply", reason="malformed reply"
                )
            if reply.status == "duplicate":
                log.info(
                    "party %s: %s was already delivered (duplicate dropped)",
                    self.party_id,
                    env.describe(),
                )
            return sent[0]

    def ping(self, party_id: int, *, timeout: float) -> tuple[PingReply, float]:
        """Round trip to a partner's gateway; returns its reply and the round-trip seconds."""
        call = self.channel(party_id).unary_unary(PING)
        request = codec.encode(PingRequest(self.party_id))
        start = time.perf_counter()
        raw = call(request, timeout=timeout, wait_for_ready=False)
        rtt = time.perf_counter() - start
        reply = codec.decode(raw)
        if not isinstance(reply, PingReply):
            raise RefusedError(f"gateway of party {party_id} sent a malformed ping reply")
        return reply, rtt

    def control(self, party_id: int, kind: str, body: Any, *, timeout: float) -> ControlReply:
        """Send a control message to a partner's site; grpc.RpcError if it cannot be delivered."""
        call = self.channel(party_id).unary_unary(CONTROL)
        raw = call(codec.encode(ControlRequest(self.party_id, kind, body)), timeout=timeout)
        reply = codec.decode(raw)
        if not isinstance(reply, ControlReply):
            raise RefusedError(f"gateway of party {party_id} sent a malformed control reply")
        return reply


def _frames(
    header: bytes,
    head: list[bytes],
    rest: Iterator[bytes],
    sent: list[int],
    failure: list[BaseException],
) -> Iterator[bytes]:
    """The push stream: the header, then the chunks; counts bytes and keeps a local failure."""
    yield header
    try:
        for chunk in itertools.chain(head, rest):
            if chunk:
                sent[0] += len(chunk)
                yield chunk
    except BaseException as exc:
        failure.append(exc)
        raise
    yield b""  # the end marker: without it the receiver discards the message


def channel_options(max_message: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_send_message_length", max_message),
        ("grpc.max_receive_message_length", max_message),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.enable_retries", 0),
        ("grpc.keepalive_time_ms", 30000),
        ("grpc.keepalive_timeout_ms", 10000),
    ]


def open_channel(
    address: str, party_id: int, tls: TlsMaterial | None, max_message: int
) -> grpc.Channel:
    options = channel_options(max_message)
    if tls is None:
        return grpc.insecure_channel(address, options=options)
    creds = grpc.ssl_channel_credentials(
        root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert
    )
    # The peer's certificate must carry the DNS name party-<id>.atoll: this is how
    # the client checks that it reached the party it meant, whatever the address.
    options.append(("grpc.ssl_target_name_override", server_name(party_id)))
    return grpc.secure_channel(address, creds, options=options)
