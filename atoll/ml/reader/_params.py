"""The reader's parameters and its one error type."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "DEFAULT_MISSING",
    "ID_NAMES",
    "LABEL_NAMES",
    "ReaderError",
    "ReaderParams",
    "where",
]

DEFAULT_MISSING: tuple[str, ...] = ("", "NA", "NaN", "nan", "null", "None", "?")
# column names tried, case-insensitively and in header order, when the id column is inferred
ID_NAMES = ("id", "sid", "uid", "sample_id")
# ... and for the label when ``label_column='auto'``
LABEL_NAMES = ("y", "label", "target")

MISSING_POLICIES = ("error", "fill", "drop_row")
DUPLICATE_POLICIES = ("error", "keep_first", "drop_all")
TASKS = ("binary", "regression", None)
ID_TYPES = ("str", "int", "auto")
FORMATS = ("auto", "csv", "parquet")


class ReaderError(ValueError):
    """A file could not be read into a frame; the message names the file (and line, column)."""


def where(
    path: Path | str, line: int | None = None, column: str | None = None, unit: str = "line"
) -> str:
    """``file, line 7, column 'x3'``: the place an error message starts with."""
    out = str(path)
    if line is not None:
        out += f", {unit} {line}"
    if column is not None:
        out += f", column {column!r}"
    return out


def _names(value: Sequence[str] | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise ValueError(
            f"ReaderParams.{what} must be a list of column names, not the string {value!r}"
        )
    out = tuple(value)
    for v in out:
        if not isinstance(v, str) or not v:
            raise ValueError(f"ReaderParams.{what}: {v!r} is not a column name")
    dup = sorted({v for v in out if out.count(v) > 1})
    if dup:
        raise ValueError(f"ReaderParams.{what} names {dup} more than once")
    return out


@dataclasses.dataclass(frozen=True)
class ReaderParams:
    """How a CSV or Parquet file becomes a :class:`~atoll.ml.data.Frame`.

    Columns
        ``id_column``: the sample ids; ``None`` infers it as the first header column named
        ``id``, ``sid``, ``uid`` or ``sample_id`` (any case). ``label_column``: ``None`` means
        the file has no label; ``'auto'`` takes the first column named ``y``, ``label`` or
        ``target`` (any case) and reads no label when there is none. ``feature_columns``:
        ``None`` means every other column, in header order; otherwise these, in this order.
        ``exclude_columns`` are left out either way. Header names are stripped of spaces.

    Cells
        A feature or label cell that, stripped of spaces, is one of ``missing_values`` is
        missing. ``missing``: ``'error'`` (default) stops at the first one; ``'fill'`` puts
        ``fill_value`` in feature cells (a missing *label* is still an error); ``'drop_row'``
        drops the row. A number that is NaN (e.g. ``NAN`` when it is not a marker) is an
        error; infinity is one unless ``allow_inf``.

    Ids
        Read as text, kept verbatim (an empty or blank id is an error). ``id_type``:
        ``'str'`` (default) keeps them as text; ``'int'`` requires canonical decimal
        integers (``12``, ``-3``; not ``012``, ``+3`` or `` 3``) within 64 bits;
        ``'auto'`` makes them ints when every id is such an integer. ``duplicate_ids``:
        ``'error'`` (default), ``'keep_first'`` or ``'drop_all'`` (every row of a repeated id).

    Label
        ``task='binary'``: exactly two values, 0/1 or -1/1 (-1 becomes 0), or text labels
        given by ``label_mapping`` (text -> 0 or 1) or ``positive_label`` (that text -> 1, the
        one other value -> 0). ``'regression'`` or ``None``: any finite number.

    File
        ``format='auto'`` goes by the extension (``.csv``/``.txt``/``.tsv`` -> CSV,
        ``.parquet``/``.pq`` -> Parquet). ``delimiter``: ``None`` is a tab for ``.tsv``, else a
        comma. CSV needs a header line; quoting follows Python's ``csv`` module; blank lines
        are skipped; a UTF-8 byte-order mark is tolerated.
    """

    id_column: str | None = None
    label_column: str | None = None
    feature_columns: Sequence[str] | None = None
    exclude_columns: Sequence[str] = ()
    missing_values: Sequence[str] = DEFAULT_MISSING
    missing: str = "error"
    fill_value: float = 0.0
    allow_inf: bool = False
    duplicate_ids: str = "error"
    task: str | None = None
    label_mapping: Mapping[str, int] | None = None
    positive_label: str | None = None
    id_type: str = "str"
    delimiter: str | None = None
    encoding: str = "utf-8"
    format: str = "auto"

    def __post_init__(self) -> None:
        for name in ("id_column", "label_column"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, str) or not v.strip()):
                raise ValueError(f"ReaderParams.{name} must be a column name or None, got {v!r}")
        object.__setattr__(self, "feature_columns", _names(self.feature_columns, "feature_columns"))
        object.__setattr__(
            self, "exclude_columns", _names(self.exclude_columns, "exclude_columns") or ()
        )
        if isinstance(self.missing_values, str):
            raise ValueError("ReaderParams.missing_values must be a list of strings, not a string")
        markers = tuple(self.missing_values)
        if not all(isinstance(m, str) for m in markers):
            raise ValueError(f"ReaderParams.missing_values must be strings, got {list(markers)!r}")
        object.__setattr__(self, "missing_values", tuple(dict.fromkeys(m.strip() for m in markers)))
        if self.missing not in MISSING_POLICIES:
            raise ValueError(
                f"ReaderParams.missing must be one of {MISSING_POLICIES}, got {self.missing!r}"
            )
        if isinstance(self.fill_value, bool) or not isinstance(self.fill_value, int | float):
            raise ValueError(f"ReaderParams.fill_value must be a number, got {self.fill_value!r}")
        fill = float(self.fill_value)
        if fill != fill or (abs(fill) == float("inf") and not self.allow_inf):
            raise ValueError(f"ReaderParams.fill_value must be finite, got {self.fill_value!r}")
        object.__setattr__(self, "fill_value", fill)
        if not isinstance(self.allow_inf, bool):
            raise ValueError(
                f"ReaderParams.allow_inf must be True or False, got {self.allow_inf!r}"
            )
        if self.duplicate_ids not in DUPLICATE_POLICIES:
            raise ValueError(
                f"ReaderParams.duplicate_ids must be one of {DUPLICATE_POLICIES}, got {self.duplicate_ids!r}"
            )
        if self.task not in TASKS:
            raise ValueError(f"ReaderParams.task must be one of {TASKS}, got {self.task!r}")
        if self.task is not None and self.label_column is None:
            raise ValueError(f"ReaderParams.task is {self.task!r} but label_column is None")
        self._check_label_values()
        if self.id_type not in ID_TYPES:
            raise ValueError(
                f"ReaderParams.id_type must be one of {ID_TYPES}, got {self.id_type!r}"
            )
        if self.delimiter is not None and (
            not isinstance(self.delimiter, str)
            or len(self.delimiter) != 1
            or self.delimiter in '"\r\n'
        ):
            raise ValueError(
                f"ReaderParams.delimiter must be one character (not a quote or newline), got {self.delimiter!r}"
            )
        if not isinstance(self.encoding, str) or not self.encoding:
            raise ValueError(
                f"ReaderParams.encoding must be an encoding name, got {self.encoding!r}"
            )
        try:
            "".encode(self.encoding)
        except LookupError:
            raise ValueError(
                f"ReaderParams.encoding {self.encoding!r} is not a known encoding"
            ) from None
        if self.format not in FORMATS:
            raise ValueError(f"ReaderParams.format must be one of {FORMATS}, got {self.format!r}")

    def _check_label_values(self) -> None:
        if self.label_mapping is not None and self.positive_label is not None:
            raise ValueError("ReaderParams: give label_mapping or positive_label, not both")
        for name in ("label_mapping", "positive_label"):
            if getattr(self, name) is not None and self.task != "binary":
                raise ValueError(
                    f"ReaderParams.{name} applies to task='binary' only (task is {self.task!r})"
                )
            if getattr(self, name) is not None and self.label_column is None:
                raise ValueError(f"ReaderParams.{name} is set but label_column is None")
        if self.positive_label is not None and not isinstance(self.positive_label, str):
            raise ValueError(
                f"ReaderParams.positive_label must be a string, got {self.positive_label!r}"
            )
        if self.positive_label is not None:
            object.__setattr__(self, "positive_label", self.positive_label.strip())
        if self.label_mapping is not None:
            if not isinstance(self.label_mapping, Mapping):
                raise ValueError(
                    f"ReaderParams.label_mapping must be a dict, got {self.label_mapping!r}"
                )
            mapping: dict[str, int] = {}
            for k, v in self.label_mapping.items():
                if not isinstance(k, str) or isinstance(v, bool) or v not in (0, 1):
                    raise ValueError(
                        f"ReaderParams.label_mapping maps label text to 0 or 1; got {k!r}: {v!r}"
                    )
                mapping[k.strip()] = int(v)
            if set(mapping.values()) != {0, 1}:
                raise ValueError(
                    f"ReaderParams.label_mapping must map some text to 0 and some to 1, got {mapping}"
                )
            object.__setattr__(self, "label_mapping", mapping)
