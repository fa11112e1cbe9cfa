"""SSHE-LR (guest + host, no arbiter) against scikit-learn and its plaintext Taylor twin."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from atoll.federation import InProcessFederation, JobOptions, JobParties, Transcript
from atoll.ml import sshe_lr
from atoll.ml.sshe_lr import (
    GUEST_RECEIVES,
    HOST_RECEIVES,
    SSHELRParams,
    SSHEModel,
    TrainResult,
    guest,
    host,
    predict_guest,
    predict_host,
)

PARTIES = JobParties.of(guest=9999, hosts=[10000])
GUEST, HOST = PARTIES.guest, PARTIES.hosts[0]


@pytest.fixture(scope="module")
def data():
    x, y = load_breast_cancer(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=1, stratify=y)
    sc = StandardScaler().fit(xtr)
    xtr, xte = sc.transform(xtr), sc.transform(xte)
    # guest: 10 columns + label; host: the other 20
    return xtr[:, :10], xtr[:, 10:], ytr.astype(float), xte[:, :10], xte[:, 10:], yte


def _train(params, xg, xh, y, *, transcript=None, warm=(None, None), on_epoch=None):
    opts = JobOptions(timeout=300, transcript=transcript)
    fed = InProcessFederation(PARTIES, options=opts)
    out = fed.run(
        {
            "guest": lambda c: guest(c, xg, y, params, warm_start=warm[0], on_epoch=on_epoch),
            "host": lambda c: host(c, xh, params, warm_start=warm[1]),
        }
    )
    return out[GUEST], out[HOST]


def _predict(g, h, xg, xh, transcript=None):
    fed = InProcessFederation(PARTIES, options=JobOptions(timeout=120, transcript=transcript))
    out = fed.run(
        {
            "guest": lambda c: predict_guest(c, xg, g.model),
            "host": lambda c: predict_host(c, xh, h.model),
        }
    )
    assert out[HOST] is None
    return out[GUEST]


def _taylor_twin(x, y, params, epochs):
    """The same full-batch Taylor-sigmoid gradient descent in plaintext floats."""
    xa = np.hstack([x, np.ones((len(y), 1))])
    w = np.zeros(xa.shape[1])
    pen = np.r_[np.ones(x.shape[1]), 0.0]
    losses = []
    for _ in range(epochs):
        z = xa @ w
        losses.append(float(np.mean(np.log(2) - 0.5 * y * z + z * z / 8)))
        grad = xa.T @ (0.25 * z + 0.5 - y) / len(y) + params.alpha * pen * w
        w = w - params.learning_rate * grad
    return w, losses


def test_quality_against_sklearn_and_plaintext_twin(data):
    xg, xh, y, xg_te, xh_te, y_te = data
    alpha = 0.1
    params = SSHELRParams(epochs=10, learning_rate=0.5, alpha=alpha, tol=0.0, key_bits=1024, seed=3)
    seen = []
    g, h = _train(params, xg, xh, y, on_epoch=lambda e, m: seen.append((e, m)))
    assert isinstance(g, TrainResult) and g.epochs == 10 and not g.converged
    assert [e for e, _ in seen] == list(range(10)) and "loss" in seen[0][1]
    assert g.model.weights.shape == (10,) and h.model.weights.shape == (20,)
    assert h.loss_history == []

    # exactly the plaintext Taylor model, up to fixed-point error
    w_twin, loss_twin = _taylor_twin(np.hstack([xg, xh]), y, params, 10)
    w = np.r_[g.model.weights, h.model.weights, g.model.intercept]
    np.testing.assert_allclose(w, w_twin, atol=2e-4)
    np.testing.assert_allclose(g.loss_history, loss_twin, atol=1e-5)

    # sklearn on the joined data; alpha/2 |w|^2 + mean loss  <=>  C = 1 / (alpha * n)
    sk = LogisticRegression(C=1.0 / (alpha * len(y)), max_iter=5000)
    sk.fit(np.hstack([xg, xh]), y)
    auc_sk = roc_auc_score(y_te, sk.decision_function(np.hstack([xg_te, xh_te])))
    prob = _predict(g, h, xg_te, xh_te)
    assert prob.shape == (len(y_te),) and np.all((prob > 0) & (prob < 1))
    auc = roc_auc_score(y_te, prob)
    coef_diff = float(np.abs(w[:-1] - sk.coef_[0]).max())
    print(f"\nSSHE-LR test AUC {auc:.4f}, sklearn {auc_sk:.4f}, max |coef diff| {coef_diff:.3f}")
    assert abs(auc - auc_sk) <= 0.005
    # the Taylor sigmoid fits a different (more strongly shrunk) model than exact LR
    assert coef_diff < 0.5


def test_seed_reproducibility(data):
    xg, xh, y = data[0][:120], data[1][:120], data[2][:120]
    params = SSHELRParams(
        epochs=3, init="random_uniform", init_scale=0.1, seed=5, key_bits=1024, tol=0.0
    )
    a = _train(params, xg, xh, y)
    b = _train(params, xg, xh, y)
    # truncation errors depend on the random masks: equal to ~1e-6, not bit for bit
    np.testing.assert_allclose(a[0].model.weights, b[0].model.weights, atol=1e-5)
    np.testing.assert_allclose(a[1].model.weights, b[1].model.weights, atol=1e-5)
    np.testing.assert_allclose(a[0].loss_history, b[0].loss_history, atol=1e-6)
    c = _train(SSHELRParams(**{**params.__dict__, "seed": 6}), xg, xh, y)
    assert np.abs(c[0].model.weights - a[0].model.weights).max() > 1e-3


def test_warm_start_continues_training(data):
    xg, xh, y = data[0][:150], data[1][:150], data[2][:150]
    p6 = SSHELRParams(epochs=4, key_bits=1024, tol=0.0, learning_rate=0.3, reveal_loss_freq=2)
    full = _train(p6, xg, xh, y)
    p3 = SSHELRParams(**{**p6.__dict__, "epochs": 2})
    first = _train(p3, xg, xh, y)
    second = _train(p3, xg, xh, y, warm=(first[0].model, first[1].model))
    np.testing.assert_allclose(second[0].model.weights, full[0].model.weights, atol=1e-4)
    np.testing.assert_allclose(second[1].model.weights, full[1].model.weights, atol=1e-4)
    assert second[0].model.intercept == pytest.approx(full[0].model.intercept, abs=1e-4)
    assert second[0].loss_history == pytest.approx(full[0].loss_history[1:], abs=1e-5)
    # a model of the wrong shape is refused, naming the party
    bad = SSHEModel("host", np.zeros(3), 0.0, False)
    with pytest.raises(ValueError, match="sshe_lr host: warm_start has 3 weights"):
        _train(p3, xg, xh, y, warm=(None, bad))


def test_early_stop_triggers_on_both_parties(data):
    xg, xh, y = data[0][:100], data[1][:100], data[2][:100]
    params = SSHELRParams(epochs=20, key_bits=1024, early_stop="diff", tol=0.05, alpha=0.1)
    g, h = _train(params, xg, xh, y)
    assert g.converged and h.converged
    assert 2 <= g.epochs < 20 and h.epochs == g.epochs
    assert len(g.loss_history) == g.epochs
    assert abs(g.loss_history[-1] - g.loss_history[-2]) <= 0.05
    params = SSHELRParams(
        epochs=20,
        key_bits=1024,
        early_stop="abs",
        tol=0.62,
        reveal_loss_freq=2,
        learning_rate=0.5,
    )
    g, h = _train(params, xg, xh, y)
    assert g.converged and g.epochs % 2 == 0 and g.loss_history[-1] <= 0.62
    assert len(g.loss_history) == g.epochs // 2
    assert h.epochs == g.epochs


def test_transcript_shows_what_each_party_receives(data):
    xg, xh, y = data[0][:60], data[1][:60], data[2][:60]
    transcript = Transcript()
    params = SSHELRParams(
        epochs=2,
        batch_size=25,
        momentum=0.5,
        reveal_every_epoch=True,
        key_bits=1024,
        tol=0.0,
    )
    g, h = _train(params, xg, xh, y, transcript=transcript)
    assert g.epochs == 2
    host_got = transcript.received(str(HOST))
    guest_got = transcript.received(str(GUEST))
    assert {r.name for r in host_got} == set(HOST_RECEIVES)
    assert {r.name for r in guest_got} == set(GUEST_RECEIVES)
    assert set(HOST_RECEIVES).isdisjoint(GUEST_RECEIVES)
    # the host gets no array at all: no labels, guest features, weights or gradients;
    # everything per batch is a ciphertext, shares are lists of uniform ring elements
    for r in host_got:
        assert "ndarray" not in r.summary and "float" not in r.summary, r
        if r.name.startswith(("sshe_enc_", "sshe_masked_")):
            assert r.summary == "EncryptedVectorMessage", r
    assert {r.summary for r in host_got if r.name == "sshe_stop"} == {"bool"}
    # the guest gets no plaintext host features or weights either
    for r in guest_got:
        assert "ndarray" not in r.summary and "float" not in r.summary, r
        if r.name.startswith(("sshe_enc_", "sshe_masked_")):
            assert r.summary == "EncryptedVectorMessage", r
    # 3 batches x 2 epochs of each per-batch message
    assert len([r for r in host_got if r.name == "sshe_masked_guest_score"]) == 6
    # prediction: the guest gets the host's partial scores, the host nothing
    transcript2 = Transcript()
    prob = _predict(g, h, xg, xh, transcript=transcript2)
    assert prob.shape == (60,)
    assert [r.name for r in transcript2.received(str(GUEST))] == ["sshe_host_predict_score"]
    assert transcript2.received(str(HOST)) == []


def test_model_round_trip_and_errors():
    m = SSHEModel("guest", np.array([0.5, -1.25]), 0.75, True)
    d = json.loads(json.dumps(m.to_dict()))
    back = SSHEModel.from_dict(d)
    assert back.role == "guest" and back.intercept == 0.75
    np.testing.assert_array_equal(back.weights, m.weights)
    with pytest.raises(ValueError, match="weights"):
        SSHEModel.from_dict({"role": "guest", "weights": "nope"})
    with pytest.raises(ValueError, match="'role'"):
        SSHEModel.from_dict({"weights": [1.0]})
    with pytest.raises(ValueError, match="intercept"):
        SSHEModel.from_dict({"role": "host", "weights": [1.0], "intercept": "x"})
    with pytest.raises(ValueError, match="role"):
        SSHEModel("arbiter", np.zeros(2))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": -1}, "learning_rate"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"momentum": 1.0}, "momentum"),
        ({"decay": -0.1}, "decay"),
        ({"penalty": "l1"}, "penalty"),
        ({"alpha": -1}, "alpha"),
        ({"init": "ones"}, "init"),
        ({"early_stop": "weight_diff"}, "early_stop"),
        ({"reveal_loss_freq": -1}, "reveal_loss_freq"),
        ({"key_bits": 512}, "key_bits"),
        ({"scheme": "plain"}, "scheme"),
        ({"scheme": "rsa"}, "scheme"),
        ({"workers": 0}, "workers"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_params_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"SSHELRParams.{name}"):
        SSHELRParams(**kwargs)


def test_bad_inputs_name_the_party():
    rng = np.random.default_rng(0)
    xg, xh = rng.normal(size=(30, 2)), rng.normal(size=(30, 3))
    y = (rng.random(30) > 0.5).astype(float)
    p = SSHELRParams(epochs=1, key_bits=1024)
    with pytest.raises(ValueError, match="sshe_lr guest: y must contain only 0/1"):
        _train(p, xg, xh, y * 2)
    bad = xh.copy()
    bad[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"sshe_lr host 10000 x: row 4, column 1"):
        _train(p, xg, bad, y)
    with pytest.raises(ValueError, match="align them with PSI"):
        _train(p, xg, xh[:20], y)
    with pytest.raises(ValueError, match="standardise"):
        _train(p, xg * 1e4, xh, y)
    # the host checks that both sides train with the same parameters
    fed = InProcessFederation(PARTIES, options=JobOptions(timeout=60))
    with pytest.raises(ValueError, match="parameter 'learning_rate' differs"):
        fed.run(
            {
                "guest": lambda c: guest(c, xg, y, p),
                "host": lambda c: host(
                    c, xh, SSHELRParams(epochs=1, key_bits=1024, learning_rate=1)
                ),
            }
        )


def test_more_than_one_host_is_refused():
    parties = JobParties.of(guest=1, hosts=[2, 3])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10, 2))
    y = (rng.random(10) > 0.5).astype(float)
    p = SSHELRParams(epochs=1, key_bits=1024)
    fed = InProcessFederation(parties, options=JobOptions(timeout=30))
    with pytest.raises(ValueError, match="exactly one guest and one host; this job has 2 hosts"):
        fed.run({"guest": lambda c: guest(c, x, y, p), "host": lambda c: host(c, x, p)})


def test_public_api():
    assert set(sshe_lr.__all__) >= {
        "SSHELRParams",
        "SSHEModel",
        "TrainResult",
        "guest",
        "host",
        "predict_guest",
        "predict_host",
    }
