"""Hetero Pearson against its plaintext twin (numpy's corrcoef on the joined data)."""

from __future__ import annotations

import numpy as np
import pytest

from atoll.federation import InProcessFederation, JobOptions, JobParties, Transcript
from atoll.ml import hetero_pearson
from atoll.ml.hetero_pearson import PearsonParams

PARTIES = JobParties.of(guest=9999, hosts=[10000, 10002])


def _data(n=300, seed=3):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3))
    y = (latent[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(float)
    xg = np.column_stack([latent[:, 1], rng.normal(size=n)])
    xh1 = np.column_stack(
        [latent[:, 0] * 2 + 1, rng.normal(size=n), np.full(n, 7.0)]
    )  # one constant
    xh2 = np.column_stack([-latent[:, 0] + latent[:, 2]])
    return y, xg, xh1, xh2


def _run(params, y, xg, xh1, xh2):
    fed = InProcessFederation(PARTIES, options=JobOptions(timeout=120))
    out = fed.run(
        {
            "guest": lambda c: hetero_pearson.guest(c, y, xg, params=params),
            "host": lambda c: hetero_pearson.host(
                c, xh1 if c.party_id == 10000 else xh2, params=params
            ),
        }
    )
    return out[PARTIES.guest]


@pytest.mark.parametrize("scheme", ["paillier", "ou"])
def test_matches_numpy_corrcoef(scheme):
    y, xg, xh1, xh2 = _data()
    result = _run(PearsonParams(scheme=scheme, key_bits=1024), y, xg, xh1, xh2)
    guest_cols = np.column_stack([y, xg])
    for pid, xh in [(10000, xh1), (10002, xh2)]:
        want = np.array(
            [
                [
                    np.corrcoef(guest_cols[:, i], xh[:, j])[0, 1] if xh[:, j].std() else np.nan
                    for j in range(xh.shape[1])
                ]
                for i in range(3)
            ]
        )
        np.testing.assert_allclose(result.corr[pid], want, atol=1e-8, equal_nan=True)
    assert result.guest_columns == ["label", "x0", "x1"]
    assert result.host_columns[10000] == ["host10000_x0", "host10000_x1", "host10000_x2"]
    assert result.corr[10000][0, 0] > 0.5 and result.corr[10002][0, 0] < -0.2


def test_hosts_see_only_ciphertexts():
    y, xg, xh1, xh2 = _data(n=50)
    transcript = Transcript()
    fed = InProcessFederation(PARTIES, options=JobOptions(timeout=120, transcript=transcript))
    fed.run(
        {
            "guest": lambda c: hetero_pearson.guest(c, y, xg, params=PearsonParams(key_bits=1024)),
            "host": lambda c: hetero_pearson.host(
                c, xh1 if c.party_id == 10000 else xh2, params=PearsonParams(key_bits=1024)
            ),
        }
    )
    for host in ("host 10000", "host 10002"):
        received = transcript.received(host)
        assert {r.name for r in received} == {"pearson_public_key", "pearson_encrypted_columns"}
        summaries = " ".join(r.summary for r in received)
        assert "ndarray" not in summaries and "float" not in summaries


def test_misaligned_rows_are_reported():
    y, xg, xh1, _ = _data(n=40)
    parties = JobParties.of(guest=1, hosts=[2])
    fed = InProcessFederation(parties, options=JobOptions(timeout=60))
    with pytest.raises(ValueError, match="align them with PSI first"):
        fed.run(
            {
                "guest": lambda c: hetero_pearson.guest(
                    c, y, xg, params=PearsonParams(key_bits=1024)
                ),
                "host": lambda c: hetero_pearson.host(
                    c, xh1[:30], params=PearsonParams(key_bits=1024)
                ),
            }
        )


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="plain"):
        PearsonParams(scheme="plain")
    with pytest.raises(ValueError, match="key_bits"):
        PearsonParams(key_bits=512)
    y = np.ones(10)
    fed = InProcessFederation(JobParties.of(guest=1, hosts=[2]), options=JobOptions(timeout=30))
    with pytest.raises(ValueError, match="label is constant"):
        fed.run(
            {
                "guest": lambda c: hetero_pearson.guest(c, y),
                "host": lambda c: hetero_pearson.host(c, np.ones((10, 2))),
            }
        )
