"""The Spark-backed Table: a persisted RDD of codec blocks, one RDD partition per Table partition.

Spark is lazy; the contract is not (a failing function must fail the operation
that was given it, and ``count`` is free). So every operation builds its RDD,
persists it (memory, spilling to disk), marks it for local checkpointing (which
cuts the lineage, so iterative algorithms do not grow an ever longer plan; the
session's ``atoll.checkpoint: none`` turns this off) and runs one job that computes
it and returns the row count of each partition.
"""

from __future__ import annotations

import traceback
import weakref
from collections.abc import Callable, Iterator
from numbers import Real
from typing import TYPE_CHECKING, Any

from pyspark import accumulators as _accumulators
from pyspark.accumulators import AccumulatorParam

from atoll.codec import decode
from atoll.computing._api import Row, Table
from atoll.computing._checks import check_table_name
from atoll.computing._errors import (
    InvalidArgumentError,
    SessionClosedError,
    TableExistsError,
    TableNotFoundError,
    TaskError,
)
from atoll.computing._shuffled import ShuffledTable
from atoll.computing.spark import _partition_ops as ops
from atoll.computing.spark._jobs import check_function, run_job

if TYPE_CHECKING:
    from atoll.computing.spark._session import SparkComputingSession

__all__ = ["SparkTable", "materialize"]


def materialize(
    session: SparkComputingSession, rdd: Any, operation: str, table: str
) -> tuple[Any, list[int]]:
    """Persist ``rdd``, compute it now, and return it with its per-partition row counts.

    The counts come back through an accumulator filled as the blocks are made, so the
    job that computes the RDD is a count inside the JVM, with no second pass in Python.
    """
    from pyspark import StorageLevel

    sc = session.spark.sparkContext
    accumulator = sc.accumulator({}, _PartitionCounts())
    counted = rdd.mapPartitionsWithIndex(ops.counting(accumulator), preservesPartitioning=True)
    counted.persist(StorageLevel.MEMORY_AND_DISK)
    if session.local_checkpoint:
        counted.localCheckpoint()
    try:
        run_job(operation, table, lambda: counted._jrdd.count())
    except BaseException:
        counted.unpersist(blocking=False)
        raise
    finally:
        # PySpark keeps every accumulator in a module-level registry; this one is done.
        _accumulators._accumulatorRegistry.pop(accumulator.aid, None)
    got: dict[int, int] = accumulator.value
    return counted, [int(got.get(p, 0)) for p in range(counted.getNumPartitions())]


class _PartitionCounts(AccumulatorParam):
    """An accumulator of ``{partition: rows}``; a repeated entry replaces the old one."""

    def zero(self, value: dict[int, int]) -> dict[int, int]:
        return {}

    def addInPlace(self, a: dict[int, int], b: dict[int, int]) -> dict[int, int]:
        a.update(b)
        return a


class SparkTable(ShuffledTable):
    """Rows in a persisted RDD of ``(rows, codec block)`` elements (see :mod:`._partition_ops`)."""

    def __init__(
        self,
        session: SparkComputingSession,
        rdd: Any,
        name: str,
        counts: list[int],
        *,
        saved: tuple[str, str] | None = None,
    ) -> None:
        self._session = session
        self._rdd = rdd
        self._name = name
        self._counts = list(counts)
        self._saved = saved
        self._destroyed = False
        # The session counts the handles on each RDD (a saved Table shares the RDD of
        # the Table it was saved from). An unreferenced handle can never be read again:
        # its reference is dropped at the session's next operation (never from the
        # garbage collector itself), and the RDD is unpersisted with the last one.
        session.retain(rdd)
        self._finalizer = weakref.finalize(self, session.forget, rdd)

    # ------------------------------------------------------------------ identity

    @property
    def name(self) -> str:
        return self._name

    @property
    def num_partitions(self) -> int:
        return len(self._counts)

    @property
    def rdd(self) -> Any:
        """The RDD of ``(rows, codec block)`` elements (for tests and tools)."""
        return self._rdd

    @property
    def saved_as(self) -> tuple[str, str] | None:
        return self._saved

    def _check(self) -> None:
        if self._destroyed:
            raise TableNotFoundError(f"table {self._name!r} was destroyed")
        if self._session.closed:
            raise SessionClosedError(
                f"table {self._name!r} belongs to a closed session; open a new session "
                "(and load the Table, if it was saved)"
            )
        if self._saved is not None and not self._session.warehouse.exists(*self._saved):
            self.destroy()
            raise TableNotFoundError(
                f"saved table {self._name} no longer exists under {self._session.warehouse.root} "
                "(destroyed through another handle or by another process)"
            )
        self._session.release_forgotten()

    def count(self) -> int:
        self._check()
        return sum(self._counts)

    def partition_counts(self) -> list[int]:
        self._check()
        return list(self._counts)

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

    def iter_partition(self, index: int) -> Iterator[Row]:
        self._check_partition(index, "iter_partition")
        return self._iter_rows(index)

    def iter_partition_encoded(self, index: int) -> Iterator[bytes]:
        """The stored blocks of partition ``index`` (codec ``[keys, values]``), unchanged."""
        self._check_partition(index, "iter_partition_encoded")
        return self._iter_encoded(index)

    def _iter_encoded(self, index: int) -> Iterator[bytes]:
        if self._counts[index] == 0:
            return
        # One job on this partition alone: only its blocks reach the driver.
        sc = self._session.spark.sparkContext
        blobs = run_job(
            "iter_partition",
            self._name,
            lambda: sc.runJob(self._rdd, _partition_blobs, [index]),
        )
        for i in range(len(blobs)):
            blob, blobs[i] = blobs[i], b""
            yield blob

    def _iter_rows(self, index: int) -> Iterator[Row]:
        for blob in self._iter_encoded(index):
            block: Any = decode(blob)
            yield from zip(block[0], block[1], strict=True)

    # ------------------------------------------------------------------ machinery

    def _derived_name(self, operation: str) -> str:
        base = self._name if len(self._name) <= 60 else self._name[:57] + "..."
        return f"{base}.{operation}"

    def _new(self, rdd: Any, operation: str) -> SparkTable:
        rdd, counts = materialize(self._session, rdd, operation, self._name)
        return SparkTable(self._session, rdd, self._derived_name(operation), counts)

    def _narrow(self, operation: str, body: Any, func: Any = None) -> SparkTable:
        self._check()
        check_function(func, operation, self._name)
        rdd = self._rdd.mapPartitionsWithIndex(
            ops.guarded(operation, self._name, body), preservesPartitioning=True
        )
        return self._new(rdd, operation)

    def _staged(
        self,
        operation: str,
        mode: str,
        parts: int,
        func: Any = None,
        reducer: Any = None,
    ) -> Any:
        """The map side of a shuffle, placed by target partition (lazy)."""
        check_function(func, operation, self._name)
        check_function(reducer, operation, self._name)
        mapped = self._rdd.mapPartitionsWithIndex(
            ops.guarded(
                operation,
                self._name,
                ops.shuffle_map(mode, parts, self._name, operation, func, reducer),
            )
        )
        return mapped.partitionBy(parts, ops.by_target)

    def _shuffle(
        self,
        operation: str,
        mode: str,
        func: Any = None,
        reducer: Any = None,
        partitions: int | None = None,
        dedupe: bool = True,
    ) -> SparkTable:
        self._check()
        parts = partitions or self.num_partitions
        staged = self._staged(operation, mode, parts, func, reducer)
        rdd = staged.mapPartitionsWithIndex(
            ops.guarded(operation, self._name, ops.shuffle_reduce(dedupe, reducer)),
            preservesPartitioning=True,
        )
        return self._new(rdd, operation)

    def _aligned(self, other: Table, operation: str) -> SparkTable:
        if not isinstance(other, SparkTable):
            raise InvalidArgumentError(
                f"{operation} on table {self._name!r}: the other Table is a "
                f"{type(other).__name__}; both must come from a Spark session"
            )
        other._check()
        if other.num_partitions == self.num_partitions:
            return other
        return other._shuffle(
            f"{operation}.repartition", "identity", partitions=self.num_partitions, dedupe=False
        )

    def _binary(self, other: Table, operation: str, body: Any, func: Any) -> SparkTable:
        self._check()
        check_function(func, operation, self._name)
        right = self._aligned(other, operation)
        try:
            parts = self.num_partitions
            left_tagged = self._rdd.map(ops.tag(0), preservesPartitioning=True)
            right_tagged = right._rdd.map(ops.tag(1), preservesPartitioning=True)
            both = left_tagged.union(right_tagged)
            if both.getNumPartitions() != parts:
                # Spark could not see the two as co-partitioned: bring partition i of each
                # side together with a shuffle (left before right, in order).
                both = (
                    both.mapPartitionsWithIndex(ops.spread(parts))
                    .partitionBy(parts, ops.by_target)
                    .mapPartitionsWithIndex(ops.unspread, preservesPartitioning=True)
                )
            rdd = both.mapPartitionsWithIndex(
                ops.guarded(operation, self._name, body), preservesPartitioning=True
            )
            return self._new(rdd, operation)
        finally:
            if right is not other:
                right.destroy()

    # ------------------------------------------------------------------ no shuffle

    def map_values(self, func: Callable[[Any], Any]) -> Table:
        return self._narrow("map_values", ops.map_values(func), func)

    def filter(self, predicate: Callable[[Any, Any], Any]) -> Table:
        return self._narrow("filter", ops.filter_rows(predicate), predicate)

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
        return self._narrow("sample", ops.sample(float(fraction), seed))

    def reduce(self, func: Callable[[Any, Any], Any]) -> Any:
        self._check()
        check_function(func, "reduce", self._name)
        body = ops.guarded("reduce", self._name, ops.reduce_values(func))
        results = run_job(
            "reduce", self._name, lambda: self._rdd.mapPartitionsWithIndex(body).collect()
        )
        acc: Any = None
        first = True
        for partition, (has_value, value) in enumerate(results):
            if not has_value:
                continue
            if first:
                acc, first = value, False
                continue
            try:
                acc = func(acc, value)
            except Exception as exc:
                raise TaskError(
                    table=self._name,
                    operation="reduce",
                    partition=partition,
                    key_repr=None,
                    error_type=type(exc).__qualname__,
                    error_message=str(exc),
                    remote_traceback=traceback.format_exc(),
                ) from exc
        return acc

    # ------------------------------------------------------------------ shuffles

    # ------------------------------------------------------------------ two tables

    def join(self, other: Table, func: Callable[[Any, Any], Any]) -> Table:
        return self._binary(other, "join", ops.join(func), func)

    def union(self, other: Table, func: Callable[[Any, Any], Any] | None = None) -> Table:
        return self._binary(other, "union", ops.union(func), func)

    def subtract_by_key(self, other: Table) -> Table:
        return self._binary(other, "subtract_by_key", ops.subtract, None)

    # ------------------------------------------------------------------ lifetime

    def save(self, namespace: str, name: str, *, overwrite: bool = False) -> Table:
        self._check()
        check_table_name("namespace", namespace)
        check_table_name("name", name)
        session = self._session
        if not overwrite and session.warehouse.exists(namespace, name):
            raise TableExistsError(
                f"saved table {namespace}/{name} already exists under "
                f"{session.warehouse.root}; pass overwrite=True to replace it"
            )
        staged = self._rdd.mapPartitionsWithIndex(_save_rows)
        written = run_job(
            "save",
            self._name,
            lambda: session.warehouse.write(namespace, name, staged, self._counts, overwrite),
        )
        if not written:
            raise TableExistsError(
                f"saved table {namespace}/{name} already exists under {session.warehouse.root}"
            )
        saved = SparkTable(
            session, self._rdd, f"{namespace}/{name}", self._counts, saved=(namespace, name)
        )
        return saved

    def destroy(self) -> None:
        if self._destroyed:
            return
        self._destroyed = True
        self._finalizer.detach()
        if self._saved is not None and not self._session.closed:
            self._session.warehouse.delete(*self._saved)
        if not self._session.closed:
            self._session.release(self._rdd)


def _partition_blobs(blocks: Iterator[Any]) -> list[bytes]:
    return [blob for _n, blob in blocks]


def _save_rows(index: int, blocks: Iterator[Any]) -> Iterator[tuple[int, int, int, bytes]]:
    for seq, (n, blob) in enumerate(blocks):
        yield index, seq, n, blob
