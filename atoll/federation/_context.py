"""The context a component sees: peers by role, put/get, and namespaces for tags.

::

    ctx.hosts.put("pub_key", key)              # broadcast to every host
    grads = ctx.hosts.get("grad")              # one value per host, in party order
    w = ctx.arbiter.get("weights")
    for epoch in ctx.iterations("epoch", 10):  # tags epoch.0, epoch.1, ...
        epoch.guest.put("loss", loss)

The API does not depend on the transport: the same protocol code runs over
:mod:`atoll.federation.inprocess` in unit tests and over the gRPC gateway
between sites.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from atoll import codec
from atoll.federation._errors import PayloadError, StreamInterrupted, UsageError
from atoll.federation._messages import MessageDef
from atoll.federation._party import JobParties, Party
from atoll.federation._payload import (
    decode_object,
    object_chunks,
    read_table,
    table_chunks,
)
from atoll.federation._tables import TableSession, is_table
from atoll.federation._tags import Namespace, check_name
from atoll.federation._transport import (
    KIND_OBJECT,
    KIND_TABLE,
    ChunkSource,
    Envelope,
    Transport,
    check_job_id,
    describe_key,
)
from atoll.federation.transcript import Transcript, TranscriptRecord, summarize

__all__ = ["Context", "JobOptions", "PartyGroup", "PartyHandle"]

log = logging.getLogger("atoll.federation")

MessageName = str | MessageDef


@dataclasses.dataclass(frozen=True)
class JobOptions:
    """Per-job settings: ``get`` timeout in seconds, transcript (None: off), and the
    chunk size (None: the transport's, i.e. the site's ``chunk_size``)."""

    timeout: float = 600.0
    chunk_size: int | None = None
    transcript: Transcript | None = None

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise UsageError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        if self.chunk_size is not None and not 1024 <= self.chunk_size <= 64 * 1024 * 1024:
            raise UsageError(f"chunk_size must be in [1 KiB, 64 MiB], got {self.chunk_size!r}")


class _Job:
    """State shared by a context and all its sub-contexts."""

    def __init__(
        self,
        job_id: str,
        local: Party,
        parties: JobParties,
        transport: Transport,
        options: JobOptions,
        computing: TableSession | None,
    ) -> None:
        self.job_id = job_id
        self.local = local
        self.parties = parties
        self.transport = transport
        self.options = options
        self.computing = computing
        self.lock = threading.Lock()
        self.sent: set[tuple[Party, str, str]] = set()
        self.received: set[tuple[Party, str, str]] = set()


class Context:
    """What a component uses to talk to the other parties of its job."""

    def __init__(
        self,
        *,
        job_id: str,
        local: Party,
        parties: JobParties,
        transport: Transport,
        options: JobOptions | None = None,
        computing: TableSession | None = None,
    ) -> None:
        check_job_id(job_id)
        if local not in parties:
            raise UsageError(f"local party {local} is not a party of job {job_id!r}")
        self._job = _Job(job_id, local, parties, transport, options or JobOptions(), computing)
        self._ns = Namespace()

    @classmethod
    def _child(cls, parent: Context, ns: Namespace) -> Context:
        ctx = cls.__new__(cls)
        ctx._job = parent._job
        ctx._ns = ns
        return ctx

    # -- identity ----------------------------------------------------------------
    @property
    def job_id(self) -> str:
        return self._job.job_id

    @property
    def local(self) -> Party:
        return self._job.local

    @property
    def role(self) -> str:
        return self._job.local.role

    @property
    def party_id(self) -> int:
        return self._job.local.party_id

    @property
    def options(self) -> JobOptions:
        return self._job.options

    @property
    def computing(self) -> TableSession | None:
        return self._job.computing

    @property
    def namespace(self) -> Namespace:
        return self._ns

    @property
    def tag(self) -> str:
        return self._ns.path

    @property
    def job_parties(self) -> JobParties:
        return self._job.parties

    # -- peers -------------------------------------------------------------------
    @property
    def guest(self) -> PartyHandle:
        g = self._job.parties.guest
        if g is None:
            raise UsageError(f"job {self.job_id!r} has no guest")
        return PartyHandle(self, g)

    @property
    def arbiter(self) -> PartyHandle:
        a = self._job.parties.arbiter
        if a is None:
            raise UsageError(f"job {self.job_id!r} has no arbiter")
        return PartyHandle(self, a)

    @property
    def hosts(self) -> PartyGroup:
        return PartyGroup(self, self._job.parties.hosts)

    @property
    def parties(self) -> PartyGroup:
        """Every party of the job, in party order (guest, hosts, arbiter), this one included."""
        return PartyGroup(self, self._job.parties.all)

    @property
    def peers(self) -> PartyGroup:
        """Every party of the job except this one, in party order."""
        return PartyGroup(self, tuple(p for p in self._job.parties.all if p != self.local))

    def party(self, party: Party) -> PartyHandle:
        if party not in self._job.parties:
            raise UsageError(f"{party} is not a party of job {self.job_id!r}")
        return PartyHandle(self, party)

    # -- namespaces --------------------------------------------------------------
    def sub(self, name: str, index: int | None = None) -> Context:
        """A sub-namespace: messages put here carry the tag path ``.../name.index``."""
        return Context._child(self, self._ns.child(name, index))

    def iterations(self, name: str, count: int | Iterable[int]) -> Iterator[Context]:
        """``for it in ctx.iterations("epoch", 10)``: one sub-context per iteration."""
        indices = range(count) if isinstance(count, int) else count
        for i in indices:
            yield self.sub(name, i)

    # -- put/get -----------------------------------------------------------------
    def _resolve(
        self, name: MessageName, peer: Party, sending: bool
    ) -> tuple[str, MessageDef | None]:
        if isinstance(name, MessageDef):
            me, them = (name.sender, name.receiver) if sending else (name.receiver, name.sender)
            if self.role not in me:
                verb = "send" if sending else "receive"
                raise UsageError(
                    f"{self.local} may not {verb} message {name.name!r} (declared roles: {sorted(me)})"
                )
            if peer.role not in them:
                which = "to" if sending else "from"
                raise UsageError(
                    f"message {name.name!r} does not go {which} {peer} (declared roles: {sorted(them)})"
                )
            return name.name, name
        return check_name(name), None

    def _put(self, dsts: Sequence[Party], name: MessageName, obj: object) -> None:
        job = self._job
        if not dsts:
            return
        resolved = [self._resolve(name, d, sending=True) for d in dsts]
        plain, decl = resolved[0]
        if decl is not None and decl.payload is not None and not isinstance(obj, decl.payload):
            raise PayloadError(
                f"message {plain!r} is declared with payload {decl.payload}, got {type(obj).__name__}"
            )
        tag = self._ns.path
        with job.lock:
            for d in dsts:
                if (d, plain, tag) in job.sent:
                    raise UsageError(
                        f"message {plain!r} at tag {tag or '<root>'!r} was already put to {d} in job "
                        f"{job.job_id!r}; use ctx.sub(...) for a new iteration"
                    )
            job.sent.update((d, plain, tag) for d in dsts)
        chunk_size = job.options.chunk_size or job.transport.chunk_size
        source: ChunkSource
        if is_table(obj):
            kind, parts = KIND_TABLE, int(obj.num_partitions)  # type: ignore[attr-defined]
            table: Any = obj

            def source() -> Iterator[bytes]:
                return table_chunks(table, chunk_size)

        else:
            kind, parts = KIND_OBJECT, 0
            try:
                data = codec.encode(obj)
            except codec.CodecError as exc:
                raise PayloadError(
                    f"job {job.job_id!r}, message {plain!r}: cannot encode payload: {exc}"
                ) from exc

            def source() -> Iterator[bytes]:
                return object_chunks(data, chunk_size)

        summary = summarize(obj) if job.options.transcript is not None else ""
        for d in dsts:
            env = Envelope(job.job_id, job.local, d, plain, tag, kind, parts)
            nbytes = job.transport.send(env, source, timeout=job.options.timeout)
            self._record("put", env, summary, nbytes)

    def _get(self, src: Party, name: MessageName) -> Any:
        job = self._job
        plain, decl = self._resolve(name, src, sending=False)
        tag = self._ns.path
        with job.lock:
            if (src, plain, tag) in job.received:
                raise UsageError(
                    f"message {plain!r} at tag {tag or '<root>'!r} from {src} was already read in "
                    f"job {job.job_id!r}"
                )
            job.received.add((src, plain, tag))
        key = (job.job_id, src, job.local, plain, tag)
        where = describe_key(key)
        deadline = time.monotonic() + job.options.timeout
        while True:
            remaining = max(deadline - time.monotonic(), 0.001)
            incoming = job.transport.recv(key, timeout=remaining)
            env = incoming.envelope
            try:
                if env.kind == KIND_TABLE:
                    if job.computing is None:
                        raise UsageError(
                            f"{where}: a Table arrived but this context has no computing session"
                        )
                    obj = read_table(incoming.chunks(), env.num_partitions, job.computing, where)
                else:
                    obj = decode_object(incoming.chunks(), where)
                break
            except StreamInterrupted as exc:
                # the sender's stream broke off: drop what was read, wait for its retry
                log.info("%s broke off (%s); waiting for a retry", where, exc)
                deadline = time.monotonic() + job.options.timeout
            finally:
                incoming.release()
        if decl is not None and decl.payload is not None and not isinstance(obj, decl.payload):
            raise PayloadError(
                f"{where}: declared payload {decl.payload}, got {type(obj).__name__}"
            )
        if job.options.transcript is not None:
            self._record("get", env, summarize(obj), incoming.nbytes)
        return obj

    def _record(self, op: str, env: Envelope, summary: str, nbytes: int) -> None:
        transcript = self._job.options.transcript
        if transcript is None:
            return
        transcript.append(
            TranscriptRecord(
                job_id=env.job_id,
                party=str(self.local),
                op=op,
                source=str(env.src),
                destination=str(env.dst),
                name=env.name,
                tag=env.tag,
                summary=summary,
                nbytes=nbytes,
            )
        )

    def __repr__(self) -> str:
        return f"Context(job={self.job_id!r}, local={self.local}, tag={self.tag!r})"


class PartyHandle:
    """One peer: ``put`` sends to it, ``get`` receives from it."""

    def __init__(self, ctx: Context, party: Party) -> None:
        self._ctx = ctx
        self.party = party

    @property
    def role(self) -> str:
        return self.party.role

    @property
    def party_id(self) -> int:
        return self.party.party_id

    def put(self, name: MessageName, obj: object) -> None:
        self._ctx._put((self.party,), name, obj)

    def get(self, name: MessageName) -> Any:
        return self._ctx._get(self.party, name)

    def __repr__(self) -> str:
        return f"PartyHandle({self.party})"


class PartyGroup(Sequence[PartyHandle]):
    """Several peers in party order: ``put`` broadcasts, ``get`` returns one value per party."""

    def __init__(self, ctx: Context, parties: Sequence[Party]) -> None:
        self._ctx = ctx
        self._parties = tuple(parties)

    @property
    def members(self) -> tuple[Party, ...]:
        return self._parties

    @overload
    def __getitem__(self, i: int) -> PartyHandle: ...

    @overload
    def __getitem__(self, i: slice) -> PartyGroup: ...

    def __getitem__(self, i: int | slice) -> PartyHandle | PartyGroup:
        if isinstance(i, slice):
            return PartyGroup(self._ctx, self._parties[i])
        return PartyHandle(self._ctx, self._parties[i])

    def __len__(self) -> int:
        return len(self._parties)

    def put(self, name: MessageName, obj: object) -> None:
        self._ctx._put(self._parties, name, obj)

    def get(self, name: MessageName) -> list[Any]:
        return [self._ctx._get(p, name) for p in self._parties]

    def __repr__(self) -> str:
        return f"PartyGroup({', '.join(map(str, self._parties))})"
