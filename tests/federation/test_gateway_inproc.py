"""Gateways with real sockets and mutual TLS, all in this process (fast checks)."""

from __future__ import annotations

import numpy as np
import pytest

from atoll.federation import (
    Gateway,
    GetTimeoutError,
    JobOptions,
    JobParties,
    Transcript,
    UsageError,
    load_site_config,
)
from tests.federation._sites import make_sites
from tests.federation._tables import ListSession, ListTable, SyntheticTable

PARTIES = JobParties.of(guest=9999, hosts=[10000], arbiter=10001)


@pytest.fixture(scope="module")
def gateways(tmp_path_factory):
    paths = make_sites(tmp_path_factory.mktemp("fed"), [9999, 10000, 10001])
    gws = {pid: Gateway(load_site_config(p)).start() for pid, p in paths.items()}
    yield gws
    for gw in gws.values():
        gw.close()


def ctxs(gateways, job_id, **opts):
    options = JobOptions(**opts) if opts else None
    return {
        p: gateways[p.party_id].context(
            job_id, p, PARTIES, options=options, computing=ListSession()
        )
        for p in PARTIES
    }


def test_put_get_over_tls(gateways):
    c = ctxs(gateways, "j1")
    g, h, a = (c[p] for p in PARTIES)
    g.hosts.put("x", np.arange(5))
    g.arbiter.put("y", {"k": [1, 2]})
    np.testing.assert_array_equal(h.guest.get("x"), np.arange(5))
    assert a.guest.get("y") == {"k": [1, 2]}


def test_large_object_in_many_chunks(gateways):
    c = ctxs(gateways, "j2", chunk_size=64 * 1024, timeout=30)
    data = np.random.default_rng(0).random(300_000)  # 2.4 MB -> ~37 chunks
    c[PARTIES.guest].hosts.put("big", data)
    np.testing.assert_array_equal(c[PARTIES.hosts[0]].guest.get("big"), data)


def test_table_over_gateway_spills_and_streams(gateways):
    c = ctxs(gateways, "j3", timeout=30)
    rows = [[(i, bytes([i % 256]) * 100) for i in range(p, 5000, 3)] for p in range(3)]
    c[PARTIES.guest].arbiter.put("t", ListTable(rows))
    got = c[PARTIES.arbiter].guest.get("t")
    assert got.num_partitions == 3
    assert sorted(got.rows()) == sorted(r for p in rows for r in p)


def test_timeout_names_everything(gateways):
    c = ctxs(gateways, "j4", timeout=0.3)
    with pytest.raises(GetTimeoutError, match=r"j4.*'nothing'.*epoch\.2.*guest 9999"):
        c[PARTIES.hosts[0]].sub("epoch", 2).guest.get("nothing")


def test_transcript_over_gateway(gateways):
    t = Transcript()
    c = ctxs(gateways, "j5", transcript=t)
    c[PARTIES.guest].hosts.put("m", np.zeros((569, 10)))
    c[PARTIES.hosts[0]].guest.get("m")
    assert [r.op for r in t] == ["put", "get"]
    assert t.records(op="get")[0].summary == "ndarray float64 (569, 10)"


def test_route_check(gateways):
    results = gateways[9999].check_routes(timeout=5)
    assert [r.party_id for r in results] == [10000, 10001]
    assert all(r.reachable and r.rtt_ms is not None for r in results), results


def test_real_computing_tables_cross_gateways(gateways, tmp_path):
    from atoll.computing import open_session

    with (
        open_session(data_dir=tmp_path / "g", workers=1) as sg,
        open_session(data_dir=tmp_path / "h", workers=1) as sh,
    ):
        table = sg.parallelize([(i, f"row{i}".encode() * 50) for i in range(20_000)], partitions=4)
        g = gateways[9999].context("j6", PARTIES.guest, PARTIES, computing=sg)
        h = gateways[10000].context("j6", PARTIES.hosts[0], PARTIES, computing=sh)
        g.hosts.put("t", table)
        got = h.guest.get("t")
        assert got.num_partitions == 4 and got.count() == 20_000
        for i in range(4):
            assert list(got.iter_partition(i)) == list(table.iter_partition(i))


def test_table_streams_to_a_waiting_reader(gateways):
    """The reader is already waiting: chunks stream through without spilling."""
    import threading

    c = ctxs(gateways, "j7", timeout=30)
    result = {}
    t = threading.Thread(target=lambda: result.update(got=c[PARTIES.arbiter].guest.get("t")))
    t.start()
    table = SyntheticTable(4, 800, 64 * 1024)  # 50 MiB > spill threshold
    c[PARTIES.guest].arbiter.put("t", table)
    t.join(30)
    assert sorted(result["got"].rows()) == sorted(
        r for p in range(4) for r in table.iter_partition(p)
    )
    spool = gateways[10001].mailbox.spool_dir
    assert spool is None or not any(spool.glob("*.part"))


def test_site_playing_two_roles_delivers_locally(gateways):
    two = JobParties.of(guest=9999, hosts=[10000], arbiter=9999)
    g = gateways[9999].context("j8", two.guest, two)
    a = gateways[9999].context("j8", two.arbiter, two)
    h = gateways[10000].context("j8", two.hosts[0], two)
    g.arbiter.put("local", 1)
    h.arbiter.put("remote", 2)
    assert (a.guest.get("local"), a.hosts[0].get("remote")) == (1, 2)


def test_context_needs_routes_to_every_party(gateways):
    other = JobParties.of(guest=9999, hosts=[10000, 424242])
    with pytest.raises(UsageError, match="no route to party 424242"):
        gateways[9999].context("j9", other.guest, other)


def test_insecure_loopback_sites_when_asked_for(tmp_path, caplog):
    import logging

    caplog.set_level(logging.INFO, "atoll.federation")
    paths = make_sites(tmp_path, [9999, 10000], insecure=True)
    two = JobParties.of(guest=9999, hosts=[10000])
    with (
        Gateway(load_site_config(paths[9999])) as g,
        Gateway(load_site_config(paths[10000])) as h,
    ):
        g.context("j10", two.guest, two).hosts.put("plain", "text")
        assert h.context("j10", two.hosts[0], two).guest.get("plain") == "text"
        assert g.check_route(10000).reason == "insecure plaintext (loopback)"
    assert "INSECURE plaintext, loopback only" in caplog.text
