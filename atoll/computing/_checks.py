"""Argument checks every backend shares: partition counts, and saved Tables' names."""

from __future__ import annotations

import re

from atoll.computing._errors import InvalidArgumentError

__all__ = ["check_partitions", "check_table_name"]

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
