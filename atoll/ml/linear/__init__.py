"""Shared pieces of the linear models (coordinated LR, SSHE LR, ...): optimisers, penalties,
learning-rate decay, weight initialisation and early stopping, all on plaintext numpy arrays.

A vertical protocol gives each party the plaintext gradient of *its own* weights (after
unmasking); every party then applies one of these optimisers locally, so no party's weights
or optimiser state ever leaves it. See :mod:`atoll.ml.linear.optim`.
"""

from atoll.ml.linear.optim import (
    EARLY_STOPS,
    INITS,
    OPTIMIZERS,
    PENALTIES,
    EarlyStopping,
    Optimizer,
    decayed_learning_rate,
    init_weights,
    penalty_loss,
)

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
