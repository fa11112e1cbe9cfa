"""Vertical LR on FATE's own breast_hetero example against scikit-learn on the joined plaintext.

Both algorithms (coordinated LR with an arbiter, SSHE-LR without) on FATE's
``breast_hetero_guest`` (id, y, 10 features) and ``breast_hetero_host`` (id, 20
features), read with the reader and aligned by id. Five stratified folds:
the mean test AUC must be within 0.005 of ``LogisticRegression`` with the
same L2 strength (``C = 1 / (alpha n)``); the largest coefficient difference
is printed (the Taylor approximation makes the coefficients differ from the
logistic optimum, not the ranking). The demo data's twin of this test is
``test_quality_against_sklearn_and_the_plaintext_twin`` in
test_coordinated_lr.py / test_sshe_lr.py (scikit-learn's breast-cancer set).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from atoll.federation import InProcessFederation, JobOptions, JobParties
from atoll.ml import coordinated_lr, sshe_lr
from atoll.ml.reader import ReaderParams, read_frame
from tests.shared_data import FATE, needs_fate

pytestmark = needs_fate
ALPHA = 0.01


@pytest.fixture(scope="module")
def breast():
    assert FATE is not None
    g, _ = read_frame(
        FATE / "breast_hetero_guest.csv", ReaderParams(label_column="y", task="binary")
    )
    h, _ = read_frame(FATE / "breast_hetero_host.csv", ReaderParams())
    shared = set(h.ids)
    g = g.reorder([i for i in g.ids if i in shared])
    h = h.reorder(g.ids)
    return g.features, h.features, g.require_label("breast")


def _fit(algorithm, xg, y, xh, fold):
    common = dict(
        epochs=30, learning_rate=0.15, alpha=ALPHA, penalty="l2", seed=3, key_bits=1024, tol=0.0
    )
    if fold > 0:  # the plain scheme's arithmetic is bit-identical to Paillier's (tested there)
        common.update(scheme="plain", insecure=True)
    if algorithm == "coordinated_lr":
        p = coordinated_lr.CoordinatedLRParams(**common, optimizer="rmsprop", batch_size=240)
        parties = JobParties.of(guest=9999, hosts=[10000], arbiter=10001)
        fns = {
            "guest": lambda c: coordinated_lr.guest(c, xg, y, p),
            "host": lambda c: coordinated_lr.host(c, xh, p),
            "arbiter": lambda c: coordinated_lr.arbiter(c, p),
        }
        mod = coordinated_lr
    else:
        p = sshe_lr.SSHELRParams(**common, optimizer="sgd")
        parties = JobParties.of(guest=9999, hosts=[10000])
        fns = {
            "guest": lambda c: sshe_lr.guest(c, xg, y, p),
            "host": lambda c: sshe_lr.host(c, xh, p),
        }
        mod = sshe_lr
    out = InProcessFederation(parties, options=JobOptions(timeout=300)).run(fns)
    gm, hm = out[parties.guest].model, out[parties.hosts[0]].model
    assert mod is not None
    return np.concatenate([gm.weights, hm.weights]), gm.intercept


@pytest.mark.parametrize("algorithm", ["coordinated_lr", "sshe_lr"])
def test_fate_breast_test_auc_matches_sklearn(breast, algorithm):
    xg_all, xh_all, y = breast
    x = np.hstack([xg_all, xh_all])
    gaps, coef_diffs = [], []
    for fold, (tr, te) in enumerate(StratifiedKFold(5, shuffle=True, random_state=1).split(x, y)):
        sc = StandardScaler().fit(x[tr])
        xtr, xte = sc.transform(x[tr]), sc.transform(x[te])
        coef, b = _fit(algorithm, xtr[:, :10], y[tr], xtr[:, 10:], fold)
        sk = LogisticRegression(C=1.0 / (ALPHA * len(tr)), max_iter=5000).fit(xtr, y[tr])
        ours = roc_auc_score(y[te], xte @ coef + b)
        gaps.append(roc_auc_score(y[te], sk.decision_function(xte)) - ours)
        coef_diffs.append(float(np.abs(coef - sk.coef_[0]).max()))
        assert ours > 0.95
    print(
        f"\n{algorithm} on FATE breast_hetero: AUC gap to sklearn per fold "
        f"{np.round(gaps, 4).tolist()}, mean {np.mean(gaps):.4f}; max |coef diff| "
        f"{np.round(coef_diffs, 3).tolist()}"
    )
    assert abs(float(np.mean(gaps))) <= 0.005
