"""The local path: worker processes reach their own site's gateway over a Unix socket."""

from __future__ import annotations

import multiprocessing as mp
import queue
import stat
import threading

import numpy as np
import pytest

from atoll.federation import (
    Context,
    Gateway,
    GetTimeoutError,
    JobOptions,
    JobParties,
    LocalTransport,
    UsageError,
    load_site_config,
)
from tests.federation._siteproc import component_main
from tests.federation._sites import make_sites
from tests.federation._tables import CountingSession, SyntheticTable

PARTIES = JobParties.of(guest=9999, hosts=[10000], arbiter=10001)
IDS = [9999, 10000, 10001]


@pytest.fixture(scope="module")
def gateways(tmp_path_factory):
    paths = make_sites(tmp_path_factory.mktemp("local"), IDS)
    gws = {pid: Gateway(load_site_config(p)).start() for pid, p in paths.items()}
    yield gws
    for gw in gws.values():
        gw.close()


def local_ctx(gw, party, job="job", **opts):
    transport = LocalTransport(gw.config.local_socket_path, party_id=party.party_id)
    return Context(
        job_id=job,
        local=party,
        parties=PARTIES,
        transport=transport,
        options=JobOptions(**opts) if opts else None,
        computing=CountingSession(),
    )


def test_socket_is_private(gateways):
    path = gateways[9999].config.local_socket_path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_put_get_and_table_through_local_sockets(gateways):
    g = local_ctx(gateways[9999], PARTIES.guest, "l1")
    h = local_ctx(gateways[10000], PARTIES.hosts[0], "l1")
    g.hosts.put("x", np.arange(4))
    np.testing.assert_array_equal(h.guest.get("x"), np.arange(4))
    got = {}
    t = threading.Thread(target=lambda: got.update(t=h.guest.get("t")))
    t.start()
    g.hosts.put("t", SyntheticTable(3, 600, 32 * 1024))  # ~19 MiB, many chunks
    t.join(30)
    assert got["t"] == {"partitions": 3, "rows": 600, "nbytes": 600 * 32 * 1024}


def test_local_and_in_process_components_interoperate(gateways):
    g = gateways[9999].context("l2", PARTIES.guest, PARTIES)
    a = local_ctx(gateways[10001], PARTIES.arbiter, "l2")
    a.guest.put("hello", "from a worker process's socket")
    assert g.arbiter.get("hello") == "from a worker process's socket"


def test_local_timeout_and_usage_errors(gateways):
    h = local_ctx(gateways[10000], PARTIES.hosts[0], "l3", timeout=0.3)
    with pytest.raises(GetTimeoutError, match=r"l3.*'nothing'"):
        h.guest.get("nothing")
    wrong = Context(
        job_id="l3",
        local=PARTIES.guest,
        parties=PARTIES,
        transport=LocalTransport(gateways[10000].config.local_socket_path, party_id=9999),
    )
    with pytest.raises(UsageError, match="cannot send as guest 9999"):
        wrong.hosts.put("spoof", 1)


@pytest.mark.multiprocess
def test_worker_processes_ping_pong_through_their_gateways(gateways):
    spawn = mp.get_context("spawn")
    results = spawn.Queue()
    procs = [
        spawn.Process(
            target=component_main,
            args=(
                str(gateways[pid].config.local_socket_path),
                pid,
                "ping_pong",
                {"n": 100},
                results,
            ),
        )
        for pid in IDS
    ]
    for p in procs:
        p.start()
    out = {}
    try:
        for _ in procs:
            try:
                pid, status, value = results.get(timeout=60)
            except queue.Empty:
                pytest.fail("worker processes did not finish")
            assert status == "ok", value
            out[pid] = value
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
        results.close()
        results.join_thread()
    assert out[9999]["n"] == 100
