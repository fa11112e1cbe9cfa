"""FATE's toy example (SecureAddExample): two parties add up their numbers by secret sharing.

The component lives in :mod:`atoll.ml.toy_example.component`; this package's
functions are the protocol's pieces, usable without a job.
"""

from atoll.ml.toy_example.component import (
    FRAC_BITS,
    RING,
    ToyExampleParams,
    decode,
    encode,
    make_values,
    secure_sum,
)

__all__ = [
    "FRAC_BITS",
    "RING",
    "ToyExampleParams",
    "decode",
    "encode",
    "make_values",
    "secure_sum",
]
