"""Work on one partition, run inside Spark's Python workers.

A Spark-backed Table is an RDD whose partition ``i`` holds the rows of Table
partition ``i`` as *blocks*: ``(rows, blob)`` elements where ``blob`` is the
codec encoding of ``[keys, values]`` for up to 8192 rows (the standalone
backend's block format, so :meth:`Table.iter_partition_encoded` yields stored
blocks unchanged). Every function here maps an iterator of such blocks to new
blocks, or (the map side of a shuffle) to ``(target, (source, seq, rows, blob))``
pairs that :func:`by_target` places with ``RDD.partitionBy``; the reduce side
orders them by ``(source, seq)`` so that "the last duplicate wins" means the
same as on the standalone backend.

A failure is raised as :class:`PartitionFailure`, whose message carries a
:class:`~atoll.computing.standalone._tasks.Failure` (cloudpickled, base64) between
two markers; the driver finds it in Spark's error text and raises the matching
:mod:`atoll.computing` error. cloudpickle is used only between a site's driver and
its own workers, never for data at rest.
"""

from __future__ import annotations

import base64
import collections
import itertools
import re
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import cloudpickle
import numpy as np

from atoll.codec import CodecError, decode, encode
from atoll.computing._errors import KeyTypeError
from atoll.computing.standalone._partitioner import key_hashes, partitions_of, sample_mask
from atoll.computing.standalone._storage import BLOCK_BYTES, BLOCK_ROWS
from atoll.computing.standalone._tasks import (
    Failure,
    _apply,
    _BadRow,
    _columns,
    _flat_map_rows,
    _merge_block,
    _short_repr,
    _Tracked,
    _UserFailure,
)

__all__ = [
    "Block",
    "PartitionFailure",
    "Staged",
    "by_target",
    "encode_blocks",
    "failure_from_text",
    "guarded",
    "iter_rows",
]

Block = tuple[int, bytes]  # (rows, codec [keys, values])
Staged = tuple[int, tuple[int, int, int, bytes]]  # (target, (source, seq, rows, blob))

_BEGIN, _END = "<<atoll-failure:", ":atoll-failure>>"
_FAILURE_RE = re.compile(re.escape(_BEGIN) + r"([A-Za-z0-9+/=]+)" + re.escape(_END))


def by_target(target: int) -> int:
    """The partition function of every shuffle: the map side already computed the target.

    One module-level function for all Tables, so that Spark sees equal partitioners
    (it compares the function's id) and unions two co-partitioned Tables partition
    by partition without a shuffle.
    """
    return target


class PartitionFailure(Exception):
    """Raised in a worker; its message carries a :class:`Failure` for the driver."""


class _Unencodable(Exception):
    def __init__(self, key: object, cause: CodecError) -> None:
        super().__init__(str(cause))
        self.key = key
        self.cause = cause


def failure_from_text(text: str) -> Failure | None:
    """The :class:`Failure` carried in Spark's error text, if there is one."""
    match = _FAILURE_RE.search(text)
    if match is None:
        return None
    try:
        failure = cloudpickle.loads(base64.b64decode(match.group(1)))
    except Exception:
        return None
    return failure if isinstance(failure, Failure) else None


def _raise(failure: Failure) -> None:
    blob = base64.b64encode(cloudpickle.dumps(failure)).decode("ascii")
    raise PartitionFailure(f"{_BEGIN}{blob}{_END}")


def _failure(
    kind: str, message: str, partition: int, exc: BaseException, tb: str, key_repr: str | None
) -> Failure:
    failure = Failure(
        kind,
        message,
        partition,
        key_repr=key_repr,
        error_type=f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
        error_message=str(exc),
        traceback=tb,
    )
    try:
        exc.__traceback__ = None
        failure.cause_pickled = cloudpickle.dumps(exc)
    except Exception:
        failure.cause_pickled = None
    return failure


def guarded(
    operation: str, table: str, body: Callable[[int, Iterator[Any]], Iterable[Any]]
) -> Callable[[int, Iterator[Any]], Iterator[Any]]:
    """Wrap a partition function so that every failure reaches the driver as a Failure."""

    def run(index: int, iterator: Iterator[Any]) -> Iterator[Any]:
        try:
            yield from body(index, iterator)
        except PartitionFailure:
            raise
        except _UserFailure as uf:
            exc = uf.exc
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            _raise(_failure("task", "", index, exc, tb, _short_repr(uf.key)))
        except _BadRow as bad:
            message = (
                f"{operation} on table {table!r}: the function must produce "
                f"(key, value) pairs; it produced {_short_repr(bad.produced)} "
                f"(of type {type(bad.produced).__name__}) for key {_short_repr(bad.key)}"
            )
            _raise(Failure("invalid", message, index, key_repr=_short_repr(bad.key)))
        except KeyTypeError as exc:
            _raise(Failure("key", str(exc), index))
        except _Unencodable as exc:
            message = (
                f"{operation} on table {table!r}: the row with key "
                f"{_short_repr(exc.key)} cannot be stored: {exc.cause}"
            )
            _raise(_failure("serialization", message, index, exc.cause, "", _short_repr(exc.key)))
        except Exception as exc:
            tb = traceback.format_exc()
            message = (
                f"{operation} on table {table!r} failed in partition {index}: "
                f"{type(exc).__name__}: {exc}\n{tb}"
            )
            _raise(_failure("internal", message, index, exc, tb, None))

    return run


# --------------------------------------------------------------------------- blocks


def _encode_checked(keys: list[Any], values: list[Any]) -> bytes:
    try:
        return encode([keys, values])
    except CodecError as exc:
        for key, value in zip(keys, values, strict=True):
            try:
                encode(key)
                encode(value)
            except CodecError as row_exc:
                raise _Unencodable(key, row_exc) from None
        raise _Unencodable(keys[0] if keys else None, exc) from None


def encode_blocks(keys: list[Any], values: list[Any]) -> Iterator[Block]:
    """``(rows, blob)`` blocks of at most BLOCK_ROWS rows and about BLOCK_BYTES each."""
    step = BLOCK_ROWS
    start = 0
    while start < len(keys):
        ks, vs = keys[start : start + step], values[start : start + step]
        blob = _encode_checked(ks, vs)
        if len(blob) > 2 * BLOCK_BYTES and len(ks) > 1:
            step = max(1, len(ks) * BLOCK_BYTES // len(blob))
            continue  # re-encode this stretch in smaller blocks
        yield len(ks), blob
        start += len(ks)


def iter_blocks(blocks: Iterable[Block]) -> Iterator[tuple[list[Any], list[Any]]]:
    """Decoded ``(keys, values)`` of each block."""
    for _, blob in blocks:
        block: Any = decode(blob)
        yield block[0], block[1]


def iter_rows(blocks: Iterable[Block]) -> Iterator[tuple[Any, Any]]:
    for keys, values in iter_blocks(blocks):
        yield from zip(keys, values, strict=True)


class _Rebuilder:
    """Collects rows and re-blocks them (the output side of a narrow operation)."""

    def __init__(self) -> None:
        self.keys: list[Any] = []
        self.values: list[Any] = []

    def add(self, keys: list[Any], values: list[Any]) -> Iterator[Block]:
        self.keys.extend(keys)
        self.values.extend(values)
        if len(self.keys) >= BLOCK_ROWS:
            yield from self.flush()

    def flush(self) -> Iterator[Block]:
        keys, values = self.keys, self.values
        self.keys, self.values = [], []
        if keys:
            yield from encode_blocks(keys, values)


# --------------------------------------------------------------------------- narrow


def map_values(func: Callable[[Any], Any]) -> Callable[[int, Iterator[Block]], Iterator[Block]]:
    def body(_: int, blocks: Iterator[Block]) -> Iterator[Block]:
        for keys, values in iter_blocks(blocks):
            yield from encode_blocks(keys, _apply(func, keys, values))

    return body


def filter_rows(
    pred: Callable[[Any, Any], Any],
) -> Callable[[int, Iterator[Block]], Iterator[Block]]:
    def body(_: int, blocks: Iterator[Block]) -> Iterator[Block]:
        out = _Rebuilder()
        for keys, values in iter_blocks(blocks):
            mask = _apply(pred, keys, keys, values)
            yield from out.add(
                list(itertools.compress(keys, mask)), list(itertools.compress(values, mask))
            )
        yield from out.flush()

    return body


def sample(fraction: float, seed: int) -> Callable[[int, Iterator[Block]], Iterator[Block]]:
    def body(_: int, blocks: Iterator[Block]) -> Iterator[Block]:
        out = _Rebuilder()
        for keys, values in iter_blocks(blocks):
            mask = sample_mask(keys, fraction, seed).tolist()
            yield from out.add(
                list(itertools.compress(keys, mask)), list(itertools.compress(values, mask))
            )
        yield from out.flush()

    return body


_MISSING = object()


def reduce_values(
    func: Callable[[Any, Any], Any],
) -> Callable[[int, Iterator[Block]], Iterator[Any]]:
    """One ``(has_value, value)`` per partition."""

    def body(_: int, blocks: Iterator[Block]) -> Iterator[Any]:
        acc: Any = _MISSING
        for keys, values in iter_blocks(blocks):
            start = 0
            if acc is _MISSING:
                acc, start = values[0], 1
            i = start
            try:
                for i in range(start, len(values)):
                    acc = func(acc, values[i])
            except Exception as exc:
                raise _UserFailure(exc, keys[i]) from exc
        yield (False, None) if acc is _MISSING else (True, acc)

    return body


def count_rows(_: int, blocks: Iterator[Block]) -> Iterator[int]:
    yield sum(n for n, _ in blocks)


def counting(accumulator: Any) -> Callable[[int, Iterator[Block]], Iterator[Block]]:
    """Pass blocks through and report the partition's row count to ``accumulator``
    (a dict from partition to count: a re-run task reports the same entry again)."""

    def body(index: int, blocks: Iterator[Block]) -> Iterator[Block]:
        rows = 0
        for block in blocks:
            rows += block[0]
            yield block
        accumulator.add({index: rows})

    return body


# --------------------------------------------------------------------------- two tables


def _split_sides(items: Iterator[tuple[int, Block]]) -> tuple[list[Block], list[Block]]:
    """The blocks of the two sides in one partition of a union, told apart by their tag
    (still encoded: one partition's bytes, not its rows)."""
    left: list[Block] = []
    right: list[Block] = []
    for side, block in items:
        (right if side else left).append(block)
    return left, right


def join(func: Callable[[Any, Any], Any]) -> Callable[[int, Iterator[Any]], Iterator[Block]]:
    def body(_: int, items: Iterator[Any]) -> Iterator[Block]:
        left, right = _split_sides(items)
        table: dict[Any, Any] = {}
        for keys, values in iter_blocks(right):
            table.update(zip(keys, values, strict=True))
        if not table:
            return
        contains, lookup = table.__contains__, table.__getitem__
        out = _Rebuilder()
        for keys, values in iter_blocks(left):
            mask = list(map(contains, keys))
            common = list(itertools.compress(keys, mask))
            if common:
                mine = list(itertools.compress(values, mask))
                yield from out.add(common, _apply(func, common, mine, list(map(lookup, common))))
        yield from out.flush()

    return body


def union(
    func: Callable[[Any, Any], Any] | None,
) -> Callable[[int, Iterator[Any]], Iterator[Block]]:
    def body(_: int, items: Iterator[Any]) -> Iterator[Block]:
        left, right = _split_sides(items)
        rows: dict[Any, Any] = {}
        for keys, values in iter_blocks(left):
            rows.update(zip(keys, values, strict=True))
        for keys, values in iter_blocks(right):
            if func is None:
                collections.deque(map(rows.setdefault, keys, values), maxlen=0)
            else:
                _merge_block(rows, keys, values, func)
        yield from encode_blocks(list(rows), list(rows.values()))

    return body


def subtract(_: int, items: Iterator[Any]) -> Iterator[Block]:
    left, right = _split_sides(items)
    drop: set[Any] = set()
    for keys, _values in iter_blocks(right):
        drop.update(keys)
    out = _Rebuilder()
    for keys, values in iter_blocks(left):
        keep = [k not in drop for k in keys]
        yield from out.add(
            list(itertools.compress(keys, keep)), list(itertools.compress(values, keep))
        )
    yield from out.flush()


def tag(side: int) -> Callable[[Block], tuple[int, Block]]:
    return lambda block: (side, block)


def spread(parts: int) -> Callable[[int, Iterator[tuple[int, Block]]], Iterator[Staged]]:
    """For a union that Spark could not align: partition ``i`` of the 2P-partition union
    goes to target ``i % parts``, keeping left before right through ``(source, seq)``."""

    def body(index: int, items: Iterator[tuple[int, Block]]) -> Iterator[Any]:
        for seq, (side, (n, blob)) in enumerate(items):
            yield index % parts, (side, seq, n, (side, blob))

    return body


def unspread(_: int, staged: Iterator[Any]) -> Iterator[tuple[int, Block]]:
    ordered = sorted((payload for _, payload in staged), key=lambda p: (p[0], p[1]))
    for _side, _seq, n, (side, blob) in ordered:
        yield side, (n, blob)


# --------------------------------------------------------------------------- shuffles


class _Scatter:
    """Hashes produced rows to target partitions and emits staged blocks per target."""

    def __init__(self, source: int, parts: int, table: str, operation: str) -> None:
        self.source = source
        self.parts = parts
        self.table = table
        self.operation = operation
        self.keys: list[list[Any]] = [[] for _ in range(parts)]
        self.values: list[list[Any]] = [[] for _ in range(parts)]
        self.seq = 0

    def add(self, keys: list[Any], values: list[Any]) -> Iterator[Staged]:
        hashes = key_hashes(keys, self.table, self.operation)
        if self.parts == 1:
            self.keys[0].extend(keys)
            self.values[0].extend(values)
            yield from self._drain(0, BLOCK_ROWS)
            return
        targets = (hashes % np.uint64(self.parts)).astype(np.int64)
        order = np.argsort(targets, kind="stable").tolist()
        sizes = np.bincount(targets, minlength=self.parts).tolist()
        ks = list(map(keys.__getitem__, order))
        vs = list(map(values.__getitem__, order))
        start = 0
        for target, size in enumerate(sizes):
            if size:
                self.keys[target].extend(ks[start : start + size])
                self.values[target].extend(vs[start : start + size])
                start += size
                yield from self._drain(target, BLOCK_ROWS)

    def _drain(self, target: int, threshold: int) -> Iterator[Staged]:
        if len(self.keys[target]) < threshold or not self.keys[target]:
            return
        keys, values = self.keys[target], self.values[target]
        self.keys[target], self.values[target] = [], []
        for n, blob in encode_blocks(keys, values):
            yield target, (self.source, self.seq, n, blob)
            self.seq += 1

    def flush(self) -> Iterator[Staged]:
        for target in range(self.parts):
            yield from self._drain(target, 1)


def shuffle_map(
    mode: str,
    parts: int,
    table: str,
    operation: str,
    func: Any = None,
    reducer: Any = None,
) -> Callable[[int, Iterator[Block]], Iterator[Staged]]:
    """The map side: apply the function and scatter its rows by their new key."""

    def body(index: int, blocks: Iterator[Block]) -> Iterator[Staged]:
        out = _Scatter(index, parts, table, operation)
        if mode == "identity":
            for keys, values in iter_blocks(blocks):
                yield from out.add(keys, values)
            yield from out.flush()
            return
        if mode == "map":
            for keys, values in iter_blocks(blocks):
                produced = _apply(func, keys, keys, values)
                new_keys, new_values = _columns(produced, keys.__getitem__)
                yield from out.add(new_keys, new_values)
            yield from out.flush()
            return
        rows = _Tracked(iter_blocks(blocks))
        iterator: Iterator[Any]
        if mode == "flat_map":
            iterator = _flat_map_rows(func, rows)
        else:  # "map_partitions", "map_reduce"
            try:
                iterator = iter(func(iter(rows)))
            except Exception as exc:
                raise _UserFailure(exc, rows.last) from exc
        if mode == "map_reduce":
            combined: dict[Any, Any] = {}
            for keys, values in _produced(iterator, rows):
                partitions_of(keys, 1, table, operation)
                _merge_block(combined, keys, values, reducer)
            yield from out.add(list(combined), list(combined.values()))
        else:
            for keys, values in _produced(iterator, rows):
                yield from out.add(keys, values)
        yield from out.flush()

    return body


def _produced(iterator: Iterator[Any], rows: _Tracked) -> Iterator[tuple[list[Any], list[Any]]]:
    while True:
        try:
            chunk = list(itertools.islice(iterator, BLOCK_ROWS))
        except Exception as exc:
            raise _UserFailure(exc, rows.last) from exc
        if not chunk:
            return
        yield _columns(chunk, lambda _: rows.last)


def _ordered(staged: Iterator[Any]) -> list[tuple[int, int, int, bytes]]:
    return sorted((payload for _, payload in staged), key=lambda p: (p[0], p[1]))


def shuffle_reduce(
    dedupe: bool, reducer: Any = None
) -> Callable[[int, Iterator[Any]], Iterator[Block]]:
    """The reduce side: blocks in (source, seq) order; duplicates merged if ``dedupe``."""

    def body(_: int, staged: Iterator[Any]) -> Iterator[Block]:
        ordered = _ordered(staged)
        if not dedupe:
            for _source, _seq, n, blob in ordered:
                yield n, blob
            return
        rows: dict[Any, Any] = {}
        for keys, values in iter_blocks((n, blob) for _s, _q, n, blob in ordered):
            if reducer is None:
                rows.update(zip(keys, values, strict=True))
            else:
                _merge_block(rows, keys, values, reducer)
        yield from encode_blocks(list(rows), list(rows.values()))

    return body


def blobs(_: int, blocks: Iterator[Block]) -> Iterator[bytes]:
    for _n, blob in blocks:
        yield blob
