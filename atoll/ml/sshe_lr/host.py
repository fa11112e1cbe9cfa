"""The host's role in SSHE-LR: features only; learns its own weights at the end.

What the host receives from the guest, and in what form (``[[.]]_G``: a ciphertext under
the guest's key, which the host cannot decrypt; ``[[.]]_H``: under the host's own key,
decrypted to a value that is a uniformly masked share; plain: readable plaintext):

Once, at setup:

- ``sshe_guest_setup``: plain ``{rows, weights, params, batch_seed}``: the guest's row
  count, its weight count (features plus intercept), the training parameters both must
  agree on, and the seed of the mini-batch order;
- ``sshe_guest_public_key``: plain, the guest's public key;
- ``sshe_guest_init_share``: plain, a uniformly random share (mod 2^128) of the guest's
  initial weights; reveals nothing about them.

Every batch:

- ``sshe_enc_host_weight_share``: ``[[guest's share of the host's weights]]_G``;
- ``sshe_masked_guest_score``: ``[[X_g . (host's share of w_g) + m]]_H``, several values
  packed per ciphertext: decrypts to a masked share of the guest's partial score (the mask
  ``m`` is known only to the guest);
- ``sshe_enc_guest_error_share``: ``[[guest's share of t = 4 (yhat - y)]]_G``;
- ``sshe_masked_guest_gradient``: ``[[X_g^T . (host's share of t) + m]]_H``, packed:
  decrypts to a masked share of the guest's gradient (never the gradient itself).

Every batch of an epoch that reveals the loss:

- ``sshe_masked_loss_cross``: ``[[cross term of the loss - r]]_H``: decrypts to a masked
  value (``r`` known only to the guest).

Every epoch:

- ``sshe_stop``: plain bool, the guest's early-stopping decision.

At the end (and after every epoch with ``reveal_every_epoch``):

- ``sshe_host_weight_reveal``: plain, the guest's share of the host's weights: opens the
  host's own weights to the host.

Prediction (:func:`predict_host`): nothing.

The host never receives labels, guest features, the guest's weights or any gradient in the
clear; it learns the row count, the guest's weight count and the loss-reveal schedule.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from atoll.crypto.he import (
    generate_keypair,
    public_key_from_message,
    public_key_to_message,
    vector_from_message,
)
from atoll.crypto.ss import FRAC_BITS, RING, decode, from_wire, to_wire
from atoll.federation import Context
from atoll.ml.sshe_lr._common import (
    GUEST_INIT_SHARE,
    GUEST_PUBLIC_KEY,
    GUEST_SETUP,
    GUEST_WEIGHT_REVEAL,
    HOST_INIT_SHARE,
    HOST_LOSS_SHARE,
    HOST_PREDICT_SCORE,
    HOST_PUBLIC_KEY,
    HOST_SETUP,
    HOST_SIDE,
    HOST_WEIGHT_REVEAL,
    MASKED_LOSS_CROSS,
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

__all__ = ["host", "predict_host"]

log = logging.getLogger("atoll.ml.sshe_lr")


def host(
    ctx: Context,
    x: np.ndarray,
    params: SSHELRParams,
    *,
    warm_start: SSHEModel | None = None,
    on_epoch: OnEpoch | None = None,
) -> TrainResult:
    """Train with the guest; returns the host's weights (see the module docstring for
    everything the host receives). ``loss_history`` is empty: the host never sees the loss."""
    start = time.monotonic()
    what = f"sshe_lr host {ctx.party_id}"
    if not isinstance(params, SSHELRParams):
        raise ValueError(f"{what}: params must be an SSHELRParams")
    one_host(ctx, "host")
    xf = check_features(x, f"{what} x")
    n, d = xf.shape
    xi = encode_features(xf, False)
    peer = ctx.guest

    peer.put(HOST_SETUP, {"rows": n, "weights": d})
    pk, sk = generate_keypair(params.scheme, params.key_bits, insecure=params.insecure)
    peer.put(HOST_PUBLIC_KEY, public_key_to_message(pk))
    setup = peer.get(GUEST_SETUP)
    dg = check_setup(setup, n, what)
    _check_agreement(setup.get("params"), params, what)
    batch_seed = setup.get("batch_seed")
    if not isinstance(batch_seed, int):
        raise ValueError(f"{what}: malformed batch seed from the guest")
    peer_pk = public_key_from_message(peer.get(GUEST_PUBLIC_KEY))
    check_peer_key(peer_pk, what)
    keys = (pk, sk, peer_pk)

    w0 = warm_weights(warm_start, params, d, "host", 1)
    w_own, theirs = share_init(w0)
    peer.put(HOST_INIT_SHARE, to_wire(theirs))
    w_peer = from_wire(peer.get(GUEST_INIT_SHARE), dg, f"{what}: {GUEST_INIT_SHARE.name}")
    guest_features = dg - (1 if params.fit_intercept else 0)
    pen_own = np.ones(d, dtype=bool)
    pen_peer = np.array([True] * guest_features + [False] * (dg - guest_features))
    momentum = params.momentum > 0
    v_own = np.zeros(d, dtype=object) if momentum else None
    v_peer = np.zeros(dg, dtype=object) if momentum else None

    stopped = False
    epochs_run = 0
    for epoch in range(params.epochs):
        t0 = time.monotonic()
        ectx = ctx.sub("epoch", epoch)
        lr = lr_at(params, epoch)
        with_loss = params.reveal_loss_freq > 0 and (epoch + 1) % params.reveal_loss_freq == 0
        for bi, idx in enumerate(batches(n, params.batch_size, epoch, batch_seed)):
            bpeer = ectx.sub("batch", bi).guest
            out = batch_step(bpeer, HOST_SIDE, xi[idx], w_own, w_peer, keys, params.workers, None)
            if with_loss:
                enc = vector_from_message(bpeer.get(MASKED_LOSS_CROSS), pk)
                if len(enc) != 1:
                    raise ValueError(f"{what}: malformed {MASKED_LOSS_CROSS.name}")
                masked = enc.decrypt_integers(sk)[0] % RING
                zh = out.t
                bpeer.put(HOST_LOSS_SHARE, [(masked + int(np.sum(zh * zh))) % RING])
            w_own, v_own, w_peer, v_peer = update_both(
                (w_own, v_own, w_peer, v_peer),
                out.g_own,
                out.g_peer,
                params=params,
                lr=lr,
                rows=len(idx),
                penalised=(pen_own, pen_peer),
                party=1,
            )
        epochs_run = epoch + 1
        stop = ectx.guest.get(STOP)
        metrics: dict[str, float] = {}
        if params.reveal_every_epoch:
            w = _reveal(ectx.guest, w_own, w_peer, what)
            metrics.update({f"weight_{j}": float(w[j]) for j in range(d)})
        metrics["seconds"] = time.monotonic() - t0
        log.info("sshe_lr host epoch %d: %s", epoch, metrics)
        call_on_epoch(on_epoch, epoch, metrics)
        if stop:
            stopped = True
            break

    w = _reveal(ctx.sub("reveal").guest, w_own, w_peer, what)
    model = SSHEModel("host", w, 0.0, False)
    return TrainResult(model, [], epochs_run, stopped, time.monotonic() - start)


def _check_agreement(theirs: Any, params: SSHELRParams, what: str) -> None:
    mine = params.agreement()
    if not isinstance(theirs, dict):
        raise ValueError(f"{what}: malformed parameters from the guest")
    for key, value in mine.items():
        if theirs.get(key) != value:
            raise ValueError(
                f"{what}: parameter {key!r} differs: guest {theirs.get(key)!r}, host {value!r}"
            )


def _reveal(peer: Any, w_own: np.ndarray, w_peer: np.ndarray, what: str) -> np.ndarray:
    """Open the guest's weights to the guest and the host's weights to the host."""
    peer.put(GUEST_WEIGHT_REVEAL, to_wire(w_peer))
    theirs = from_wire(
        peer.get(HOST_WEIGHT_REVEAL), len(w_own), f"{what}: {HOST_WEIGHT_REVEAL.name}"
    )
    return decode((w_own + theirs) % RING, FRAC_BITS)


def predict_host(ctx: Context, x: np.ndarray, model: SSHEModel) -> None:
    """Send the partial scores ``x w_h`` to the guest in the clear (as FATE does: this
    reveals the host's partial score of every row to the guest). Receives nothing."""
    what = f"sshe_lr host {ctx.party_id} predict"
    one_host(ctx, "host")
    if not isinstance(model, SSHEModel) or model.role != "host":
        raise ValueError(f"{what}: model must be the host's SSHEModel")
    xf = check_features(x, f"{what} x")
    if xf.shape[1] != len(model.weights):
        raise ValueError(
            f"{what}: x has {xf.shape[1]} columns, the model {len(model.weights)} weights"
        )
    ctx.guest.put(HOST_PREDICT_SCORE, xf @ model.weights)
