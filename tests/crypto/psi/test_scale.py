"""PSI over a site's worker processes, up to a million ids."""

from __future__ import annotations

import pytest

from atoll.computing import open_session
from atoll.crypto import psi
from atoll.crypto.psi._batches import BATCH
from atoll.federation import InProcessFederation, JobOptions, JobParties

ONE_HOST = JobParties.of(guest=9999, hosts=[10000])


@pytest.fixture(scope="module")
def workers2(tmp_path_factory):
    with open_session(data_dir=tmp_path_factory.mktemp("psi"), workers=2) as session:
        yield session


def _run(session, g, h, mode="full"):
    fed = InProcessFederation(ONE_HOST, options=JobOptions(timeout=600))
    out = fed.run(
        {
            "guest": lambda c: psi.run(c, g, mode=mode, computing=session),
            "host": lambda c: psi.run(c, h, mode=mode, computing=session),
        }
    )
    return {p.party_id: r for p, r in out.items()}


@pytest.mark.multiprocess
def test_batched_over_workers_matches_the_inline_run(workers2):
    n = 3 * BATCH + 17  # several batches, the last one short
    g = [f"id-{i}" for i in range(n)]
    h = [f"id-{i}" for i in range(n // 2, n + 100)]
    parallel = _run(workers2, g, h)
    inline = _run(None, g, h)
    assert parallel[9999].ids == inline[9999].ids == parallel[10000].ids
    assert parallel[9999].count == n - n // 2


@pytest.mark.slow
@pytest.mark.multiprocess
def test_one_million_ids(workers2):
    g = range(1_000_000)
    h = [str(i) for i in range(999_000, 1_001_000)]
    out = _run(workers2, g, h)
    assert out[9999].count == out[10000].count == 1000
    assert out[10000].ids == [str(i) for i in range(999_000, 1_000_000)]
    assert out[9999].input_size == 1_000_000
