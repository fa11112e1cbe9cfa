"""``read_frame``: a CSV or Parquet file to a :class:`~atoll.ml.data.Frame` and a report.

The file is read once, in blocks: each block's numbers are parsed together and checked
(missing cells, NaN, infinity) before the next is read, so the first bad cell stops the read
with its line and column. Ids, duplicates and binary labels are settled at the end, over
the rows kept. Nothing is written: :func:`read_frame` returns or raises.
"""

from __future__ import annotations

import gc
import re
from collections import Counter
from pathlib import Path
from typing import Any, cast

import numpy as np

from atoll.ml.data import Frame
from atoll.ml.reader._numbers import parse_text
from atoll.ml.reader._params import ID_NAMES, LABEL_NAMES, ReaderError, ReaderParams, where
from atoll.ml.reader._report import ReadReport
from atoll.ml.reader._sources import Block, Columns, CsvSource, ParquetSource, Source

__all__ = ["read_frame"]

_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]*")
_INT64 = 2**63
_EXAMPLES = 5


def read_frame(path: str | Path, params: ReaderParams | None = None) -> tuple[Frame, ReadReport]:
    """Read ``path`` as ``params`` say (see :class:`ReaderParams`); raises :class:`ReaderError`."""
    params = ReaderParams() if params is None else params
    p = Path(path)
    fmt = _format(p, params)
    if not p.exists():
        raise ReaderError(f"{p}: file not found")
    if not p.is_file():
        raise ReaderError(f"{p}: not a file")
    # the csv module makes millions of short-lived lists and strings; the cyclic collector
    # would walk them again and again (about a fifth of the time) and finds nothing to free
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        source: Source = CsvSource(p, params) if fmt == "csv" else ParquetSource(p, params)
        with source:
            cols = _columns(source, p, params)
            asm = _Assembler(p, params, cols, source.unit)
            for block in source.blocks(cols):
                asm.add(block)
        return asm.finish(fmt)
    except OSError as exc:  # permission denied, a disk error, ...
        raise ReaderError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    finally:
        if gc_was_on:
            gc.enable()


def _format(p: Path, params: ReaderParams) -> str:
    if params.format != "auto":
        return params.format
    suffix = p.suffix.lower()
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    raise ReaderError(
        f"{p}: cannot tell the format from the extension {suffix!r} (CSV: {_CSV_SUFFIXES}, "
        f"Parquet: {_PARQUET_SUFFIXES}); set ReaderParams.format"
    )


def _columns(source: Source, path: Path, params: ReaderParams) -> Columns:
    """Which header positions are the id, the label and the features."""
    line = source.header_line
    header = [h.strip() for h in source.header]
    for j, h in enumerate(header):
        if not h:
            raise ReaderError(
                f"{where(path, line, unit=source.unit)}: header column {j + 1} has no name"
            )
    seen: dict[str, int] = {}
    for j, h in enumerate(header):
        if h in seen:
            raise ReaderError(
                f"{where(path, line, h, source.unit)}: the name appears twice in the header "
                f"(columns {seen[h] + 1} and {j + 1})"
            )
        seen[h] = j
    if line is not None and _all_numbers(header):
        raise ReaderError(
            f"{where(path, line)}: no header: the first line looks like data ({header[:5]}...); "
            "the file needs a header line naming its columns"
        )

    def position(name: str, param: str) -> int:
        if name not in seen:
            raise ReaderError(
                f"{where(path, line, name, source.unit)}: ReaderParams.{param} names a column "
                f"that is not in the header {header}"
            )
        return seen[name]

    if params.id_column is not None:
        id_pos = position(params.id_column.strip(), "id_column")
    else:
        found = [j for j, h in enumerate(header) if h.lower() in ID_NAMES]
        if not found:
            raise ReaderError(
                f"{where(path, line, unit=source.unit)}: no id column: none of the header "
                f"{header} is named {' / '.join(ID_NAMES)}; set ReaderParams.id_column"
            )
        id_pos = found[0]
    label_pos: int | None = None
    if params.label_column == "auto":
        found = [j for j, h in enumerate(header) if h.lower() in LABEL_NAMES and j != id_pos]
        label_pos = found[0] if found else None
    elif params.label_column is not None:
        label_pos = position(params.label_column.strip(), "label_column")
        if label_pos == id_pos:
            raise ReaderError(
                f"{where(path, line, header[id_pos], source.unit)}: the id column cannot be the label"
            )
    special = {id_pos, label_pos}
    if params.feature_columns is not None:
        features = [position(c.strip(), "feature_columns") for c in params.feature_columns]
        for j in features:
            if j in special:
                role = "id" if j == id_pos else "label"
                raise ReaderError(
                    f"{where(path, line, header[j], source.unit)}: ReaderParams.feature_columns "
                    f"names the {role} column"
                )
    else:
        features = [j for j in range(len(header)) if j not in special]
    excluded = {position(c.strip(), "exclude_columns") for c in params.exclude_columns}
    clash = sorted(j for j in excluded if j in special)
    if clash:
        j = clash[0]
        raise ReaderError(
            f"{where(path, line, header[j], source.unit)}: ReaderParams.exclude_columns names "
            f"the {'id' if j == id_pos else 'label'} column"
        )
    features = [j for j in features if j not in excluded]
    source.header = header
    return Columns(
        header=header,
        id=id_pos,
        label=label_pos,
        features=features,
        numeric_label=label_pos is not None and params.task != "binary",
    )


def _all_numbers(cells: list[str]) -> bool:
    for c in cells:
        try:
            parse_text(c)
        except ValueError:
            return False
    return True


class _Assembler:
    """Checks each block as it comes, keeps its good rows, and makes the frame at the end."""

    def __init__(self, path: Path, params: ReaderParams, cols: Columns, unit: str) -> None:
        self.path = path
        self.params = params
        self.cols = cols
        self.unit = unit
        self.names = cols.numeric_names
        self.n_features = len(cols.features)
        self.id_name = cols.header[cols.id]
        self.label_name = None if cols.label is None else cols.header[cols.label]
        self.rows_read = 0
        self.dropped_missing = 0
        self.filled = np.zeros(self.n_features, dtype=np.int64)
        self.ids: list[str] = []
        self.lines: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.label_texts: list[str] = []

    def _where(self, line: Any, column: str | None) -> str:
        return where(self.path, int(line), column, self.unit)

    def add(self, b: Block) -> None:
        n = len(b.ids)
        self.rows_read += n
        for i, v in enumerate(b.ids):
            if v is None or not v.strip():
                raise ReaderError(f"{self._where(b.lines[i], self.id_name)}: the id is empty")
        policy = self.params.missing
        x, miss = b.values, b.missing
        k = x.shape[1]
        label_col = self.n_features if self.cols.numeric_label else None
        # cells that stop the read, in file order
        bad = np.isnan(x) & ~miss
        inf = np.isinf(x)
        if not self.params.allow_inf:
            bad |= inf
        elif label_col is not None:
            bad[:, label_col] |= inf[:, label_col]
        if policy == "error":
            bad |= miss
        elif policy == "fill" and label_col is not None:
            bad[:, label_col] |= miss[:, label_col]
        label_missing = (
            np.array([t is None for t in b.label_texts], dtype=bool)
            if b.label_texts is not None
            else np.zeros(n, dtype=bool)
        )
        stop_label = label_missing if policy != "drop_row" else np.zeros(n, dtype=bool)
        if bad.any() or stop_label.any():
            self._raise_first(b, bad, stop_label)
        keep = np.ones(n, dtype=bool)
        if policy == "drop_row":
            keep = ~(miss.any(axis=1) | label_missing)
        elif policy == "fill" and k:
            fm = miss[:, : self.n_features]
            if fm.any():
                self.filled += fm.sum(axis=0)
                feats = x[:, : self.n_features]
                feats[fm] = self.params.fill_value
        self.dropped_missing += int(n - keep.sum())
        ids = cast(list[str], b.ids)  # checked non-empty above
        labels = cast(list[str], b.label_texts or [])  # missing ones are dropped or raised
        if keep.all():
            self.ids.extend(ids)
            self.lines.append(b.lines)
            self.values.append(x)
            self.label_texts.extend(labels)
        else:
            rows = np.flatnonzero(keep).tolist()
            self.ids.extend(ids[i] for i in rows)
            self.lines.append(b.lines[rows])
            self.values.append(x[rows])
            if labels:
                self.label_texts.extend(labels[i] for i in rows)

    def _raise_first(self, b: Block, bad: np.ndarray, label_missing: np.ndarray) -> None:
        cell_rows = np.flatnonzero(bad.any(axis=1))
        label_rows = np.flatnonzero(label_missing)
        r_cell = int(cell_rows[0]) if cell_rows.size else len(b.ids)
        r_label = int(label_rows[0]) if label_rows.size else len(b.ids)
        if r_label <= r_cell:
            assert self.label_name is not None
            raise ReaderError(
                f"{self._where(b.lines[r_label], self.label_name)}: {self._missing_label_text()}"
            )
        c = int(np.flatnonzero(bad[r_cell])[0])
        text = b.text_at(r_cell, c)
        loc = self._where(b.lines[r_cell], self.names[c])
        is_label = self.cols.numeric_label and c == self.n_features
        v = b.values[r_cell, c]
        if b.missing[r_cell, c]:
            if is_label:
                raise ReaderError(
                    f"{loc}: the label is missing ({text!r}); {self._missing_label_hint()}"
                )
            raise ReaderError(
                f"{loc}: missing value {text!r} (ReaderParams.missing='error'; use 'fill' or 'drop_row')"
            )
        if np.isnan(v):
            raise ReaderError(
                f"{loc}: {text!r} is NaN, which is not allowed (add it to "
                "ReaderParams.missing_values to read it as missing)"
            )
        if is_label:
            raise ReaderError(f"{loc}: the label {text!r} is infinite; labels must be finite")
        raise ReaderError(
            f"{loc}: {text!r} is infinite; set ReaderParams.allow_inf=True to keep it"
        )

    def _missing_label_hint(self) -> str:
        if self.params.missing == "fill":
            return "fill_value is for features only; use missing='drop_row' to drop such rows"
        return "use missing='drop_row' to drop such rows"

    def _missing_label_text(self) -> str:
        return f"the label is missing; {self._missing_label_hint()}"

    # -- the end -----------------------------------------------------------------------------
    def finish(self, fmt: str) -> tuple[Frame, ReadReport]:
        if self.rows_read == 0:
            head = " (only a header)" if self.unit == "line" else ""
            raise ReaderError(f"{self.path}: no data rows{head}")
        if not self.ids:
            raise ReaderError(
                f"{self.path}: every one of the {self.rows_read} rows was dropped for missing values "
                "(ReaderParams.missing='drop_row')"
            )
        lines = np.concatenate(self.lines)
        x = np.concatenate(self.values) if self.values else np.empty((0, len(self.names)))
        ids = self.ids
        keep, dup_report = self._duplicates(ids, lines)
        if keep is not None:
            ids = [ids[i] for i in keep.tolist()]
            lines = lines[keep]
            x = x[keep]
            self.label_texts = (
                [self.label_texts[i] for i in keep.tolist()] if self.label_texts else []
            )
            if not ids:
                raise ReaderError(
                    f"{self.path}: every row has a repeated id (ReaderParams.duplicate_ids='drop_all')"
                )
        out_ids, id_type = self._id_values(ids, lines)
        label: np.ndarray | None = None
        mapping: dict[str, int] | None = None
        counts: dict[str, int] | None = None
        if self.label_name is not None:
            if self.cols.numeric_label:
                label = x[:, self.n_features].copy()
                values, n = np.unique(label, return_counts=True)
                if values.size <= 20:
                    counts = {
                        _fmt(v): int(c) for v, c in zip(values.tolist(), n.tolist(), strict=True)
                    }
            else:
                label, mapping = self._binary(self.label_texts, lines)
                counts = {"0": int((label == 0).sum()), "1": int((label == 1).sum())}
        features = np.ascontiguousarray(x[:, : self.n_features])
        frame = Frame(
            ids=out_ids,
            features=features,
            columns=self.names[: self.n_features],
            label=label,
            id_name=self.id_name,
            label_name=self.label_name,
            name=str(self.path),
        )
        used = {self.cols.id, self.cols.label, *self.cols.features}
        report = ReadReport(
            path=str(self.path),
            format=fmt,
            rows_read=self.rows_read,
            rows_kept=len(out_ids),
            id_column=self.id_name,
            id_type=id_type,
            label_column=self.label_name,
            feature_columns=list(frame.columns),
            ignored_columns=[h for j, h in enumerate(self.cols.header) if j not in used],
            dropped_rows={
                "missing_value": self.dropped_missing,
                "duplicate_id": int(dup_report.get("dropped", 0)),
            },
            duplicate_ids=dup_report,
            missing_filled={
                c: int(n) for c, n in zip(frame.columns, self.filled.tolist(), strict=True) if n
            },
            label_counts=counts,
            label_mapping=mapping,
        )
        return frame, report

    def _duplicates(
        self, ids: list[str], lines: np.ndarray
    ) -> tuple[np.ndarray | None, dict[str, Any]]:
        policy = self.params.duplicate_ids
        if len(set(ids)) == len(ids):
            return None, {"policy": policy, "ids": 0, "rows": 0, "dropped": 0, "examples": []}
        first: dict[str, int] = {}
        for i, v in enumerate(ids):
            if v in first:
                if policy == "error":
                    raise ReaderError(
                        f"{self._where(lines[i], self.id_name)}: id {v!r} repeats the id of "
                        f"{self.unit} {int(lines[first[v]])} (ReaderParams.duplicate_ids='error'; "
                        "use 'keep_first' or 'drop_all')"
                    )
            else:
                first[v] = i
        count = Counter(ids)
        repeated = {v for v, c in count.items() if c > 1}
        if policy == "keep_first":
            keep = np.array(sorted(first.values()), dtype=np.int64)
        else:
            keep = np.array([i for i, v in enumerate(ids) if v not in repeated], dtype=np.int64)
        examples: list[dict[str, Any]] = []
        where_lines: dict[str, list[int]] = {}
        for i, v in enumerate(ids):
            if v in repeated and (v in where_lines or len(where_lines) < _EXAMPLES):
                where_lines.setdefault(v, []).append(int(lines[i]))
        for v, ls in where_lines.items():
            examples.append({"id": v, f"{self.unit}s": ls})
        return keep, {
            "policy": policy,
            "ids": len(repeated),
            "rows": sum(count[v] for v in repeated),
            "dropped": len(ids) - int(keep.size),
            "examples": examples,
        }

    def _id_values(self, ids: list[str], lines: np.ndarray) -> tuple[list[Any], str]:
        want = self.params.id_type
        if want == "str":
            return ids, "str"
        for i, v in enumerate(ids):
            if not _CANONICAL_INT.fullmatch(v) or abs(int(v)) >= _INT64:
                if want == "auto":
                    return ids, "str"
                raise ReaderError(
                    f"{self._where(lines[i], self.id_name)}: id {v!r} is not a canonical 64-bit "
                    "integer (ReaderParams.id_type='int'; use 'str' or 'auto')"
                )
        return [int(v) for v in ids], "int"

    def _binary(self, texts: list[str], lines: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
        """0/1 labels from the label texts, and which text became which."""
        assert self.label_name is not None
        first: dict[str, int] = {}
        for i, t in enumerate(texts):
            if t not in first:
                first[t] = i
        params = self.params

        def loc(t: str) -> str:
            return self._where(lines[first[t]], self.label_name)

        mapping: dict[str, int] = {}
        if params.label_mapping is not None:
            for t in first:
                if t not in params.label_mapping:
                    raise ReaderError(
                        f"{loc(t)}: label {t!r} is not in ReaderParams.label_mapping "
                        f"{dict(params.label_mapping)}"
                    )
                mapping[t] = int(params.label_mapping[t])
        elif params.positive_label is not None:
            others = [t for t in first if t != params.positive_label]
            if len(others) > 1:
                raise ReaderError(
                    f"{loc(others[1])}: label {others[1]!r} is a third value (positive "
                    f"{params.positive_label!r}, negative {others[0]!r}); task='binary' needs two"
                )
            mapping = {t: int(t == params.positive_label) for t in first}
        else:
            value_first: dict[float, str] = {}
            for t in first:
                try:
                    v = parse_text(t)
                except ValueError:
                    raise ReaderError(
                        f"{loc(t)}: label {t!r} is not a number; give ReaderParams.label_mapping "
                        "or positive_label for text labels"
                    ) from None
                if v not in value_first:
                    if len(value_first) == 2:
                        a, b = value_first.values()
                        raise ReaderError(
                            f"{loc(t)}: label {t!r} is a third value (after {a!r} and {b!r}); "
                            "task='binary' needs exactly two"
                        )
                    value_first[v] = t
            vals = set(value_first)
            if vals <= {0.0, 1.0}:
                mapping = {t: int(parse_text(t)) for t in first}
            elif vals <= {-1.0, 1.0}:
                mapping = {t: int(parse_text(t) == 1.0) for t in first}
            else:
                odd = (
                    next(t for v, t in value_first.items() if v not in (0.0, 1.0, -1.0))
                    if vals
                    - {
                        0.0,
                        1.0,
                        -1.0,
                    }
                    else next(iter(value_first.values()))
                )
                raise ReaderError(
                    f"{loc(odd)}: binary labels must be 0/1 or -1/1, got "
                    f"{sorted(value_first.values())}; give ReaderParams.label_mapping"
                )
        if len(set(mapping.values())) < 2:
            raise ReaderError(
                f"{where(self.path, column=self.label_name)}: task='binary' needs two label values, "
                f"found only {sorted(first)}"
            )
        label = np.fromiter((mapping[t] for t in texts), dtype=np.float64, count=len(texts))
        return label, mapping


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))
