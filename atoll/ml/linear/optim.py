"""Optimisers, penalties, learning-rate decay, weight initialisation and early stopping.

Everything works on one party's plaintext weight vector ``w`` and its gradient ``g`` (the
gradient of the *unpenalised* mean loss); ``penalize`` is a boolean mask of the entries the
penalty applies to (every entry but the intercept).

Step ``t`` (0-based epoch) uses the decayed rate (FATE's convention)::

    lr_t = lr / (1 + decay * t)           decay_sqrt=False
    lr_t = lr / sqrt(1 + decay * t)       decay_sqrt=True

Penalties (``alpha`` is their strength; the loss they add is :func:`penalty_loss`):

* ``l2``: loss ``alpha/2 * |w|^2``; its gradient ``alpha * w`` is added to ``g`` before the
  optimiser sees it.
* ``l1``: loss ``alpha * |w|_1``; applied after the optimiser step as the proximal operator
  (soft thresholding by ``lr_t * alpha``), as FATE's ``_l1_updator`` does: weights that would
  cross zero stop at zero, so L1 gives exact zeros.

Optimisers (state is per entry; ``delta`` is what is subtracted from ``w``)::

    sgd                delta = lr_t g
    momentum           v = mu v + lr_t g;              delta = v
    nesterov_momentum  v = mu v + lr_t g;              delta = mu v + lr_t g
    adagrad            G = G + g^2;                    delta = lr_t g / (sqrt(G) + eps)
    rmsprop            E = rho E + (1 - rho) g^2;      delta = lr_t g / (sqrt(E) + eps)
    adam (k = steps)   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
                       delta = lr_t (m / (1 - b1^k)) / (sqrt(v / (1 - b2^k)) + eps)

Defaults: ``mu = 0.9``, ``rho = 0.99``, ``b1 = 0.9``, ``b2 = 0.999``, ``eps = 1e-8``
(adagrad, rmsprop and adam). Every optimiser is elementwise, so splitting a weight vector
between parties (vertical learning) gives exactly the update of the joined vector.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "EARLY_STOPS",
    "INITS",
    "OPTIMIZERS",
    "PENALTIES",
    "EarlyStopping",
    "Optimizer",
    "decayed_learning_rate",
    "init_weights",
    "penalty_loss",
]

OPTIMIZERS = ("sgd", "momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam")
PENALTIES = ("l1", "l2", None)
INITS = ("zeros", "random_uniform", "random_normal", "const")
EARLY_STOPS = ("diff", "abs", "weight_diff")


def decayed_learning_rate(
    learning_rate: float, decay: float, decay_sqrt: bool, epoch: int
) -> float:
    """``lr / (1 + decay t)`` or, with ``decay_sqrt``, ``lr / sqrt(1 + decay t)``."""
    base = 1.0 + decay * epoch
    return learning_rate / (math.sqrt(base) if decay_sqrt else base)


def penalty_loss(
    w: np.ndarray, penalty: str | None, alpha: float, penalize: np.ndarray | None = None
) -> float:
    """The loss the penalty adds: ``alpha/2 |w|^2`` (l2), ``alpha |w|_1`` (l1), 0 (None)."""
    if penalty is None or alpha == 0:
        return 0.0
    v = np.asarray(w, dtype=np.float64)
    if penalize is not None:
        v = v[penalize]
    if penalty == "l2":
        return 0.5 * alpha * float(v @ v)
    if penalty == "l1":
        return alpha * float(np.abs(v).sum())
    raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")


class Optimizer:
    """One party's optimiser: ``w = opt.step(w, grad, epoch=t)`` (see the module docstring)."""

    def __init__(
        self,
        method: str = "sgd",
        learning_rate: float = 0.1,
        *,
        decay: float = 0.0,
        decay_sqrt: bool = True,
        penalty: str | None = None,
        alpha: float = 0.0,
        momentum: float = 0.9,
        rho: float = 0.99,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        if method not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {method!r}")
        if penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {learning_rate!r}")
        if not decay >= 0:
            raise ValueError(f"decay must be >= 0, got {decay!r}")
        if not alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        self.method = method
        self.learning_rate = float(learning_rate)
        self.decay = float(decay)
        self.decay_sqrt = bool(decay_sqrt)
        self.penalty = penalty
        self.alpha = float(alpha)
        self.momentum = float(momentum)
        self.rho = float(rho)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)
        self.steps = 0
        self._s1: np.ndarray | None = None  # momentum / adagrad sum / rmsprop mean / adam m
        self._s2: np.ndarray | None = None  # adam v

    def lr(self, epoch: int) -> float:
        return decayed_learning_rate(self.learning_rate, self.decay, self.decay_sqrt, epoch)

    def penalty_loss(self, w: np.ndarray, penalize: np.ndarray | None = None) -> float:
        return penalty_loss(w, self.penalty, self.alpha, penalize)

    def step(
        self, w: np.ndarray, grad: np.ndarray, *, epoch: int, penalize: np.ndarray | None = None
    ) -> np.ndarray:
        """The new weights after one step with the loss gradient ``grad`` at ``w``."""
        w = np.asarray(w, dtype=np.float64)
        g = np.array(grad, dtype=np.float64)
        if g.shape != w.shape:
            raise ValueError(f"gradient shape {g.shape} does not match weights {w.shape}")
        mask = np.ones(w.shape, dtype=bool) if penalize is None else np.asarray(penalize, bool)
        lr = self.lr(epoch)
        if self.penalty == "l2" and self.alpha:
            g = g + self.alpha * np.where(mask, w, 0.0)
        if self._s1 is None or self._s1.shape != w.shape:
            self._s1 = np.zeros_like(w)
            self._s2 = np.zeros_like(w)
        assert self._s2 is not None
        self.steps += 1
        m = self.method
        if m == "sgd":
            delta = lr * g
        elif m == "momentum":
            self._s1 = self.momentum * self._s1 + lr * g
            delta = self._s1
        elif m == "nesterov_momentum":
            self._s1 = self.momentum * self._s1 + lr * g
            delta = self.momentum * self._s1 + lr * g
        elif m == "adagrad":
            self._s1 = self._s1 + g * g
            delta = lr * g / (np.sqrt(self._s1) + self.eps)
        elif m == "rmsprop":
            self._s1 = self.rho * self._s1 + (1 - self.rho) * g * g
            delta = lr * g / (np.sqrt(self._s1) + self.eps)
        else:  # adam
            k = self.steps
            self._s1 = self.beta1 * self._s1 + (1 - self.beta1) * g
            self._s2 = self.beta2 * self._s2 + (1 - self.beta2) * g * g
            mhat = self._s1 / (1 - self.beta1**k)
            vhat = self._s2 / (1 - self.beta2**k)
            delta = lr * mhat / (np.sqrt(vhat) + self.eps)
        new = w - delta
        if self.penalty == "l1" and self.alpha:
            shrunk = np.sign(new) * np.maximum(np.abs(new) - lr * self.alpha, 0.0)
            new = np.where(mask, shrunk, new)
        return new


def init_weights(
    count: int,
    method: str = "zeros",
    *,
    const: float = 0.0,
    seed: int | None = None,
    fit_intercept: bool = True,
) -> tuple[np.ndarray, float]:
    """Initial ``(coef, intercept)`` for ``count`` features.

    ``zeros``; ``const`` (every coefficient and the intercept ``= const``); ``random_uniform``
    (``U(-1/sqrt(count), 1/sqrt(count))``) and ``random_normal`` (``N(0, 1/count)``), drawn
    from ``numpy.random.default_rng(seed)``, intercept 0. The same seed gives the same
    weights.
    """
    if method not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {method!r}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    intercept = 0.0
    if method == "zeros":
        coef = np.zeros(count)
    elif method == "const":
        coef = np.full(count, float(const))
        intercept = float(const)
    else:
        rng = np.random.default_rng(seed)
        scale = 1.0 / math.sqrt(max(count, 1))
        if method == "random_uniform":
            coef = rng.uniform(-scale, scale, size=count)
        else:
            coef = rng.normal(0.0, scale, size=count)
    return coef, (intercept if fit_intercept else 0.0)


class EarlyStopping:
    """Convergence test, called once per epoch.

    * ``diff``: ``|loss_t - loss_(t-1)| < tol`` (never at the first epoch);
    * ``abs``: ``loss_t < tol``;
    * ``weight_diff``: ``|w_t - w_(t-1)|_2 < tol`` (the norm over every party's weights).
    """

    def __init__(self, method: str = "diff", tol: float = 1e-4) -> None:
        if method not in EARLY_STOPS:
            raise ValueError(f"early_stop must be one of {EARLY_STOPS}, got {method!r}")
        if not tol >= 0:
            raise ValueError(f"tol must be >= 0, got {tol!r}")
        self.method = method
        self.tol = float(tol)
        self.previous_loss: float | None = None

    def update(self, loss: float | None = None, weight_diff: float | None = None) -> bool:
        """True when training has converged."""
        if self.method == "weight_diff":
            if weight_diff is None:
                raise ValueError("early_stop 'weight_diff' needs the weight difference")
            return weight_diff < self.tol
        if loss is None:
            raise ValueError(f"early_stop {self.method!r} needs the loss")
        if self.method == "abs":
            return loss < self.tol
        prev, self.previous_loss = self.previous_loss, loss
        return prev is not None and abs(loss - prev) < self.tol
