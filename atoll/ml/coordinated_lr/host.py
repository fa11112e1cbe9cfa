"""A host's role in coordinated LR: sends ``[[0.25 X_h w_h]]``, gets ``[[d]]``, updates ``w_h``.

A host receives exactly (message: from whom; form):

* ``clr_public_key``: arbiter; the public key.
* ``clr_setup``: guest, once; plaintext ``{"rows", "batch_size", "batches", "shared"}``
  (row count, batch size, number of batches and the parameters every role must agree on).
* ``clr_batch_order``: guest, per epoch (mini-batches only); plaintext int64 row order (row
  indices carry nothing about the labels).
* ``clr_peer_forwards``: guest, per batch (every host but the first, two or more hosts
  only); ciphertexts ``[[0.25 X_j w_j]]`` of the hosts before it, for the loss's cross terms.
* ``clr_residual``: guest, per batch; ciphertext ``[[d]]`` (re-randomised).
* ``clr_masked_gradient``: arbiter, per batch; plaintext ``g_host + r`` as integers, where
  ``r`` is this host's own uniform mask (so it is the host's own gradient, nothing else).
* ``clr_epoch_end``: arbiter, per epoch; plaintext ``{"loss", "stop"}``.

A host never receives a label, a residual, a gradient, weights or features of another party
in the clear: only ciphertexts under the arbiter's key, its own masked gradient, the row
order and the announced loss. What its own gradient ``X_h^T d / b`` tells it about ``d``:
with a batch of at most as many rows as the host has features, the host could solve for
``d`` and so for the labels of that batch (as in FATE); keep batches larger than any host's
feature count (a warning is logged otherwise).
"""

from __future__ import annotations

import contextlib
import logging
import time

import numpy as np

from atoll.computing import ComputingSession
from atoll.crypto.he import EncryptedVector, PublicKey, vector_from_message, vector_to_message
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
    LOSS_FRAC_BITS,
    MASKED_GRADIENT,
    PEER_FORWARDS,
    PREDICT_SCORE,
    RESIDUAL,
    RESIDUAL_FRAC_BITS,
    SCALE_FRAC_BITS,
    SETUP,
    CoordinatedLRParams,
    EpochCallback,
    LRModel,
    TrainResult,
    batch_bounds,
    callback,
    check_features,
    encode_features,
    encrypt_scalar,
    initial_weights,
    mask,
    receive_public_key,
    sum_vectors,
    unmask,
)
from atoll.ml.coordinated_lr._table import TableHost

__all__ = ["host", "predict_host"]

log = logging.getLogger("atoll.ml.coordinated_lr")


def host(
    ctx: Context,
    x: np.ndarray,
    params: CoordinatedLRParams,
    *,
    warm_start: LRModel | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train this host's share of the model on ``x`` (rows aligned with the guest's)."""
    t0 = time.perf_counter()
    if not isinstance(params, CoordinatedLRParams):
        raise ValueError("coordinated_lr host: params must be a CoordinatedLRParams")
    what = f"coordinated_lr host {ctx.party_id}"
    x = check_features(x, f"{what} x")
    n, k = x.shape
    w, _ = initial_weights(params, k, "host", warm_start, what)
    xe = encode_features(x, params.feature_frac_bits, f"{what} x")
    me = ctx.hosts.members.index(ctx.local)

    pk = receive_public_key(ctx, params, what)
    ctx.guest.put(HOST_ROWS, n)
    setup = ctx.guest.get(SETUP)
    if setup["rows"] != n:
        raise ValueError(
            f"coordinated_lr: the guest has {setup['rows']} rows, host {ctx.party_id} {n}; "
            "align them with PSI first"
        )
    if setup["shared"] != params.shared():
        raise ValueError(
            f"{what}: parameters differ from the guest's: {setup['shared']} != {params.shared()}"
        )
    nb = int(setup["batches"])
    if n // nb <= k:
        log.warning(
            "%s: batches of %d rows for %d features: the host's gradient may reveal the "
            "batch's residuals (and labels); use larger batches",
            what,
            n // nb,
            k,
        )

    with contextlib.ExitStack() as stack:
        table = _table_host(ctx, params, xe, pk, what)
        compute: TableHost | np.ndarray = xe
        if table is not None:
            compute = stack.enter_context(table)
            del xe  # the encoded rows live in the Table now
        w, history, converged, epochs_run = _train(
            ctx, x, compute, w, params, pk, nb, me, what, on_epoch
        )

    model = LRModel("host", w.copy(), 0.0, params.fit_intercept)
    return TrainResult(model, history, epochs_run, converged, time.perf_counter() - t0)


def _table_host(
    ctx: Context, params: CoordinatedLRParams, xe: np.ndarray, pk: PublicKey, what: str
) -> TableHost | None:
    """The Table-backed host (``host_compute='table'`` with a computing session), or None."""
    if params.host_compute != "table":
        return None
    session = ctx.computing
    if not isinstance(session, ComputingSession):
        log.warning(
            "%s: host_compute='table' but this party has no computing session; "
            "computing in process",
            what,
        )
        return None
    log.info(
        "%s: features in a Table on the %s backend (%d partitions)",
        what,
        session.engine,
        session.default_partitions,
    )
    return TableHost(session, xe, pk, name=f"clr-host-{ctx.party_id}")


def _train(
    ctx: Context,
    x: np.ndarray,
    compute: TableHost | np.ndarray,
    w: np.ndarray,
    params: CoordinatedLRParams,
    pk: PublicKey,
    nb: int,
    me: int,
    what: str,
    on_epoch: EpochCallback | None,
) -> tuple[np.ndarray, list[float], bool, int]:
    """The epochs: (final weights, loss history, converged, epochs run). ``compute``: the
    encoded features in process (an int64 matrix) or in a Table."""
    n = x.shape[0]
    opt = params.optimizer_for()
    fb = params.feature_frac_bits
    workers = params.workers
    history: list[float] = []
    converged = False
    epochs_run = 0
    for epoch in range(params.epochs):
        ectx = ctx.sub("epoch", epoch)
        order = None
        if nb > 1:
            order = np.asarray(ectx.guest.get(BATCH_ORDER), dtype=np.int64)
            if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
                raise ValueError(f"{what}: the guest's batch order is not a permutation of rows")
        w_start = w.copy()
        for bi, (lo, hi) in enumerate(batch_bounds(n, nb)):
            bctx = ectx.sub("batch", bi)
            idx = None if order is None else order[lo:hi]
            xb = x if idx is None else x[idx]
            bs = xb.shape[0]
            qv = 0.25 * (xb @ w)
            if isinstance(compute, TableHost):
                enc = compute.encrypt(qv, RESIDUAL_FRAC_BITS)
            else:
                enc = EncryptedVector.encrypt(pk, qv, frac_bits=RESIDUAL_FRAC_BITS, workers=workers)
            bctx.guest.put(HOST_FORWARD, vector_to_message(enc, workers=workers))
            own = 2.0 / bs * float(qv @ qv) + opt.penalty_loss(w)
            bctx.guest.put(HOST_LOSS, vector_to_message(encrypt_scalar(pk, own)))
            if me > 0:
                peers = [vector_from_message(m, pk) for m in bctx.guest.get(PEER_FORWARDS)]
                cross = sum_vectors(
                    [p.dot(qv, frac_bits=LOSS_FRAC_BITS, workers=workers) for p in peers]
                )
                cross = cross.mul(4.0 / bs, frac_bits=SCALE_FRAC_BITS)
                bctx.guest.put(CROSS_LOSS, vector_to_message(cross))

            d = vector_from_message(bctx.guest.get(RESIDUAL), pk)
            if len(d) != bs:
                raise ValueError(f"{what}: the guest's residual has {len(d)} rows, batch {bs}")
            if isinstance(compute, TableHost):
                g = compute.gradient(d, idx)
            else:
                g = d.vecmat(compute if idx is None else compute[idx], workers=workers)
            masked, rs = mask(g)
            bctx.arbiter.put(ENC_MASKED_GRADIENT, vector_to_message(masked, workers=workers))
            grad = unmask(bctx.arbiter.get(MASKED_GRADIENT), rs, g.frac_bits + fb, what)
            w = opt.step(w, grad / bs, epoch=epoch)

        if params.early_stop == "weight_diff":
            dw = w - w_start
            ectx.guest.put(HOST_WEIGHT_DIFF, vector_to_message(encrypt_scalar(pk, float(dw @ dw))))
        end = ectx.arbiter.get(EPOCH_END)
        loss = float(end["loss"])
        history.append(loss)
        epochs_run = epoch + 1
        callback(on_epoch, epoch, {"loss": loss})
        if end["stop"]:
            converged = True
            break
    return w, history, converged, epochs_run


def predict_host(ctx: Context, x: np.ndarray, model: LRModel) -> None:
    """Send this host's per-row scores ``x w_h`` to the guest (plaintext, see
    :func:`~atoll.ml.coordinated_lr.guest.predict_guest`)."""
    if not isinstance(model, LRModel) or model.role != "host":
        raise ValueError("coordinated_lr predict_host: model must be a host's LRModel")
    what = f"coordinated_lr predict_host {ctx.party_id} x"
    x = check_features(x, what)
    if x.shape[1] != len(model.weights):
        raise ValueError(
            f"{what}: {x.shape[1]} columns, the model has {len(model.weights)} weights"
        )
    ctx.guest.put(PREDICT_SCORE, np.ascontiguousarray(x @ model.weights, dtype=np.float64))
