"""The messages, parameters and result of hetero Pearson, declared once for both roles."""

from __future__ import annotations

import dataclasses

import numpy as np

from atoll.crypto.he import SCHEMES, EncryptedVectorMessage
from atoll.federation import declare

__all__ = ["PUBLIC_KEY", "PearsonParams", "PearsonResult", "standardize"]


@dataclasses.dataclass(frozen=True)
class PearsonParams:
    """Parameters shared by both roles (they must agree).

    ``scheme``: ``paillier`` (default) or ``ou``; ``plain`` does no encryption and
    is refused unless ``insecure=True``. ``key_bits``: 2048 by default; 1024 only
    for tests. ``workers``: processes for the encryption and products.
    """

    scheme: str = "paillier"
    key_bits: int = 2048
    workers: int = 1
    insecure: bool = False

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"PearsonParams.scheme {self.scheme!r} is not one of {SCHEMES}")
        if self.scheme == "plain" and not self.insecure:
            raise ValueError("PearsonParams.scheme 'plain' does no encryption: set insecure=True")
        if self.key_bits < 1024:
            raise ValueError(f"PearsonParams.key_bits must be at least 1024, got {self.key_bits}")
        if self.workers < 1:
            raise ValueError(f"PearsonParams.workers must be at least 1, got {self.workers}")


@dataclasses.dataclass(frozen=True)
class PearsonResult:
    """The guest's outcome: ``corr[h]`` is (guest columns x host h's columns)."""

    guest_columns: list[str]
    host_columns: dict[int, list[str]]
    corr: dict[int, np.ndarray]
    rows: int


# the payload is one of the schemes' public-key messages; public_key_from_message checks it
PUBLIC_KEY = declare("pearson_public_key", sender="guest", receiver="host")
ENCRYPTED_COLUMNS = declare(
    "pearson_encrypted_columns", sender="guest", receiver="host", payload=list
)
CROSS_PRODUCTS = declare("pearson_cross_products", sender="host", receiver="guest", payload=list)
HOST_SHAPE = declare("pearson_host_shape", sender="host", receiver="guest", payload=list)


def standardize(x: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Columns scaled to mean 0 and (population) variance 1; constant columns become 0.

    Returns the scaled matrix and a mask of constant columns.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"{what}: expected a non-empty 2-D matrix, got shape {a.shape}")
    if not np.isfinite(a).all():
        row, col = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{what}: row {row}, column {col} is {a[row, col]} (NaN or inf)")
    std = a.std(axis=0)
    constant = std == 0
    z = (a - a.mean(axis=0)) / np.where(constant, 1.0, std)
    z[:, constant] = 0.0
    return z, constant


def columns_of(prefix: str, count: int, names: list[str] | None, what: str) -> list[str]:
    if names is None:
        return [f"{prefix}{j}" for j in range(count)]
    if len(names) != count:
        raise ValueError(f"{what}: {len(names)} names for {count} columns")
    return list(names)


__all__ += ["CROSS_PRODUCTS", "ENCRYPTED_COLUMNS", "HOST_SHAPE", "EncryptedVectorMessage"]
