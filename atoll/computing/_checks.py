"""Checks every backend shares: partition counts, saved Tables' names and their metadata."""

from __future__ import annotations

import re
from typing import Any

from atoll.codec import CodecError, decode
from atoll.computing._errors import ComputingError, InvalidArgumentError

__all__ = ["META_FORMAT", "check_partitions", "check_table_name", "parse_saved_meta"]

#: Version of the metadata record a saved Table carries (both backends write the same one).
META_FORMAT = 1

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}")


def check_table_name(what: str, value: object) -> str:
    """Validate a namespace or name: it becomes a directory name."""
    if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
        raise InvalidArgumentError(
            f"{what} {value!r} is not allowed: use 1 to 200 letters, digits, '_', '.' or '-', "
            "not starting with '.' or '-'"
        )
    return value


def check_partitions(value: object, what: str = "partitions") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"{what} must be an int >= 1, got {value!r}")
    if value >= 1 << 31:
        raise InvalidArgumentError(f"{what} must be below 2**31, got {value!r}")
    return value


def parse_saved_meta(raw: bytes, namespace: str, name: str, meta_path: str) -> dict[str, Any]:
    """A saved Table's metadata record, checked: its format, its partition counts and the
    partitioner it was written with (errors name the table and the file)."""
    # imported here: the standalone package imports this module while it initialises
    from atoll.computing.standalone._partitioner import PARTITIONER_VERSION

    try:
        meta = decode(raw)
    except CodecError as exc:
        raise ComputingError(
            f"saved table {namespace}/{name}: {meta_path} is corrupt: {exc}"
        ) from exc
    if (
        not isinstance(meta, dict)
        or meta.get("format") != META_FORMAT
        or not isinstance(meta.get("counts"), list)
        or meta.get("partitions") != len(meta["counts"])
    ):
        raise ComputingError(
            f"saved table {namespace}/{name}: {meta_path} is not a metadata record of "
            f"format {META_FORMAT}"
        )
    if meta.get("partitioner") != PARTITIONER_VERSION:
        raise ComputingError(
            f"saved table {namespace}/{name} was written with partitioner version "
            f"{meta.get('partitioner')!r}; this Atoll reads version {PARTITIONER_VERSION}"
        )
    return meta
