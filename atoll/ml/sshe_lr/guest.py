"""The guest's role in SSHE-LR: label and features; learns the loss and its own weights.

What the guest receives from the host, and in what form (``[[.]]_H``: a ciphertext under
the host's key, which the guest cannot decrypt; ``[[.]]_G``: under the guest's own key,
decrypted to a value that is a uniformly masked share; plain: readable plaintext):

Once, at setup:

- ``sshe_host_setup``: plain ``{rows, weights}``: the host's row count and weight count;
- ``sshe_host_public_key``: plain, the host's public key;
- ``sshe_host_init_share``: plain, a uniformly random share (mod 2^128) of the host's
  initial weights; reveals nothing about them.

Every batch:

- ``sshe_enc_guest_weight_share``: ``[[host's share of the guest's weights]]_H``;
- ``sshe_masked_host_score``: ``[[X_h . (guest's share of w_h) + m]]_G``, several values
  packed per ciphertext: decrypts to a masked share of the host's partial score (the mask
  ``m`` is known only to the host);
- ``sshe_enc_host_error_share``: ``[[host's share of t = 4 (yhat - y)]]_H``;
- ``sshe_masked_host_gradient``: ``[[X_h^T . (guest's share of t) + m]]_G``, packed:
  decrypts to a masked share of the host's gradient (never the gradient itself).

Every batch of an epoch that reveals the loss:

- ``sshe_host_loss_share``: plain, the host's share of the batch's Taylor loss; together
  with the guest's share it opens the loss (the guest learns the loss, nothing else).

At the end (and after every epoch with ``reveal_every_epoch``):

- ``sshe_guest_weight_reveal``: plain, the host's share of the guest's weights: opens the
  guest's own weights to the guest.

Prediction (:func:`predict_guest`): ``sshe_host_predict_score``: plain, ``X_h . w_h`` per
row: the host's partial score (as in FATE), so the guest learns it for every row it scores.

The guest never receives host features or host weights in the clear.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from typing import Any

import numpy as np

from atoll.crypto.he import (
    generate_keypair,
    public_key_from_message,
    public_key_to_message,
    vector_to_message,
)
from atoll.crypto.ss import (
    FRAC_BITS,
    RING,
    decode,
    encode,
    from_wire,
    random_mask,
    to_signed,
    to_wire,
)
from atoll.federation import Context
from atoll.ml.sshe_lr._common import (
    GUEST_INIT_SHARE,
    GUEST_PUBLIC_KEY,
    GUEST_SETUP,
    GUEST_SIDE,
    GUEST_WEIGHT_REVEAL,
    HOST_INIT_SHARE,
    HOST_LOSS_SHARE,
    HOST_PREDICT_SCORE,
    HOST_PUBLIC_KEY,
    HOST_SETUP,
    HOST_WEIGHT_REVEAL,
    MASKED_LOSS_CROSS,
    SCORE_FRAC_BITS,
    STOP,
    OnEpoch,
    SSHELRParams,
    SSHEModel,
    TrainResult,
    batch_step,
    batches,
    call_on_epoch,
    check_features,
    check_peer_key,
    check_setup,
    encode_features,
    lr_at,
    one_host,
    share_init,
    update_both,
    warm_weights,
)

__all__ = ["guest", "predict_guest"]

log = logging.getLogger("atoll.ml.sshe_lr")
_WHAT = "sshe_lr guest"


def _labels(y: Any, rows: int) -> np.ndarray:
    a = np.asarray(y, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise ValueError(f"{_WHAT}: y must be a 1-D array of 0/1 labels, got shape {a.shape}")
    if len(a) != rows:
        raise ValueError(f"{_WHAT}: y has {len(a)} labels, x has {rows} rows")
    if not np.all((a == 0) | (a == 1)):
        raise ValueError(f"{_WHAT}: y must contain only 0/1 labels")
    return a


def guest(
    ctx: Context,
    x: np.ndarray,
    y: np.ndarray,
    params: SSHELRParams,
    *,
    warm_start: SSHEModel | None = None,
    on_epoch: OnEpoch | None = None,
) -> TrainResult:
    """Train with the one host; returns the guest's weights and intercept (see the module
    docstring for everything the guest receives)."""
    start = time.monotonic()
    if not isinstance(params, SSHELRParams):
        raise ValueError(f"{_WHAT}: params must be an SSHELRParams")
    one_host(ctx, "guest")
    xf = check_features(x, f"{_WHAT} x")
    n, d = xf.shape
    yv = _labels(y, n)
    xi = encode_features(xf, params.fit_intercept)
    dw = xi.shape[1]
    peer = ctx.hosts[0]

    batch_seed = params.seed if params.seed is not None else secrets.randbits(63)
    peer.put(
        GUEST_SETUP,
        {"rows": n, "weights": dw, "params": params.agreement(), "batch_seed": batch_seed},
    )
    pk, sk = generate_keypair(params.scheme, params.key_bits, insecure=params.insecure)
    peer.put(GUEST_PUBLIC_KEY, public_key_to_message(pk))
    dh = check_setup(peer.get(HOST_SETUP), n, _WHAT)
    peer_pk = public_key_from_message(peer.get(HOST_PUBLIC_KEY))
    check_peer_key(peer_pk, _WHAT)
    keys = (pk, sk, peer_pk)

    w0 = warm_weights(warm_start, params, dw, "guest", 0)
    w_own, theirs = share_init(w0)
    peer.put(GUEST_INIT_SHARE, to_wire(theirs))
    w_peer = from_wire(peer.get(HOST_INIT_SHARE), dh, f"{_WHAT}: {HOST_INIT_SHARE.name}")
    pen_own = np.array([True] * d + [False] * (dw - d))
    pen_peer = np.ones(dh, dtype=bool)
    momentum = params.momentum > 0
    v_own = np.zeros(dw, dtype=object) if momentum else None
    v_peer = np.zeros(dh, dtype=object) if momentum else None
    offsets = encode(2.0 - 4.0 * yv, SCORE_FRAC_BITS)

    losses: list[float] = []
    converged = False
    epochs_run = 0
    for epoch in range(params.epochs):
        t0 = time.monotonic()
        ectx = ctx.sub("epoch", epoch)
        lr = lr_at(params, epoch)
        with_loss = params.reveal_loss_freq > 0 and (epoch + 1) % params.reveal_loss_freq == 0
        loss_sum = 0.0
        for bi, idx in enumerate(batches(n, params.batch_size, epoch, batch_seed)):
            bpeer = ectx.sub("batch", bi).hosts[0]
            xb = xi[idx]
            out = batch_step(
                bpeer, GUEST_SIDE, xb, w_own, w_peer, keys, params.workers, offsets[idx]
            )
            if with_loss:
                loss_sum += _batch_loss(bpeer, out, yv[idx], params.workers)
            w_own, v_own, w_peer, v_peer = update_both(
                (w_own, v_own, w_peer, v_peer),
                out.g_own,
                out.g_peer,
                params=params,
                lr=lr,
                rows=len(idx),
                penalised=(pen_own, pen_peer),
                party=0,
            )
        epochs_run = epoch + 1
        metrics: dict[str, float] = {}
        if with_loss:
            loss = loss_sum / n
            metrics["loss"] = loss
            prev = losses[-1] if losses else None
            losses.append(loss)
            if params.early_stop == "abs":
                converged = loss <= params.tol
            else:
                converged = prev is not None and abs(prev - loss) <= params.tol
        ectx.hosts[0].put(STOP, bool(converged))
        if params.reveal_every_epoch:
            w = _reveal(ectx.hosts[0], w_own, w_peer)
            metrics.update(_weight_metrics(w, d))
        metrics["seconds"] = time.monotonic() - t0
        log.info("sshe_lr guest epoch %d: %s", epoch, metrics)
        call_on_epoch(on_epoch, epoch, metrics)
        if converged:
            break

    w = _reveal(ctx.sub("reveal").hosts[0], w_own, w_peer)
    model = SSHEModel(
        "guest", w[:d], float(w[d]) if params.fit_intercept else 0.0, params.fit_intercept
    )
    return TrainResult(model, losses, epochs_run, converged, time.monotonic() - start)


def _batch_loss(peer: Any, out: Any, y: np.ndarray, workers: int) -> float:
    """Sum over the batch of the Taylor loss ``log 2 - y z / 2 + z^2 / 8``, opened to the guest.

    With ``Z = z 2^S`` shared as ``Zg + Zh``: ``sum(Z^2 - 4 y Z 2^S) = [sum Zg^2 - 4 2^S
    sum y Zg] + sum (2 Zg - 4 y 2^S) Zh + sum Zh^2``. The middle term is a multi-exponentiation
    on ``[[Zh]]_H`` (the host's share of t, which equals its share of z), masked and sent to
    the host, which adds ``sum Zh^2`` and returns the sum: the guest opens exactly the loss.
    """
    zg = out.z
    two_s = 1 << SCORE_FRAC_BITS
    yi = np.asarray(y, dtype=np.int64).astype(object)
    a = (2 * zg - 4 * two_s * yi) % RING
    cross = out.peer_t.vecmat(a.reshape(-1, 1), workers=workers)
    r = random_mask(1, int(cross.bound).bit_length() + 40)
    peer.put(MASKED_LOSS_CROSS, vector_to_message(cross.sub(r), workers=workers))
    local = (int(np.sum(zg * zg)) - 4 * two_s * int(np.sum(yi * zg))) % RING
    h = from_wire(peer.get(HOST_LOSS_SHARE), 1, f"{_WHAT}: {HOST_LOSS_SHARE.name}")
    total = int(to_signed([(local + int(r[0]) + int(h[0])) % RING])[0])
    value = total / float(1 << (2 * SCORE_FRAC_BITS))  # sum(z^2 - 4 y z)
    return len(y) * math.log(2.0) + value / 8.0


def _reveal(peer: Any, w_own: np.ndarray, w_peer: np.ndarray) -> np.ndarray:
    """Open the host's weights to the host and the guest's weights to the guest."""
    peer.put(HOST_WEIGHT_REVEAL, to_wire(w_peer))
    theirs = from_wire(
        peer.get(GUEST_WEIGHT_REVEAL), len(w_own), f"{_WHAT}: {GUEST_WEIGHT_REVEAL.name}"
    )
    return decode((w_own + theirs) % RING, FRAC_BITS)


def _weight_metrics(w: np.ndarray, d: int) -> dict[str, float]:
    out = {f"weight_{j}": float(w[j]) for j in range(d)}
    if len(w) > d:
        out["intercept"] = float(w[d])
    return out


def predict_guest(ctx: Context, x: np.ndarray, model: SSHEModel) -> np.ndarray:
    """Probabilities ``sigmoid(x w_g + b + X_h w_h)`` (exact sigmoid); only the guest learns
    them. Receives the host's partial scores ``X_h w_h`` in the clear (see module docstring)."""
    one_host(ctx, "guest")
    if not isinstance(model, SSHEModel) or model.role != "guest":
        raise ValueError(f"{_WHAT} predict: model must be the guest's SSHEModel")
    xf = check_features(x, f"{_WHAT} predict x")
    if xf.shape[1] != len(model.weights):
        raise ValueError(
            f"{_WHAT} predict: x has {xf.shape[1]} columns, the model {len(model.weights)} weights"
        )
    score = ctx.hosts[0].get(HOST_PREDICT_SCORE)
    if not isinstance(score, np.ndarray) or score.shape != (xf.shape[0],):
        raise ValueError(
            f"{_WHAT} predict: the host sent {getattr(score, 'shape', None)} scores for "
            f"{xf.shape[0]} rows; align them with PSI first"
        )
    z = xf @ model.weights + model.intercept + score.astype(np.float64)
    return 1.0 / (1.0 + np.exp(-z))
