"""ECDH-PSI on Tables (psi.run_table) against the list API, over worker processes."""

from __future__ import annotations

import hashlib
import random

import pytest

from atoll.computing import open_session
from atoll.crypto import psi
from atoll.crypto.psi import ecdh_tables
from atoll.crypto.psi._common import HELLO, Hello
from atoll.federation import (
    InProcessFederation,
    JobOptions,
    JobParties,
    PartyHandle,
    Transport,
)

pytestmark = pytest.mark.multiprocess

ONE_HOST = JobParties.of(guest=9999, hosts=[10000])
TWO_HOSTS = JobParties.of(guest=9999, hosts=[10000, 10002])


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """One standalone session with two workers per party id (kept across tests)."""
    opened = {}
    try:
        for pid in (9999, 10000, 10002):
            opened[pid] = open_session(data_dir=tmp_path_factory.mktemp(f"psi{pid}"), workers=2)
        yield opened
    finally:
        for s in opened.values():
            s.close()


def federation(parties, sessions, transport=None):
    fed = InProcessFederation(
        parties,
        options=JobOptions(timeout=120),
        computing={p: sessions[p.party_id] for p in parties},
    )
    if transport is not None:
        fed.transport = transport
    return fed


def value_of(ident):
    return {"row": f"v:{ident}", "n": len(str(ident))}


def run_tables(parties, sessions, sets, mode="full", transport=None, partitions=3):
    def fn(ctx):
        session = ctx.computing
        table = session.parallelize(
            [(i, value_of(i)) for i in sets[ctx.party_id]], partitions=partitions
        )
        return psi.run_table(ctx, table, mode=mode)

    out = federation(parties, sessions, transport).run({"guest": fn, "host": fn})
    return {p.party_id: r for p, r in out.items()}


def run_lists(parties, sets, mode="full"):
    fed = InProcessFederation(parties, options=JobOptions(timeout=60))
    out = fed.run(
        {p: (lambda c, ids=sets[p.party_id]: psi.run(c, ids, mode=mode)) for p in parties}
    )
    return {p.party_id: r for p, r in out.items()}


def check_same_as_lists(parties, sessions, sets, mode="full"):
    tables = run_tables(parties, sessions, sets, mode)
    lists = run_lists(parties, sets, mode)
    for pid, want in lists.items():
        got = tables[pid]
        assert got.ordered_ids() == want.ids, pid
        assert got.to_result().ids == want.ids
        assert (got.count, got.input_size, got.duplicates, got.role, got.mode) == (
            want.count,
            want.input_size,
            want.duplicates,
            want.role,
            want.mode,
        )
        if want.ids or got.table is not None:
            assert dict(got.table.collect()) == {i: value_of(i) for i in want.ids}
    return tables


CASES = {
    "empty guest": ([], ["a", "b"]),
    "empty host": (["a", "b"], []),
    "both empty": ([], []),
    "one element": (["only"], ["only"]),
    "disjoint": (["a", "b"], ["c", "d"]),
    "full overlap": ([f"id{i}" for i in range(50)], [f"id{i}" for i in reversed(range(50))]),
    "unicode": (["Zoë", "北京", "🙂", "plain", "\u0301e"], ["北京", "🙂", "Zoe", "\u0301e"]),
    "int and str": (list(range(100)), [str(i) for i in range(50, 150)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_intersection_and_order_as_the_list_api(sessions, case):
    g, h = CASES[case]
    check_same_as_lists(ONE_HOST, sessions, {9999: g, 10000: h})


@pytest.mark.parametrize("mode", ["full", "guest_only"])
def test_random_sets_two_hosts(sessions, mode):
    rng = random.Random(11)
    shared = {f"user-{rng.getrandbits(40)}" for _ in range(700)}
    g = list(shared | {f"g-{i}" for i in range(900)})
    h1 = list(shared | {f"h-{i}" for i in range(400)} | {f"g-{i}" for i in range(0, 900, 2)})
    h2 = list(shared | {f"g-{i}" for i in range(1, 900, 2)})  # the guest's extras, split
    for s in (g, h1, h2):
        rng.shuffle(s)
    out = check_same_as_lists(TWO_HOSTS, sessions, {9999: g, 10000: h1, 10002: h2}, mode)
    assert out[9999].count == len(shared)
    assert out[10000].count == out[10002].count == len(shared)
    if mode == "guest_only":
        assert out[10000].table is None and out[10000].ordered_ids() == []


def test_partitions_may_differ_between_parties(sessions):
    g = [f"id{i}" for i in range(3000)]
    h = [f"id{i}" for i in range(2000, 5000)]

    def fn(ctx):
        parts = 5 if ctx.role == "guest" else 2
        table = ctx.computing.parallelize(
            [(i, 0) for i in {9999: g, 10000: h}[ctx.party_id]], parts
        )
        return psi.run_table(ctx, table)

    out = federation(ONE_HOST, sessions).run({"guest": fn, "host": fn})
    ids = [r.ordered_ids() for r in out.values()]
    assert ids[0] == ids[1] == sorted(set(g) & set(h), key=lambda s: (len(s), s))


def test_ids_equal_as_text_count_as_duplicates(sessions):
    out = run_tables(ONE_HOST, sessions, {9999: [1, "1", "a"], 10000: ["1", "a", "b"]})
    assert out[9999].duplicates == 1 and out[9999].input_size == 2
    assert [str(i) for i in out[9999].ordered_ids()] == ["1", "a"]
    assert out[10000].ordered_ids() == ["1", "a"]


def test_bad_arguments_are_refused_by_name(sessions):
    fed = federation(ONE_HOST, sessions)
    with pytest.raises(psi.PSIConfigError, match="cardinality"):
        fed.run(
            {"guest": lambda c: psi.run_table(c, c.computing.parallelize([]), mode="cardinality")}
        )
    with pytest.raises(psi.PSIConfigError, match=r"needs an atoll\.computing\.Table"):
        federation(ONE_HOST, sessions).run({"guest": lambda c: psi.run_table(c, ["a"])})
    with pytest.raises(psi.PSIConfigError, match="no Table version"):
        federation(ONE_HOST, sessions).run(
            {"guest": lambda c: psi.run_table(c, c.computing.parallelize([]), protocol="rsa")}
        )
    bare = InProcessFederation(ONE_HOST, options=JobOptions(timeout=10))
    with pytest.raises(psi.PSIConfigError, match="computing session"):
        bare.run({"guest": lambda c: psi.run_table(c, sessions[9999].parallelize([]))})


def test_bad_id_types_are_refused_from_the_workers(sessions):
    def guest(ctx):
        return psi.run_table(ctx, ctx.computing.parallelize([(b"raw", 1)]))

    with pytest.raises(psi.PSIConfigError, match="ids must be strings or integers"):
        federation(ONE_HOST, sessions).run({"guest": guest, "host": lambda c: c.guest.get(HELLO)})


def test_list_and_table_parties_do_not_mix(sessions):
    def host(ctx):
        return psi.run(ctx, ["a"])

    def guest(ctx):
        return psi.run_table(ctx, ctx.computing.parallelize([("a", 1)]))

    with pytest.raises(psi.PSIConfigError, match="protocol differs between parties"):
        federation(ONE_HOST, sessions).run({"guest": guest, "host": host})


def test_malformed_point_from_the_host_names_the_host(sessions):
    def bad_host(ctx):
        ctx.guest.get(HELLO)
        bad = ctx.computing.parallelize([(b"\x01" * 32, None)])  # not a ristretto255 encoding
        ctx.guest.put(ecdh_tables.HOST_POINTS, bad)
        ctx.guest.get(ecdh_tables.GUEST_POINTS)

    def guest(ctx):
        return psi.run_table(ctx, ctx.computing.parallelize([("a", 1), ("b", 2)]))

    with pytest.raises(
        psi.PeerDataError,
        match=r"psi_ecdht_host_points.*from host 10000.*not a valid ristretto255 point",
    ):
        federation(ONE_HOST, sessions).run({"guest": guest, "host": bad_host})


def test_malformed_point_from_the_guest_names_the_guest(sessions):
    def bad_guest(ctx):
        ctx.hosts.put(HELLO, Hello(ecdh_tables.PROTOCOL, "full", b"s" * 32))
        ctx.hosts.put(ecdh_tables.GUEST_POINTS, ctx.computing.parallelize([(b"short", None)]))
        ctx.hosts[0].get(ecdh_tables.HOST_POINTS)

    def host(ctx):
        return psi.run_table(ctx, ctx.computing.parallelize([("a", 1)]))

    with pytest.raises(psi.PeerDataError, match=r"from guest 9999.*not a valid ristretto255"):
        federation(ONE_HOST, sessions).run({"guest": bad_guest, "host": host})


def test_a_short_answer_from_the_host_is_refused(sessions):
    def short_host(ctx):
        ctx.guest.get(HELLO)
        ctx.guest.put(ecdh_tables.HOST_POINTS, ctx.computing.parallelize([]))
        ctx.guest.get(ecdh_tables.GUEST_POINTS)
        ctx.guest.put(ecdh_tables.REBLINDED, ctx.computing.parallelize([]))

    def guest(ctx):
        return psi.run_table(ctx, ctx.computing.parallelize([("a", 1), ("b", 2)]))

    with pytest.raises(psi.PeerDataError, match=r"psi_ecdht_reblinded.*expected 2 points, got 0"):
        federation(ONE_HOST, sessions).run({"guest": guest, "host": short_host})


class SpyTransport(Transport):
    """Wraps the in-process transport and keeps every byte and message name delivered."""

    def __init__(self, inner):
        self.inner = inner
        self.received: dict[int, list[bytes]] = {}
        self.names: dict[int, list[str]] = {}

    def send(self, envelope, chunks, *, timeout):
        data = b"".join(chunks())
        self.received.setdefault(envelope.dst.party_id, []).append(data)
        self.names.setdefault(envelope.dst.party_id, []).append(envelope.name)
        return self.inner.send(envelope, lambda: iter([data]), timeout=timeout)

    def recv(self, key, *, timeout):
        return self.inner.recv(key, timeout=timeout)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_transcript_host_never_receives_raw_ids(sessions):
    guest_ids = [f"customer-{i:06d}-secret@example.com" for i in range(300)]
    host_ids = guest_ids[:50] + [f"other-{i}" for i in range(100)]
    spy = SpyTransport(InProcessFederation(ONE_HOST).transport)
    out = run_tables(ONE_HOST, sessions, {9999: guest_ids, 10000: host_ids}, transport=spy)
    assert out[10000].count == out[9999].count == 50
    assert spy.names[10000] == [
        "psi_hello",
        "psi_ecdht_guest_points",
        "psi_ecdht_matched",
    ]
    seen_by_host = b"".join(spy.received[10000])
    for ident in guest_ids:  # not even the shared ones: the host finds those itself
        raw = ident.encode()
        forbidden = [
            raw,
            hashlib.sha256(raw).digest(),
            hashlib.sha512(raw).digest(),
            hashlib.md5(raw).digest(),
            hashlib.sha256(raw).hexdigest().encode(),
            b"v:" + raw,  # nor the guest's row values
        ]
        assert not any(f in seen_by_host for f in forbidden), f"host saw {ident!r} in some form"
    seen_by_guest = b"".join(spy.received[9999])
    for ident in host_ids:
        assert ident.encode() not in seen_by_guest


def test_host_gets_its_shared_points_in_an_order_that_depends_only_on_the_set(
    sessions, monkeypatch
):
    seen = []
    original = PartyHandle.get

    def recording_get(self, name):
        obj = original(self, name)
        if name is ecdh_tables.MATCHED:
            seen.append([[k for k, _ in obj.iter_partition(p)] for p in range(obj.num_partitions)])
        return obj

    monkeypatch.setattr(PartyHandle, "get", recording_get)
    g = [f"id{i}" for i in range(2000)]
    out = run_tables(ONE_HOST, sessions, {9999: g, 10000: g[::-1][:1500]}, partitions=4)
    assert out[10000].count == 1500
    (partitions,) = seen
    assert sum(map(len, partitions)) == 1500
    assert all(keys == sorted(keys) for keys in partitions)
