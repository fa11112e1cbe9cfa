"""The ``psi`` component: every party's rows restricted to the shared ids, in one order."""

from __future__ import annotations

import numpy as np
import pytest

from atoll.computing import open_session
from atoll.federation import InProcessFederation, JobOptions, JobParties
from atoll.ml.component import TaskContext, get_component, validate_params
from atoll.ml.data import Frame

PARTIES = JobParties.of(guest=9999, hosts=[10000, 10002])


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    opened = {
        p.party_id: open_session(data_dir=tmp_path_factory.mktemp(f"c{p.party_id}"), workers=2)
        for p in PARTIES
    }
    yield opened
    for s in opened.values():
        s.close()


def _frames():
    rng = np.random.default_rng(5)
    universe = [f"cust-{i}" for i in range(400)]
    frames = {}
    for pid, lo, hi in ((9999, 0, 300), (10000, 100, 400), (10002, 50, 350)):
        ids = [universe[i] for i in rng.permutation(np.arange(lo, hi))]
        x = np.array([[int(i.split("-")[1]), pid] for i in ids], dtype=float)
        label = (x[:, 0] % 2) if pid == 9999 else None
        frames[pid] = Frame(ids, x, ["n", "party"], label=label, name=f"party {pid}")
    return frames


@pytest.mark.parametrize("partitioned", [False, True])
def test_rows_are_restricted_and_aligned(sessions, tmp_path, partitioned):
    comp = get_component("Intersection")
    params = validate_params(comp, {"partitioned": partitioned}, "test")
    frames = _frames()
    fed = InProcessFederation(
        PARTIES,
        options=JobOptions(timeout=120),
        computing={p: sessions[p.party_id] for p in PARTIES},
    )

    def run(ctx):
        tctx = TaskContext(ctx.sub("psi"), task="psi", workdir=tmp_path)
        out = comp.run(tctx, params, {"data": frames[ctx.party_id]})
        return out["data"], tctx.metrics.records["summary"]

    out = fed.run({"guest": run, "host": run})
    expected = {f"cust-{i}" for i in range(100, 300)}
    aligned = [out[p][0] for p in PARTIES]
    assert set(aligned[0].ids) == expected
    for f in aligned:
        assert f.ids == aligned[0].ids  # the same order everywhere
        np.testing.assert_array_equal(f.features[:, 0], [int(i.split("-")[1]) for i in f.ids])
    g = aligned[0]
    assert g.label is not None and np.array_equal(g.label, g.features[:, 0] % 2)
    summary = out[PARTIES.guest][1]
    assert summary["intersection_size"] == 200 and summary["input_size"] == 300


def test_too_small_an_intersection_is_an_error(sessions, tmp_path):
    comp = get_component("psi")
    params = validate_params(comp, {"min_intersection": 500}, "test")
    frames = _frames()
    fed = InProcessFederation(
        PARTIES,
        options=JobOptions(timeout=60),
        computing={p: sessions[p.party_id] for p in PARTIES},
    )

    def run(ctx):
        comp.run(
            TaskContext(ctx, task="psi", workdir=tmp_path), params, {"data": frames[ctx.party_id]}
        )

    with pytest.raises(Exception, match="min_intersection=500"):
        fed.run({"guest": run, "host": run})
