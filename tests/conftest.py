"""Fixtures shared by the whole test suite.

``db_url``: a SQLAlchemy URL of an empty database, once on SQLite (a file under
``tmp_path``) and once on PostgreSQL. The PostgreSQL case needs a server: set
``ATOLL_TEST_POSTGRES_URL`` (``.ci/run`` starts one with ``.ci/postgres.sh``);
without it the case skips with its reason. Each PostgreSQL test gets a database
of its own (``CREATE DATABASE atoll_t_<random>``), dropped afterwards, so tests
never see each other's rows::

    def test_something(db_url):
        store = JobStore(db_url)
        ...
        store.close()
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ENV = "ATOLL_TEST_POSTGRES_URL"
PG_SKIP_REASON = f"set {PG_ENV} to run the PostgreSQL cases (.ci/run starts a server)"


@contextmanager
def fresh_postgres_database(base_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``base_url``; dropped (forcibly) on exit."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"atoll_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not os.environ.get(PG_ENV), reason=PG_SKIP_REASON),
        ),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The URL of an empty database: SQLite under tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'atoll.db'}"
        return
    with fresh_postgres_database(os.environ[PG_ENV]) as url:
        yield url
