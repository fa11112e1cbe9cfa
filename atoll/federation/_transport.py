"""The transport beneath every context: move one message's bytes between parties.

A transport knows nothing about Python objects; it moves an :class:`Envelope`
(job, source, destination, name, tag path, payload kind) and a stream of byte
chunks, and hands them to the receiver when it asks. Two implementations:
:mod:`atoll.federation.inprocess` (no sockets) and the gRPC gateway.
"""

from __future__ import annotations

import abc
import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator

from atoll.codec import message
from atoll.federation._errors import UsageError
from atoll.federation._party import Party

__all__ = ["ChunkSource", "Envelope", "Incoming", "MessageKey", "Transport", "check_job_id"]

DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
KIND_OBJECT = "object"
KIND_TABLE = "table"
_KINDS = frozenset({KIND_OBJECT, KIND_TABLE})
_JOB_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}\Z")

MessageKey = tuple[str, Party, Party, str, str]  # job, source, destination, name, tag path
ChunkSource = Callable[[], Iterable[bytes]]  # called again for each retry


def check_job_id(job_id: object) -> str:
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise UsageError(
            f"job id must be 1-128 characters of letters, digits, '_', '.', ':' or '-'; got {job_id!r}"
        )
    return job_id


@message(type_id=201)
@dataclasses.dataclass(frozen=True)
class Envelope:
    """Everything about a message except its payload; travels ahead of the chunks."""

    job_id: str
    src: Party
    dst: Party
    name: str
    tag: str
    kind: str = KIND_OBJECT
    num_partitions: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise UsageError(f"payload kind must be one of {sorted(_KINDS)}, got {self.kind!r}")

    @property
    def key(self) -> MessageKey:
        return (self.job_id, self.src, self.dst, self.name, self.tag)

    def describe(self) -> str:
        tag = self.tag or "<root>"
        return (
            f"job {self.job_id!r}, message {self.name!r} at tag {tag!r} "
            f"from {self.src} to {self.dst}"
        )


def describe_key(key: MessageKey) -> str:
    job_id, src, dst, name, tag = key
    return f"job {job_id!r}, message {name!r} at tag {tag or '<root>'!r} from {src} to {dst}"


class Incoming(abc.ABC):
    """A message that has arrived: its envelope and its chunks, read once."""

    envelope: Envelope
    nbytes: int

    @abc.abstractmethod
    def chunks(self) -> Iterator[bytes]: ...

    def release(self) -> None:  # noqa: B027 - optional hook
        """Free what the message holds (spool files); called once it has been read."""


class Transport(abc.ABC):
    """Moves envelopes and chunk streams; one instance serves one site or one process."""

    chunk_size: int = DEFAULT_CHUNK_SIZE

    @abc.abstractmethod
    def send(self, envelope: Envelope, chunks: ChunkSource, *, timeout: float) -> int:
        """Deliver a message to the destination's mailbox; return the payload bytes sent.

        ``chunks`` is called once per attempt, so a retry streams from the start.
        Raises RefusedError, PeerGoneError or GetTimeoutError-like TransportErrors.
        """

    @abc.abstractmethod
    def recv(self, key: MessageKey, *, timeout: float) -> Incoming:
        """Wait up to ``timeout`` seconds for the message ``key``; raise on expiry or a gone peer."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""
