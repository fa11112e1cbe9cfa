"""Additive secret sharing for two parties, with HE-assisted products.

Fixed-point values are shared over ``Z_{2^128}`` (:data:`RING_BITS`, scale
:data:`FRAC_BITS`); linear operations are local, truncation follows SecureML, and a
plaintext matrix held by one party is multiplied into a vector shared between both with
the other party's additive HE key (Pippenger products from :mod:`atoll.crypto.he`). See
:mod:`.shares` for the ring, the truncation error and the masking.
"""

from atoll.crypto.ss.shares import (
    FRAC_BITS,
    RING,
    RING_BITS,
    STAT_BITS,
    Channel,
    decode,
    encode,
    finish_product,
    fixed_base_matvec,
    from_signed,
    from_wire,
    owner_product,
    random_mask,
    random_ring,
    receive_encrypted_share,
    receive_share,
    reconstruct,
    ring_matmul,
    scale,
    send_encrypted_share,
    share,
    slots_per_ciphertext,
    split,
    to_signed,
    to_wire,
    truncate,
)

__all__ = [
    "FRAC_BITS",
    "RING",
    "RING_BITS",
    "STAT_BITS",
    "Channel",
    "decode",
    "encode",
    "finish_product",
    "fixed_base_matvec",
    "from_signed",
    "from_wire",
    "owner_product",
    "random_mask",
    "random_ring",
    "receive_encrypted_share",
    "receive_share",
    "reconstruct",
    "ring_matmul",
    "scale",
    "send_encrypted_share",
    "share",
    "slots_per_ciphertext",
    "split",
    "to_signed",
    "to_wire",
    "truncate",
]
