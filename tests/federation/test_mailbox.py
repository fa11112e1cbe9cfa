"""The mailbox on its own: spill, streaming with backpressure, interruptions, duplicates."""

from __future__ import annotations

import threading
import time

import pytest

from atoll.federation import (
    Envelope,
    GetTimeoutError,
    JobParties,
    PeerGoneError,
    StreamInterrupted,
    TransportError,
)
from atoll.federation._mailbox import Busy, Mailbox

P = JobParties.of(guest=1, hosts=[2])
KB = 1024


def env(name="m"):
    return Envelope("job", P.guest, P.hosts[0], name, "")


def test_small_message_waits_in_memory_until_read(tmp_path):
    box = Mailbox(spool_dir=tmp_path, spill_threshold=64 * KB)
    assert box.deliver(env(), [b"a", b"b"]) == 2
    incoming = box.take(env().key, timeout=1)
    assert list(incoming.chunks()) == [b"a", b"b"]
    incoming.release()
    assert not list(tmp_path.iterdir())


def test_unread_large_message_spills_to_disk_and_is_removed_after_reading(tmp_path):
    box = Mailbox(spool_dir=tmp_path, spill_threshold=64 * KB)
    chunks = [bytes([i]) * (16 * KB) for i in range(20)]
    box.deliver(env(), chunks)
    assert len(list(tmp_path.glob("*.part"))) == 1
    incoming = box.take(env().key, timeout=1)
    assert list(incoming.chunks()) == chunks
    incoming.release()
    assert not list(tmp_path.glob("*.part"))


def test_waiting_reader_streams_with_bounded_buffer(tmp_path):
    box = Mailbox(spool_dir=tmp_path, spill_threshold=64 * KB, stream_buffer=64 * KB)
    peak = [0]
    got = []

    def read():
        incoming = box.take(env().key, timeout=5)
        for c in incoming.chunks():
            time.sleep(0.001)
            got.append(len(c))
        incoming.release()

    t = threading.Thread(target=read)
    t.start()
    inbound = box.open_inbound(env())
    entry = box._entries[env().key]
    deadline = time.monotonic() + 5
    while not entry.streaming:  # let the reader attach
        assert time.monotonic() < deadline
        time.sleep(0.005)
    for _ in range(200):
        inbound.write(b"x" * (8 * KB))
        peak[0] = max(peak[0], box._entries[env().key].mem_bytes)
    inbound.commit()
    t.join(5)
    assert sum(got) == 200 * 8 * KB
    assert peak[0] <= 64 * KB + 8 * KB  # backpressure held the buffer
    assert not list(tmp_path.glob("*.part"))  # streamed, never spilled


def test_duplicate_is_dropped_and_in_flight_is_busy():
    box = Mailbox()
    inbound = box.open_inbound(env())
    with pytest.raises(Busy):
        box.open_inbound(env())
    inbound.write(b"1")
    inbound.commit()
    assert box.open_inbound(env()) is None
    box.take(env().key, timeout=1).release()
    assert box.deliver(env(), [b"1"]) is None  # read already: still a duplicate


def test_interrupted_stream_then_retry_is_read_from_the_start():
    box = Mailbox(gone_grace=5)
    first = box.open_inbound(env())
    first.write(b"partial")
    incoming = box.take(env().key, timeout=1)
    chunks = incoming.chunks()
    assert next(chunks) == b"partial"
    first.abort("connection dropped", peer_dropped=True)
    with pytest.raises(StreamInterrupted):
        next(chunks)
    incoming.release()
    box.deliver(env(), [b"whole"])  # the sender's retry
    again = box.take(env().key, timeout=1)
    assert list(again.chunks()) == [b"whole"]


def test_dropped_peer_without_retry_is_gone_after_grace():
    box = Mailbox(gone_grace=0.2)
    inbound = box.open_inbound(env())
    inbound.abort("connection dropped mid-message", peer_dropped=True)
    t0 = time.monotonic()
    with pytest.raises(PeerGoneError, match="guest 1 is gone: connection dropped"):
        box.take(env().key, timeout=30)
    assert time.monotonic() - t0 < 5


def test_timeout_and_forget_job(tmp_path):
    box = Mailbox(spool_dir=tmp_path, spill_threshold=KB)
    with pytest.raises(GetTimeoutError):
        box.take(env().key, timeout=0.05)
    box.deliver(env("big"), [b"z" * (4 * KB)])
    assert list(tmp_path.glob("*.part"))
    box.forget_job("job")
    assert not list(tmp_path.glob("*.part"))
    assert box.deliver(env("big"), [b"z"]) is None  # the job ended here: late messages dropped
    assert not list(tmp_path.glob("*.part"))
    with pytest.raises(TransportError, match="ended at this site"):
        box.take(env("other").key, timeout=30)  # at once, not after the timeout


def test_close_wakes_every_reader(tmp_path):
    box = Mailbox(spool_dir=tmp_path)
    errors = []

    def read():
        try:
            box.take(env().key, timeout=30)
        except TransportError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.1)
    t0 = time.monotonic()
    box.close("the gateway closed")
    for t in threads:
        t.join(5)
    assert time.monotonic() - t0 < 2
    assert len(errors) == 3 and all("the gateway closed" in str(e) for e in errors)
