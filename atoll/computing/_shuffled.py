"""Table operations that are one keyed shuffle each, shared by every backend.

A backend's Table inherits :class:`ShuffledTable` and supplies ``_shuffle``:
scatter each partition's rows by (new) key into ``partitions`` partitions, with
``mode`` saying what is done to the rows on the way (``"map"``, ``"flat_map"``,
``"map_partitions"``, ``"map_reduce"``, ``"identity"``) and duplicates merged
when ``dedupe`` (the last wins, or ``reducer`` combines them).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from atoll.computing._api import Row, Table
from atoll.computing._checks import check_partitions

__all__ = ["ShuffledTable"]


class ShuffledTable(Table):
    @abc.abstractmethod
    def _shuffle(
        self,
        operation: str,
        mode: str,
        func: Any = None,
        reducer: Any = None,
        partitions: int | None = None,
        dedupe: bool = True,
    ) -> Table: ...

    def map(self, func: Callable[[Any, Any], tuple[Any, Any]]) -> Table:
        return self._shuffle("map", "map", func)

    def flat_map(self, func: Callable[[Any, Any], Iterable[tuple[Any, Any]]]) -> Table:
        return self._shuffle("flat_map", "flat_map", func)

    def map_partitions(self, func: Callable[[Iterator[Row]], Iterable[Row]]) -> Table:
        return self._shuffle("map_partitions", "map_partitions", func)

    def map_reduce_partitions(
        self,
        mapper: Callable[[Iterator[Row]], Iterable[Row]],
        reducer: Callable[[Any, Any], Any],
    ) -> Table:
        return self._shuffle("map_reduce_partitions", "map_reduce", mapper, reducer=reducer)

    def repartition(self, partitions: int) -> Table:
        check_partitions(partitions)
        return self._shuffle("repartition", "identity", partitions=partitions, dedupe=False)
