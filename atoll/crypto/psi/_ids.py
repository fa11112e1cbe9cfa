"""Identifiers as PSI sees them: canonical bytes, deduplicated, in first-seen order.

Ids are strings or integers as read from data. Two parties that parsed the same
column differently (``"42"`` on one side, ``42`` on the other) must still match,
so an id is compared by its text: an int by its decimal form, a str as it is.
Everything else (floats, bytes, None) is refused with a message naming the id,
because a float id such as ``1e+20`` has no single textual form.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from atoll.crypto.psi._errors import PSIConfigError

__all__ = ["IdSet", "canonical", "prepare_ids"]

log = logging.getLogger("atoll.crypto.psi")


def canonical(value: Any) -> bytes:
    """The bytes PSI hashes for one id."""
    cls = type(value)
    if cls is str:
        return value.encode("utf-8", "surrogatepass")
    if cls is int:
        return str(value).encode("ascii")
    if isinstance(value, int) and not isinstance(value, bool):  # numpy ints and int subclasses
        return str(int(value)).encode("ascii")
    raise PSIConfigError(
        f"PSI id {value!r} has type {cls.__name__}; ids must be strings or integers"
    )


@dataclasses.dataclass(frozen=True)
class IdSet:
    """Unique ids in first-seen order, with their canonical bytes."""

    ids: list[Any]
    keys: list[bytes]
    duplicates: int

    def __len__(self) -> int:
        return len(self.ids)


def prepare_ids(ids: Iterable[Any], who: str = "this party") -> IdSet:
    """Deduplicate ``ids`` (the first occurrence wins), count and log what was dropped."""
    seen: dict[bytes, Any] = {}
    total = 0
    for value in ids:
        total += 1
        key = canonical(value)
        if key not in seen:
            seen[key] = value
    dropped = total - len(seen)
    if dropped:
        log.warning(
            "PSI at %s: %d duplicate ids dropped (the first occurrence of each is kept)",
            who,
            dropped,
        )
    return IdSet(list(seen.values()), list(seen), dropped)


def sort_key(key: bytes) -> tuple[int, bytes]:
    """The order both parties give the intersection: by length, then bytewise.

    Ordering by the canonical bytes (never by the Python values) makes the
    order identical on every party whatever types each one parsed.
    """
    return (len(key), key)


def ordered(pairs: Sequence[tuple[bytes, Any]]) -> list[Any]:
    return [value for _, value in sorted(pairs, key=lambda kv: sort_key(kv[0]))]
