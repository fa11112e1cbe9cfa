"""A site's gateway: the gRPC server, the mailbox, the client, and contexts on top."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from atoll.federation._context import Context, JobOptions
from atoll.federation._errors import (
    ConfigError,
    PeerGoneError,
    RefusedError,
    RemoteError,
    UsageError,
)
from atoll.federation._mailbox import Mailbox
from atoll.federation._party import JobParties, Party
from atoll.federation._tables import TableSession
from atoll.federation._transport import ChunkSource, Envelope, Incoming, MessageKey, Transport
from atoll.federation.certs import check_site_cert
from atoll.federation.config import SiteConfig
from atoll.federation.grpc_gateway._client import (
    GatewayClient,
    TlsMaterial,
    channel_options,
    is_tls_failure,
)
from atoll.federation.grpc_gateway._local import LocalService, start_local_server
from atoll.federation.grpc_gateway._server import ControlHandler, GatewayService
from atoll.federation.grpc_gateway._wire import GRPC_SLACK

__all__ = ["Gateway", "GatewayTransport", "RouteCheck"]

log = logging.getLogger("atoll.federation")


@dataclasses.dataclass
class _PeerState:
    seen: bool = False  # its gateway answered at least once
    last_probe: float = float("-inf")
    failing_since: float | None = None
    gone: str | None = None


@dataclasses.dataclass(frozen=True)
class RouteCheck:
    """The result of checking one route: reachable or not, why, and round-trip time."""

    party_id: int
    address: str
    reachable: bool
    reason: str
    rtt_ms: float | None


class GatewayTransport(Transport):
    """The transport a component of this site uses: local mailbox in, gateway client out."""

    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway
        self.chunk_size = gateway.config.chunk_size

    def send(self, envelope: Envelope, chunks: ChunkSource, *, timeout: float) -> int:
        gw = self._gw
        if envelope.src.party_id != gw.party_id:
            raise UsageError(f"site {gw.party_id} cannot send as {envelope.src}")
        if envelope.dst.party_id == gw.party_id:  # another role of this same site
            nbytes = gw.mailbox.deliver(envelope, chunks())
            return 0 if nbytes is None else nbytes
        try:
            return gw.client.push(
                envelope, chunks, retry_for=min(timeout, gw.config.send_retry_for)
            )
        except PeerGoneError as exc:
            gw.mailbox.mark_gone(envelope.dst.party_id, str(exc))
            raise

    def recv(self, key: MessageKey, *, timeout: float) -> Incoming:
        return self._gw.mailbox.take(key, timeout=timeout)


class Gateway:
    """One site's gateway. ``start()`` serves; ``context(...)`` gives components their ctx."""

    def __init__(self, config: SiteConfig, *, max_workers: int = 32) -> None:
        self.config = config
        self.party_id = config.party_id
        self._tls: TlsMaterial | None = None
        if config.secure:
            if config.cert is None or config.key is None or config.ca is None:
                raise ConfigError(f"party {config.party_id}: cert, key and ca are required")
            check_site_cert(config.cert, config.key, config.ca, config.party_id)
            self._tls = TlsMaterial(
                config.cert.read_bytes(), config.key.read_bytes(), config.ca.read_bytes()
            )
        # Large messages that nobody reads yet spill here; without a data_dir, a private
        # temporary directory that close() removes.
        self._tmp_spool: tempfile.TemporaryDirectory[str] | None = None
        if config.data_dir is not None:
            spool = Path(config.data_dir) / "spool"
        else:
            self._tmp_spool = tempfile.TemporaryDirectory(prefix=f"atoll-spool-{config.party_id}-")
            spool = Path(self._tmp_spool.name)
        self.mailbox = Mailbox(
            spool_dir=spool, spill_threshold=config.spill_threshold, gone_grace=config.gone_grace
        )
        self.client = GatewayClient(
            party_id=config.party_id,
            routes=config.routes,
            tls=self._tls,
            max_message=config.max_chunk_size,
        )
        self.transport = GatewayTransport(self)
        self._peers: dict[int, _PeerState] = {}
        self._peers_lock = threading.Lock()
        self.mailbox.watch = self._watch
        self._max_workers = max_workers
        self._server: grpc.Server | None = None
        self._service: GatewayService | None = None
        self._local_server: grpc.Server | None = None
        self._control_handler: ControlHandler | None = None
        self.port: int | None = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> Gateway:
        if self._server is not None:
            return self
        cfg = self.config
        service = GatewayService(
            party_id=cfg.party_id,
            partners=frozenset(cfg.routes),
            secure=cfg.secure,
            max_chunk_size=cfg.max_chunk_size,
            mailbox=self.mailbox,
        )
        service.control_handler = self._control_handler
        # grpc's own limit sits above ours, so an oversized chunk reaches our check and is logged.
        server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix=f"gw-{cfg.party_id}"
            ),
            handlers=[service.handler()],
            options=channel_options(cfg.max_chunk_size + GRPC_SLACK + 1024 * 1024),
        )
        if self._tls is None:
            port = server.add_insecure_port(cfg.listen)
        else:
            creds = grpc.ssl_server_credentials(
                [(self._tls.key, self._tls.cert)],
                root_certificates=self._tls.ca,
                require_client_auth=True,
            )
            port = server.add_secure_port(cfg.listen, creds)
        if port == 0:
            raise OSError(f"party {cfg.party_id}: cannot listen on {cfg.listen}")
        server.start()
        self._server, self._service, self.port = server, service, port
        socket_path = cfg.local_socket_path
        if socket_path is not None:
            local = LocalService(party_id=cfg.party_id, mailbox=self.mailbox, client=self.client)
            self._local_server = start_local_server(local, socket_path, cfg.max_chunk_size)
        log.info(
            "gateway of party %s listening on %s (%s), local socket %s",
            cfg.party_id,
            cfg.listen,
            "mutual TLS" if self._tls else "INSECURE plaintext, loopback only",
            socket_path,
        )
        return self

    def stop(self, grace: float = 1.0) -> None:
        server, service = self._server, self._service
        if server is None or service is None:
            return
        service.stopping = True
        if self._local_server is not None:
            self._local_server.stop(grace).wait()
            self._local_server = None
        server.stop(grace).wait()
        self._server = self._service = None
        log.info("gateway of party %s stopped", self.party_id)

    def close(self) -> None:
        # readers still waiting (a worker process's recv, say) learn at once, so that no
        # server thread is left blocked when the process exits
        self.mailbox.close(f"the gateway of party {self.party_id} closed")
        self.stop()
        self.client.close()
        if self._tmp_spool is not None:
            self._tmp_spool.cleanup()
            self._tmp_spool = None

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- site-to-site control messages -------------------------------------------------
    def serve_control(self, handler: ControlHandler | None) -> None:
        """Answer partners' control messages with ``handler(party_id, kind, body)``.

        The caller's party id is the one its certificate names. What the handler
        returns is the reply (codec data); an exception becomes an error reply with
        its ``code`` attribute (``"internal"`` without one) and its message."""
        self._control_handler = handler
        if self._service is not None:
            self._service.control_handler = handler

    def call(self, party_id: int, kind: str, body: Any = None, *, timeout: float = 10.0) -> Any:
        """Send a control message to partner ``party_id``'s site and return its answer.

        Raises :class:`PeerGoneError` when its gateway cannot be reached,
        :class:`RefusedError` when the gateway refuses us, and :class:`RemoteError`
        when its site answers with an error."""
        try:
            reply = self.client.control(party_id, kind, body, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code()
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                self.client.reset(party_id)
                raise PeerGoneError(
                    f"party {party_id}'s site did not take {kind!r}: {_explain(exc, timeout)}"
                ) from None
            raise RefusedError(
                f"party {party_id}'s gateway refused {kind!r}: {_explain(exc, timeout)}",
                reason=str(exc.details()),
            ) from None
        if not reply.ok:
            raise RemoteError(party_id, kind, reply.code, reply.message)
        return reply.body

    # -- components ----------------------------------------------------------------
    def context(
        self,
        job_id: str,
        local: Party,
        parties: JobParties,
        *,
        options: JobOptions | None = None,
        computing: TableSession | None = None,
    ) -> Context:
        if local.party_id != self.party_id:
            raise UsageError(f"site {self.party_id} cannot play {local}")
        unrouted = sorted(
            {p.party_id for p in parties if p.party_id != self.party_id} - set(self.config.routes)
        )
        if unrouted:
            raise UsageError(
                f"job {job_id!r}: site {self.party_id} has no route to party "
                f"{', '.join(map(str, unrouted))} (add it under routes: in the site config)"
            )
        opts = options or JobOptions(timeout=self.config.get_timeout)
        if opts.chunk_size is not None and opts.chunk_size > self.config.max_chunk_size:
            raise UsageError(
                f"chunk_size {opts.chunk_size} exceeds this site's max_chunk_size {self.config.max_chunk_size}"
            )
        return Context(
            job_id=job_id,
            local=local,
            parties=parties,
            transport=self.transport,
            options=opts,
            computing=computing,
        )

    def _watch(self, src: Party) -> str | None:
        """Is ``src``'s site known to be gone? Pings its gateway, at most once a second.

        Known to be gone: its gateway answered before and has now refused us or not
        answered for ``gone_grace`` seconds. A peer never seen up is not reported
        (it may simply not have started yet); its receivers wait for the timeout.
        """
        pid = src.party_id
        if pid == self.party_id or pid not in self.config.routes or self._server is None:
            return None
        now = time.monotonic()
        with self._peers_lock:
            state = self._peers.setdefault(pid, _PeerState())
            if now - state.last_probe < 1.0:
                return state.gone
            state.last_probe = now
        try:
            self.client.ping(pid, timeout=1.0)
        except grpc.RpcError as exc:
            with self._peers_lock:
                if not state.seen:
                    return None
                code = exc.code()
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    state.failing_since = state.failing_since or now
                    if now - state.failing_since >= self.config.gone_grace:
                        state.gone = (
                            f"its gateway at {self.config.routes[pid]} stopped answering "
                            f"({code.name}: {exc.details()})"
                        )
                else:
                    state.gone = f"its gateway refused us ({code.name}: {exc.details()})"
                return state.gone
        except Exception:
            return None
        with self._peers_lock:
            state.seen, state.failing_since, state.gone = True, None, None
        self.mailbox.clear_gone(pid)  # e.g. after a put to it failed: it is back now
        return None

    def forget_job(self, job_id: str) -> None:
        self.mailbox.forget_job(job_id)

    # -- checks --------------------------------------------------------------------
    def check_routes(self, *, timeout: float = 5.0) -> list[RouteCheck]:
        """Ping every route; report reachable or not, the reason and the round-trip time."""
        out = []
        for party_id in sorted(self.config.routes):
            out.append(self.check_route(party_id, timeout=timeout))
        return out

    def check_route(self, party_id: int, *, timeout: float = 5.0) -> RouteCheck:
        address = self.config.routes[party_id]
        try:
            self.client.ping(party_id, timeout=timeout)  # warm up: connect and handshake
            rtts = []
            for _ in range(3):
                reply, rtt = self.client.ping(party_id, timeout=timeout)
                rtts.append(rtt)
        except grpc.RpcError as exc:
            self.client.reset(party_id)
            return RouteCheck(party_id, address, False, _explain(exc, timeout), None)
        except Exception as exc:
            self.client.reset(party_id)
            return RouteCheck(party_id, address, False, f"{type(exc).__name__}: {exc}", None)
        if reply.party_id != party_id:
            return RouteCheck(
                party_id,
                address,
                False,
                f"answered as party {reply.party_id}, not {party_id}",
                None,
            )
        if reply.peer_party_id not in (0, self.party_id):
            return RouteCheck(
                party_id,
                address,
                False,
                f"the partner read our certificate as party {reply.peer_party_id}, "
                f"not {self.party_id}",
                None,
            )
        how = "mutual TLS verified both ways" if self._tls else "insecure plaintext (loopback)"
        return RouteCheck(party_id, address, True, how, min(rtts) * 1000)


def _explain(exc: grpc.RpcError, timeout: float) -> str:
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"no answer within {timeout:g} s"
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return f"refused by the partner: {details}"
    if code == grpc.StatusCode.UNAVAILABLE and is_tls_failure(details):
        return f"TLS handshake failed (certificate not trusted, expired, or names another party): {details}"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"unreachable: {details}"
    return f"{code.name}: {details}"
