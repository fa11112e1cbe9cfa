"""The guest's role in coordinated LR: holds the label, decides the batches, builds ``[[d]]``.

The guest receives exactly (message: from whom; form):

* ``clr_public_key``: arbiter; the public key.
* ``clr_host_rows``: each host, once; plaintext int, the host's row count.
* ``clr_host_forward``: each host, per batch; ciphertext ``[[0.25 X_h w_h]]`` (batch rows).
* ``clr_host_loss``: each host, per batch; ciphertext of the host's loss term
  ``2/b |0.25 X_h w_h|^2 + penalty(w_h)``.
* ``clr_cross_loss``: every host but the first, per batch (two or more hosts only);
  ciphertext ``4/b sum_{h<k} <0.25 X_h w_h, 0.25 X_k w_k>``.
* ``clr_masked_gradient``: arbiter, per batch; plaintext ``g_guest + r`` as integers, where
  ``r`` is the guest's own uniform mask (so it is the guest's own gradient, nothing else).
* ``clr_host_weight_diff``: each host, per epoch (``early_stop='weight_diff'`` only);
  ciphertext ``|w_h,t - w_h,t-1|^2``.
* ``clr_epoch_end``: arbiter, per epoch; plaintext ``{"loss", "stop"}``.

So the guest never sees a host's features, weights, gradient or per-row scores in the clear
during training: everything from the hosts is a ciphertext under the arbiter's key.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from atoll.crypto.he import EncryptedVector, vector_from_message, vector_to_message
from atoll.federation import Context
from atoll.ml.coordinated_lr._common import (
    BATCH_ORDER,
    CROSS_LOSS,
    ENC_MASKED_GRADIENT,
    EPOCH_END,
    HOST_FORWARD,
    HOST_LOSS,
    HOST_ROWS,
    HOST_WEIGHT_DIFF,
    LOSS,
    LOSS_FRAC_BITS,
    MASKED_GRADIENT,
    PEER_FORWARDS,
    PREDICT_SCORE,
    RESIDUAL,
    SCALE_FRAC_BITS,
    SETUP,
    WEIGHT_DIFF,
    CoordinatedLRParams,
    EpochCallback,
    LRModel,
    TrainResult,
    batch_bounds,
    batch_count,
    callback,
    check_features,
    check_labels,
    encode_features,
    encrypt_scalar,
    initial_weights,
    mask,
    receive_public_key,
    sum_vectors,
    unmask,
)

__all__ = ["guest", "predict_guest"]

log = logging.getLogger("atoll.ml.coordinated_lr")

_LOG2_MINUS_HALF = float(np.log(2.0)) - 0.5


def guest(
    ctx: Context,
    x: np.ndarray,
    y: np.ndarray,
    params: CoordinatedLRParams,
    *,
    warm_start: LRModel | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train the guest's share of the model on ``x`` (rows aligned with every host) and the
    0/1 label ``y``. Returns the guest's :class:`LRModel` (its coefficients and the
    intercept) and the loss history the arbiter announced."""
    t0 = time.perf_counter()
    if not isinstance(params, CoordinatedLRParams):
        raise ValueError("coordinated_lr guest: params must be a CoordinatedLRParams")
    x = check_features(x, "coordinated_lr guest x")
    n, k = x.shape
    y01 = check_labels(y, n, "coordinated_lr guest y")
    coef, intercept = initial_weights(params, k, "guest", warm_start, "coordinated_lr guest")
    fit = params.fit_intercept
    w = np.append(coef, intercept) if fit else coef
    penalize = np.arange(len(w)) < k
    opt = params.optimizer_for()
    fb = params.feature_frac_bits
    xe = encode_features(x, fb, "coordinated_lr guest x")
    ys = 2.0 * y01 - 1.0
    workers = params.workers

    pk = receive_public_key(ctx, params, "coordinated_lr guest")
    hosts = ctx.hosts
    if len(hosts) == 0:
        raise ValueError("coordinated_lr guest: the job has no host")
    for handle, rows in zip(hosts, hosts.get(HOST_ROWS), strict=True):
        if rows != n:
            raise ValueError(
                f"coordinated_lr: host {handle.party_id} has {rows} rows, the guest {n}; "
                "align them with PSI first"
            )
    b, nb = batch_count(n, params.batch_size)
    setup = {"rows": n, "batch_size": b, "batches": nb, "shared": params.shared()}
    hosts.put(SETUP, setup)
    ctx.arbiter.put(SETUP, setup)
    rng = np.random.default_rng(params.seed)
    log.info(
        "coordinated LR guest: %d rows x %d features, %d host(s), %d batch(es) of %d",
        n,
        k,
        len(hosts),
        nb,
        b,
    )

    history: list[float] = []
    converged = False
    epochs_run = 0
    for epoch in range(params.epochs):
        ectx = ctx.sub("epoch", epoch)
        if nb > 1:
            order = rng.permutation(n) if params.shuffle else np.arange(n)
            ectx.hosts.put(BATCH_ORDER, order.astype(np.int64))
        else:
            order = None
        w_start = w.copy()
        loss_sum: EncryptedVector | None = None
        for bi, (lo, hi) in enumerate(batch_bounds(n, nb)):
            bctx = ectx.sub("batch", bi)
            if order is None:
                xb, xeb, yb = x, xe, ys
            else:
                idx = order[lo:hi]
                xb, xeb, yb = x[idx], xe[idx], ys[idx]
            bs = len(yb)
            cf = w[:k]
            wx = xb @ cf + (w[k] if fit else 0.0)
            a = 0.25 * wx - 0.5 * yb

            msgs = bctx.hosts.get(HOST_FORWARD)
            forwards = [vector_from_message(m, pk) for m in msgs]
            for handle, v in zip(hosts, forwards, strict=True):
                if len(v) != bs:
                    raise ValueError(
                        f"coordinated_lr: host {handle.party_id} sent {len(v)} values for a "
                        f"batch of {bs} rows"
                    )
            for j in range(1, len(hosts)):
                bctx.hosts[j].put(PEER_FORWARDS, list(msgs[:j]))
            q = sum_vectors(forwards)
            d = q.add(a)  # [[d]] = 0.25 (wx_g + sum_h wx_h) - 0.5 y'
            bctx.hosts.put(RESIDUAL, vector_to_message(d, workers=workers))  # re-randomised

            g = d.vecmat(xeb, workers=workers)
            if fit:
                s = d.sum()
                g = EncryptedVector.concat([g, s.mul(1 << fb) if fb else s])
            masked, rs = mask(g)
            bctx.arbiter.put(ENC_MASKED_GRADIENT, vector_to_message(masked, workers=workers))

            # the batch's Taylor loss: log2 - 1/2 + 2/b sum d^2 (+ penalties), encrypted
            const = _LOG2_MINUS_HALF + 2.0 / bs * float(a @ a) + opt.penalty_loss(w, penalize)
            aq = q.dot(a, frac_bits=LOSS_FRAC_BITS, workers=workers)
            terms = [aq.mul(4.0 / bs, frac_bits=SCALE_FRAC_BITS)]
            terms += [vector_from_message(m, pk) for m in bctx.hosts.get(HOST_LOSS)]
            terms += [vector_from_message(m, pk) for m in bctx.hosts[1:].get(CROSS_LOSS)]
            batch_loss = sum_vectors(terms).add(const)
            loss_sum = batch_loss if loss_sum is None else loss_sum.add(batch_loss)

            grad = unmask(
                bctx.arbiter.get(MASKED_GRADIENT),
                rs,
                g.frac_bits + fb,
                "coordinated_lr guest",
            )
            w = opt.step(w, grad / bs, epoch=epoch, penalize=penalize)

        assert loss_sum is not None
        loss_enc = loss_sum if nb == 1 else loss_sum.mul(1.0 / nb, frac_bits=SCALE_FRAC_BITS)
        ectx.arbiter.put(LOSS, vector_to_message(loss_enc))
        if params.early_stop == "weight_diff":
            dw = w - w_start
            parts = [encrypt_scalar(pk, float(dw @ dw))]
            parts += [vector_from_message(m, pk) for m in ectx.hosts.get(HOST_WEIGHT_DIFF)]
            ectx.arbiter.put(WEIGHT_DIFF, vector_to_message(sum_vectors(parts)))
        end = ectx.arbiter.get(EPOCH_END)
        loss = float(end["loss"])
        history.append(loss)
        epochs_run = epoch + 1
        callback(on_epoch, epoch, {"loss": loss})
        if end["stop"]:
            converged = True
            break

    model = LRModel("guest", w[:k].copy(), float(w[k]) if fit else 0.0, fit)
    return TrainResult(model, history, epochs_run, converged, time.perf_counter() - t0)


def predict_guest(ctx: Context, x: np.ndarray, model: LRModel) -> np.ndarray:
    """Probabilities ``sigmoid(x w_g + b + sum_h x_h w_h)`` for rows aligned with every host.

    The guest receives each host's per-row score ``x_h w_h`` in the clear
    (``clr_predict_score``), as in FATE: with one host it follows from the output anyway;
    with several, the guest learns each host's share of the score.
    """
    if not isinstance(model, LRModel) or model.role != "guest":
        raise ValueError("coordinated_lr predict_guest: model must be a guest's LRModel")
    x = check_features(x, "coordinated_lr predict_guest x")
    if x.shape[1] != len(model.weights):
        raise ValueError(
            f"coordinated_lr predict_guest x: {x.shape[1]} columns, the model has "
            f"{len(model.weights)} weights"
        )
    z = x @ model.weights + model.intercept
    for handle, score in zip(ctx.hosts, ctx.hosts.get(PREDICT_SCORE), strict=True):
        s = np.asarray(score, dtype=np.float64)
        if s.shape != (x.shape[0],):
            raise ValueError(
                f"coordinated_lr: host {handle.party_id} sent {s.shape} scores for "
                f"{x.shape[0]} rows; align them with PSI first"
            )
        z = z + s
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow
