"""Tag paths: where in a job's structure a message belongs.

Tags are never written by hand. A context starts at the root namespace; each
``ctx.sub("epoch", 3)`` appends one segment, so the same message name in two
iterations travels under two different tag paths (``epoch.3`` and
``epoch.4/batch.0``), and can never be confused.
"""

from __future__ import annotations

import dataclasses
import re

from atoll.federation._errors import UsageError

__all__ = ["Namespace", "check_name"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,127}\Z")


def check_name(name: object, what: str = "message name") -> str:
    """Return ``name`` if it is a valid message or namespace name, else raise UsageError."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(
            f"{what} must be 1-128 characters of letters, digits, '_' or '-', "
            f"starting with a letter or '_'; got {name!r}"
        )
    return name


@dataclasses.dataclass(frozen=True)
class Namespace:
    """An immutable path of (name, index) segments; the root has none."""

    segments: tuple[tuple[str, int | None], ...] = ()

    def child(self, name: str, index: int | None = None) -> Namespace:
        check_name(name, "namespace name")
        if index is not None and (type(index) is not int or index < 0):
            raise UsageError(f"namespace index must be a non-negative int, got {index!r}")
        return Namespace((*self.segments, (name, index)))

    @property
    def path(self) -> str:
        """The tag path as text: ``""`` at the root, else ``epoch.3/batch.0``."""
        return "/".join(n if i is None else f"{n}.{i}" for n, i in self.segments)

    def __str__(self) -> str:
        return self.path or "<root>"
