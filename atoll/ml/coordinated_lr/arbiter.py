"""The arbiter's role in coordinated LR: owns the key pair, decrypts masked values only.

The arbiter receives exactly (message: from whom; form):

* ``clr_setup``: guest, once; plaintext ``{"rows", "batch_size", "batches", "shared"}``.
* ``clr_enc_masked_gradient``: the guest and each host, per batch; ciphertext
  ``[[g + r]]``: the sender's gradient plus a uniform mask only the sender knows, which the
  arbiter decrypts and sends back to the sender (so it never sees a gradient).
* ``clr_loss``: guest, per epoch; ciphertext of the epoch's Taylor loss (mean over batches).
* ``clr_weight_diff``: guest, per epoch (``early_stop='weight_diff'`` only); ciphertext of
  ``sum over parties |w_t - w_t-1|^2``: the arbiter learns the global weight change, not
  any party's.

It learns the loss and the global weight change per epoch (what it needs to decide
convergence), and nothing about labels, features, weights or gradients.
"""

from __future__ import annotations

import logging
import math
import time

from atoll.crypto.he import generate_keypair, public_key_to_message, vector_from_message
from atoll.federation import Context
from atoll.ml.coordinated_lr._common import (
    ENC_MASKED_GRADIENT,
    EPOCH_END,
    LOSS,
    MASKED_GRADIENT,
    PUBLIC_KEY,
    SETUP,
    WEIGHT_DIFF,
    CoordinatedLRParams,
    EpochCallback,
    TrainResult,
    callback,
)
from atoll.ml.linear import EarlyStopping

__all__ = ["arbiter"]

log = logging.getLogger("atoll.ml.coordinated_lr")


def arbiter(
    ctx: Context, params: CoordinatedLRParams, *, on_epoch: EpochCallback | None = None
) -> TrainResult:
    """Generate the key pair, decrypt masked gradients, decide convergence."""
    t0 = time.perf_counter()
    if not isinstance(params, CoordinatedLRParams):
        raise ValueError("coordinated_lr arbiter: params must be a CoordinatedLRParams")
    pk, sk = generate_keypair(params.scheme, params.key_bits, insecure=params.insecure)
    key_msg = public_key_to_message(pk)
    ctx.guest.put(PUBLIC_KEY, key_msg)
    ctx.hosts.put(PUBLIC_KEY, key_msg)
    setup = ctx.guest.get(SETUP)
    if setup["shared"] != params.shared():
        raise ValueError(
            "coordinated_lr arbiter: parameters differ from the guest's: "
            f"{setup['shared']} != {params.shared()}"
        )
    nb = int(setup["batches"])
    stopper = EarlyStopping(params.early_stop, params.tol)
    senders = [ctx.guest, *ctx.hosts]
    workers = params.workers

    history: list[float] = []
    converged = False
    epochs_run = 0
    for epoch in range(params.epochs):
        ectx = ctx.sub("epoch", epoch)
        for bi in range(nb):
            bctx = ectx.sub("batch", bi)
            for handle in senders:
                peer = bctx.party(handle.party)
                v = vector_from_message(peer.get(ENC_MASKED_GRADIENT), pk)
                peer.put(MASKED_GRADIENT, v.decrypt_integers(sk, workers=workers))
        loss = float(vector_from_message(ectx.guest.get(LOSS), pk).decrypt(sk)[0])
        weight_diff = None
        if params.early_stop == "weight_diff":
            total = float(vector_from_message(ectx.guest.get(WEIGHT_DIFF), pk).decrypt(sk)[0])
            weight_diff = math.sqrt(max(total, 0.0))
        stop = stopper.update(loss, weight_diff)
        end = {"loss": loss, "stop": bool(stop)}
        ectx.guest.put(EPOCH_END, end)
        ectx.hosts.put(EPOCH_END, end)
        history.append(loss)
        epochs_run = epoch + 1
        stats = {"loss": loss}
        if weight_diff is not None:
            stats["weight_diff"] = weight_diff
        callback(on_epoch, epoch, stats)
        log.info(
            "coordinated LR epoch %d: loss %.6f%s", epoch, loss, " (converged)" if stop else ""
        )
        if stop:
            converged = True
            break
    return TrainResult(None, history, epochs_run, converged, time.perf_counter() - t0)
