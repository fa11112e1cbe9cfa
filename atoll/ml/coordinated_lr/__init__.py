"""Coordinated (hetero) logistic regression: FATE's HeteroLR / CoordinatedLR with an arbiter.

One guest (label ``y`` and features ``X_g``), one or more hosts (features ``X_h``), one
arbiter (the key pair). Rows must already be aligned (run PSI first). Each party keeps its
own weights; the arbiter only ever decrypts values masked by their owner.

::

    arbiter                        guest                               host h
    keygen (pk, sk)
    --- clr_public_key ----------> ------------------------------------->
                                   <--- clr_host_rows (int) ------------
    <-- clr_setup ---------------- --- clr_setup (rows, batches) ------->
    per epoch:                     --- clr_batch_order (mini-batch) --->
     per batch:                                                         u_h = X_h w_h
                                   <--- clr_host_forward [[u_h/4]] ------
                                   <--- clr_host_loss [[2/b|u_h/4|^2 + pen_h]]
                                   --- clr_peer_forwards [[u_j/4]], j<h ->  (2+ hosts)
                                   <--- clr_cross_loss [[4/b <u_j/4, u_h/4>]]
                                   [[d]] = sum_h [[u_h/4]] + (wx_g/4 - y'/2)
                                   --- clr_residual [[d]] (re-randomised) ->
                                   [[g_g]] = [[d]]^T [X_g 1]          [[g_h]] = [[d]]^T X_h
    <-- clr_enc_masked_gradient [[g_g + r_g]] --------------------------- [[g_h + r_h]]
    decrypt
    --- clr_masked_gradient g_g + r_g ->   ----------- g_h + r_h ------->
                                   g_g = . - r_g; own optimiser step   g_h = . - r_h; step
     end of epoch:                 (weight_diff: <-- clr_host_weight_diff [[|dw_h|^2]])
    <-- clr_loss [[loss]], clr_weight_diff [[sum |dw|^2]] --
    decrypt, test convergence
    --- clr_epoch_end (loss, stop) --> -------------------------------->

Loss and gradient use the second-order Taylor expansion of the logistic loss around
``wx = 0`` (as FATE does, because additive HE cannot evaluate a sigmoid)::

    loss(wx, y') ~ log 2 - y' wx / 2 + wx^2 / 8        y' = 2y - 1 in {-1, +1}
    d = d loss / d wx = wx / 4 - y' / 2                 gradient = X^T d / b (+ penalty)

With ``y'^2 = 1`` the batch loss is ``log 2 - 1/2 + 2/b sum d^2``: the guest assembles it from
its plaintext part, the hosts' encrypted ``[[|u_h/4|^2]]`` and cross terms, and its own
encrypted ``<[[sum u_h/4]], wx_g/4 - y'/2>``. Effect on accuracy: the Taylor objective is a
quadratic, so the model converges to the least-squares fit of ``2 y'`` (a ridge / linear
discriminant), not to the logistic-loss optimum. Rankings stay close: on breast-cancer
(five stratified folds, standard-scaled) the test AUC is on average 0.003 below
scikit-learn's LogisticRegression with the same L2 strength (per fold -0.003 to +0.011),
but the coefficients and the probabilities ``sigmoid(wx)`` differ from a logistic fit's
(they are less extreme: the quadratic also penalises confident correct scores).

Fixed point: features enter the encrypted gradient with ``feature_frac_bits`` (16) fractional
bits, ``[[u/4]]`` with 32, so the gradient carries an absolute rounding error of about
``2^-17 * mean|d|`` per feature; the masks are added to the encoded integers, so unmasking
is exact, and ``scheme='plain'`` gives bit-identical results to Paillier. The cost of the
multi-exponentiation ``[[d]]^T X`` grows with the exponents' bits; measured (coefficient
error after 30 epochs on breast-cancer against 40 fractional bits; seconds per column of
100,000 rows under a 1024-bit Paillier key, one core)::

    feature_frac_bits     8        12       16 (default)   24
    max |coef error|      5e-4     4e-5     1.8e-6         8e-9
    s per column          0.17     0.32     0.38           0.50

Where a host computes: with ``host_compute='local'`` (the default) its encryptions and its
gradient ``[[d]]^T X_h`` run in its own process (``workers`` processes for the HE layer); with
``host_compute='table'`` its encoded features live in a Table of its computing session and
both run as Table work, partition by partition, on whatever engine the site's
``computing:`` setting names (standalone or Spark; :mod:`._table`). The messages and the
model are the same either way (the gradient's ciphertexts are the same integers).

Who learns what (each role module lists exactly what it receives): the guest learns its own
gradient and the loss; each host its own gradient and the loss; the arbiter the loss (and the
global weight change with ``early_stop='weight_diff'``). Predictions
(:func:`predict_guest` / :func:`predict_host`) send each host's per-row score ``X_h w_h`` to
the guest in the clear, as FATE does.

Usage (every role gets the same :class:`CoordinatedLRParams`)::

    result = coordinated_lr.guest(ctx, x_guest, y, params)        # guest
    result = coordinated_lr.host(ctx, x_host, params)             # each host
    result = coordinated_lr.arbiter(ctx, params)                  # arbiter
    p = coordinated_lr.predict_guest(ctx, x_guest, result.model)  # guest
    coordinated_lr.predict_host(ctx, x_host, result.model)        # each host
"""

from atoll.ml.coordinated_lr._common import (
    ARBITER_RECEIVES,
    GUEST_RECEIVES,
    HOST_RECEIVES,
    CoordinatedLRParams,
    LRModel,
    TrainResult,
)
from atoll.ml.coordinated_lr.arbiter import arbiter
from atoll.ml.coordinated_lr.guest import guest, predict_guest
from atoll.ml.coordinated_lr.host import host, predict_host

__all__ = [
    "ARBITER_RECEIVES",
    "GUEST_RECEIVES",
    "HOST_RECEIVES",
    "CoordinatedLRParams",
    "LRModel",
    "TrainResult",
    "arbiter",
    "guest",
    "host",
    "predict_guest",
    "predict_host",
]
