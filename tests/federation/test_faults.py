"""Faults: a sender killed mid-transfer, a receiving gateway restarted mid-job."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

import pytest

from atoll.federation import (
    Gateway,
    GetTimeoutError,
    JobOptions,
    JobParties,
    PeerGoneError,
    load_site_config,
)
from tests.federation._siteproc import idle_site, slow_sender
from tests.federation._sites import make_sites
from tests.federation._tables import CountingSession, SlowTable

PARTIES = JobParties.of(guest=9999, hosts=[10000], arbiter=10001)
GUEST, HOST = PARTIES.guest, PARTIES.hosts[0]


@pytest.mark.multiprocess
def test_sender_killed_mid_transfer_is_reported_as_gone(tmp_path):
    paths = make_sites(tmp_path, [9999, 10000, 10001], extra={"gone_grace": 0.5})
    with Gateway(load_site_config(paths[10000])) as gw:
        ctx = gw.context(
            "job-kill", HOST, PARTIES, options=JobOptions(timeout=60), computing=CountingSession()
        )
        spawn = mp.get_context("spawn")
        started = spawn.Event()
        proc = spawn.Process(target=slow_sender, args=(str(paths[9999]), started))
        proc.start()
        try:
            assert started.wait(30)
            deadline = time.monotonic() + 20
            while not any(e.state == "receiving" for e in gw.mailbox._entries.values()):
                assert time.monotonic() < deadline, "transfer never started"
                time.sleep(0.05)
            proc.kill()
            t0 = time.monotonic()
            with pytest.raises(PeerGoneError) as info:
                ctx.guest.get("table")
            waited = time.monotonic() - t0
        finally:
            proc.kill()
            proc.join()
    assert waited < 30  # well within the 60 s timeout
    msg = str(info.value)
    assert "guest 9999" in msg and "connection dropped" in msg and "'table'" in msg


@pytest.mark.multiprocess
def test_idle_sender_site_killed_is_reported_as_gone(tmp_path):
    """The sender's whole site dies between messages: the receiver's gateway notices."""
    paths = make_sites(tmp_path, [9999, 10000, 10001], extra={"gone_grace": 0.5})
    with Gateway(load_site_config(paths[10000])) as gw:
        ctx = gw.context("job-idle", HOST, PARTIES, options=JobOptions(timeout=60))
        spawn = mp.get_context("spawn")
        started = spawn.Event()
        proc = spawn.Process(target=idle_site, args=(str(paths[9999]), started))
        proc.start()
        try:
            assert started.wait(30)
            assert gw.check_route(9999, timeout=5).reachable  # seen alive
            killer = threading.Timer(1.5, proc.kill)
            killer.start()
            t0 = time.monotonic()
            with pytest.raises(PeerGoneError) as info:
                ctx.guest.get("never-sent")
            waited = time.monotonic() - t0
            killer.join()
        finally:
            proc.kill()
            proc.join()
    assert 1.0 < waited < 30
    assert "guest 9999" in str(info.value) and "stopped answering" in str(info.value)


def test_receiving_gateway_restarted_mid_job_message_arrives_exactly_once(tmp_path):
    paths = make_sites(tmp_path, [9999, 10000, 10001])
    sender = Gateway(load_site_config(paths[9999])).start()
    receiver = Gateway(load_site_config(paths[10000])).start()
    opts = JobOptions(timeout=60, chunk_size=64 * 1024)
    try:
        g = sender.context("job-r", GUEST, PARTIES, options=opts)
        h = receiver.context("job-r", HOST, PARTIES, options=opts, computing=CountingSession())
        g.hosts.put("before", 1)
        assert h.guest.get("before") == 1

        # a slow Table is streaming when the receiving gateway goes down
        errors: list[BaseException] = []

        def send() -> None:
            try:
                g.hosts.put("table", SlowTable(2, 600, 16 * 1024, 0.002))
                g.hosts.put("after", 2)
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=send)
        t.start()
        deadline = time.monotonic() + 20
        while not any(e.state == "receiving" for e in receiver.mailbox._entries.values()):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        receiver.stop(grace=0)
        time.sleep(1.0)  # the sender keeps retrying meanwhile
        receiver.start()
        table = h.guest.get("table")
        assert h.guest.get("after") == 2
        t.join(30)
        assert not errors, errors
        assert table == {"partitions": 2, "rows": 600, "nbytes": 600 * 16 * 1024}
        # exactly once: nothing else is waiting under those names
        again = receiver.context(
            "job-r", HOST, PARTIES, options=JobOptions(timeout=0.3), computing=CountingSession()
        )
        for name in ("table", "after"):
            with pytest.raises(GetTimeoutError):
                again.guest.get(name)
    finally:
        sender.close()
        receiver.close()
