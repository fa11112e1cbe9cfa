"""The standalone Table: partitions in one LMDB environment, work done by the session's executor."""

from __future__ import annotations

import os
import shutil
import uuid
import weakref
from collections.abc import Callable, Iterator
from numbers import Real
from typing import TYPE_CHECKING, Any

from atoll.codec import encode
from atoll.computing._api import Row, Table
from atoll.computing._checks import META_FORMAT, check_table_name
from atoll.computing._errors import (
    InvalidArgumentError,
    SessionClosedError,
    TableExistsError,
    TableNotFoundError,
    TaskError,
)
from atoll.computing._shuffled import ShuffledTable
from atoll.computing.standalone import _storage
from atoll.computing.standalone._partitioner import PARTITIONER_VERSION
from atoll.computing.standalone._tasks import ReduceResult, Task

if TYPE_CHECKING:
    from atoll.computing.standalone._session import StandaloneSession

__all__ = ["META_FILE", "StandaloneTable"]

META_FILE = "meta.atoll"


class StandaloneTable(ShuffledTable):
    """A Table stored in one LMDB environment at ``path``.

    Temporary Tables live under the session's temporary directory and disappear
    with ``destroy()`` or the session's ``close()``; saved Tables live under
    ``<data_dir>/tables/<namespace>/<name>/`` with a metadata record.
    """

    def __init__(
        self,
        session: StandaloneSession,
        path: str,
        name: str,
        counts: list[int],
        *,
        saved: tuple[str, str] | None = None,
    ) -> None:
        self._session = session
        self._path = path
        self._name = name
        self._counts = list(counts)
        self._saved = saved
        self._destroyed = False
        # A temporary Table nobody references any more can never be read again:
        # its storage is queued for removal at the session's next operation.
        # destroy() and the session's close() remain the explicit ways to free it.
        self._finalizer = (
            weakref.finalize(self, session.forget_env, path) if saved is None else None
        )

    # ------------------------------------------------------------------ identity

    @property
    def name(self) -> str:
        return self._name

    @property
    def num_partitions(self) -> int:
        return len(self._counts)

    @property
    def path(self) -> str:
        """The LMDB environment directory (for tests and tools)."""
        return self._path

    @property
    def saved_as(self) -> tuple[str, str] | None:
        """``(namespace, name)`` for a saved Table, ``None`` for a temporary one."""
        return self._saved

    def _check(self) -> None:
        if self._destroyed:
            raise TableNotFoundError(f"table {self._name!r} was destroyed")
        if self._session.closed:
            raise SessionClosedError(
                f"table {self._name!r} belongs to a closed session; open a new session "
                "(and load the Table, if it was saved)"
            )
        if self._saved is not None and not os.path.exists(os.path.join(self._path, META_FILE)):
            self._destroyed = True
            raise TableNotFoundError(
                f"saved table {self._name} no longer exists under {self._session.tables_dir} "
                "(destroyed through another handle or by another process)"
            )

    def count(self) -> int:
        self._check()
        return sum(self._counts)

    def partition_counts(self) -> list[int]:
        self._check()
        return list(self._counts)

    def iter_partition(self, index: int) -> Iterator[Row]:
        self._check_partition(index, "iter_partition")
        return self._iter_partition(index)

    def iter_partition_encoded(self, index: int) -> Iterator[bytes]:
        """The stored blocks of partition ``index``, as they are on disk (codec bytes)."""
        self._check_partition(index, "iter_partition_encoded")
        return self._iter_encoded(index)

    def _check_partition(self, index: int, operation: str) -> None:
        self._check()
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index < len(self._counts)
        ):
            raise InvalidArgumentError(
                f"{operation} on table {self._name!r}: partition {index!r} is not in "
                f"0..{len(self._counts) - 1}"
            )

    def _iter_encoded(self, index: int) -> Iterator[bytes]:
        _storage.refresh_env(self._path)
        yield from _storage.iter_raw_blocks(self._path, index)

    def _iter_partition(self, index: int) -> Iterator[Row]:
        _storage.refresh_env(self._path)
        for keys, values in _storage.iter_blocks(self._path, index):
            yield from zip(keys, values, strict=True)

    # ------------------------------------------------------------------ machinery

    def _derived_name(self, operation: str) -> str:
        base = self._name if len(self._name) <= 60 else self._name[:57] + "..."
        return f"{base}.{operation}"

    def _run(
        self,
        operation: str,
        make_tasks: Callable[[str], list[Task]],
        partitions: int,
    ) -> StandaloneTable:
        """Create an output environment, run the tasks into it, remove it on failure."""
        session = self._session
        out = session.new_env()
        try:
            results = session.executor.run(operation, self._name, make_tasks(out))
        except BaseException:
            session.drop_env(out)
            raise
        counts = [0] * partitions
        for result in results:
            for i, n in enumerate(result):
                counts[i] += n
        return StandaloneTable(session, out, self._derived_name(operation), counts)

    def _simple(
        self, operation: str, kind: str, func: Any = None, params: dict[str, Any] | None = None
    ) -> StandaloneTable:
        """A partition-by-partition operation on this Table alone (no shuffle)."""
        self._check()
        shipped = self._session.executor.ship(func, operation, self._name)
        parts = self.num_partitions
        return self._run(
            operation,
            lambda out: [
                Task(
                    kind,
                    operation,
                    self._name,
                    p,
                    (self._path,),
                    out,
                    parts,
                    shipped,
                    params=dict(params or {}),
                )
                for p in range(parts)
            ],
            parts,
        )

    def _shuffle(
        self,
        operation: str,
        mode: str,
        func: Any = None,
        reducer: Any = None,
        partitions: int | None = None,
        dedupe: bool = True,
    ) -> StandaloneTable:
        """Scatter rows by (new) key into ``partitions``; merge duplicates if ``dedupe``."""
        self._check()
        session = self._session
        executor = session.executor
        parts = partitions or self.num_partitions
        shipped = executor.ship(func, operation, self._name)
        shipped_reducer = executor.ship(reducer, operation, self._name)
        session.stats["shuffles"] += 1
        map_tasks = lambda dest: [  # noqa: E731
            Task(
                "shuffle_map",
                operation,
                self._name,
                p,
                (self._path,),
                dest,
                parts,
                shipped,
                shipped_reducer,
                params={"mode": mode},
            )
            for p in range(self.num_partitions)
        ]
        if not dedupe:
            return self._run(operation, map_tasks, parts)
        stage = session.new_env()
        session.stats["merges"] += 1
        try:
            executor.run(operation, self._name, map_tasks(stage))
            return self._run(
                operation,
                lambda out: [
                    Task(
                        "shuffle_reduce",
                        operation,
                        self._name,
                        t,
                        (stage,),
                        out,
                        parts,
                        shipped_reducer,
                    )
                    for t in range(parts)
                ],
                parts,
            )
        finally:
            session.drop_env(stage)

    def _aligned(self, other: Table, operation: str) -> tuple[StandaloneTable, bool]:
        """``other`` with this Table's partitioning (repartitioned if needed; True if new)."""
        if not isinstance(other, StandaloneTable):
            raise InvalidArgumentError(
                f"{operation} on table {self._name!r}: the other Table is a "
                f"{type(other).__name__}; both must come from a standalone session"
            )
        other._check()
        if other.num_partitions == self.num_partitions:
            return other, False
        return other._shuffle(
            f"{operation}.repartition", "identity", partitions=self.num_partitions, dedupe=False
        ), True

    def _binary(
        self, other: Table, operation: str, kind: str, func: Any, build_left: list[bool]
    ) -> StandaloneTable:
        self._check()
        right, temporary = self._aligned(other, operation)
        try:
            shipped = self._session.executor.ship(func, operation, self._name)
            parts = self.num_partitions
            return self._run(
                operation,
                lambda out: [
                    Task(
                        kind,
                        operation,
                        self._name,
                        p,
                        (self._path, right._path),
                        out,
                        parts,
                        shipped,
                        params={"build_left": build_left[p]} if build_left else {},
                    )
                    for p in range(parts)
                ],
                parts,
            )
        finally:
            if temporary:
                right.destroy()

    # ------------------------------------------------------------------ no shuffle

    def map_values(self, func: Callable[[Any], Any]) -> Table:
        return self._simple("map_values", "map_values", func)

    def filter(self, predicate: Callable[[Any, Any], Any]) -> Table:
        return self._simple("filter", "filter", predicate)

    def sample(self, fraction: float, seed: int = 0) -> Table:
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, Real)
            or not 0.0 <= fraction <= 1.0
        ):
            raise InvalidArgumentError(
                f"sample on table {self._name!r}: fraction must be a number in [0, 1], "
                f"got {fraction!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidArgumentError(
                f"sample on table {self._name!r}: seed must be an int, got {seed!r}"
            )
        return self._simple("sample", "sample", params={"fraction": float(fraction), "seed": seed})

    def reduce(self, func: Callable[[Any, Any], Any]) -> Any:
        self._check()
        executor = self._session.executor
        shipped = executor.ship(func, "reduce", self._name)
        tasks = [
            Task("reduce", "reduce", self._name, p, (self._path,), None, 0, shipped)
            for p in range(self.num_partitions)
            if self._counts[p]
        ]
        results: list[ReduceResult] = executor.run("reduce", self._name, tasks)
        acc: Any = None
        first = True
        for task, result in zip(tasks, results, strict=True):
            if not result.has_value:
                continue
            if first:
                acc, first = result.value, False
                continue
            try:
                acc = func(acc, result.value)
            except Exception as exc:
                import traceback

                raise TaskError(
                    table=self._name,
                    operation="reduce",
                    partition=task.partition,
                    key_repr=None,
                    error_type=type(exc).__qualname__,
                    error_message=str(exc),
                    remote_traceback=traceback.format_exc(),
                ) from exc
        return acc

    # ------------------------------------------------------------------ shuffles

    # ------------------------------------------------------------------ two tables

    def join(self, other: Table, func: Callable[[Any, Any], Any]) -> Table:
        counts = self._counts
        if isinstance(other, StandaloneTable) and other.num_partitions == len(counts):
            build_left = [a <= b for a, b in zip(counts, other._counts, strict=True)]
        else:
            build_left = [False] * len(counts)
        return self._binary(other, "join", "join", func, build_left)

    def union(self, other: Table, func: Callable[[Any, Any], Any] | None = None) -> Table:
        return self._binary(other, "union", "union", func, [])

    def subtract_by_key(self, other: Table) -> Table:
        return self._binary(other, "subtract_by_key", "subtract", None, [])

    # ------------------------------------------------------------------ lifetime

    def save(self, namespace: str, name: str, *, overwrite: bool = False) -> Table:
        self._check()
        check_table_name("namespace", namespace)
        check_table_name("name", name)
        session = self._session
        ns_dir = os.path.join(session.tables_dir, namespace)
        final = os.path.join(ns_dir, name)
        if os.path.abspath(final) == os.path.abspath(self._path):
            return self
        if os.path.exists(final) and not overwrite:
            raise TableExistsError(
                f"save of table {self._name!r}: {namespace}/{name} already exists under "
                f"{session.tables_dir}; pass overwrite=True to replace it"
            )
        os.makedirs(ns_dir, exist_ok=True)
        tmp = os.path.join(ns_dir, f".tmp-{name}-{uuid.uuid4().hex[:12]}")
        try:
            _storage.copy_env(self._path, tmp)
            meta = {
                "format": META_FORMAT,
                "engine": "standalone",
                "partitioner": PARTITIONER_VERSION,
                "partitions": len(self._counts),
                "counts": list(self._counts),
            }
            _write_synced(os.path.join(tmp, META_FILE), encode(meta))
            if os.path.exists(final):
                trash = os.path.join(ns_dir, f".old-{name}-{uuid.uuid4().hex[:12]}")
                _storage.close_env(final)
                os.rename(final, trash)
                os.rename(tmp, final)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.rename(tmp, final)
            _fsync_dir(ns_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return StandaloneTable(
            session, final, f"{namespace}/{name}", self._counts, saved=(namespace, name)
        )

    def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._saved is not None:
            _storage.remove_env(self._path)
        elif not self._session.closed:
            self._session.drop_env(self._path)


def _write_synced(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
