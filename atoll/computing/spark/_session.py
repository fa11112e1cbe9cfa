"""The Spark computing session and its TableWriter.

Rows given to ``parallelize`` or a writer are hashed to their partition and encoded
into codec blocks on the driver (so a bad key or an unencodable value is reported at
once, naming the Table and the key), handed to Spark, placed by partition with one
shuffle, and de-duplicated there when their keys may repeat (the last wins).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from atoll.computing._api import ComputingSession, Row, Table, TableWriter
from atoll.computing._checks import check_partitions, check_table_name
from atoll.computing._errors import (
    ComputingError,
    InvalidArgumentError,
    SerializationError,
    SessionClosedError,
)
from atoll.computing.spark import _context
from atoll.computing.spark import _partition_ops as ops
from atoll.computing.spark._storage import Warehouse
from atoll.computing.spark._table import SparkTable, materialize
from atoll.computing.standalone._partitioner import key_hashes
from atoll.computing.standalone._storage import BLOCK_ROWS

__all__ = ["CHECKPOINT_CONF", "WAREHOUSE_CONF", "SparkComputingSession", "SparkWriter"]

#: A ``conf`` key (not passed to Spark) naming where saved Tables live: a path or a
#: Hadoop URI such as ``hdfs://namenode:8020/atoll/tables``.
WAREHOUSE_CONF = "atoll.warehouse"
#: A ``conf`` key (not passed to Spark): ``local`` (the default) checkpoints every Table
#: on its executors, which keeps plans short but loses a Table whose executor dies;
#: ``none`` keeps the lineage, so Spark recomputes lost partitions (long iterative jobs
#: then build long plans).
CHECKPOINT_CONF = "atoll.checkpoint"


class SparkComputingSession(ComputingSession):
    """Tables as RDDs on the Spark cluster ``master`` (``local[N]``, ``spark://...``, ``yarn``).

    ``partitions``: default partitions of a new Table (default: Spark's default
    parallelism). ``conf``: Spark settings passed through unchanged (for example
    ``spark.executor.memory``), plus ``atoll.warehouse`` for where saved Tables live
    (default ``<data_dir>/spark-tables``; on a real cluster a shared URI such as HDFS).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        master: str = "local[*]",
        partitions: int | None = None,
        conf: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(master, str) or not master.strip():
            raise InvalidArgumentError(f"master must be a Spark master URL, got {master!r}")
        if partitions is not None:
            check_partitions(partitions)
        settings = {str(k): _conf_value(v) for k, v in (conf or {}).items()}
        warehouse = settings.pop(WAREHOUSE_CONF, None)
        checkpoint = settings.pop(CHECKPOINT_CONF, "local")
        if checkpoint not in ("local", "none"):
            raise InvalidArgumentError(
                f"conf {CHECKPOINT_CONF}: must be 'local' or 'none', got {checkpoint!r}"
            )
        self.local_checkpoint = checkpoint == "local"
        self._data_dir = str(Path(data_dir).resolve())
        os.makedirs(self._data_dir, exist_ok=True)
        self.spark = _context.acquire(master, settings)
        self.warehouse = Warehouse(
            self.spark, warehouse or os.path.join(self._data_dir, "spark-tables")
        )
        self._master = master
        self._partitions = partitions or max(1, self.spark.sparkContext.defaultParallelism)
        self._ids = itertools.count()
        self._closed = False
        self._lock = threading.Lock()
        self._refs: dict[int, tuple[Any, int]] = {}
        self._forgotten: list[Any] = []

    # ------------------------------------------------------------------ properties

    @property
    def engine(self) -> str:
        return "spark"

    @property
    def master(self) -> str:
        return self._master

    @property
    def data_dir(self) -> str:
        return self._data_dir

    @property
    def default_partitions(self) -> int:
        return self._partitions

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise SessionClosedError("the computing session is closed")

    # ------------------------------------------------------------------ RDD lifetime

    def retain(self, rdd: Any) -> None:
        """One more Table handle on ``rdd``."""
        with self._lock:
            _, n = self._refs.get(id(rdd), (rdd, 0))
            self._refs[id(rdd)] = (rdd, n + 1)

    def release(self, rdd: Any) -> None:
        """One handle fewer; the last unpersists the RDD."""
        with self._lock:
            entry = self._refs.get(id(rdd))
            if entry is None:
                return
            if entry[1] > 1:
                self._refs[id(rdd)] = (rdd, entry[1] - 1)
                return
            del self._refs[id(rdd)]
        rdd.unpersist(blocking=False)

    def forget(self, rdd: Any) -> None:
        """Called by a Table's finalizer: only queues the release (see release_forgotten)."""
        self._forgotten.append(rdd)

    def release_forgotten(self) -> None:
        while self._forgotten and not self._closed:
            self.release(self._forgotten.pop())

    # ------------------------------------------------------------------ API

    def writer(
        self,
        partitions: int | None = None,
        *,
        name: str | None = None,
        unique_keys: bool = False,
    ) -> TableWriter:
        self._check_open()
        self.release_forgotten()
        parts = self.default_partitions if partitions is None else check_partitions(partitions)
        label = name if name is not None else f"table-{next(self._ids)}"
        return SparkWriter(self, parts, label, unique_keys)

    def load(self, namespace: str, name: str) -> Table:
        self._check_open()
        self.release_forgotten()
        check_table_name("namespace", namespace)
        check_table_name("name", name)
        meta = self.warehouse.read_meta(namespace, name)
        parts = int(meta["partitions"])
        label = f"{namespace}/{name}"
        staged = self.warehouse.read_rows(namespace, name).partitionBy(parts, ops.by_target)
        rdd = staged.mapPartitionsWithIndex(
            ops.guarded("load", label, ops.shuffle_reduce(False)), preservesPartitioning=True
        )
        rdd, counts = materialize(self, rdd, "load", label)
        if counts != [int(n) for n in meta["counts"]]:
            rdd.unpersist(blocking=False)
            raise ComputingError(
                f"saved table {label}: its data does not match its metadata "
                f"(row counts {counts} against {meta['counts']})"
            )
        return SparkTable(self, rdd, label, counts, saved=(namespace, name))

    def close(self) -> None:
        """Unpersist every RDD of this session's Tables; the SparkContext stays for the
        process's next session (see :mod:`._context`). Saved Tables stay on storage."""
        if self._closed:
            return
        with self._lock:
            rdds = [rdd for rdd, _ in self._refs.values()]
            self._refs.clear()
            self._forgotten.clear()
        self._closed = True
        for rdd in rdds:
            # The context may already be gone at interpreter exit.
            with contextlib.suppress(Exception):
                rdd.unpersist(blocking=False)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SparkComputingSession {self._master!r} partitions={self._partitions} {state}>"


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SparkWriter(TableWriter):
    """Hashes rows to partitions and encodes them into blocks on the driver as they
    arrive; ``commit`` hands the blocks to Spark.

    The encoded blocks stay on the driver until ``commit`` (compact codec bytes, not
    Python objects). Unless ``unique_keys``, the 64-bit key hashes are kept too, so that
    a Table with no repeated key skips the de-duplicating pass, as on standalone.
    """

    TRACK_ROWS = 50_000_000

    def __init__(
        self, session: SparkComputingSession, partitions: int, name: str, unique_keys: bool
    ) -> None:
        self._session = session
        self._partitions = partitions
        self._name = name
        self._unique = unique_keys
        self._scatter = ops._Scatter(0, partitions, name, "parallelize")
        self._staged: list[ops.Staged] = []
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
            chunk = list(itertools.islice(iterator, BLOCK_ROWS))
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
            if self._hashes is not None:
                self._hashes.append(key_hashes(keys, self._name, "parallelize"))
            try:
                self._staged.extend(self._scatter.add(keys, values))
            except ops._Unencodable as exc:
                raise self._unencodable(exc) from exc.cause
            seen += len(chunk)
            self._rows += len(chunk)
            if self._rows > self.TRACK_ROWS:
                self._hashes = None

    def _unencodable(self, exc: ops._Unencodable) -> SerializationError:
        return SerializationError(
            f"writing table {self._name!r}: the row with key {exc.key!r:.80} cannot be "
            f"stored: {exc.cause}"
        )

    def commit(self) -> SparkTable:
        self._check()
        session = self._session
        try:
            try:
                self._staged.extend(self._scatter.flush())
            except ops._Unencodable as exc:
                raise self._unencodable(exc) from exc.cause
            dedupe = not self._unique and not self._keys_known_unique()
            sc = session.spark.sparkContext
            staged, self._staged = self._staged, []
            slices = max(1, min(self._partitions, len(staged)))
            rdd = (
                sc.parallelize(staged, slices)
                .partitionBy(self._partitions, ops.by_target)
                .mapPartitionsWithIndex(
                    ops.guarded("parallelize", self._name, ops.shuffle_reduce(dedupe)),
                    preservesPartitioning=True,
                )
            )
            rdd, counts = materialize(session, rdd, "parallelize", self._name)
        except BaseException:
            self.discard()
            raise
        self._state = "committed"
        return SparkTable(session, rdd, self._name, counts)

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
        self._staged = []
        self._hashes = None
