"""The guest's role in hetero Pearson: owns the key and the label, learns the correlations."""

from __future__ import annotations

import logging

import numpy as np

from atoll.crypto.he import (
    EncryptedVector,
    generate_keypair,
    public_key_to_message,
    vector_from_message,
    vector_to_message,
)
from atoll.federation import Context
from atoll.ml.hetero_pearson._common import (
    CROSS_PRODUCTS,
    ENCRYPTED_COLUMNS,
    HOST_SHAPE,
    PUBLIC_KEY,
    PearsonParams,
    PearsonResult,
    columns_of,
    standardize,
)

__all__ = ["guest"]

log = logging.getLogger("atoll.ml.hetero_pearson")


def guest(
    ctx: Context,
    label: np.ndarray,
    features: np.ndarray | None = None,
    *,
    feature_names: list[str] | None = None,
    params: PearsonParams | None = None,
) -> PearsonResult:
    """Correlations of ``[label, features]`` (rows aligned with every host) with each host's columns."""
    params = params or PearsonParams()
    y = np.asarray(label, dtype=np.float64).reshape(-1, 1)
    cols = y if features is None else np.hstack([y, np.asarray(features, dtype=np.float64)])
    z, constant = standardize(cols, "hetero_pearson guest data")
    if constant[0]:
        raise ValueError("hetero_pearson: the label is constant, so it correlates with nothing")
    n, k = z.shape
    names = ["label", *columns_of("x", k - 1, feature_names, "hetero_pearson guest feature_names")]

    pk, sk = generate_keypair(params.scheme, params.key_bits, insecure=params.insecure)
    ctx.hosts.put(PUBLIC_KEY, public_key_to_message(pk))
    log.info(
        "encrypting %d x %d standardised values under a %d-bit %s key",
        n,
        k,
        params.key_bits,
        params.scheme,
    )
    encrypted = [
        EncryptedVector.encrypt(pk, z[:, j], workers=params.workers, private_key=sk)
        for j in range(k)
    ]
    ctx.hosts.put(ENCRYPTED_COLUMNS, [vector_to_message(v) for v in encrypted])

    corr: dict[int, np.ndarray] = {}
    host_columns: dict[int, list[str]] = {}
    for handle, shape, products in zip(
        ctx.hosts, ctx.hosts.get(HOST_SHAPE), ctx.hosts.get(CROSS_PRODUCTS), strict=True
    ):
        rows, m, host_names, host_constant = shape
        if rows != n:
            raise ValueError(
                f"hetero_pearson: host {handle.party_id} has {rows} rows, the guest {n}; align them with PSI first"
            )
        if len(products) != k:
            raise ValueError(
                f"hetero_pearson: host {handle.party_id} sent {len(products)} products, expected {k}"
            )
        sums = np.vstack(
            [vector_from_message(msg, pk).decrypt(sk, workers=params.workers) for msg in products]
        )
        c = sums.reshape(k, m) / n
        c[constant, :] = np.nan
        c[:, np.asarray(host_constant, dtype=bool)] = np.nan
        corr[handle.party_id] = np.clip(c, -1.0, 1.0)
        host_columns[handle.party_id] = list(host_names)
    return PearsonResult(names, host_columns, corr, n)
