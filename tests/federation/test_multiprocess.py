"""Three sites as three OS processes on loopback, with mutual TLS."""

from __future__ import annotations

import pytest

from tests.federation._siteproc import run_sites
from tests.federation._sites import make_sites

pytestmark = pytest.mark.multiprocess

IDS = [9999, 10000, 10001]


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    return make_sites(tmp_path_factory.mktemp("mp"), IDS)


def test_broadcast_and_gather(sites):
    out = run_sites(sites, "broadcast_gather")
    assert out[9999]["job-1"] == [45.0 + 10000, 45.0 + 10001]


def test_thousand_ping_pong_rounds(sites):
    out = run_sites(sites, "ping_pong", {"n": 1000})
    assert out[9999]["job-1"]["n"] == 1000


def test_two_concurrent_jobs_same_names(sites):
    out = run_sites(sites, "two_jobs", jobs=("job-a", "job-b"))
    for job in ("job-a", "job-b"):
        expected = [f"{job}:step.{i}" for i in range(20)]
        assert out[10000][job] == expected
        assert out[10001][job] == expected
        assert out[9999][job] == [[v, v] for v in expected]


@pytest.mark.slow
def test_large_table_streams_with_bounded_memory(sites):
    rows, row_bytes = 16384, 64 * 1024  # 1 GiB of values, 8 partitions
    out = run_sites(sites, "table_transfer", {"rows": rows, "row_bytes": row_bytes})
    got = out[10000]["job-1"]
    assert got["rows"] == rows and got["nbytes"] == rows * row_bytes
    payload_mb = rows * row_bytes / 2**20
    for pid in (9999, 10000):
        r = out[pid]["job-1"]
        grown = r["peak_mb"] - r["base_mb"]
        assert grown < payload_mb / 4, (pid, r)
