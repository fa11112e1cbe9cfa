"""``toy_example`` (FATE's SecureAddExample): the secure sum is exact and reveals only the total."""

from __future__ import annotations

import math

import numpy as np
import pytest

from atoll.computing import open_session
from atoll.federation import InProcessFederation, JobOptions, JobParties, Transcript
from atoll.ml.component import TaskContext, get_component
from atoll.ml.toy_example import FRAC_BITS, RING, decode, encode, make_values
from atoll.ml.toy_example.component import ToyExampleParams, _Split, run

ONE_HOST = JobParties.of(guest=9999, hosts=[10000])


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    with open_session(data_dir=tmp_path_factory.mktemp("toy"), workers=1) as s:
        yield s


def _run(session, parties, seeds, tmp_path, *, partition=4, data_num=1000, transcript=None):
    options = JobOptions(timeout=60, transcript=transcript)
    fed = InProcessFederation(parties, options=options, computing=session)
    ctxs = {}

    def party(c):
        key = (c.role, c.party_id)
        ctx = ctxs[key] = TaskContext(c, task="toy", workdir=tmp_path / f"{c.role}-{c.party_id}")
        n = data_num[c.party_id] if isinstance(data_num, dict) else data_num
        params = ToyExampleParams(seed=seeds[c.party_id], partition=partition, data_num=n)
        return run(ctx, params, {})

    out = fed.run({p: party for p in parties})
    assert all(v == {} for v in out.values())
    return ctxs


def test_guest_and_host_reconstruct_the_exact_sum(session, tmp_path):
    ctxs = _run(session, ONE_HOST, {9999: 123, 10000: 321}, tmp_path, partition=10)
    expected = math.fsum(np.concatenate([make_values(123, 1000), make_values(321, 1000)]))
    summary = ctxs[("guest", 9999)].metrics.records["summary"]
    assert summary["sum"] == expected  # fixed point: exact, not approximately equal
    assert summary["data_num"] == 1000 and summary["partition"] == 10
    assert summary["count"] == 2000 and summary["parties"] == 2
    # only the guest records the summary
    assert "summary" not in ctxs[("host", 10000)].metrics.records


def test_several_hosts_and_different_sizes(session, tmp_path):
    parties = JobParties.of(guest=9999, hosts=[10000, 10001])
    seeds = {9999: 1, 10000: 2, 10001: 3}
    sizes = {9999: 10, 10000: 1, 10001: 37}
    ctxs = _run(session, parties, seeds, tmp_path, partition=3, data_num=sizes)
    expected = math.fsum(np.concatenate([make_values(seeds[p], sizes[p]) for p in seeds]))
    summary = ctxs[("guest", 9999)].metrics.records["summary"]
    assert summary["sum"] == expected and summary["count"] == 48 and summary["parties"] == 3


def test_only_shares_and_partial_sums_cross(session, tmp_path):
    """What crosses is one share Table and one partial sum each way, never a value itself."""
    transcript = Transcript()
    _run(session, ONE_HOST, {9999: 5, 10000: 6}, tmp_path, data_num=50, transcript=transcript)
    sent = sorted((r.party, r.name, r.destination) for r in transcript.records(op="put"))
    assert sent == [
        ("guest 9999", "partial_sum", "host 10000"),
        ("guest 9999", "share", "host 10000"),
        ("host 10000", "partial_sum", "guest 9999"),
        ("host 10000", "share", "guest 9999"),
    ]


def test_shares_are_fresh_and_add_up():
    split = _Split(3)
    v = encode(0.75)
    a, b = split(v), split(v)
    assert a != b and sum(a) % RING == v == sum(b) % RING
    assert all(0 <= s < RING for s in a + b)


def test_fixed_point_encoding_round_trips():
    values = make_values(7, 100)
    assert ((values * (1 << FRAC_BITS)) % 1 == 0).all() and (values < 1).all()
    assert all(decode(encode(float(v))) == v for v in values)
    assert decode(encode(-2.5)) == -2.5 and decode(RING - 1) == -(2.0**-FRAC_BITS)


def test_registered_under_fate_names():
    spec = get_component("SecureAddExample")
    assert spec.name == "toy_example" and get_component("secure_add_example") is spec
    assert spec.roles == ("guest", "host") and not spec.inputs and not spec.outputs
    with pytest.raises(ValueError, match="data_num"):
        ToyExampleParams(data_num=0)
    assert ToyExampleParams().partition == 4 and ToyExampleParams().data_num == 1000
