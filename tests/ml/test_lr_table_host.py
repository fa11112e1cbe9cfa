"""Coordinated LR's Table-backed host (``host_compute='table'``): the same model as the
in-process host, on the standalone backend (1 and 2 workers) in-process, and with the host
on Spark and the guest on standalone in a whole local job."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from atoll.computing import open_session
from atoll.crypto.he import EncryptedVector, generate_keypair
from atoll.federation import InProcessFederation, JobOptions, JobParties
from atoll.ml import coordinated_lr as clr
from atoll.ml.coordinated_lr import CoordinatedLRParams
from atoll.ml.coordinated_lr._table import TableHost

GUEST, HOST, ARBITER = 9999, 10000, 10001


@pytest.fixture(scope="module")
def data():
    x, y = load_breast_cancer(return_X_y=True)
    x = StandardScaler().fit_transform(x)[:300]
    return x[:, :10], x[:, 10:], y[:300].astype(float)


def _params(**kw) -> CoordinatedLRParams:
    base = dict(
        epochs=3,
        key_bits=1024,
        optimizer="rmsprop",
        learning_rate=0.15,
        penalty="l2",
        alpha=0.01,
        seed=5,
        batch_size=100,
        early_stop="diff",
        tol=0.0,
    )
    base.update(kw)
    return CoordinatedLRParams(**base)


def _train(xg, xh, y, guest_params, host_params, computing=None):
    parties = JobParties.of(guest=GUEST, hosts=[HOST], arbiter=ARBITER)
    fed = InProcessFederation(parties, options=JobOptions(timeout=120), computing=computing)
    out = fed.run(
        {
            "guest": lambda c: clr.guest(c, xg, y, guest_params),
            "host": lambda c: clr.host(c, xh, host_params),
            "arbiter": lambda c: clr.arbiter(c, guest_params),
        }
    )
    return out[parties.guest], out[parties.hosts[0]]


@pytest.mark.multiprocess
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("batch_size", [None, 100])
def test_table_host_gives_the_same_model(data, tmp_path, workers, batch_size):
    xg, xh, y = data
    local = _params(batch_size=batch_size)
    table = _params(batch_size=batch_size, host_compute="table")
    g0, h0 = _train(xg, xh, y, local, local)
    with open_session(data_dir=tmp_path, workers=workers) as session:
        g1, h1 = _train(xg, xh, y, local, table, computing=session)
    # bit-identical: the same integers reach the arbiter and come back
    np.testing.assert_array_equal(h1.model.weights, h0.model.weights)
    np.testing.assert_array_equal(g1.model.weights, g0.model.weights)
    assert g1.model.intercept == g0.model.intercept
    assert g1.loss_history == g0.loss_history


@pytest.mark.parametrize("scheme", ["paillier", "ou"])
def test_table_gradient_and_encryption_are_the_local_integers(tmp_path, scheme):
    """Directly: the gradient ciphertexts are the very integers ``vecmat`` gives, and the
    forward encryption decrypts to the same encoded integers with the same bound."""
    pk, sk = generate_keypair(scheme, 1024)
    rng = np.random.default_rng(3)
    xe = rng.integers(-(2**20), 2**20, size=(530, 7), dtype=np.int64)
    d = EncryptedVector.encrypt(pk, rng.normal(size=200), frac_bits=32)
    rows = rng.permutation(530)[:200]
    with (
        open_session(data_dir=tmp_path, workers=1) as session,
        TableHost(session, xe, pk) as table,
    ):
        g = table.gradient(d, rows)
        local = d.vecmat(xe[rows])
        assert g.data == local.data
        assert g.frac_bits == local.frac_bits
        assert g.bound <= local.bound and g.bound == d.bound * int(np.abs(xe[rows]).sum(0).max())
        full = EncryptedVector.encrypt(pk, rng.normal(size=530), frac_bits=32)
        assert table.gradient(full, None).data == full.vecmat(xe).data
        q = rng.normal(size=200)
        enc = table.encrypt(q, 32)
        ref = EncryptedVector.encrypt(pk, q, frac_bits=32)
        assert enc.decrypt_integers(sk) == ref.decrypt_integers(sk)
        assert (enc.frac_bits, enc.bound, enc.fresh) == (ref.frac_bits, ref.bound, ref.fresh)
        assert enc.data != ref.data  # fresh randomness, not a copy


def test_table_without_a_session_falls_back_to_local(data, caplog):
    xg, xh, y = data
    local = _params(epochs=1)
    _, h0 = _train(xg, xh, y, local, local)
    with caplog.at_level("WARNING", logger="atoll.ml.coordinated_lr"):
        _, h1 = _train(xg, xh, y, local, _params(epochs=1, host_compute="table"))
    np.testing.assert_array_equal(h1.model.weights, h0.model.weights)
    assert "no computing session" in caplog.text


def test_bad_host_compute_is_named():
    with pytest.raises(ValueError, match=r"CoordinatedLRParams\.host_compute must be one of"):
        CoordinatedLRParams(host_compute="gpu")


# -- a whole job: the guest on standalone, the host on Spark ------------------------------------
def _spark_missing() -> str | None:
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install 'atoll[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime on PATH (Spark needs a JRE, e.g. Debian's openjdk-17-jre-headless)"
    if importlib.util.find_spec("atoll.computing.spark") is None:
        return "atoll.computing.spark (the Spark backend) is not available"
    from atoll.computing import _factory

    if "spark" not in getattr(_factory, "ENGINES", ()):
        return "open_session has no 'spark' engine yet"
    return None


def _lr_job(world_files, *, host_compute: str) -> dict:
    from atoll.cli.demo import demo_job

    job = demo_job(world_files, key_bits=1024, epochs=3, seed=7, workers=1)
    tasks = job["tasks"]
    for name in ("read_test", "psi_test", "evaluate"):
        del tasks[name]
    tasks["scale"]["inputs"] = {"train_data": "psi_train.data"}
    tasks["lr"]["inputs"] = {"train_data": "scale.train_data"}
    tasks["lr"]["role_parameters"] = {"host": {"host_compute": host_compute}}
    return job


def _job_weights(world, root, label, host_compute, computing=None):
    from atoll.flow.local import run_job
    from atoll.flow.spec import load_job

    path = root / "data" / f"{label}.yaml"
    path.write_text(yaml.safe_dump(_lr_job(world["files"], host_compute=host_compute)))
    spec = load_job(path)
    parties = {p.party_id: p for p in spec.job_parties()}
    by_party = None if computing is None else {parties[HOST]: computing}
    run_job(spec, root / label, computing=by_party)
    models = {}
    for role, pid in (("guest", GUEST), ("host", HOST)):
        raw = (root / label / f"{role}-{pid}" / "lr" / "output_model.json").read_text()
        models[role] = json.loads(raw)["data"]
    g, h = models["guest"], models["host"]
    return np.concatenate([g["weights"], [g["intercept"]], h["weights"]])


@pytest.fixture(scope="module")
def standalone_job(tmp_path_factory):
    """The demo's training job (3 epochs), every party on standalone, in-process host."""
    from atoll.cli.demo import write_demo_data

    root = tmp_path_factory.mktemp("lr-job")
    world = write_demo_data(root / "data", seed=7)
    return world, root, _job_weights(world, root, "standalone", "local")


@pytest.mark.multiprocess
@pytest.mark.slow
def test_host_with_its_own_computing_config_gives_the_same_model(standalone_job):
    """run_job's per-party computing reaches the host's session (standalone, 2 workers
    there, 1 elsewhere) and the Table path gives the very same model."""
    world, root, expected = standalone_job
    got = _job_weights(world, root, "own", "table", {"engine": "standalone", "workers": 2})
    np.testing.assert_array_equal(got, expected)


@pytest.mark.multiprocess
@pytest.mark.slow
def test_guest_on_standalone_host_on_spark_gives_the_same_model(standalone_job):
    reason = _spark_missing()
    if reason is not None:
        pytest.skip(f"Spark is not usable here: {reason}")
    world, root, expected = standalone_job
    spark = {"engine": "spark", "master": "local[2]", "partitions": 2}
    got = _job_weights(world, root, "spark", "table", spark)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("partitions", [1, 2, 3, 5])
def test_balanced_keys_fall_round_robin(tmp_path, partitions):
    from atoll.ml.coordinated_lr._table import balanced_keys

    with open_session(data_dir=tmp_path, workers=1) as session:
        keys = balanced_keys(session, partitions, 11)
        assert len(set(keys)) == 11
        t = session.parallelize([(k, i) for i, k in enumerate(keys)], partitions=partitions)
        for p in range(partitions):
            assert sorted(v for _, v in t.iter_partition(p)) == list(range(p, 11, partitions))
