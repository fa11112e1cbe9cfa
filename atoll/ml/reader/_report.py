"""What reading a file did: rows read and kept, why rows were dropped, what was filled."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["ReadReport"]


@dataclasses.dataclass(frozen=True)
class ReadReport:
    """The account of one :func:`~atoll.ml.reader.read_frame` call.

    ``rows_read`` counts data rows (not the header, not blank lines); ``dropped_rows`` maps a
    reason (``missing_value``, ``duplicate_id``) to a row count; ``duplicate_ids`` says how
    many ids repeated, what the policy did and the first few (``examples``: id and the lines
    or rows it is on); ``missing_filled`` counts filled cells per column; ``label_counts``
    counts each label value (binary labels after mapping; for other tasks only when there
    are at most 20 distinct values); ``label_mapping`` says which text became 0 and 1.
    """

    path: str
    format: str
    rows_read: int
    rows_kept: int
    id_column: str
    id_type: str
    label_column: str | None
    feature_columns: list[str]
    ignored_columns: list[str]
    dropped_rows: dict[str, int]
    duplicate_ids: dict[str, Any]
    missing_filled: dict[str, int]
    label_counts: dict[str, int] | None
    label_mapping: dict[str, int] | None

    @property
    def missing_cells_filled(self) -> int:
        return sum(self.missing_filled.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, int, list, dict, None) that ``json.dumps`` takes as is."""
        return {
            "path": self.path,
            "format": self.format,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "columns": {
                "id": self.id_column,
                "label": self.label_column,
                "features": list(self.feature_columns),
                "ignored": list(self.ignored_columns),
            },
            "id_type": self.id_type,
            "dropped_rows": dict(self.dropped_rows),
            "duplicate_ids": _plain(self.duplicate_ids),
            "missing_cells_filled": self.missing_cells_filled,
            "missing_filled": dict(self.missing_filled),
            "label_counts": None if self.label_counts is None else dict(self.label_counts),
            "label_mapping": None if self.label_mapping is None else dict(self.label_mapping),
        }


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v
