"""Shared keys for the HE tests: 1024-bit (tests only), generated from fixed seeds."""

from __future__ import annotations

import pytest

from atoll.crypto import he


@pytest.fixture(scope="session")
def paillier_keys():
    return he.generate_keypair("paillier", 1024, rng=he.SeededRandom(1))


@pytest.fixture(scope="session")
def ou_keys():
    return he.generate_keypair("ou", 1024, rng=he.SeededRandom(2))


@pytest.fixture(scope="session")
def plain_keys():
    return he.generate_keypair("plain", 1024, rng=he.SeededRandom(3), insecure=True)


@pytest.fixture(scope="session", params=["paillier", "ou", "plain"])
def keys(request, paillier_keys, ou_keys, plain_keys):
    return {"paillier": paillier_keys, "ou": ou_keys, "plain": plain_keys}[request.param]
