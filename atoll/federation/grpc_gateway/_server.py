"""The gateway's gRPC service: checks every incoming message, then files it in the mailbox."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import grpc

from atoll import codec
from atoll.federation._mailbox import Busy, Mailbox
from atoll.federation._transport import Envelope
from atoll.federation.certs import party_id_from_common_name
from atoll.federation.grpc_gateway._wire import (
    CONTROL,
    DELIVER,
    PING,
    PUSH,
    ControlReply,
    ControlRequest,
    PingReply,
    PingRequest,
    PushAck,
    unpack_delivery,
)

log = logging.getLogger("atoll.federation")

ControlHandler = Callable[[int, str, Any], Any]


class GatewayService:
    def __init__(
        self,
        *,
        party_id: int,
        partners: frozenset[int],
        secure: bool,
        max_chunk_size: int,
        mailbox: Mailbox,
    ) -> None:
        self.party_id = party_id
        self.partners = partners
        self.secure = secure
        self.max_chunk_size = max_chunk_size
        self.mailbox = mailbox
        self.stopping = False
        self.control_handler: ControlHandler | None = None

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            "atoll.federation.Gateway",
            {
                "Push": grpc.stream_unary_rpc_method_handler(self.push),
                "Ping": grpc.unary_unary_rpc_method_handler(self.ping),
                "Deliver": grpc.unary_unary_rpc_method_handler(self.deliver),
                "Control": grpc.unary_unary_rpc_method_handler(self.control),
            },
        )

    # -- helpers -----------------------------------------------------------------
    def _peer_party(self, context: grpc.ServicerContext) -> int | None:
        """The party named by the caller's certificate; None on an insecure site."""
        if not self.secure:
            return None
        auth = context.auth_context()
        names = auth.get("x509_common_name") or []
        if len(names) != 1:
            self._refuse(
                context, grpc.StatusCode.UNAUTHENTICATED, "no single certificate common name", PUSH
            )
        party = party_id_from_common_name(names[0].decode("utf-8", "replace"))
        if party is None:
            self._refuse(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                f"certificate common name {names[0]!r} names no party",
                PUSH,
            )
        return party

    def _refuse(
        self, context: grpc.ServicerContext, code: grpc.StatusCode, reason: str, method: str
    ) -> NoReturn:
        log.warning(
            "gateway of party %s REFUSED %s from %s: %s",
            self.party_id,
            method.rsplit("/", 1)[-1],
            context.peer(),
            reason,
        )
        context.abort(code, reason)
        raise AssertionError("unreachable")  # context.abort raises

    # -- methods -----------------------------------------------------------------
    def ping(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        peer = self._peer_party(context)
        try:
            req = codec.decode(request)
        except codec.CodecError as exc:
            self._refuse(context, grpc.StatusCode.INVALID_ARGUMENT, f"malformed ping: {exc}", PING)
        if not isinstance(req, PingRequest):
            self._refuse(context, grpc.StatusCode.INVALID_ARGUMENT, "malformed ping", PING)
        if peer is not None:
            if req.party_id != peer:
                self._refuse(
                    context,
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"caller claims party {req.party_id} but its certificate names party {peer}",
                    PING,
                )
            if peer not in self.partners:
                self._refuse(
                    context,
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"party {peer} is not among the routes of party {self.party_id}",
                    PING,
                )
        return codec.encode(PingReply(self.party_id, peer or 0))

    def control(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        """A message between sites (not parties of a job): checked like a push, then
        answered by this site's control handler; its errors travel back as a reply."""
        peer = self._peer_party(context)
        try:
            req = codec.decode(request)
        except codec.CodecError as exc:
            self._refuse(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"malformed control message: {exc}",
                CONTROL,
            )
        if not isinstance(req, ControlRequest):
            self._refuse(
                context, grpc.StatusCode.INVALID_ARGUMENT, "malformed control message", CONTROL
            )
        if peer is not None and req.party_id != peer:
            self._refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"caller claims party {req.party_id} but its certificate names party {peer}",
                CONTROL,
            )
        if req.party_id not in self.partners:
            self._refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"party {req.party_id} is not among the routes of party {self.party_id}",
                CONTROL,
            )
        handler = self.control_handler
        if handler is None or self.stopping:
            self._refuse(
                context,
                grpc.StatusCode.UNIMPLEMENTED,
                f"party {self.party_id} runs no flow service (its gateway serves jobs' messages only)",
                CONTROL,
            )
        try:
            body = handler(req.party_id, req.kind, req.body)
        except Exception as exc:
            code = getattr(exc, "code", None)
            if not isinstance(code, str):
                log.exception(
                    "party %s: control message %r from %s failed",
                    self.party_id,
                    req.kind,
                    req.party_id,
                )
                code = "internal"
            text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            return codec.encode(ControlReply(False, None, code, str(text)))
        return codec.encode(ControlReply(True, body, "", ""))

    def _admit(self, first: bytes, context: grpc.ServicerContext, method: str) -> Envelope:
        """Decode and check a message header; refuse (and log) anything not for us."""
        peer = self._peer_party(context)
        try:
            env: Any = codec.decode(first)
        except codec.CodecError as exc:
            self._refuse(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"malformed header: {exc}", method
            )
        if not isinstance(env, Envelope):
            self._refuse(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"header is a {type(env).__name__}",
                method,
            )
        what = env.describe()
        if peer is not None and env.src.party_id != peer:
            self._refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"spoofed source: certificate names party {peer} but the message claims to be "
                f"from {env.src} ({what}); not delivered",
                method,
            )
        if env.dst.party_id != self.party_id:
            self._refuse(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"this gateway serves party {self.party_id}, not {env.dst} ({what}); not delivered",
                method,
            )
        if env.src.party_id not in self.partners:
            self._refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"party {env.src.party_id} is not among the routes of party {self.party_id} "
                f"({what}); not delivered",
                method,
            )
        return env

    def deliver(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            header, payload = unpack_delivery(request)
        except ValueError as exc:
            self._refuse(
                context, grpc.StatusCode.INVALID_ARGUMENT, f"malformed delivery: {exc}", DELIVER
            )
        env = self._admit(header, context, DELIVER)
        if len(payload) > self.max_chunk_size:
            self._refuse(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"chunk of {len(payload)} bytes exceeds the limit of {self.max_chunk_size} "
                f"({env.describe()}); message not delivered",
                DELIVER,
            )
        try:
            fresh = self.mailbox.deliver(env, [payload])
        except Busy:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"already receiving {env.describe()}; retry")
            raise AssertionError("unreachable") from None
        status = "duplicate" if fresh is None else "delivered"
        return codec.encode(PushAck(status, len(payload)))

    def push(self, requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        first = next(requests, None)
        if first is None:
            self._refuse(context, grpc.StatusCode.INVALID_ARGUMENT, "empty push stream", PUSH)
        env = self._admit(first, context, PUSH)
        what = env.describe()
        try:
            inbound = self.mailbox.open_inbound(env)
        except Busy:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"already receiving {what}; retry")
            raise AssertionError("unreachable") from None
        if inbound is None:
            return codec.encode(PushAck("duplicate", 0))
        oversized = 0
        ended = False
        trailing = False
        try:
            for chunk in requests:
                if ended:
                    trailing = True
                    break
                if not chunk:  # the end marker: the sender finished the message
                    ended = True
                    continue
                if len(chunk) > self.max_chunk_size:
                    oversized = len(chunk)
                    break
                inbound.write(chunk)
        except Exception as exc:  # the stream broke: the sender died or the link dropped
            ended = False
            reason = f"connection dropped mid-message ({type(exc).__name__})"
        else:
            reason = "connection dropped mid-message (stream ended without its end marker)"
        if oversized or trailing:
            why = (
                f"chunk of {oversized} bytes exceeds the limit of {self.max_chunk_size}"
                if oversized
                else "frames after the end marker"
            )
            # a reader already streaming it learns at once (after the grace) why it stopped
            inbound.abort(f"its message was refused: {why}", peer_dropped=True)
            self._refuse(
                context,
                grpc.StatusCode.RESOURCE_EXHAUSTED
                if oversized
                else grpc.StatusCode.INVALID_ARGUMENT,
                f"{why} ({what}); message not delivered",
                PUSH,
            )
        if not ended:
            inbound.abort(reason, peer_dropped=not self.stopping)
            log.warning(
                "gateway of party %s: stream from %s broke after %d bytes (%s): %s",
                self.party_id,
                context.peer(),
                inbound.nbytes,
                what,
                reason,
            )
            context.abort(grpc.StatusCode.ABORTED, f"{reason}; message not delivered")
        inbound.commit()
        log.debug(
            "gateway of party %s: received %s (%d bytes)", self.party_id, what, inbound.nbytes
        )
        return codec.encode(PushAck("delivered", inbound.nbytes))
