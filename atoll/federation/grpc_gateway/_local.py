"""The local delivery path: component processes talk to their own site's gateway.

A site's gateway also listens on a Unix domain socket (mode 0600, under the
site's data directory); worker processes of the same site connect to it with
:class:`LocalTransport` and get the same :class:`Context` API as in-process
components. Only the gateway talks to other sites.

``/atoll.federation.Local/Send`` (client streaming)
    header ``codec.encode(Envelope)``, the chunks, an empty end frame. The
    gateway delivers to its own mailbox (another role of this site) or forwards
    to the destination's gateway in one attempt; the component retries.
``/atoll.federation.Local/Recv`` (server streaming)
    request ``codec.encode(RecvRequest)``; reply frames: the envelope, the
    chunks, an empty end frame.

Failures travel back as gRPC status codes whose details start with a word the
component maps to the exception tree: ``refused:``, ``gone:``, ``unreachable:``,
``timeout:``, ``interrupted:``, ``usage:``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc

from atoll import codec
from atoll.codec import message
from atoll.federation._errors import (
    GetTimeoutError,
    PeerGoneError,
    RefusedError,
    StreamInterrupted,
    TransportError,
    UsageError,
)
from atoll.federation._mailbox import Busy, Mailbox
from atoll.federation._party import Party
from atoll.federation._transport import ChunkSource, Envelope, Incoming, MessageKey, Transport
from atoll.federation.grpc_gateway._client import GatewayClient, UnreachableError, channel_options
from atoll.federation.grpc_gateway._wire import GRPC_SLACK

__all__ = ["LocalService", "LocalTransport"]

log = logging.getLogger("atoll.federation")

LOCAL_SERVICE = "atoll.federation.Local"
SEND = f"/{LOCAL_SERVICE}/Send"
RECV = f"/{LOCAL_SERVICE}/Recv"


@message(type_id=205)
@dataclasses.dataclass(frozen=True)
class RecvRequest:
    job_id: str
    src: Party
    dst: Party
    name: str
    tag: str
    timeout: float


class _LocalStreamBroken(Exception):
    pass


def _until_end(requests: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in requests:
        if not chunk:
            return
        yield chunk
    raise _LocalStreamBroken("the component's stream ended without its end marker")


class LocalService:
    """Server side of the local path, inside the gateway."""

    def __init__(self, *, party_id: int, mailbox: Mailbox, client: GatewayClient) -> None:
        self.party_id = party_id
        self.mailbox = mailbox
        self.client = client

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            LOCAL_SERVICE,
            {
                "Send": grpc.stream_unary_rpc_method_handler(self.send),
                "Recv": grpc.unary_stream_rpc_method_handler(self.recv),
            },
        )

    def send(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        first = next(requests, None)
        try:
            env: Any = codec.decode(first or b"")
        except codec.CodecError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"usage: malformed header: {exc}")
        if not isinstance(env, Envelope):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "usage: header is not an Envelope")
        if env.src.party_id != self.party_id:
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"usage: site {self.party_id} cannot send as {env.src}",
            )
        chunks = _until_end(requests)
        try:
            if env.dst.party_id == self.party_id:
                nbytes = self.mailbox.deliver(env, chunks) or 0
            else:
                used = [False]

                def once() -> Iterator[bytes]:
                    if used[0]:
                        raise UnreachableError("the local stream cannot be replayed")
                    used[0] = True
                    return chunks

                nbytes = self.client.push(env, once, retry_for=0.0)
        except Busy:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"unreachable: busy with {env.describe()}")
        except _LocalStreamBroken as exc:
            context.abort(grpc.StatusCode.ABORTED, f"interrupted: {exc}")
        except RefusedError as exc:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"refused: {exc}")
        except UnreachableError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"unreachable: {exc}")
        except PeerGoneError as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"gone: {exc}")
        return nbytes.to_bytes(8, "big")

    def recv(self, request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        try:
            req: Any = codec.decode(request)
        except codec.CodecError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"usage: malformed request: {exc}")
        if not isinstance(req, RecvRequest):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "usage: not a RecvRequest")
        if req.dst.party_id != self.party_id:
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"usage: site {self.party_id} cannot receive for {req.dst}",
            )
        key = (req.job_id, req.src, req.dst, req.name, req.tag)
        try:
            incoming = self.mailbox.take(key, timeout=req.timeout)
        except GetTimeoutError as exc:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"timeout: {exc}")
        except PeerGoneError as exc:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"gone: {exc}")
        except TransportError as exc:  # the job ended here, or the gateway closed
            context.abort(grpc.StatusCode.CANCELLED, f"closed: {exc}")
        return self._stream(incoming, context)

    def _stream(self, incoming: Incoming, context: grpc.ServicerContext) -> Iterator[bytes]:
        try:
            yield codec.encode(incoming.envelope)
            yield from incoming.chunks()
            yield b""
        except StreamInterrupted as exc:
            context.abort(grpc.StatusCode.ABORTED, f"interrupted: {exc}")
        except GetTimeoutError as exc:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, f"timeout: {exc}")
        finally:
            incoming.release()


def start_local_server(service: LocalService, socket_path: Path, max_message: int) -> grpc.Server:
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="gw-local"),
        handlers=[service.handler()],
        options=channel_options(max_message + GRPC_SLACK + 1024 * 1024),
    )
    old = os.umask(0o077)  # the socket is for this site's own processes only
    try:
        if server.add_insecure_port(f"unix:{socket_path}") == 0:
            raise OSError(f"cannot listen on unix socket {socket_path}")
        server.start()
    finally:
        os.umask(old)
    os.chmod(socket_path, 0o600)
    return server


# ----------------------------------------------------------------------------- component side
def _map_error(exc: grpc.RpcError, what: str) -> TransportError | UsageError:
    details = exc.details() or ""
    word, _, rest = details.partition(": ")
    text = rest or details
    if word == "refused":
        return RefusedError(text, reason=text)
    if word == "gone":
        return PeerGoneError(text)
    if word == "timeout":
        return GetTimeoutError(text)
    if word == "interrupted":
        return StreamInterrupted(text)
    if word == "usage":
        return UsageError(text)
    if word == "unreachable":
        return PeerGoneError(text)
    if word == "closed":
        return TransportError(text)
    return TransportError(f"local gateway failed {what}: {exc.code().name}: {details}")


class _LocalIncoming(Incoming):
    def __init__(self, envelope: Envelope, frames: Iterator[bytes], call: Any) -> None:
        self.envelope = envelope
        self.nbytes = 0
        self._frames = frames
        self._call = call

    def chunks(self) -> Iterator[bytes]:
        try:
            for chunk in self._frames:
                if not chunk:
                    return
                self.nbytes += len(chunk)
                yield chunk
        except grpc.RpcError as exc:
            raise _map_error(exc, f"reading {self.envelope.describe()}") from None
        raise StreamInterrupted(f"{self.envelope.describe()}: local stream ended early")

    def release(self) -> None:
        self._call.cancel()


class LocalTransport(Transport):
    """A component process's transport: its own site's gateway over a Unix socket."""

    def __init__(
        self,
        socket_path: str | Path,
        *,
        party_id: int,
        chunk_size: int = 4 * 1024 * 1024,
        retry_for: float = 30.0,
    ) -> None:
        self.party_id = party_id
        self.chunk_size = chunk_size
        self.retry_for = retry_for
        self._channel = grpc.insecure_channel(
            f"unix:{Path(socket_path)}", options=channel_options(2 * chunk_size + GRPC_SLACK)
        )
        self._send = self._channel.stream_unary(SEND)
        self._recv = self._channel.unary_stream(RECV)

    def send(self, envelope: Envelope, chunks: ChunkSource, *, timeout: float) -> int:
        if envelope.src.party_id != self.party_id:
            raise UsageError(f"site {self.party_id} cannot send as {envelope.src}")
        header = codec.encode(envelope)
        deadline = time.monotonic() + min(timeout, self.retry_for)
        delay = 0.05
        while True:
            frames = itertools.chain([header], (c for c in chunks() if c), [b""])
            try:
                reply = self._send(frames, wait_for_ready=True, timeout=None)
                return int.from_bytes(reply, "big")
            except grpc.RpcError as exc:
                details = exc.details() or ""
                retry = details.startswith(("unreachable:", "interrupted:"))
                if not retry or time.monotonic() + delay >= deadline:
                    raise _map_error(exc, f"sending {envelope.describe()}") from None
                time.sleep(delay)
                delay = min(2 * delay, 1.0)

    def recv(self, key: MessageKey, *, timeout: float) -> Incoming:
        job_id, src, dst, name, tag = key
        request = codec.encode(RecvRequest(job_id, src, dst, name, tag, float(timeout)))
        call = self._recv(request, wait_for_ready=True)
        try:
            first = next(call)
            env = codec.decode(first)
        except grpc.RpcError as exc:
            raise _map_error(exc, "receiving") from None
        except (StopIteration, codec.CodecError):
            call.cancel()
            raise StreamInterrupted("the local gateway sent no envelope") from None
        if not isinstance(env, Envelope) or env.key != key:
            call.cancel()
            raise TransportError(f"the local gateway answered with the wrong message: {env!r}")
        return _LocalIncoming(env, call, call)

    def close(self) -> None:
        self._channel.close()
