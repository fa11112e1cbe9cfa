"""The context API over the in-process transport: the contract every protocol relies on."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from atoll.federation import (
    GetTimeoutError,
    InProcessFederation,
    JobOptions,
    JobParties,
    Party,
    PayloadError,
    PeerGoneError,
    Transcript,
    UsageError,
    declare,
)
from tests.federation._tables import ListSession, ListTable

PARTIES = JobParties.of(guest=9999, hosts=[10000, 10002], arbiter=10001)


def fed(**kw):
    return InProcessFederation(PARTIES, options=JobOptions(timeout=kw.pop("timeout", 10.0), **kw))


def test_broadcast_and_gather_in_party_order():
    def guest(ctx):
        ctx.hosts.put("w", np.arange(3.0))
        return ctx.hosts.get("grad")

    def host(ctx):
        w = ctx.guest.get("w")
        ctx.guest.put("grad", w * ctx.party_id)
        return ctx.party_id

    out = fed().run({"guest": guest, "host": host})
    grads = out[PARTIES.guest]
    np.testing.assert_array_equal(grads[0], np.arange(3.0) * 10000)
    np.testing.assert_array_equal(grads[1], np.arange(3.0) * 10002)
    assert out[PARTIES.hosts[1]] == 10002


def test_single_host_and_arbiter_and_parties():
    def guest(ctx):
        ctx.hosts[1].put("only", "for host 2")
        ctx.arbiter.put("x", 1)
        return ctx.parties.get("hello")

    def host(ctx):
        ctx.parties.put("hello", ctx.party_id)
        if ctx.party_id == 10002:
            return ctx.guest.get("only")
        return ctx.parties.get("hello")

    def arbiter(ctx):
        ctx.parties.put("hello", ctx.party_id)
        return ctx.guest.get("x")

    def guest_full(ctx):
        ctx.parties.put("hello", ctx.party_id)
        return guest(ctx)

    out = fed().run({"guest": guest_full, "host": host, "arbiter": arbiter})
    assert out[PARTIES.guest] == [9999, 10000, 10002, 10001]
    assert out[PARTIES.hosts[1]] == "for host 2"
    assert out[PARTIES.hosts[0]] == [9999, 10000, 10002, 10001]
    assert out[PARTIES.arbiter] == 1


def test_peers_excludes_self():
    f = fed()
    ctx = f.context(PARTIES.hosts[0])
    assert [h.party for h in ctx.peers] == [PARTIES.guest, PARTIES.hosts[1], PARTIES.arbiter]
    assert len(ctx.parties) == 4


def test_same_name_in_two_iterations_never_confused():
    def guest(ctx):
        for it in ctx.iterations("epoch", 3):
            it.hosts[0].put("loss", it.tag)
        return None

    def host(ctx):
        # read in reverse order: tags keep them apart
        return [ctx.sub("epoch", i).guest.get("loss") for i in (2, 1, 0)]

    parties = JobParties.of(guest=1, hosts=[2])
    out = InProcessFederation(parties).run({"guest": guest, "host": host})
    assert out[parties.hosts[0]] == ["epoch.2", "epoch.1", "epoch.0"]


def test_put_twice_same_tag_is_refused():
    ctx = fed().context(PARTIES.guest)
    ctx.arbiter.put("a", 1)
    with pytest.raises(UsageError, match="already put"):
        ctx.arbiter.put("a", 2)
    ctx.sub("round", 1).arbiter.put("a", 2)  # a new namespace is fine


def test_get_timeout_names_job_peer_name_and_tag():
    f = InProcessFederation(PARTIES, job_id="job-42", options=JobOptions(timeout=0.2))
    ctx = f.context(PARTIES.guest).sub("epoch", 7)
    with pytest.raises(GetTimeoutError) as info:
        ctx.hosts[1].get("grad")
    msg = str(info.value)
    for part in ("job-42", "host 10002", "grad", "epoch.7"):
        assert part in msg
    assert isinstance(info.value, TimeoutError)


def test_failed_party_is_reported_as_gone_not_timeout():
    def guest(ctx):
        raise RuntimeError("boom")

    seen = {}

    def host(ctx):
        try:
            ctx.guest.get("never")
        except PeerGoneError as exc:
            seen[ctx.party_id] = str(exc)
            raise

    parties = JobParties.of(guest=1, hosts=[2])
    f = InProcessFederation(parties, options=JobOptions(timeout=30))
    with pytest.raises(RuntimeError, match="boom"):
        f.run({"guest": guest, "host": host}, timeout=10)
    assert "guest 1" in seen[2] and "boom" in seen[2]


def test_bad_names_are_refused():
    ctx = fed().context(PARTIES.guest)
    for bad in ("", "a/b", "x.y", "sp ace", 3):
        with pytest.raises(UsageError):
            ctx.arbiter.put(bad, 1)
    with pytest.raises(UsageError):
        ctx.sub("epoch", -1)
    with pytest.raises(UsageError, match="not a party"):
        ctx.party(Party("host", 55))


def test_unencodable_payload_is_a_payload_error():
    ctx = fed().context(PARTIES.guest)
    with pytest.raises(PayloadError, match="cannot encode"):
        ctx.arbiter.put("obj", object())


HALF_D = declare("half_d", sender="guest", receiver="host", payload=np.ndarray)


def test_declared_message_checks_roles_and_payload():
    f = fed()
    g = f.context(PARTIES.guest)
    h = f.context(PARTIES.hosts[0])
    with pytest.raises(UsageError, match="does not go to"):
        g.arbiter.put(HALF_D, np.zeros(1))
    with pytest.raises(PayloadError, match="declared with payload"):
        g.hosts.put(HALF_D, [1, 2])
    with pytest.raises(UsageError, match="may not send"):
        h.guest.put(HALF_D, np.zeros(1))
    g.hosts.put(HALF_D, np.ones(2))
    np.testing.assert_array_equal(h.guest.get(HALF_D), np.ones(2))


def test_tables_stream_by_partition():
    rows = [[(i, b"v" * (i % 50)) for i in range(p, 3000, 4)] for p in range(4)]
    table = ListTable(rows)
    parties = JobParties.of(guest=1, hosts=[2])
    f = InProcessFederation(parties, computing=ListSession(), options=JobOptions(chunk_size=4096))

    def guest(ctx):
        ctx.hosts.put("t", table)

    def host(ctx):
        return ctx.guest.get("t")

    got = f.run({"guest": guest, "host": host})[parties.hosts[0]]
    assert got.num_partitions == 4
    assert sorted(got.rows()) == sorted(table.rows())


def test_table_without_computing_session_is_refused():
    parties = JobParties.of(guest=1, hosts=[2])
    f = InProcessFederation(parties)
    f.context(parties.guest).hosts.put("t", ListTable([[(1, b"x")]]))
    with pytest.raises(UsageError, match="no computing session"):
        f.context(parties.hosts[0]).guest.get("t")


def test_transcript_records_every_put_and_get():
    transcript = Transcript()
    parties = JobParties.of(guest=1, hosts=[2])
    f = InProcessFederation(parties, options=JobOptions(transcript=transcript))

    def guest(ctx):
        ctx.hosts.put("x", np.zeros((569, 10)))

    def host(ctx):
        return ctx.guest.get("x").shape

    f.run({"guest": guest, "host": host})
    puts = transcript.records(op="put")
    gets = transcript.received("host 2")
    assert len(puts) == 1 and len(gets) == 1
    assert puts[0].summary == "ndarray float64 (569, 10)"
    assert gets[0].source == "guest 1" and gets[0].destination == "host 2"
    assert gets[0].nbytes == puts[0].nbytes > 569 * 10 * 8
    assert transcript.received("guest 1") == []


def test_get_twice_is_refused():
    parties = JobParties.of(guest=1, hosts=[2])
    f = InProcessFederation(parties)
    f.context(parties.guest).hosts.put("x", 1)
    h = f.context(parties.hosts[0])
    assert h.guest.get("x") == 1
    with pytest.raises(UsageError, match="already read"):
        h.guest.get("x")


def test_concurrent_jobs_with_same_names_do_not_mix():
    parties = JobParties.of(guest=1, hosts=[2])
    results = {}

    def job(job_id):
        f = InProcessFederation(parties, job_id=job_id)
        out = f.run(
            {"guest": lambda c: c.hosts.put("m", job_id), "host": lambda c: c.guest.get("m")}
        )
        results[job_id] = out[parties.hosts[0]]

    threads = [threading.Thread(target=job, args=(f"job{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {f"job{i}": f"job{i}" for i in range(4)}


EXPORTS = {
    "CertificateError",
    "ConfigError",
    "Context",
    "Envelope",
    "FederationError",
    "Gateway",
    "GetTimeoutError",
    "InProcessFederation",
    "InProcessTransport",
    "Incoming",
    "JobOptions",
    "JobParties",
    "LocalTransport",
    "MessageDef",
    "Namespace",
    "Party",
    "PartyGroup",
    "PartyHandle",
    "PayloadError",
    "PeerGoneError",
    "RefusedError",
    "RemoteError",
    "Role",
    "RouteCheck",
    "SiteConfig",
    "StreamInterrupted",
    "Transcript",
    "TranscriptRecord",
    "Transport",
    "TransportError",
    "UsageError",
    "declare",
    "load_site_config",
    "summarize",
}


def test_exported_names_are_pinned():
    import atoll.federation as fed_mod

    assert set(fed_mod.__all__) == EXPORTS
    for name in fed_mod.__all__:
        assert hasattr(fed_mod, name)


def test_exception_tree():
    from atoll import federation as f

    for name in ("ConfigError", "CertificateError", "UsageError", "PayloadError", "TransportError"):
        assert issubclass(getattr(f, name), f.FederationError)
    for name in ("RefusedError", "PeerGoneError", "GetTimeoutError", "StreamInterrupted"):
        assert issubclass(getattr(f, name), f.TransportError)
    assert issubclass(f.GetTimeoutError, TimeoutError)


def test_waiting_on_a_finished_party_fails_at_once():
    parties = JobParties.of(guest=1, hosts=[2])
    f = InProcessFederation(parties, options=JobOptions(timeout=30))

    def guest(ctx):
        ctx.hosts.put("sent", 1)  # but never "forgotten"

    def host(ctx):
        assert ctx.guest.get("sent") == 1
        time.sleep(0.2)  # the guest is done by now
        ctx.guest.get("forgotten")

    t0 = time.monotonic()
    with pytest.raises(PeerGoneError, match="finished without sending it"):
        f.run({"guest": guest, "host": host})
    assert time.monotonic() - t0 < 10


def test_one_site_playing_two_roles():
    parties = JobParties.of(guest=7, hosts=[8], arbiter=7)
    out = InProcessFederation(parties).run(
        {
            "guest": lambda c: c.arbiter.put("k", "key"),
            "host": lambda c: c.arbiter.put("g", 2.0),
            "arbiter": lambda c: (c.guest.get("k"), c.hosts[0].get("g")),
        }
    )
    assert out[parties.arbiter] == ("key", 2.0)
