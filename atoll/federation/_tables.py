"""The small interface federation needs from a Table, so it never imports more.

A Table is anything with ``num_partitions`` and ``iter_partition(i)``; a
receiving context needs a computing session with ``writer(partitions)`` whose
writer has ``put_all(pairs)`` and ``commit()``. ``atoll.computing`` provides
both; tests use a small in-memory double.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

__all__ = ["TableLike", "TableSession", "TableWriter", "is_table"]


@runtime_checkable
class TableLike(Protocol):
    @property
    def num_partitions(self) -> int: ...

    def iter_partition(self, i: int) -> Iterator[tuple[Any, Any]]: ...


class TableWriter(Protocol):
    def put_all(self, pairs: Iterable[tuple[Any, Any]]) -> None: ...

    def commit(self) -> Any: ...


class TableSession(Protocol):
    def writer(self, partitions: int) -> AbstractContextManager[TableWriter]: ...


def is_table(obj: object) -> bool:
    parts = getattr(obj, "num_partitions", None)
    return isinstance(parts, int) and callable(getattr(obj, "iter_partition", None))
