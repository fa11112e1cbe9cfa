"""Pure protocol math for Atoll: no sockets, no federation.

Subpackages:

- :mod:`atoll.crypto.he`: additively homomorphic encryption (Paillier, Okamoto-Uchiyama,
  a plaintext ``plain`` scheme for debugging), fixed-point encoding, encrypted vectors,
  multi-exponentiation and ciphertext packing.

This layer may import :mod:`atoll.codec` and :mod:`atoll.computing`, never
federation, ml or flow.
"""

__all__: list[str] = []
