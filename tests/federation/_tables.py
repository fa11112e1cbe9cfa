"""A tiny in-memory Table and session, standing in for atoll.computing in tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any


class ListTable:
    def __init__(self, partitions: list[list[tuple[Any, Any]]]) -> None:
        self.partitions = partitions

    @property
    def num_partitions(self) -> int:
        return len(self.partitions)

    def iter_partition(self, i: int) -> Iterator[tuple[Any, Any]]:
        return iter(self.partitions[i])

    def rows(self) -> list[tuple[Any, Any]]:
        return [r for p in self.partitions for r in p]


class _Writer:
    def __init__(self, n: int) -> None:
        self.parts: list[list[tuple[Any, Any]]] = [[] for _ in range(n)]
        self.count = 0

    def put_all(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        for k, v in pairs:
            self.parts[hash(k) % len(self.parts)].append((k, v))
            self.count += 1

    def commit(self) -> ListTable:
        return ListTable(self.parts)


class CountingWriter:
    """Counts rows and bytes without keeping them (for big transfers)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.rows = 0
        self.nbytes = 0

    def put_all(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        for _k, v in pairs:
            self.rows += 1
            self.nbytes += len(v)

    def commit(self) -> dict[str, int]:
        return {"partitions": self.n, "rows": self.rows, "nbytes": self.nbytes}


class ListSession:
    @contextlib.contextmanager
    def writer(self, partitions: int) -> Iterator[_Writer]:
        yield _Writer(partitions)


class CountingSession:
    @contextlib.contextmanager
    def writer(self, partitions: int) -> Iterator[CountingWriter]:
        yield CountingWriter(partitions)


class SyntheticTable:
    """``rows`` rows of ``row_bytes`` bytes over ``partitions`` partitions, made on the fly."""

    def __init__(self, partitions: int, rows: int, row_bytes: int) -> None:
        self._parts = partitions
        self.rows = rows
        self.row_bytes = row_bytes
        self._blob = bytes(range(256)) * (row_bytes // 256 + 1)

    @property
    def num_partitions(self) -> int:
        return self._parts

    def iter_partition(self, i: int) -> Iterator[tuple[Any, Any]]:
        for r in range(i, self.rows, self._parts):
            yield r, self._blob[r % 256 : r % 256 + self.row_bytes]


class SlowTable(SyntheticTable):
    """A SyntheticTable that sleeps between rows, so a transfer lasts a while."""

    def __init__(self, partitions: int, rows: int, row_bytes: int, delay: float) -> None:
        super().__init__(partitions, rows, row_bytes)
        self.delay = delay

    def iter_partition(self, i: int) -> Iterator[tuple[Any, Any]]:
        import time

        for row in super().iter_partition(i):
            time.sleep(self.delay)
            yield row
