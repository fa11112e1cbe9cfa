"""Fixtures for the API tests; ``api_backend`` is the backend the contract tests run against.

The in-memory fake by default; a real site's backend can be added as another
parameter of ``api_backend`` so every API test runs against both.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from atoll.flow.api import create_app
from tests.flow.api.fake_backend import FakeBackend

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 package for its TestClient and warns when it uses httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

__all__ = ["TOKEN", "TestClient", "job_spec"]

TOKEN = "test-token-0123456789abcdef"


def job_spec(name: str = "lr") -> dict[str, Any]:
    """A small valid job: read at the guest and the host, intersect, and a toy sum."""
    return {
        "name": name,
        "parties": {"guest": 9999, "host": [10000]},
        "tasks": {
            "read": {
                "component": "reader",
                "role_parameters": {
                    "guest": {"path": "guest.csv", "label_column": "y"},
                    "host": {"path": "host.csv"},
                },
            },
            "psi": {"component": "psi", "inputs": {"data": "read.data"}},
        },
    }


@pytest.fixture
def api_backend() -> Iterator[Any]:
    """The SiteBackend under test (party 9999)."""
    yield FakeBackend(party_id=9999)


@pytest.fixture
def api(api_backend: Any) -> Iterator[TestClient]:
    """A TestClient on the app, authorised with the token."""
    app = create_app(api_backend, TOKEN)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client
