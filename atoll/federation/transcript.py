"""Transcripts: a record of every put and get, per party.

When a job enables its transcript, each ``put`` and each ``get`` appends one
:class:`TranscriptRecord` (job, recording party, operation, source, destination,
message name, tag path, a short summary of the payload type, and its size in
bytes on the wire). Tests and auditors use it to show what each party did and
did not receive.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["Transcript", "TranscriptRecord", "summarize"]


@dataclasses.dataclass(frozen=True)
class TranscriptRecord:
    job_id: str
    party: str  # who recorded it, e.g. "guest 9999"
    op: str  # "put" or "get"
    source: str
    destination: str
    name: str
    tag: str
    summary: str
    nbytes: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Transcript:
    """A thread-safe, append-only list of records, shareable between parties."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[TranscriptRecord] = []

    def append(self, record: TranscriptRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(
        self,
        *,
        party: str | None = None,
        op: str | None = None,
        name: str | None = None,
        job_id: str | None = None,
    ) -> list[TranscriptRecord]:
        """The records, optionally filtered by recording party, operation, name or job."""
        with self._lock:
            out = list(self._records)
        return [
            r
            for r in out
            if (party is None or r.party == party)
            and (op is None or r.op == op)
            and (name is None or r.name == name)
            and (job_id is None or r.job_id == job_id)
        ]

    def received(self, party: str) -> list[TranscriptRecord]:
        """Everything ``party`` received (its ``get`` records)."""
        return self.records(party=party, op="get")

    def __iter__(self) -> Iterator[TranscriptRecord]:
        return iter(self.records())

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def to_jsonl(self, path: str | Path) -> None:
        """Write one JSON object per line."""
        with open(path, "w", encoding="utf-8") as f:
            for r in self.records():
                f.write(json.dumps(r.to_dict(), sort_keys=True) + "\n")


def summarize(obj: object) -> str:
    """A short, content-free description of a payload's type and shape.

    ``ndarray float64 (569, 10)``, ``PaillierVector[569]``, ``Table[4 partitions]``,
    ``list[3]``, ``int``. An object may describe itself with a
    ``transcript_summary()`` method; the summary never includes values.
    """
    custom = getattr(obj, "transcript_summary", None)
    if callable(custom):
        return str(custom())
    shape = getattr(obj, "shape", None)
    dtype = getattr(obj, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(obj).__name__} {dtype} {tuple(shape)}"
    parts = getattr(obj, "num_partitions", None)
    if isinstance(parts, int) and callable(getattr(obj, "iter_partition", None)):
        return f"{type(obj).__name__}[{parts} partitions]"
    if isinstance(obj, str | bytes | bytearray):
        return f"{type(obj).__name__}[{len(obj)}]"
    if isinstance(obj, int | float | bool) or obj is None:
        return type(obj).__name__
    try:
        n = len(obj)  # type: ignore[arg-type]
    except TypeError:
        return type(obj).__name__
    return f"{type(obj).__name__}[{n}]"
