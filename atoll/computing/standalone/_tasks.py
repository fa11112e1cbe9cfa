"""Work done on one partition, in a worker process (or inline in the driver).

A :class:`Task` names its input and output LMDB environments by path, so rows
flow between workers through storage, never through the driver. Each task
returns its output row counts (or, for ``reduce``, one value) or a
:class:`Failure` describing what went wrong; the driver turns a failure into
the matching :mod:`atoll.computing` exception.

Functions arrive either as callables (inline) or as cloudpickle bytes (worker
processes of the same site; never used for data at rest).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import signal
import traceback
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import cloudpickle
import numpy as np

from atoll.computing._errors import KeyTypeError
from atoll.computing.standalone import _storage
from atoll.computing.standalone._partitioner import key_hashes, partitions_of, sample_mask

__all__ = ["Failure", "ReduceResult", "Task", "init_worker", "run_task", "scatter"]

_MISSING = object()


@dataclasses.dataclass
class Task:
    """One unit of work: ``kind`` applied to ``partition`` of the ``inputs``."""

    kind: str
    operation: str
    table: str
    partition: int
    inputs: tuple[str, ...]
    output: str | None = None
    out_partitions: int = 0
    func: Any = None
    func2: Any = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Failure:
    """Why a task failed; ``kind`` picks the exception class the driver raises."""

    kind: str  # "task", "key", "serialization", "invalid", "internal"
    message: str
    partition: int
    key_repr: str | None = None
    error_type: str = ""
    error_message: str = ""
    traceback: str = ""
    cause: BaseException | None = None  # inline only: the original exception
    cause_pickled: bytes | None = None  # from a worker process


@dataclasses.dataclass
class ReduceResult:
    has_value: bool
    value: Any


class _UserFailure(Exception):
    """A user function raised ``exc`` while handling ``key``."""

    def __init__(self, exc: BaseException, key: object) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.key = key


class _BadRow(Exception):
    """A user function produced something that is not a ``(key, value)`` pair."""

    def __init__(self, produced: object, key: object) -> None:
        super().__init__("bad row")
        self.produced = produced
        self.key = key


def init_worker() -> None:
    """Worker process initialiser: leave Ctrl-C to the driver."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _short_repr(obj: object, limit: int = 120) -> str:
    try:
        text = repr(obj)
    except Exception as exc:
        text = f"<unprintable {type(obj).__name__}: {exc.__class__.__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resolve(func: Any) -> Any:
    if isinstance(func, bytes):
        return cloudpickle.loads(func)
    return func


# --------------------------------------------------------------------------- entry point


def run_task(task: Task, *, in_worker: bool) -> Any:
    """Run ``task``; return its result or a :class:`Failure` (never raises for data errors)."""
    try:
        for path in task.inputs:
            _storage.refresh_env(path)
        return _KINDS[task.kind](task)
    except _UserFailure as uf:
        exc = uf.exc
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return _failure_from(
            "task", "", task, exc, tb, key_repr=_short_repr(uf.key), in_worker=in_worker
        )
    except _BadRow as bad:
        message = (
            f"{task.operation} on table {task.table!r}: the function must produce "
            f"(key, value) pairs; it produced {_short_repr(bad.produced)} "
            f"(of type {type(bad.produced).__name__}) for key {_short_repr(bad.key)}"
        )
        return Failure("invalid", message, task.partition, key_repr=_short_repr(bad.key))
    except KeyTypeError as exc:
        return Failure("key", str(exc), task.partition)
    except _storage.UnencodableRow as exc:
        message = (
            f"{task.operation} on table {task.table!r}: the row with key "
            f"{_short_repr(exc.key)} cannot be stored: {exc.cause}"
        )
        return _failure_from(
            "serialization",
            message,
            task,
            exc.cause,
            "",
            key_repr=_short_repr(exc.key),
            in_worker=in_worker,
        )
    except Exception as exc:
        tb = traceback.format_exc()
        message = (
            f"{task.operation} on table {task.table!r} failed in partition {task.partition}: "
            f"{type(exc).__name__}: {exc}\n{tb}"
        )
        return _failure_from("internal", message, task, exc, tb, key_repr=None, in_worker=in_worker)


def _failure_from(
    kind: str,
    message: str,
    task: Task,
    exc: BaseException,
    tb: str,
    *,
    key_repr: str | None,
    in_worker: bool,
) -> Failure:
    failure = Failure(
        kind,
        message,
        task.partition,
        key_repr=key_repr,
        error_type=f"{type(exc).__module__}.{type(exc).__qualname__}".removeprefix("builtins."),
        error_message=str(exc),
        traceback=tb,
    )
    if in_worker:
        try:
            exc.__traceback__ = None
            failure.cause_pickled = cloudpickle.dumps(exc)
        except Exception:
            failure.cause_pickled = None
    else:
        failure.cause = exc
    return failure


# --------------------------------------------------------------------------- helpers


def _writer(task: Task) -> _storage.BlockWriter:
    assert task.output is not None
    return _storage.BlockWriter(task.output, task.out_partitions, task.partition)


def _blocks(task: Task, which: int = 0) -> Iterator[tuple[list[Any], list[Any]]]:
    return _storage.iter_blocks(task.inputs[which], task.partition)


def _split_write(
    writer: _storage.BlockWriter, keys: list[Any], values: list[Any], task: Task
) -> None:
    scatter(writer, keys, values, task.out_partitions, task.table, task.operation)


def scatter(
    writer: _storage.BlockWriter,
    keys: list[Any],
    values: list[Any],
    parts: int,
    table: str,
    operation: str,
    hashes: list[np.ndarray] | None = None,
) -> None:
    """Hash ``keys`` to ``parts`` partitions and hand each group of rows to ``writer``.

    If ``hashes`` is a list, the keys' 64-bit hashes are appended to it.
    """
    key_hash_array = key_hashes(keys, table, operation)
    if hashes is not None:
        hashes.append(key_hash_array)
    if parts == 1:
        writer.extend(0, keys, values)
        return
    targets = (key_hash_array % np.uint64(parts)).astype(np.int64)
    order = np.argsort(targets, kind="stable").tolist()
    sizes = np.bincount(targets, minlength=parts).tolist()
    ks = list(map(keys.__getitem__, order))
    vs = list(map(values.__getitem__, order))
    start = 0
    for target, size in enumerate(sizes):
        if size:
            writer.extend(target, ks[start : start + size], vs[start : start + size])
            start += size


def _columns(chunk: list[Any], source_key: Callable[[int], object]) -> tuple[list[Any], list[Any]]:
    """Split produced ``(key, value)`` pairs into two lists, refusing anything else.

    ``source_key(i)`` names the input row that produced ``chunk[i]``, for the error.
    """
    try:
        keys = [k for k, _ in chunk]
    except (TypeError, ValueError):
        for i, item in enumerate(chunk):
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise _BadRow(item, source_key(i)) from None
        raise
    return keys, [v for _, v in chunk]


class _Tracked:
    """The rows of one partition as an iterator that remembers the last key handed out."""

    def __init__(self, blocks: Iterable[tuple[list[Any], list[Any]]]) -> None:
        self.last: object = None
        self._blocks = blocks

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        for keys, values in self._blocks:
            for row in zip(keys, values, strict=True):
                self.last = row[0]
                yield row


# --------------------------------------------------------------------------- kinds


def _apply(func: Callable[..., Any], keys: list[Any], *columns: list[Any]) -> list[Any]:
    """``[func(*row) for row in zip(*columns)]`` at C speed, naming the key of a failing row.

    Relies on ``list.extend`` keeping the items appended before an exception
    (true of CPython; ``test_list_extend_keeps_partial_results`` pins it), so the
    failing row is ``keys[len(out)]`` without counting rows in Python.
    """
    out: list[Any] = []
    try:
        out.extend(map(func, *columns))
    except Exception as exc:
        raise _UserFailure(exc, keys[len(out)]) from exc
    if len(out) != len(columns[0]):
        # ``map`` ends quietly when the function raises StopIteration; never lose rows.
        stopped = RuntimeError("the function raised StopIteration")
        raise _UserFailure(stopped, keys[len(out)]) from None
    return out


def _map_values(task: Task) -> list[int]:
    func = _resolve(task.func)
    writer = _writer(task)
    for keys, values in _blocks(task):
        writer.extend(task.partition, keys, _apply(func, keys, values))
    return writer.close()


def _filter(task: Task) -> list[int]:
    pred = _resolve(task.func)
    writer = _writer(task)
    for keys, values in _blocks(task):
        mask = _apply(pred, keys, keys, values)
        writer.extend(
            task.partition,
            list(itertools.compress(keys, mask)),
            list(itertools.compress(values, mask)),
        )
    return writer.close()


def _sample(task: Task) -> list[int]:
    fraction, seed = task.params["fraction"], task.params["seed"]
    writer = _writer(task)
    for keys, values in _blocks(task):
        mask = sample_mask(keys, fraction, seed).tolist()
        writer.extend(
            task.partition,
            list(itertools.compress(keys, mask)),
            list(itertools.compress(values, mask)),
        )
    return writer.close()


def _load_dict(task: Task, which: int) -> dict[Any, Any]:
    rows: dict[Any, Any] = {}
    for keys, values in _blocks(task, which):
        rows.update(zip(keys, values, strict=True))
    return rows


def _join(task: Task) -> list[int]:
    func = _resolve(task.func)
    writer = _writer(task)
    build_left = task.params["build_left"]
    table = _load_dict(task, 0 if build_left else 1)
    contains = table.__contains__
    lookup = table.__getitem__
    for keys, values in _blocks(task, 1 if build_left else 0):
        mask = list(map(contains, keys))
        common = list(itertools.compress(keys, mask))
        if not common:
            continue
        streamed = list(itertools.compress(values, mask))
        built = list(map(lookup, common))
        if build_left:
            out = _apply(func, common, built, streamed)
        else:
            out = _apply(func, common, streamed, built)
        writer.extend(task.partition, common, out)
    return writer.close()


def _union(task: Task) -> list[int]:
    func = _resolve(task.func)
    rows = _load_dict(task, 0)
    for keys, values in _blocks(task, 1):
        if func is None:
            collections.deque(map(rows.setdefault, keys, values), maxlen=0)  # keep the left value
            continue
        _merge_block(rows, keys, values, func)
    return _write_dict(task, rows)


def _subtract(task: Task) -> list[int]:
    drop: set[Any] = set()
    for keys, _ in _blocks(task, 1):
        drop.update(keys)
    writer = _writer(task)
    for keys, values in _blocks(task, 0):
        keep = [k not in drop for k in keys]
        writer.extend(
            task.partition,
            list(itertools.compress(keys, keep)),
            list(itertools.compress(values, keep)),
        )
    return writer.close()


def _reduce(task: Task) -> ReduceResult:
    func = _resolve(task.func)
    acc: Any = _MISSING
    for keys, values in _blocks(task):
        start = 0
        if acc is _MISSING:
            acc = values[0]
            start = 1
        i = start
        try:
            for i in range(start, len(values)):
                acc = func(acc, values[i])
        except Exception as exc:
            raise _UserFailure(exc, keys[i]) from exc
    if acc is _MISSING:
        return ReduceResult(False, None)
    return ReduceResult(True, acc)


def _flat_map_rows(func: Callable[..., Any], rows: Iterable[tuple[Any, Any]]) -> Iterator[Any]:
    # A generator, not chain(starmap(...)): a StopIteration escaping ``func`` must
    # become an error (PEP 479), not a quiet end of the partition.
    for k, v in rows:
        yield from func(k, v)


def _shuffle_map(task: Task) -> list[int]:
    """Apply the mapper to one source partition and scatter its rows by new key."""
    mode = task.params["mode"]
    writer = _writer(task)
    if mode == "identity":
        for keys, values in _blocks(task):
            _split_write(writer, keys, values, task)
        return writer.close()
    func = _resolve(task.func)
    if mode == "map":
        for keys, values in _blocks(task):
            produced = _apply(func, keys, keys, values)
            new_keys, new_values = _columns(produced, keys.__getitem__)
            _split_write(writer, new_keys, new_values, task)
        return writer.close()

    rows = _Tracked(_blocks(task))
    iterator: Iterator[Any]
    if mode == "flat_map":
        iterator = _flat_map_rows(func, rows)
    else:  # "map_partitions" and "map_reduce"
        try:
            iterator = iter(func(iter(rows)))
        except Exception as exc:
            raise _UserFailure(exc, rows.last) from exc
    if mode == "map_reduce":
        reducer = _resolve(task.func2)
        combined: dict[Any, Any] = {}
        for keys, values in _produced_blocks(iterator, rows):
            _hash_check(keys, task)
            _merge_block(combined, keys, values, reducer)
        _split_write(writer, list(combined), list(combined.values()), task)
        return writer.close()
    for keys, values in _produced_blocks(iterator, rows):
        _split_write(writer, keys, values, task)
    return writer.close()


def _produced_blocks(
    iterator: Iterator[Any], rows: _Tracked
) -> Iterator[tuple[list[Any], list[Any]]]:
    """A user function's output rows in blocks; its failures name the last input key."""
    while True:
        try:
            chunk = list(itertools.islice(iterator, _storage.BLOCK_ROWS))
        except Exception as exc:
            raise _UserFailure(exc, rows.last) from exc
        if not chunk:
            return
        yield _columns(chunk, lambda _: rows.last)


def _hash_check(keys: list[Any], task: Task) -> None:
    """Refuse unhashable-by-partitioner keys before they reach a dict (lists, floats)."""
    partitions_of(keys, 1, task.table, task.operation)


def _shuffle_reduce(task: Task) -> list[int]:
    """Merge the rows scattered to one target partition: last wins, or the reducer."""
    rows: dict[Any, Any] = {}
    if task.func is None:
        for keys, values in _blocks(task):
            rows.update(zip(keys, values, strict=True))
    else:
        reducer = _resolve(task.func)
        for keys, values in _blocks(task):
            _merge_block(rows, keys, values, reducer)
    return _write_dict(task, rows)


def _merge_block(rows: dict[Any, Any], keys: list[Any], values: list[Any], func: Any) -> None:
    """``rows[k] = func(rows[k], v)`` for keys already there, ``rows[k] = v`` for new ones."""
    k = None
    try:
        for k, v in zip(keys, values, strict=True):
            if k in rows:
                rows[k] = func(rows[k], v)
            else:
                rows[k] = v
    except Exception as exc:
        raise _UserFailure(exc, k) from exc


def _write_dict(task: Task, rows: dict[Any, Any]) -> list[int]:
    writer = _writer(task)
    writer.extend(task.partition, list(rows), list(rows.values()))
    return writer.close()


_KINDS: dict[str, Callable[[Task], Any]] = {
    "map_values": _map_values,
    "filter": _filter,
    "sample": _sample,
    "join": _join,
    "union": _union,
    "subtract": _subtract,
    "reduce": _reduce,
    "shuffle_map": _shuffle_map,
    "shuffle_reduce": _shuffle_reduce,
}
