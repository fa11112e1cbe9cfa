"""Property-based run over the published OpenAPI schema: no request makes the API answer 5xx.

Each operation gets valid (positive) and invalid (negative) requests generated from
the schema by schemathesis, sent with the token, and ``not_a_server_error`` checks
every answer. It runs against the ``api_backend`` fixture (``conftest.py``), so a
real site's backend is checked by the same test. Bounded: a few derandomized
examples per operation and mode, so it is fast and reproducible.

(schemathesis' own ``from_fixture`` loader does not run on pytest 9, hence the
explicit ``hypothesis.given`` over ``operation.as_strategy``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup

from atoll.flow.api import create_app
from atoll.flow.errors import Unavailable
from tests.flow.api.conftest import TOKEN, job_spec
from tests.flow.api.fake_backend import FakeBackend

AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = 25


@pytest.fixture(params=["fake", "site"])
def api_backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Any]:
    """The in-memory fake, and a real site (party 9999, its database, gateway and catalog;
    its partner is not running, so submitted jobs wait for it)."""
    if request.param == "fake":
        yield FakeBackend(party_id=9999)
        return
    from atoll.federation import Gateway
    from atoll.flow.site import Site, load_serve_config
    from atoll.flow.site.local import init_local_sites
    from atoll.flow.store import DataCatalog, JobStore

    config = load_serve_config(init_local_sites(tmp_path, [9999, 10000])[9999])
    config.data_dir.mkdir(parents=True)
    store = JobStore(config.database)
    gateway = Gateway(config.site).start()
    site = Site(config, gateway, store, DataCatalog(store, config.data_dir / "tables")).start()
    try:
        yield site
    finally:
        site.close()
        gateway.close()
        store.close()


def _schema(backend: Any) -> Any:
    return schemathesis.openapi.from_asgi("/v1/openapi.json", create_app(backend, TOKEN))


def _cases() -> list[Any]:
    """(operation, mode) pairs; negative only where there is a parameter or body to spoil."""
    cases = []
    for result in _schema(FakeBackend()).get_all_operations():
        op = result.ok()
        spoilable = op.body or any(p.location != "header" for p in op.iter_parameters())
        for mode in GenerationMode:
            if mode == GenerationMode.POSITIVE or spoilable:
                cases.append(pytest.param(op.label, mode, id=f"{op.label}-{mode.value}"))
    return cases


@pytest.mark.parametrize(("label", "mode"), _cases())
def test_no_request_gets_a_server_error(api_backend: Any, label: str, mode: GenerationMode) -> None:
    api_backend.submit({"spec": job_spec()})
    api_backend.upload_data("ns", "t", b"id,x\na,1\n", id_column="id")
    operation = _schema(api_backend).find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=AUTH, checks=[not_a_server_error])

    check()


def test_the_check_catches_a_server_error() -> None:
    def down() -> list[Any]:
        raise Unavailable("the database is down")

    backend = FakeBackend()
    backend.list_data = down  # type: ignore[method-assign]
    operation = _schema(backend).find_operation_by_label("GET /v1/data")
    with pytest.raises(FailureGroup, match="Server error"):
        operation.Case().call_and_validate(headers=AUTH, checks=[not_a_server_error])
