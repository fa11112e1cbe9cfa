"""``open_session``: the one way algorithms get a computing session."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from atoll.computing._api import ComputingSession
from atoll.computing._errors import InvalidArgumentError

__all__ = ["DATA_DIR_ENV", "ENGINES", "open_session"]

ENGINES = ("standalone", "spark")
DATA_DIR_ENV = "ATOLL_DATA_DIR"


def open_session(
    engine: str = "standalone",
    data_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    *,
    master: str | None = None,
    partitions: int | None = None,
    conf: Mapping[str, Any] | None = None,
) -> ComputingSession:
    """Open a computing session.

    ``engine``: ``"standalone"`` (the embedded default) or ``"spark"``.
    ``data_dir``: where Tables are stored (default: ``$ATOLL_DATA_DIR``, else
    ``./var/data``).

    Standalone only: ``workers``, the worker processes (default: one per core;
    ``1`` runs every task inline in the calling process, for debugging). Worker
    processes are started with ``forkserver`` (``spawn`` where there is none), so a
    script that opens a session with several workers needs the usual
    ``if __name__ == "__main__":`` guard, as with :mod:`multiprocessing`.

    Spark only (needs ``pip install 'atoll[spark]'`` and Java): ``master``, the Spark
    master URL (default ``local[*]``; ``spark://host:7077``, ``yarn``, ...);
    ``partitions``, the default partitions of a new Table (default: Spark's default
    parallelism); ``conf``, Spark settings passed through unchanged (for example
    ``{"spark.executor.memory": "8g"}``), plus ``atoll.warehouse``, the path or URI
    (``hdfs://...``) under which saved Tables live (default ``<data_dir>/spark-tables``).
    Settings of the other engine are refused rather than ignored.
    """
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or Path.cwd() / "var" / "data"
    if engine == "standalone":
        given = [
            name
            for name, value in (("master", master), ("partitions", partitions), ("conf", conf))
            if value is not None
        ]
        if given:
            raise InvalidArgumentError(
                f"{', '.join(given)}: only for engine 'spark' (this session's engine is standalone)"
            )
        from atoll.computing.standalone import StandaloneSession

        return StandaloneSession(data_dir, workers=workers)
    if engine == "spark":
        if workers is not None:
            raise InvalidArgumentError(
                "workers: only for engine 'standalone' (Spark's executors come from master "
                "and conf)"
            )
        from atoll.computing.spark import SparkComputingSession

        return SparkComputingSession(
            data_dir, master=master or "local[*]", partitions=partitions, conf=conf
        )
    raise InvalidArgumentError(
        f"unknown computing engine {engine!r}; available: {', '.join(map(repr, ENGINES))}"
    )
