"""Backends for the computing contract suite.

Every backend is described once in :data:`BACKENDS`; the ``backend`` fixture
opens one session per backend for the whole test run. A new backend (Spark)
joins the suite by adding an entry here; ``test_contract.py`` must not know
which backend it runs on beyond the :class:`Backend` description.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from atoll.computing import ComputingSession, open_session


def _spark_missing() -> str | None:
    """Why the Spark backend cannot run here, or None if it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'atoll[spark]')"
    from atoll.computing.spark import unavailable

    return unavailable()


SPARK_MISSING = _spark_missing()
#: Marks for a test that needs Spark: skipped, with the reason, where it cannot run.
SPARK_MARKS = [
    pytest.mark.multiprocess,
    pytest.mark.skipif(SPARK_MISSING is not None, reason=f"spark backend: {SPARK_MISSING}"),
]


@dataclasses.dataclass
class Backend:
    """One backend under test.

    ``options`` are the keyword arguments of ``open_session`` (JSON-able, so a
    test can open the same backend in another process); ``isolated`` is true
    when user functions run in other processes (so a crashing function cannot
    take the test process down).
    """

    id: str
    options: dict[str, Any]
    isolated: bool
    data_dir: Path
    session: ComputingSession

    def open(self, data_dir: Path | None = None) -> ComputingSession:
        """A further session of this backend (on its data directory by default)."""
        return open_session(data_dir=data_dir or self.data_dir, **self.options)


_Spec = tuple[dict[str, Any], bool, list[pytest.MarkDecorator]]

BACKENDS: dict[str, _Spec] = {
    "standalone-inline": ({"engine": "standalone", "workers": 1}, False, []),
    "standalone-2": ({"engine": "standalone", "workers": 2}, True, [pytest.mark.multiprocess]),
    "spark-local2": (
        {"engine": "spark", "master": "local[2]", "partitions": 2},
        True,
        SPARK_MARKS,
    ),
}


@pytest.fixture(
    scope="session",
    params=[pytest.param(name, marks=spec[2], id=name) for name, spec in BACKENDS.items()],
)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    options, isolated, _ = BACKENDS[request.param]
    data_dir = tmp_path_factory.mktemp(f"computing-{request.param}")
    session = open_session(data_dir=data_dir, **options)
    try:
        yield Backend(request.param, options, isolated, data_dir, session)
    finally:
        session.close()


@pytest.fixture
def session(backend: Backend) -> ComputingSession:
    return backend.session


@pytest.fixture
def rows_of() -> Callable[..., list[tuple[Any, Any]]]:
    """Collect a Table into a list sorted by ``repr`` of the key (mixed key types)."""

    def collect(table: Any) -> list[tuple[Any, Any]]:
        return sorted(table.collect(), key=lambda row: repr(row[0]))

    return collect
