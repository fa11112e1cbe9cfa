"""``open_session``: the one way algorithms get a computing session."""

from __future__ import annotations

import os
from pathlib import Path

from atoll.computing._api import ComputingSession
from atoll.computing._errors import InvalidArgumentError

__all__ = ["DATA_DIR_ENV", "ENGINES", "open_session"]

ENGINES = ("standalone",)
DATA_DIR_ENV = "ATOLL_DATA_DIR"


def open_session(
    engine: str = "standalone",
    data_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> ComputingSession:
    """Open a computing session.

    ``engine``: ``"standalone"`` (the embedded default; Spark comes later).
    ``data_dir``: where Tables are stored (default: ``$ATOLL_DATA_DIR``, else
    ``./var/data``). ``workers``: worker processes (default: one per core;
    ``1`` runs every task inline in the calling process, for debugging).

    Worker processes are started with ``forkserver`` (``spawn`` where there is
    none), so a script that opens a session with several workers needs the usual
    ``if __name__ == "__main__":`` guard, as with :mod:`multiprocessing`.
    """
    if data_dir is None:
        data_dir = os.environ.get(DATA_DIR_ENV) or Path.cwd() / "var" / "data"
    if engine == "standalone":
        from atoll.computing.standalone import StandaloneSession

        return StandaloneSession(data_dir, workers=workers)
    raise InvalidArgumentError(
        f"unknown computing engine {engine!r}; available: {', '.join(map(repr, ENGINES))}"
    )
