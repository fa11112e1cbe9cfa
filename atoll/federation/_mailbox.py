"""The receiving side's mailbox: messages wait here until their receiver reads them.

Used by the in-process transport and by the gateway. One :class:`Inbound`
writes a message chunk by chunk as its stream arrives. What happens to the
chunks depends on the receiver:

* the receiver is already waiting (``take`` was called): chunks stream straight
  through a bounded in-memory buffer; when the buffer is full the writer waits,
  which stalls the gRPC stream and, by its flow control, the sender;
* nobody is reading yet: chunks stay in memory up to ``spill_threshold`` bytes,
  then the whole message spills to a file under ``spool_dir`` and is read from
  there once complete.

Either way no Table is ever held whole. A duplicate (same job, source,
destination, name and tag path) of a message that already arrived is dropped.

A stream that breaks mid-message marks it failed; a reader that was streaming
it gets :class:`StreamInterrupted` and waits again: if the sender retries within
``gone_grace`` seconds the message is read from the start, otherwise ``take``
raises :class:`PeerGoneError` at once instead of waiting for its timeout.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from atoll.federation._errors import (
    GetTimeoutError,
    PeerGoneError,
    StreamInterrupted,
    TransportError,
)
from atoll.federation._party import Party
from atoll.federation._transport import Envelope, Incoming, MessageKey, describe_key

__all__ = ["Busy", "Inbound", "Mailbox"]

log = logging.getLogger("atoll.federation")

_FRAME = struct.Struct(">I")
RECEIVING, COMPLETE, FAILED = "receiving", "complete", "failed"


class Busy(Exception):
    """The same message is being received on another stream right now; retry later."""


class _Entry:
    """One message in the mailbox; ``cond`` guards every field."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self.cond = threading.Condition()
        self.state = RECEIVING
        self.mem: collections.deque[bytes] = collections.deque()
        self.mem_bytes = 0
        self.path: Path | None = None
        self.file: BinaryIO | None = None
        self.nbytes = 0
        self.streaming = False  # a reader takes chunks from ``mem`` as they come
        self.claimed = False  # a reader has this entry
        self.discarded = False  # the reader gave up: drop what still arrives
        self.failure = ""
        self.failed_at = 0.0

    def close_file(self, *, delete: bool) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if delete and self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.path = None


class Inbound:
    """Writes one incoming message into the mailbox."""

    def __init__(self, mailbox: Mailbox, entry: _Entry) -> None:
        self._box = mailbox
        self._entry = entry
        self.envelope = entry.envelope

    @property
    def nbytes(self) -> int:
        return self._entry.nbytes

    def write(self, chunk: bytes) -> None:
        e, box = self._entry, self._box
        with e.cond:
            e.nbytes += len(chunk)
            if e.discarded:
                return
            if e.file is None and e.streaming:
                while e.streaming and e.mem_bytes >= box.stream_buffer and not e.discarded:
                    e.cond.wait(1.0)  # backpressure: the reader is behind
                if e.discarded:
                    return
            if (
                e.file is None
                and not e.streaming
                and box.spool_dir is not None
                and e.mem_bytes + len(chunk) > box.spill_threshold
            ):
                self._spill(box.spool_dir)
            if e.file is not None:
                e.file.write(_FRAME.pack(len(chunk)))
                e.file.write(chunk)
            else:
                e.mem.append(chunk)
                e.mem_bytes += len(chunk)
                e.cond.notify_all()

    def _spill(self, spool: Path) -> None:
        e = self._entry
        spool.mkdir(parents=True, exist_ok=True)
        e.path = spool / f"{uuid.uuid4().hex}.part"
        fd = os.open(e.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        e.file = os.fdopen(fd, "wb", buffering=1024 * 1024)
        while e.mem:
            c = e.mem.popleft()
            e.file.write(_FRAME.pack(len(c)))
            e.file.write(c)
        e.mem_bytes = 0

    def commit(self) -> None:
        e = self._entry
        with e.cond:
            e.close_file(delete=False)
            e.state = COMPLETE
            e.cond.notify_all()
        self._box._completed(e)

    def abort(self, reason: str, *, peer_dropped: bool) -> None:
        """Give up on this message. ``peer_dropped``: the sender's side failed (its
        receiver hears ``reason`` after the grace unless a retry comes); otherwise the
        failure is ours (shutting down) and the receiver just waits for the retry."""
        e = self._entry
        with e.cond:
            e.close_file(delete=True)
            e.mem.clear()
            e.mem_bytes = 0
            e.state = FAILED
            e.failure = reason
            e.failed_at = time.monotonic()
            e.cond.notify_all()
        self._box._failed(e, peer_dropped=peer_dropped)


class _Reader(Incoming):
    def __init__(self, box: Mailbox, entry: _Entry, timeout: float) -> None:
        self._box = box
        self._entry = entry
        self._timeout = timeout
        self.envelope = entry.envelope

    @property
    def nbytes(self) -> int:  # type: ignore[override]
        return self._entry.nbytes

    def chunks(self) -> Iterator[bytes]:
        """The message's chunks as they arrive; the timeout bounds each wait for progress."""
        e = self._entry
        with e.cond:
            if e.file is None and e.state == RECEIVING:
                e.streaming = True
        deadline = time.monotonic() + self._timeout
        seen = -1
        while True:
            with e.cond:
                while True:
                    if e.mem:
                        chunk = e.mem.popleft()
                        e.mem_bytes -= len(chunk)
                        e.cond.notify_all()
                        break
                    if e.state == FAILED:
                        raise StreamInterrupted(e.failure)
                    if e.state == COMPLETE:
                        if e.path is None:
                            return
                        chunk = b""
                        break
                    now = time.monotonic()
                    if e.nbytes != seen:  # still arriving (perhaps into the spool file)
                        seen = e.nbytes
                        deadline = now + self._timeout
                    if now >= deadline:
                        raise GetTimeoutError(
                            f"timed out: {describe_key(e.envelope.key)} started arriving but "
                            f"made no progress for {self._timeout:g} s after {e.nbytes} bytes"
                        )
                    e.cond.wait(min(deadline - now, 1.0))
            if chunk:
                yield chunk
                deadline = time.monotonic() + self._timeout
                continue
            path = e.path  # complete and spilled: read the file
            if path is None:
                return
            with open(path, "rb") as f:
                while head := f.read(_FRAME.size):
                    (n,) = _FRAME.unpack(head)
                    yield f.read(n)
            return

    def release(self) -> None:
        e = self._entry
        with e.cond:
            e.streaming = False
            if e.state == RECEIVING:
                e.discarded = True
            e.mem.clear()
            e.mem_bytes = 0
            e.close_file(delete=True)
            e.cond.notify_all()
        self._box._released(e)


class Mailbox:
    def __init__(
        self,
        *,
        spool_dir: Path | None = None,
        spill_threshold: int = 16 * 1024 * 1024,
        stream_buffer: int = 16 * 1024 * 1024,
        gone_grace: float = 3.0,
    ) -> None:
        self.spool_dir = spool_dir
        self.spill_threshold = spill_threshold
        self.stream_buffer = stream_buffer
        self.gone_grace = gone_grace
        self._cond = threading.Condition()
        self._entries: dict[MessageKey, _Entry] = {}
        self._done: set[MessageKey] = set()  # arrived whole: a repeat is a duplicate
        self._gone: dict[int | Party, str] = {}  # a site (party id) or one party -> reason
        self._closed_jobs: set[str] = set()  # forgotten: late messages dropped, readers told
        self._closed: str | None = None  # why the whole mailbox closed (the gateway stopped)
        # Asked while a receiver waits: is this source known to be gone? (the gateway pings)
        self.watch: Callable[[Party], str | None] | None = None
        self.watch_every = 1.0

    # -- writing side -------------------------------------------------------------
    def open_inbound(self, envelope: Envelope) -> Inbound | None:
        """Start receiving; None for a duplicate (already arrived); Busy if in flight."""
        key = envelope.key
        with self._cond:
            if key in self._done:
                log.info("duplicate dropped: %s", describe_key(key))
                return None
            if key[0] in self._closed_jobs:
                log.info("dropped, its job ended here: %s", describe_key(key))
                return None
            old = self._entries.get(key)
            if old is not None and old.state == RECEIVING:
                raise Busy(describe_key(key))
            entry = self._entries[key] = _Entry(envelope)
            self._gone.pop(envelope.src.party_id, None)
            self._gone.pop(envelope.src, None)
            self._cond.notify_all()
            return Inbound(self, entry)

    def deliver(self, envelope: Envelope, chunks: Iterable[bytes]) -> int | None:
        """Deliver a message from this process, chunk by chunk; its bytes, or None if a duplicate.

        If producing the chunks fails, nothing is delivered and the error propagates.
        """
        inbound = self.open_inbound(envelope)
        if inbound is None:
            return None
        try:
            for c in chunks:
                inbound.write(c)
        except BaseException:
            inbound.abort("the sender failed while producing the payload", peer_dropped=False)
            raise
        inbound.commit()
        return inbound.nbytes

    def _completed(self, entry: _Entry) -> None:
        with self._cond:
            self._done.add(entry.envelope.key)
            self._cond.notify_all()

    def _failed(self, entry: _Entry, *, peer_dropped: bool) -> None:
        key = entry.envelope.key
        with self._cond:
            if not peer_dropped and self._entries.get(key) is entry:
                del self._entries[key]
            self._cond.notify_all()

    def _released(self, entry: _Entry) -> None:
        key = entry.envelope.key
        with self._cond:
            if self._entries.get(key) is entry and entry.state != FAILED:
                del self._entries[key]

    def mark_gone(self, who: int | Party, reason: str) -> None:
        """Record that a peer site (a party id) or one party is gone; its receivers fail at once."""
        with self._cond:
            self._gone[who] = reason
            self._cond.notify_all()

    def clear_gone(self, who: int | Party) -> None:
        """The peer is back (it answered): stop reporting it gone."""
        with self._cond:
            self._gone.pop(who, None)

    def in_flight(self) -> int:
        """How many messages are arriving right now."""
        with self._cond:
            return sum(1 for e in self._entries.values() if e.state == RECEIVING)

    # -- reading side -------------------------------------------------------------
    def take(self, key: MessageKey, *, timeout: float) -> Incoming:
        """Wait for message ``key`` to start arriving; its chunks stream as they come.

        While nothing has arrived, ``watch`` (if set) is asked every ``watch_every``
        seconds whether the source is known to be gone; if so, PeerGoneError at once.
        """
        deadline = time.monotonic() + timeout
        src = key[1]
        next_watch = time.monotonic() + self.watch_every
        while True:
            with self._cond:
                now = time.monotonic()
                entry = self._entries.get(key)
                wait = deadline - now
                if self._closed is not None or key[0] in self._closed_jobs:
                    why = self._closed or f"job {key[0]!r} ended at this site"
                    raise TransportError(f"{why} (while waiting for {describe_key(key)})")
                if entry is not None and entry.state != FAILED and not entry.claimed:
                    entry.claimed = True
                    return _Reader(self, entry, timeout)
                if entry is not None and entry.state == FAILED:
                    gone_at = entry.failed_at + self.gone_grace
                    if now >= gone_at:
                        del self._entries[key]
                        raise PeerGoneError(
                            f"peer {src} is gone: {entry.failure} "
                            f"(while waiting for {describe_key(key)})"
                        )
                    wait = min(wait, gone_at - now)
                elif entry is None and (src in self._gone or src.party_id in self._gone):
                    reason = self._gone.get(src) or self._gone[src.party_id]
                    raise PeerGoneError(
                        f"peer {src} is gone: {reason} (while waiting for {describe_key(key)})"
                    )
                if now >= deadline:
                    raise GetTimeoutError(
                        f"timed out after {timeout:g} s waiting for {describe_key(key)}"
                    )
                probe = self.watch is not None and entry is None
                if probe:
                    wait = min(wait, next_watch - now)
                if wait > 0:
                    self._cond.wait(wait)
            if probe and self.watch is not None and time.monotonic() >= next_watch:
                verdict = self.watch(src)  # outside the lock: it may take a round trip
                next_watch = time.monotonic() + self.watch_every
                if verdict is not None:
                    raise PeerGoneError(
                        f"peer {src} is gone: {verdict} (while waiting for {describe_key(key)})"
                    )

    def close(self, reason: str) -> None:
        """Wake every reader with a TransportError giving ``reason`` (the gateway stops)."""
        with self._cond:
            self._closed = reason
            self._cond.notify_all()

    def forget_job(self, job_id: str) -> None:
        """Drop everything held for ``job_id`` (after the job ends here): readers still
        waiting for it get a TransportError, and messages that arrive later are dropped."""
        with self._cond:
            self._closed_jobs.add(job_id)
            self._cond.notify_all()
            for key in [k for k in self._entries if k[0] == job_id]:
                e = self._entries.pop(key)
                with e.cond:
                    e.discarded = True
                    e.mem.clear()
                    e.close_file(delete=True)
                    if e.state == RECEIVING:
                        e.state, e.failure = FAILED, f"job {job_id!r} was closed"
                    e.cond.notify_all()
            self._done = {k for k in self._done if k[0] != job_id}
