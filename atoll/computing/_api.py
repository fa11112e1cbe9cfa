"""The backend-agnostic contract: :class:`Table`, :class:`ComputingSession`, :class:`TableWriter`.

A Table is an immutable, partitioned collection of ``(key, value)`` rows with
unique keys. Operations never modify a Table; each returns a new one. Every
backend keeps these invariants:

* keys are unique (``1`` and ``True`` are the same key, as in a dict);
* keys are ``int`` (any size), ``str``, ``bytes`` or tuples of them; anything
  else is refused with :class:`~atoll.computing.KeyTypeError`;
* the row with key ``k`` lives in partition ``partitioner(k) % num_partitions``,
  where the partitioner does not depend on the process (``PYTHONHASHSEED``) or
  the backend's version, so two Tables with the same number of partitions are
  co-partitioned and can be joined without moving data.

Cost notes in the docstrings say whether an operation *shuffles* (reads every
row and rewrites it into the partition its key now hashes to) or runs partition
by partition in place. Functions may be lambdas and closures; they run in worker
processes, so they must not rely on state they mutate.

Where an operation can produce the same key twice (``map``, ``flat_map``,
``map_partitions``, ``parallelize``), the *last* row wins, in the order
(source partition, position within the partition), and keeps the position of
the first occurrence. ``map_reduce_partitions`` combines them with a reducer
instead.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

__all__ = ["ComputingSession", "Table", "TableWriter"]

Row = tuple[Any, Any]


class Table(abc.ABC):
    """A partitioned key-value collection (FATE's Table, EggRoll's rollpair).

    Subclasses implement the abstract primitives; ``collect``, ``take`` and
    ``first`` are derived from :meth:`iter_partition`.
    """

    # ------------------------------------------------------------------ identity

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """A human-readable name used in error messages (``namespace/name`` once saved)."""

    @property
    @abc.abstractmethod
    def num_partitions(self) -> int:
        """How many partitions the rows are hashed into."""

    @abc.abstractmethod
    def count(self) -> int:
        """Number of rows. O(partitions): read from counts kept as rows are written."""

    @abc.abstractmethod
    def partition_counts(self) -> list[int]:
        """Number of rows in each partition, in partition order."""

    @abc.abstractmethod
    def iter_partition(self, index: int) -> Iterator[Row]:
        """Stream the rows of partition ``index`` (``0 <= index < num_partitions``).

        Rows come in a stable order (the order they were written). Memory is
        bounded by one storage block, so a federation layer can send a Table
        partition by partition.
        """

    def iter_partition_encoded(self, index: int) -> Iterator[bytes]:
        """The rows of partition ``index`` as codec-encoded ``[keys, values]`` blocks.

        What the federation layer sends. This default encodes batches of
        :meth:`iter_partition`; a backend that stores rows in that form (the
        standalone one) yields its stored blocks unchanged, which saves a decode
        and an encode of every row.
        """
        from atoll.codec import encode

        keys: list[Any] = []
        values: list[Any] = []
        for k, v in self.iter_partition(index):
            keys.append(k)
            values.append(v)
            if len(keys) >= 8192:
                yield encode([keys, values])
                keys, values = [], []
        if keys:
            yield encode([keys, values])

    # ------------------------------------------------------------------ reading

    def collect(self) -> Iterator[Row]:
        """Stream every row, partition by partition. No shuffle; one block in memory."""
        for index in range(self.num_partitions):
            yield from self.iter_partition(index)

    def take(self, n: int) -> list[Row]:
        """The first ``n`` rows in :meth:`collect` order (fewer if the Table is smaller)."""
        if n < 0:
            from atoll.computing._errors import InvalidArgumentError

            raise InvalidArgumentError(f"take on table {self.name!r}: n must be >= 0, got {n}")
        return list(itertools.islice(self.collect(), n))

    def first(self) -> Row | None:
        """The first row in :meth:`collect` order, or ``None`` for an empty Table."""
        rows = self.take(1)
        return rows[0] if rows else None

    # ------------------------------------------------------------------ no shuffle

    @abc.abstractmethod
    def map_values(self, func: Callable[[Any], Any]) -> Table:
        """``(k, v) -> (k, func(v))``. No shuffle: keys and partitions stay."""

    @abc.abstractmethod
    def filter(self, predicate: Callable[[Any, Any], Any]) -> Table:
        """Keep the rows for which ``predicate(k, v)`` is truthy. No shuffle."""

    @abc.abstractmethod
    def sample(self, fraction: float, seed: int = 0) -> Table:
        """Keep each row with probability ``fraction``, decided by ``(seed, key)`` alone.

        Deterministic: the same Table, fraction and seed always give the same rows,
        whatever the partitioning or the number of workers. No shuffle.
        """

    @abc.abstractmethod
    def reduce(self, func: Callable[[Any, Any], Any]) -> Any:
        """Fold all values with ``func(a, b)``: within each partition, then across
        partitions in partition order. ``func`` should be associative.

        Returns ``None`` for an empty Table (as FATE does). No shuffle; only one
        value per partition reaches the caller.
        """

    # ------------------------------------------------------------------ shuffles

    @abc.abstractmethod
    def map(self, func: Callable[[Any, Any], tuple[Any, Any]]) -> Table:
        """``(k, v) -> func(k, v)``, which returns the new ``(key, value)``.

        Shuffles (new keys hash to new partitions). Duplicate new keys: the last
        wins (see the module docstring).
        """

    @abc.abstractmethod
    def flat_map(self, func: Callable[[Any, Any], Iterable[tuple[Any, Any]]]) -> Table:
        """``(k, v) -> zero or more (key, value) rows``. Shuffles; the last duplicate wins."""

    @abc.abstractmethod
    def map_partitions(self, func: Callable[[Iterator[Row]], Iterable[Row]]) -> Table:
        """Call ``func`` once per partition with an iterator over its rows; it returns
        (or yields) the new ``(key, value)`` rows. Shuffles; the last duplicate wins.
        """

    @abc.abstractmethod
    def map_reduce_partitions(
        self,
        mapper: Callable[[Iterator[Row]], Iterable[Row]],
        reducer: Callable[[Any, Any], Any],
    ) -> Table:
        """Like :meth:`map_partitions`, but rows with equal keys are combined with
        ``reducer(a, b)``: inside each source partition first, then across source
        partitions in partition order. Shuffles (only the combined rows move).
        """

    @abc.abstractmethod
    def repartition(self, partitions: int) -> Table:
        """The same rows hashed into ``partitions`` partitions. Shuffles."""

    # ------------------------------------------------------------------ two tables

    @abc.abstractmethod
    def join(self, other: Table, func: Callable[[Any, Any], Any]) -> Table:
        """Inner join: ``(k, func(v_self, v_other))`` for keys present in both.

        The result has ``self``'s partitioning. No shuffle when both Tables have the
        same number of partitions; otherwise ``other`` is repartitioned first.
        """

    @abc.abstractmethod
    def union(self, other: Table, func: Callable[[Any, Any], Any] | None = None) -> Table:
        """Rows of both; for a key in both, ``func(v_self, v_other)`` (default: keep
        ``v_self``). Partitioning and shuffle cost as for :meth:`join`.
        """

    @abc.abstractmethod
    def subtract_by_key(self, other: Table) -> Table:
        """Rows of ``self`` whose key is not in ``other``. Cost as for :meth:`join`."""

    # ------------------------------------------------------------------ lifetime

    @abc.abstractmethod
    def save(self, namespace: str, name: str, *, overwrite: bool = False) -> Table:
        """Persist the rows as ``namespace/name`` and return the saved Table.

        The saved Table outlives the session and can be loaded by another process
        with :meth:`ComputingSession.load`. The save is atomic: a reader sees the
        old Table or the new one, never half of either. Raises
        :class:`~atoll.computing.TableExistsError` if it exists and not ``overwrite``.
        """

    @abc.abstractmethod
    def destroy(self) -> None:
        """Delete the rows (for a saved Table, from disk). Using the Table afterwards
        raises :class:`~atoll.computing.TableNotFoundError`. Idempotent."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} partitions={self.num_partitions}>"


class TableWriter(abc.ABC):
    """Builds a Table from rows that arrive in pieces (for example from another site).

    Use as a context manager; leaving it with an exception, or without calling
    :meth:`commit`, discards everything written::

        with session.writer(partitions=4) as writer:
            for chunk in chunks:
                writer.put_all(chunk)
            table = writer.commit()
    """

    @abc.abstractmethod
    def put_all(self, rows: Iterable[Row]) -> None:
        """Add rows; each key is hashed to its partition as it arrives."""

    @abc.abstractmethod
    def commit(self) -> Table:
        """Finish and return the Table. The writer cannot be used afterwards."""

    @abc.abstractmethod
    def discard(self) -> None:
        """Throw away everything written. Idempotent; a no-op after ``commit``."""

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


class ComputingSession(abc.ABC):
    """Makes and loads Tables for one site; owns their temporary storage and workers.

    Use as a context manager, or call :meth:`close`: it destroys every temporary
    Table the session made (saved Tables stay) and stops its workers.
    """

    @property
    @abc.abstractmethod
    def engine(self) -> str:
        """The backend's name, e.g. ``"standalone"``."""

    @property
    @abc.abstractmethod
    def default_partitions(self) -> int:
        """Partitions used when ``parallelize`` or ``writer`` is not told."""

    def parallelize(
        self,
        rows: Iterable[Row] | Mapping[Any, Any],
        partitions: int | None = None,
        name: str | None = None,
    ) -> Table:
        """A Table of ``rows`` (``(key, value)`` pairs, or a mapping). Duplicate keys:
        the last wins. ``name`` only labels the Table in error messages."""
        unique = isinstance(rows, Mapping)  # a mapping's keys are unique already
        items: Iterable[Row] = rows.items() if isinstance(rows, Mapping) else rows
        with self.writer(partitions, name=name, unique_keys=unique) as writer:
            writer.put_all(items)
            return writer.commit()

    @abc.abstractmethod
    def load(self, namespace: str, name: str) -> Table:
        """The saved Table ``namespace/name``; :class:`~atoll.computing.TableNotFoundError`
        if there is none."""

    @abc.abstractmethod
    def writer(
        self,
        partitions: int | None = None,
        *,
        name: str | None = None,
        unique_keys: bool = False,
    ) -> TableWriter:
        """A :class:`TableWriter`. With ``unique_keys=True`` (rows copied from a Table)
        the commit skips de-duplicating keys; with duplicates present the Table would
        then break its invariant, so pass it only when keys are known unique."""

    @abc.abstractmethod
    def close(self) -> None:
        """Destroy the session's temporary Tables and stop its workers. Idempotent."""

    def __enter__(self) -> ComputingSession:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
