"""ECDH and RSA PSI between in-process parties, checked against Python's set intersection."""

from __future__ import annotations

import hashlib
import random

import pytest

from atoll.crypto import psi
from atoll.crypto.psi import _rsa, ecdh, rsa_blind
from atoll.crypto.psi._common import HELLO
from atoll.federation import InProcessFederation, JobOptions, JobParties, Transport

ONE_HOST = JobParties.of(guest=9999, hosts=[10000])
TWO_HOSTS = JobParties.of(guest=9999, hosts=[10000, 10002])
OPTIONS = {"rsa": {"key_bits": 1024}, "ecdh": {}}


def run_psi(parties, sets, protocol="ecdh", mode="full", transport=None):
    fed = InProcessFederation(parties, options=JobOptions(timeout=60))
    if transport is not None:
        fed.transport = transport
    fns = {
        p: (
            lambda ctx, ids=sets[p.party_id]: psi.run(
                ctx,
                ids,
                protocol=protocol,
                mode=mode,
                **(OPTIONS[protocol] if ctx.role == "host" else {}),
            )
        )
        for p in parties
    }
    out = fed.run(fns)
    return {p.party_id: r for p, r in out.items()}


def expected(sets):
    common = None
    for ids in sets.values():
        s = {str(i) for i in ids}
        common = s if common is None else common & s
    return sorted(common, key=lambda x: (len(x.encode()), x.encode()))


CASES = {
    "empty guest": ([], ["a", "b"]),
    "empty host": (["a", "b"], []),
    "both empty": ([], []),
    "one element": (["only"], ["only"]),
    "disjoint": (["a", "b"], ["c", "d"]),
    "full overlap": ([f"id{i}" for i in range(50)], [f"id{i}" for i in reversed(range(50))]),
    "unicode": (["Zoë", "北京", "🙂", "plain"], ["北京", "🙂", "Zoe"]),
    "int and str": (list(range(100)), [str(i) for i in range(50, 150)]),
}


@pytest.mark.parametrize("protocol", ["ecdh", "rsa"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_full_mode_matches_set_intersection(protocol, case):
    g, h = CASES[case]
    out = run_psi(ONE_HOST, {9999: g, 10000: h}, protocol)
    want = expected({0: g, 1: h})
    assert [str(x) for x in out[9999].ids] == want
    assert [str(x) for x in out[10000].ids] == want  # same order on both parties
    assert out[9999].count == out[10000].count == len(want)
    assert all(x in g for x in out[9999].ids) and all(x in h for x in out[10000].ids)


@pytest.mark.parametrize("protocol", ["ecdh", "rsa"])
def test_random_sets_with_known_intersection_and_protocols_agree(protocol):
    rng = random.Random(7)
    shared = {f"user-{rng.getrandbits(40)}" for _ in range(300)}
    g = list(shared | {f"g-{i}" for i in range(400)})
    h1 = list(shared | {f"h-{i}" for i in range(200)})
    h2 = list(shared | {f"g-{i}" for i in range(100)})  # overlaps the guest's private ids too
    rng.shuffle(g)
    rng.shuffle(h1)
    sets = {9999: g, 10000: h1, 10002: h2}
    out = run_psi(TWO_HOSTS, sets, protocol)
    want = expected(sets)
    assert len(want) == 300
    for party in sets:
        assert out[party].ids == want
    other = run_psi(TWO_HOSTS, sets, "rsa" if protocol == "ecdh" else "ecdh")
    assert other[9999].ids == out[9999].ids


def test_duplicates_are_dropped_and_counted(caplog):
    with caplog.at_level("WARNING", logger="atoll.crypto.psi"):
        out = run_psi(ONE_HOST, {9999: ["a", "a", "b", 1, "1"], 10000: ["a", "b", "b"]})
    assert "PSI at guest 9999: 2 duplicate ids dropped" in caplog.text
    assert out[9999].ids == ["a", "b"] and out[9999].duplicates == 2
    assert out[10000].duplicates == 1 and out[10000].input_size == 2


@pytest.mark.parametrize("protocol", ["ecdh", "rsa"])
def test_guest_only_mode_hosts_learn_only_the_count(protocol):
    out = run_psi(
        TWO_HOSTS,
        {9999: ["a", "b", "c"], 10000: ["b", "c", "d"], 10002: ["c", "b"]},
        protocol,
        "guest_only",
    )
    assert out[9999].ids == ["b", "c"]
    assert out[10000].ids == [] and out[10000].count == 2
    assert out[10002].ids == [] and out[10002].count == 2


def test_cardinality_mode_guest_learns_only_the_count():
    out = run_psi(
        ONE_HOST, {9999: list(range(100)), 10000: list(range(60, 200))}, "ecdh", "cardinality"
    )
    assert out[9999].ids == [] and out[9999].count == 40
    assert out[10000].ids == [] and out[10000].count == 40


def test_unsupported_combinations_are_refused_by_name():
    with pytest.raises(psi.PSIConfigError, match="exactly one host"):
        run_psi(TWO_HOSTS, {9999: [1], 10000: [1], 10002: [1]}, "ecdh", "cardinality")
    with pytest.raises(psi.PSIConfigError, match="cardinality"):
        run_psi(ONE_HOST, {9999: [1], 10000: [1]}, "rsa", "cardinality")
    with pytest.raises(psi.PSIConfigError, match="not one of"):
        run_psi(ONE_HOST, {9999: [1], 10000: [1]}, "ecdh", "everything")


def test_parties_that_disagree_on_the_mode_are_told():
    fed = InProcessFederation(ONE_HOST, options=JobOptions(timeout=20))
    with pytest.raises(psi.PSIConfigError, match="mode differs between parties"):
        fed.run(
            {
                "guest": lambda c: ecdh.guest(c, [1], mode="full"),
                "host": lambda c: ecdh.host(c, [1], mode="guest_only"),
            }
        )


def test_malformed_points_from_the_host_name_the_host():
    def bad_host(ctx):
        ctx.guest.get(HELLO)
        ctx.guest.put(ecdh.HOST_POINTS, b"\x01" * 32)  # not a ristretto255 encoding
        ctx.guest.put(ecdh.REBLINDED, b"")

    fed = InProcessFederation(ONE_HOST, options=JobOptions(timeout=20))
    with pytest.raises(psi.PeerDataError, match=r"from host 10000.*not a valid ristretto255 point"):
        fed.run({"guest": lambda c: ecdh.guest(c, []), "host": bad_host})


def test_bad_signatures_from_the_host_name_the_host():
    def lying_host(ctx):
        ctx.guest.get(HELLO)
        key = _rsa.generate_key(1024)
        ctx.guest.put(rsa_blind.PUBLIC_KEY, key.public)
        blinded = ctx.guest.get(rsa_blind.BLINDED)
        ctx.guest.put(rsa_blind.HOST_TAGS, b"")
        ctx.guest.put(rsa_blind.SIGNED, [0] * len(blinded))  # 0 is no signature of anything

    fed = InProcessFederation(ONE_HOST, options=JobOptions(timeout=20))
    with pytest.raises(psi.PeerDataError, match=r"psi_rsa_signed.*from host 10000"):
        fed.run({"guest": lambda c: rsa_blind.guest(c, ["a", "b"]), "host": lying_host})


class SpyTransport(Transport):
    """Wraps the in-process transport and keeps every byte delivered to each party."""

    def __init__(self, inner):
        self.inner = inner
        self.received: dict[int, list[bytes]] = {}

    def send(self, envelope, chunks, *, timeout):
        data = b"".join(chunks())
        self.received.setdefault(envelope.dst.party_id, []).append(data)
        return self.inner.send(envelope, lambda: iter([data]), timeout=timeout)

    def recv(self, key, *, timeout):
        return self.inner.recv(key, timeout=timeout)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.mark.parametrize("protocol", ["ecdh", "rsa"])
def test_host_never_receives_raw_ids_or_unsalted_hashes(protocol):
    guest_ids = [f"customer-{i:06d}-secret@example.com" for i in range(200)]
    host_ids = guest_ids[:50] + [f"other-{i}" for i in range(100)]
    base = InProcessFederation(ONE_HOST).transport
    spy = SpyTransport(base)
    out = run_psi(ONE_HOST, {9999: guest_ids, 10000: host_ids}, protocol, transport=spy)
    assert out[10000].count == 50
    seen_by_host = b"".join(spy.received[10000])
    for ident in guest_ids[50:]:
        raw = ident.encode()
        forbidden = [
            raw,
            hashlib.sha256(raw).digest(),
            hashlib.sha512(raw).digest(),
            hashlib.md5(raw).digest(),
        ]
        forbidden.append(hashlib.sha256(raw).hexdigest().encode())
        assert not any(f in seen_by_host for f in forbidden), f"host saw {ident!r} in some form"
    seen_by_guest = b"".join(spy.received[9999])
    for ident in host_ids[50:]:
        assert ident.encode() not in seen_by_guest
