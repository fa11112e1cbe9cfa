"""Where the cells come from: a CSV file (Python's ``csv`` module) or a Parquet file.

Both give the header and then blocks of rows: their line (CSV, header = line 1) or row
(Parquet, first data row = row 1) numbers, the id texts, the numeric columns parsed to
float64 with a missing mask, and the label texts when the label is a binary class.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import itertools
import operator
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyarrow as pa

from atoll.ml.reader._numbers import NotANumber, join_cells, parse_cells, parse_text
from atoll.ml.reader._params import ReaderError, ReaderParams, where

__all__ = ["Block", "Columns", "CsvSource", "ParquetSource", "Source"]

# cells per block: big enough that per-block costs vanish; CSV rows are Python lists of
# strings (about 60 bytes a cell), Parquet columns are Arrow arrays (8 bytes a cell)
_BLOCK_CELLS = 300_000
_PARQUET_BLOCK_CELLS = 4_000_000


@dataclasses.dataclass
class Columns:
    """The header positions the frame is made of."""

    header: list[str]
    id: int
    label: int | None
    features: list[int]
    numeric_label: bool  # the label is parsed as a number, after the features

    @property
    def numeric(self) -> list[int]:
        return self.features + (
            [self.label] if self.numeric_label and self.label is not None else []
        )

    @property
    def numeric_names(self) -> list[str]:
        return [self.header[j] for j in self.numeric]


@dataclasses.dataclass
class Block:
    """Rows ``lines`` (line or row numbers) of the file, parsed."""

    lines: np.ndarray
    ids: list[str | None]
    values: np.ndarray  # (rows, len(columns.numeric)), NaN where missing
    missing: np.ndarray  # same shape, bool
    label_texts: list[str | None] | None  # binary labels, stripped; None where missing
    text_at: Callable[[int, int], str]  # (row in block, numeric column) -> the cell as written


class Source:
    unit = "line"
    header_line: int | None = 1
    header: list[str]

    def blocks(self, cols: Columns) -> Iterator[Block]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _not_a_number(
    path: Path, unit: str, line: int, column: str, text: str, is_label: bool
) -> ReaderError:
    what = "label" if is_label else "value"
    hint = "; give label_mapping or positive_label for text labels" if is_label else ""
    return ReaderError(f"{where(path, line, column, unit)}: {what} {text!r} is not a number{hint}")


class CsvSource(Source):
    """A delimited text file with a header line, read with :mod:`csv`."""

    def __init__(self, path: Path, params: ReaderParams) -> None:
        self.path = path
        self.params = params
        if path.stat().st_size == 0:
            raise ReaderError(f"{path}: the file is empty")
        encoding = params.encoding
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "utf-8-sig"  # tolerate a byte-order mark
        delimiter = params.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        self._encoding = encoding
        self._file = open(path, newline="", encoding=encoding)  # noqa: SIM115 (closed by close())
        try:
            self._reader = csv.reader(self._file, delimiter=delimiter)
            self._last = 0
            header = self._next()
            if header is None:
                raise ReaderError(f"{path}: the file is empty")
            if not header or not any(h.strip() for h in header):
                raise ReaderError(
                    f"{where(path, 1)}: the line is empty; the file needs a header line"
                )
            self.header = header
        except BaseException:
            self.close()
            raise

    def _next(self) -> list[str] | None:
        try:
            row = next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError as exc:
            line = _bad_text_line(self.path, self._encoding) or self._last + 1
            raise ReaderError(
                f"{where(self.path, line)}: not valid {self.params.encoding} text ({exc.reason})"
            ) from None
        except csv.Error as exc:
            raise ReaderError(f"{where(self.path, self._last + 1)}: {exc}") from None
        self._start = self._last + 1
        self._last = self._reader.line_num
        return row

    def close(self) -> None:
        self._file.close()

    def blocks(self, cols: Columns) -> Iterator[Block]:
        ncols = len(self.header)
        size = max(64, _BLOCK_CELLS // max(1, ncols))
        rows: list[list[str]] = []
        lines: list[int] = []
        while True:
            row = self._next()
            if row is None:
                break
            if not row:
                continue  # a blank line
            if len(row) != ncols:
                if rows:
                    yield self._block(rows, lines, cols)
                raise ReaderError(
                    f"{where(self.path, self._start)}: {len(row)} fields, but the header "
                    f"(line 1) has {ncols}"
                )
            rows.append(row)
            lines.append(self._start)
            if len(rows) >= size:
                yield self._block(rows, lines, cols)
                rows, lines = [], []
        if rows:
            yield self._block(rows, lines, cols)

    def _block(self, rows: list[list[str]], lines: list[int], cols: Columns) -> Block:
        n = len(rows)
        ids: list[str | None] = list(map(operator.itemgetter(cols.id), rows))
        numeric = cols.numeric
        k = len(numeric)
        values = np.empty((n, k), dtype=np.float64)
        missing = np.zeros((n, k), dtype=bool)
        if k:
            # parse in header order (a contiguous run slices fast), then put in frame order
            order = sorted(range(k), key=numeric.__getitem__)
            get = _getter([numeric[c] for c in order])
            if k == 1:
                joined = "\n".join(map(get, rows))
            else:
                joined = "\n".join(map("\n".join, map(get, rows)))

            def texts() -> list[str]:
                if k == 1:
                    return list(map(get, rows))
                return list(itertools.chain.from_iterable(map(get, rows)))

            try:
                x, m = parse_cells(join_cells(joined, n * k), texts, self.params.missing_values)
            except NotANumber as exc:
                r, ci = divmod(exc.index, k)
                c = order[ci]
                label = cols.numeric_label and c == k - 1
                raise _not_a_number(
                    self.path, self.unit, lines[r], cols.numeric_names[c], exc.text, label
                ) from None
            if order == list(range(k)):
                values = x.reshape(n, k)
                missing = m.reshape(n, k)
            else:
                values[:, order] = x.reshape(n, k)
                missing[:, order] = m.reshape(n, k)
        label_texts = None
        if cols.label is not None and not cols.numeric_label:
            markers = set(self.params.missing_values)
            label_texts = [
                None if t in markers else t
                for t in (s.strip() for s in map(operator.itemgetter(cols.label), rows))
            ]
        return Block(
            lines=np.asarray(lines, dtype=np.int64),
            ids=ids,
            values=values,
            missing=missing,
            label_texts=label_texts,
            text_at=lambda r, c: rows[r][numeric[c]],
        )


def _bad_text_line(path: Path, encoding: str) -> int | None:
    """The line holding the first byte that does not decode (the text layer reads ahead)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with open(path, "rb") as f:
        while chunk := f.read(1 << 16):
            for i in range(0, len(chunk), 256):
                piece = chunk[i : i + 256]
                try:
                    decoder.decode(piece)
                except UnicodeDecodeError as exc:
                    return line + piece[: max(0, exc.start)].count(b"\n")
                line += piece.count(b"\n")
    return None


def _getter(idx: Sequence[int]) -> Callable[[list[str]], Any]:
    if len(idx) > 1 and list(idx) == list(range(idx[0], idx[0] + len(idx))):
        return operator.itemgetter(slice(idx[0], idx[0] + len(idx)))
    return operator.itemgetter(*idx)


class ParquetSource(Source):
    """A Parquet file (``pyarrow.parquet``); rows are numbered from 1, the header is the schema."""

    unit = "row"
    header_line = None

    def __init__(self, path: Path, params: ReaderParams) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.params = params
        if path.stat().st_size == 0:
            raise ReaderError(f"{path}: the file is empty")
        try:
            self.table = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise ReaderError(f"{path}: not a readable Parquet file ({exc})") from None
        self.header = [str(c) for c in self.table.column_names]
        if not self.header:
            raise ReaderError(f"{path}: the Parquet file has no columns")
        self._nan_is_missing = any(_is_nan_text(m) for m in params.missing_values)

    def blocks(self, cols: Columns) -> Iterator[Block]:
        size = max(64, _PARQUET_BLOCK_CELLS // max(1, len(self.header)))
        for start in range(0, self.table.num_rows, size):
            part = self.table.slice(start, size)
            yield self._block(
                part, np.arange(start + 1, start + part.num_rows + 1, dtype=np.int64), cols
            )

    def _column(self, part: pa.Table, j: int) -> pa.Array:
        arr = part.column(j).combine_chunks()
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        return arr

    def _block(self, part: pa.Table, lines: np.ndarray, cols: Columns) -> Block:
        n = part.num_rows
        id_arr = self._column(part, cols.id)
        if pa.types.is_integer(id_arr.type):
            id_arr = id_arr.cast(pa.string())
        elif not (pa.types.is_string(id_arr.type) or pa.types.is_large_string(id_arr.type)):
            raise ReaderError(
                f"{where(self.path, column=self.header[cols.id])}: the id column has type "
                f"{id_arr.type}; ids must be text or integers"
            )
        ids: list[str | None] = id_arr.to_pylist()
        k = len(cols.numeric)
        values = np.empty((n, k), dtype=np.float64)
        missing = np.zeros((n, k), dtype=bool)
        texts: list[Callable[[int], str]] = []
        for c, j in enumerate(cols.numeric):
            arr = self._column(part, j)
            name = self.header[j]
            if _is_number_type(arr.type):
                x = np.array(
                    arr.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False),
                    dtype=np.float64,
                )
                m = np.array(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
                if self._nan_is_missing:
                    m |= np.isnan(x)
                x[m] = np.nan
            elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
                try:
                    x, m = parse_cells(arr, arr.to_pylist, self.params.missing_values)
                except NotANumber as exc:
                    label = cols.numeric_label and c == k - 1
                    raise _not_a_number(
                        self.path, self.unit, int(lines[exc.index]), name, exc.text, label
                    ) from None
            else:
                raise ReaderError(
                    f"{where(self.path, column=name)}: the column has type {arr.type}; it must hold numbers"
                )
            values[:, c] = x
            missing[:, c] = m
            texts.append(_cell_text(arr))
        label_texts = None
        if cols.label is not None and not cols.numeric_label:
            label_texts = self._label_texts(self._column(part, cols.label))
        return Block(lines, ids, values, missing, label_texts, lambda r, c: texts[c](r))

    def _label_texts(self, arr: pa.Array) -> list[str | None]:
        markers = set(self.params.missing_values)
        out: list[str | None] = []
        for v in arr.to_pylist():
            if v is None:
                out.append(None)
                continue
            if isinstance(v, bool) or (isinstance(v, float) and v.is_integer()):
                t = str(int(v))
            else:
                t = str(v).strip()
            out.append(None if t in markers else t)
        return out


def _is_nan_text(text: str) -> bool:
    try:
        v = parse_text(text)
    except ValueError:
        return False
    return v != v


def _cell_text(arr: pa.Array) -> Callable[[int], str]:
    return lambda r: str(arr[r].as_py())


def _is_number_type(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
    )
