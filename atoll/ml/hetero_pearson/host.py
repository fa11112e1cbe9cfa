"""A host's role in hetero Pearson: multiplies the guest's ciphertexts by its standardised columns."""

from __future__ import annotations

import logging

import numpy as np

from atoll.crypto.he import public_key_from_message, vector_from_message, vector_to_message
from atoll.federation import Context
from atoll.ml.hetero_pearson._common import (
    CROSS_PRODUCTS,
    ENCRYPTED_COLUMNS,
    HOST_SHAPE,
    PUBLIC_KEY,
    PearsonParams,
    columns_of,
    standardize,
)

__all__ = ["host"]

log = logging.getLogger("atoll.ml.hetero_pearson")


def host(
    ctx: Context,
    features: np.ndarray,
    *,
    feature_names: list[str] | None = None,
    share_names: bool = False,
    params: PearsonParams | None = None,
) -> None:
    """Serve the guest: ``[[Zg]].T @ Zh``. The host sees only ciphertexts and learns nothing.

    Column names are shared only with ``share_names=True``; otherwise the guest
    sees ``host<party id>_x<j>``.
    """
    params = params or PearsonParams()
    z, constant = standardize(features, f"hetero_pearson host {ctx.party_id} data")
    n, m = z.shape
    shown = columns_of(f"host{ctx.party_id}_x", m, None, "")
    if share_names:
        shown = columns_of(
            "", m, feature_names, f"hetero_pearson host {ctx.party_id} feature_names"
        )
    pk = public_key_from_message(ctx.guest.get(PUBLIC_KEY))
    if pk.n_bits < 1024 and not pk.insecure:
        raise ValueError(f"hetero_pearson: the guest's key has only {pk.n_bits} bits")
    columns = [vector_from_message(msg, pk) for msg in ctx.guest.get(ENCRYPTED_COLUMNS)]
    for j, v in enumerate(columns):
        if len(v) != n:
            raise ValueError(
                f"hetero_pearson: the guest's column {j} has {len(v)} rows, host {ctx.party_id} has {n}; "
                "align them with PSI first"
            )
    log.info("multiplying %d encrypted columns by a %d x %d matrix", len(columns), n, m)
    ctx.guest.put(HOST_SHAPE, [n, m, shown, constant.tolist()])
    products = [v.vecmat(z, workers=params.workers) for v in columns]
    ctx.guest.put(CROSS_PRODUCTS, [vector_to_message(p, workers=params.workers) for p in products])
