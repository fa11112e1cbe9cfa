"""The standalone session: a data directory, a temporary area, and a pool of workers.

Layout under ``data_dir``::

    tmp/<pid>-<host>-<id>/t<n>/    temporary Tables of one session (LMDB environments);
                                   removed by close(); left-overs of dead processes of
                                   this host are removed when the next session starts
    tables/<namespace>/<name>/     saved Tables: data.mdb + meta.atoll (codec-encoded:
                                   partitions, row count per partition, partitioner version)
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import uuid
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from atoll.computing._api import ComputingSession, Row, Table, TableWriter
from atoll.computing._checks import check_partitions, check_table_name, parse_saved_meta
from atoll.computing._errors import (
    ComputingError,
    InvalidArgumentError,
    SerializationError,
    SessionClosedError,
    TableNotFoundError,
)
from atoll.computing.standalone import _storage
from atoll.computing.standalone._executor import Executor, make_executor
from atoll.computing.standalone._table import META_FILE, StandaloneTable
from atoll.computing.standalone._tasks import Task, scatter

__all__ = ["StandaloneSession", "StandaloneWriter"]


def _usable_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill(pid, 0) terminates the process on Windows; never clean there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _host_tag() -> str:
    """Short tag of this host: process ids are only comparable on the same host."""
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def _clean_stale(tmp_root: str) -> None:
    """Remove temporary areas left by dead processes of this host (``<pid>-<host>-<id>``)."""
    try:
        entries = os.listdir(tmp_root)
    except FileNotFoundError:
        return
    host = _host_tag()
    for entry in entries:
        parts = entry.split("-")
        if len(parts) != 3 or not parts[0].isdigit() or parts[1] != host:
            continue
        pid = int(parts[0])
        if pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(os.path.join(tmp_root, entry), ignore_errors=True)


class StandaloneSession(ComputingSession):
    """Tables on local disk (LMDB), processed by ``workers`` processes (1: inline)."""

    def __init__(self, data_dir: str | os.PathLike[str], workers: int | None = None) -> None:
        if workers is None:
            workers = _usable_cores()
        check_partitions(workers, "workers")
        self._data_dir = str(Path(data_dir).resolve())
        self.tables_dir = os.path.join(self._data_dir, "tables")
        tmp_root = os.path.join(self._data_dir, "tmp")
        os.makedirs(self.tables_dir, exist_ok=True)
        os.makedirs(tmp_root, exist_ok=True)
        _clean_stale(tmp_root)
        self.session_id = f"{os.getpid()}-{_host_tag()}-{uuid.uuid4().hex[:12]}"
        self.tmp_dir = os.path.join(tmp_root, self.session_id)
        os.makedirs(self.tmp_dir)
        self.executor: Executor = make_executor(workers)
        # Counters for tests and tools: shuffles run, duplicate-key merge passes run.
        self.stats: dict[str, int] = {"shuffles": 0, "merges": 0}
        self._workers = workers
        self._ids = itertools.count()
        self._closed = False
        self._forgotten: list[str] = []

    # ------------------------------------------------------------------ properties

    @property
    def engine(self) -> str:
        return "standalone"

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def data_dir(self) -> str:
        return self._data_dir

    @property
    def default_partitions(self) -> int:
        return self._workers

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosedError("the computing session is closed")

    # ------------------------------------------------------------------ storage helpers

    def new_env(self) -> str:
        """Create an empty LMDB environment in the temporary area and return its path."""
        self._check_open()
        self._remove_forgotten()
        path = os.path.join(self.tmp_dir, f"t{next(self._ids)}")
        _storage.create_env(path)
        return path

    def drop_env(self, path: str) -> None:
        _storage.remove_env(path)

    def forget_env(self, path: str) -> None:
        """Queue a temporary Table's storage for removal (called by its finalizer).

        Finalizers run at arbitrary points (the garbage collector), so this only
        appends to a list; :meth:`new_env` removes the queued environments at the
        start of the next operation, a point where no storage call is under way.
        """
        self._forgotten.append(path)

    def _remove_forgotten(self) -> None:
        while self._forgotten:
            _storage.remove_env(self._forgotten.pop())

    # ------------------------------------------------------------------ API

    def writer(
        self,
        partitions: int | None = None,
        *,
        name: str | None = None,
        unique_keys: bool = False,
    ) -> TableWriter:
        self._check_open()
        parts = self.default_partitions if partitions is None else check_partitions(partitions)
        label = name if name is not None else f"table-{next(self._ids)}"
        return StandaloneWriter(self, parts, label, unique_keys)

    def load(self, namespace: str, name: str) -> Table:
        self._check_open()
        check_table_name("namespace", namespace)
        check_table_name("name", name)
        path = os.path.join(self.tables_dir, namespace, name)
        meta_path = os.path.join(path, META_FILE)
        try:
            with open(meta_path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise TableNotFoundError(
                f"no saved table {namespace}/{name} under {self.tables_dir}"
            ) from None
        meta = parse_saved_meta(raw, namespace, name, meta_path)
        _storage.refresh_env(path)
        return StandaloneTable(
            self, path, f"{namespace}/{name}", meta["counts"], saved=(namespace, name)
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.executor.close()
        finally:
            _storage.close_under(self.tmp_dir)
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<StandaloneSession {self._data_dir!r} workers={self._workers} {state}>"


class StandaloneWriter(TableWriter):
    """Hashes rows into partitions as they arrive and writes them in blocks.

    Unless ``unique_keys``, the writer keeps the 64-bit hash of every key (8
    bytes a row, for up to :data:`TRACK_ROWS` rows). Equal keys have equal
    hashes, so if all hashes differ the keys are unique and ``commit`` has
    nothing more to do; otherwise (or past that many rows) ``commit`` merges
    duplicate keys (last wins) partition by partition in the workers.
    """

    TRACK_ROWS = 50_000_000

    def __init__(
        self, session: StandaloneSession, partitions: int, name: str, unique_keys: bool
    ) -> None:
        self._session = session
        self._partitions = partitions
        self._name = name
        self._unique = unique_keys
        self._final = session.new_env()
        self._stage = self._final if unique_keys else session.new_env()
        self._writer = _storage.BlockWriter(self._stage, partitions, 0)
        self._hashes: list[np.ndarray] | None = None if unique_keys else []
        self._rows = 0
        self._state = "open"

    def _check(self) -> None:
        if self._state != "open":
            raise ComputingError(f"the writer of table {self._name!r} is already {self._state}")
        self._session._check_open()

    def put_all(self, rows: Iterable[Row]) -> None:
        self._check()
        iterator = iter(rows)
        seen = 0
        while True:
            chunk = list(itertools.islice(iterator, _storage.BLOCK_ROWS))
            if not chunk:
                return
            try:
                keys = [k for k, _ in chunk]
            except (TypeError, ValueError):
                for i, row in enumerate(chunk):
                    if not (isinstance(row, (tuple, list)) and len(row) == 2):
                        raise InvalidArgumentError(
                            f"writing table {self._name!r}: row {seen + i} is {row!r:.80} "
                            f"(of type {type(row).__name__}), not a (key, value) pair"
                        ) from None
                raise
            values = [v for _, v in chunk]
            try:
                scatter(
                    self._writer,
                    keys,
                    values,
                    self._partitions,
                    self._name,
                    "parallelize",
                    self._hashes,
                )
            except _storage.UnencodableRow as exc:
                raise self._unencodable(exc) from exc.cause
            seen += len(chunk)
            self._rows += len(chunk)
            if self._rows > self.TRACK_ROWS:
                self._hashes = None

    def _unencodable(self, exc: _storage.UnencodableRow) -> SerializationError:
        return SerializationError(
            f"writing table {self._name!r}: the row with key {exc.key!r:.80} cannot be "
            f"stored: {exc.cause}"
        )

    def commit(self) -> Table:
        self._check()
        session = self._session
        try:
            try:
                counts = self._writer.close()
            except _storage.UnencodableRow as exc:
                raise self._unencodable(exc) from exc.cause
            if not self._unique and self._keys_known_unique():
                session.drop_env(self._final)
                self._final = self._stage
            elif not self._unique:
                session.stats["merges"] += 1
                shipped = session.executor.ship(None, "parallelize", self._name)
                results = session.executor.run(
                    "parallelize",
                    self._name,
                    [
                        Task(
                            "shuffle_reduce",
                            "parallelize",
                            self._name,
                            t,
                            (self._stage,),
                            self._final,
                            self._partitions,
                            shipped,
                        )
                        for t in range(self._partitions)
                    ],
                )
                counts = [sum(col) for col in zip(*results, strict=True)]
                session.drop_env(self._stage)
        except BaseException:
            self.discard()
            raise
        self._state = "committed"
        return StandaloneTable(session, self._final, self._name, counts)

    def _keys_known_unique(self) -> bool:
        if self._hashes is None:
            return False
        if not self._hashes:
            return True
        hashes = np.concatenate(self._hashes)
        self._hashes = None
        return len(np.unique(hashes)) == len(hashes)

    def discard(self) -> None:
        if self._state != "open":
            return
        self._state = "discarded"
        if not self._session.closed:
            self._session.drop_env(self._stage)
            self._session.drop_env(self._final)
