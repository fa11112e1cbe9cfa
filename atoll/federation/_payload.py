"""Payload bytes: objects as one codec blob, Tables as a stream of row batches.

An object is ``codec.encode(obj)`` cut into chunks. A Table is a stream of
records, one per block of rows of one partition: a 4-byte big-endian body
length, a 4-byte partition number, then the body ``codec.encode([keys,
values])``. A Table that keeps its rows in that form (the standalone backend)
hands over its stored blocks unchanged (``iter_partition_encoded``), so the
sender neither decodes nor re-encodes rows. Records are packed whole into
chunks of at most ``chunk_size`` bytes (a record larger than a chunk is split),
so the sender reads one partition at a time and the receiver writes blocks into
a table writer as they come; neither holds the Table whole.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from typing import Any

from atoll import codec
from atoll.federation._errors import PayloadError
from atoll.federation._tables import TableLike, TableSession

__all__ = ["decode_object", "object_chunks", "read_table", "table_chunks"]

_HEAD = struct.Struct(">II")  # body length, partition
MAX_RECORD = 256 * 1024 * 1024
_MAX_ROWS = 65536


def object_chunks(data: bytes, chunk_size: int) -> Iterator[bytes]:
    if len(data) <= chunk_size:
        yield data
        return
    view = memoryview(data)
    for start in range(0, len(data), chunk_size):
        yield bytes(view[start : start + chunk_size])


def decode_object(chunks: Iterable[bytes], where: str) -> object:
    parts = list(chunks)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    try:
        return codec.decode(data)
    except codec.CodecError as exc:
        raise PayloadError(f"{where}: payload does not decode: {exc}") from exc


def _approx_size(obj: object) -> int:
    if isinstance(obj, bytes | bytearray | str):
        return len(obj) + 8
    nbytes = getattr(obj, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes + 64
    return 32


def _records(table: TableLike, target: int) -> Iterator[bytes]:
    """Each record as one bytes object: head and body, about ``target`` bytes."""
    encoded = getattr(table, "iter_partition_encoded", None)
    for part in range(table.num_partitions):
        if encoded is not None:
            for body in encoded(part):
                yield _HEAD.pack(len(body), part) + body
            continue
        keys: list[Any] = []
        values: list[Any] = []
        size = 0
        for k, v in table.iter_partition(part):
            keys.append(k)
            values.append(v)
            size += (len(v) + 8 if type(v) is bytes else _approx_size(v)) + _approx_size(k)
            if size >= target or len(keys) >= _MAX_ROWS:
                yield _record(part, keys, values)
                keys, values, size = [], [], 0
        if keys:
            yield _record(part, keys, values)


def _record(part: int, keys: list[Any], values: list[Any]) -> bytes:
    try:
        body = codec.encode([keys, values])
    except codec.CodecError as exc:
        raise PayloadError(f"a row of partition {part} cannot be encoded: {exc}") from exc
    return _HEAD.pack(len(body), part) + body


def table_chunks(table: TableLike, chunk_size: int) -> Iterator[bytes]:
    """Pack the table's records into chunks of at most ``chunk_size`` bytes.

    A chunk holds whole records where they fit, so the receiver decodes most
    records straight from the chunk; a record larger than a chunk is split.
    """
    pending: list[bytes | memoryview] = []
    size = 0
    # Aim a record at 3/4 of a chunk, so that most chunks carry one whole record.
    for rec in _records(table, max(chunk_size * 3 // 4, 1024)):
        if size + len(rec) > chunk_size and pending:
            yield _join(pending)
            pending, size = [], 0
        if len(rec) <= chunk_size:
            pending.append(rec)
            size += len(rec)
            continue
        whole = memoryview(rec)
        for start in range(0, len(rec), chunk_size):
            piece = whole[start : start + chunk_size]
            if len(piece) == chunk_size:
                yield bytes(piece)
            else:
                pending, size = [piece], len(piece)
    if pending:
        yield _join(pending)


def _join(pieces: list[bytes | memoryview]) -> bytes:
    if len(pieces) == 1 and isinstance(pieces[0], bytes):
        return pieces[0]
    return b"".join(pieces)


def read_table(
    chunks: Iterable[bytes], num_partitions: int, session: TableSession, where: str
) -> Any:
    """Write the records of a table stream into ``session``'s writer; return the Table."""
    carry = bytearray()  # the start of a record that continues in the next chunk
    with session.writer(num_partitions) as writer:
        for chunk in chunks:
            data: bytes | bytearray
            if carry:
                carry += chunk
                data = carry
            else:
                data = chunk
            pos = _read_records(writer, data, num_partitions, where)
            if data is carry:
                del carry[:pos]
            elif pos < len(data):
                carry = bytearray(memoryview(data)[pos:])
        if carry:
            raise PayloadError(
                f"{where}: table stream ends inside a record ({len(carry)} bytes left)"
            )
        return writer.commit()


def _read_records(writer: Any, data: bytes | bytearray, num_partitions: int, where: str) -> int:
    """Decode every whole record in ``data``; return where the first partial one starts."""
    pos = 0
    end = len(data)
    with memoryview(data) as view:
        while end - pos >= _HEAD.size:
            n, part = _HEAD.unpack_from(view, pos)
            if n > MAX_RECORD:
                raise PayloadError(f"{where}: table record of {n} bytes exceeds {MAX_RECORD}")
            if part >= num_partitions:
                raise PayloadError(
                    f"{where}: table record for partition {part} of a {num_partitions}-partition table"
                )
            start = pos + _HEAD.size
            if end - start < n:
                break
            with view[start : start + n] as body:
                _write_record(writer, body, where)
            pos = start + n
    return pos


def _write_record(writer: Any, body: memoryview, where: str) -> None:
    try:
        record = codec.decode(body)
    except codec.CodecError as exc:
        raise PayloadError(f"{where}: table record does not decode: {exc}") from exc
    if (
        not isinstance(record, list)
        or len(record) != 2
        or not isinstance(record[0], list)
        or not isinstance(record[1], list)
        or len(record[0]) != len(record[1])
    ):
        raise PayloadError(f"{where}: malformed table record")
    writer.put_all(zip(record[0], record[1], strict=True))
