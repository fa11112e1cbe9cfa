"""atoll.ml.linear.optim against hand-written numpy references, step by step."""

from __future__ import annotations

import math

import numpy as np
import pytest

from atoll.ml.linear import (
    EarlyStopping,
    Optimizer,
    decayed_learning_rate,
    init_weights,
    penalty_loss,
)

W0 = np.array([0.5, -1.0, 2.0])
GRADS = [np.array([0.1, -0.2, 0.3]), np.array([-0.4, 0.5, 0.05]), np.array([0.2, 0.2, -0.1])]
LR = 0.1


def _run(opt: Optimizer, epochs=(0, 1, 2)) -> list[np.ndarray]:
    w, out = W0.copy(), []
    for t, g in zip(epochs, GRADS, strict=True):
        w = opt.step(w, g, epoch=t)
        out.append(w)
    return out


def _check(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_sgd():
    want, w = [], W0.copy()
    for g in GRADS:
        w = w - LR * g
        want.append(w)
    _check(_run(Optimizer("sgd", LR)), want)


def test_momentum():
    want, w, v = [], W0.copy(), np.zeros(3)
    for g in GRADS:
        v = 0.9 * v + LR * g
        w = w - v
        want.append(w)
    _check(_run(Optimizer("momentum", LR)), want)


def test_nesterov_momentum():
    want, w, v = [], W0.copy(), np.zeros(3)
    for g in GRADS:
        v = 0.9 * v + LR * g
        w = w - (0.9 * v + LR * g)
        want.append(w)
    _check(_run(Optimizer("nesterov_momentum", LR)), want)


def test_adagrad():
    want, w, s = [], W0.copy(), np.zeros(3)
    for g in GRADS:
        s = s + g**2
        w = w - LR * g / (np.sqrt(s) + 1e-8)
        want.append(w)
    _check(_run(Optimizer("adagrad", LR)), want)


def test_rmsprop():
    want, w, s = [], W0.copy(), np.zeros(3)
    for g in GRADS:
        s = 0.99 * s + 0.01 * g**2
        w = w - LR * g / (np.sqrt(s) + 1e-8)
        want.append(w)
    _check(_run(Optimizer("rmsprop", LR)), want)


def test_adam():
    want, w, m, v = [], W0.copy(), np.zeros(3), np.zeros(3)
    for k, g in enumerate(GRADS, start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        w = w - LR * (m / (1 - 0.9**k)) / (np.sqrt(v / (1 - 0.999**k)) + 1e-8)
        want.append(w)
    _check(_run(Optimizer("adam", LR)), want)
    # first adam step moves every weight by about lr, whatever the gradient's scale
    first = Optimizer("adam", LR).step(W0, GRADS[0], epoch=0)
    np.testing.assert_allclose(np.abs(first - W0), LR, rtol=1e-6)


@pytest.mark.parametrize("sqrt", [True, False])
def test_decay(sqrt):
    for t in range(4):
        base = 1 + 0.5 * t
        want = LR / (math.sqrt(base) if sqrt else base)
        assert decayed_learning_rate(LR, 0.5, sqrt, t) == pytest.approx(want, rel=1e-15)
    want, w = [], W0.copy()
    for t, g in enumerate(GRADS):
        base = 1 + 0.5 * t
        w = w - LR / (math.sqrt(base) if sqrt else base) * g
        want.append(w)
    _check(_run(Optimizer("sgd", LR, decay=0.5, decay_sqrt=sqrt)), want)


def test_l2_penalty_skips_the_masked_entry():
    mask = np.array([True, True, False])  # last entry: the intercept
    opt = Optimizer("sgd", LR, penalty="l2", alpha=0.3)
    got = opt.step(W0, GRADS[0], epoch=0, penalize=mask)
    want = W0 - LR * (GRADS[0] + 0.3 * np.array([0.5, -1.0, 0.0]))
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert penalty_loss(W0, "l2", 0.3, mask) == pytest.approx(0.15 * (0.25 + 1.0))
    assert opt.penalty_loss(W0) == pytest.approx(0.15 * (0.25 + 1.0 + 4.0))


def test_l1_is_a_proximal_step():
    mask = np.array([True, True, False])
    opt = Optimizer("sgd", 1.0, penalty="l1", alpha=0.3)
    w = np.array([0.2, -1.0, 0.1])
    g = np.array([0.05, 0.1, 0.0])
    got = opt.step(w, g, epoch=0, penalize=mask)
    plain = w - 1.0 * g  # [0.15, -1.1, 0.1]
    want = np.array([0.0, -0.8, 0.1])  # shrink by lr*alpha = 0.3, clip at zero, not the intercept
    np.testing.assert_allclose(plain, [0.15, -1.1, 0.1])
    np.testing.assert_allclose(got, want, atol=1e-15)
    assert penalty_loss(w, "l1", 0.3) == pytest.approx(0.3 * 1.3)


def test_init_weights():
    c, b = init_weights(4, "zeros")
    assert c.tolist() == [0.0] * 4 and b == 0.0
    c, b = init_weights(3, "const", const=0.25)
    assert c.tolist() == [0.25] * 3 and b == 0.25
    c, b = init_weights(3, "const", const=0.25, fit_intercept=False)
    assert b == 0.0
    u1, _ = init_weights(100, "random_uniform", seed=7)
    u2, _ = init_weights(100, "random_uniform", seed=7)
    np.testing.assert_array_equal(u1, u2)
    assert np.abs(u1).max() <= 0.1 and np.abs(u1).max() > 0.05
    n1, _ = init_weights(10_000, "random_normal", seed=1)
    assert n1.std() == pytest.approx(0.01, rel=0.05)
    assert not np.array_equal(n1[:100], init_weights(10_000, "random_normal", seed=2)[0][:100])
    with pytest.raises(ValueError, match="init"):
        init_weights(3, "glorot")


def test_early_stopping():
    s = EarlyStopping("diff", 0.01)
    assert [s.update(v) for v in (1.0, 0.5, 0.495, 0.3)] == [False, False, True, False]
    s = EarlyStopping("abs", 0.4)
    assert [s.update(v) for v in (0.5, 0.41, 0.39)] == [False, False, True]
    s = EarlyStopping("weight_diff", 1e-3)
    assert not s.update(0.5, weight_diff=0.1)
    assert s.update(0.5, weight_diff=1e-4)
    with pytest.raises(ValueError, match="weight difference"):
        s.update(0.5)
    with pytest.raises(ValueError, match="early_stop"):
        EarlyStopping("relative")


def test_bad_optimizer_arguments_are_named():
    with pytest.raises(ValueError, match="optimizer"):
        Optimizer("lbfgs")
    with pytest.raises(ValueError, match="penalty"):
        Optimizer("sgd", penalty="l3")
    with pytest.raises(ValueError, match="learning_rate"):
        Optimizer("sgd", 0.0)
    with pytest.raises(ValueError, match="shape"):
        Optimizer().step(W0, np.zeros(2), epoch=0)
