"""Text cells to float64, fast: Arrow's vectorised cast, Python's ``float`` where it fails.

Python's rules are the truth: a cell is a number when ``float(cell.strip())`` takes it and it
has no ``_`` and only ASCII characters. Arrow's cast takes a subset of those (no spaces, which
we trim first), so a block that casts cleanly gives the same numbers Python would; a block
that does not goes cell by cell, which also finds the cell to name in the error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NotANumber", "join_cells", "parse_cells", "parse_text"]


class NotANumber(Exception):
    """Cell ``index`` (flat) holds ``text``, which is neither a number nor a missing marker."""

    def __init__(self, index: int, text: str) -> None:
        super().__init__(index, text)
        self.index = index
        self.text = text


def parse_text(text: str) -> float:
    """Python's reading of one (stripped) cell; ValueError when it is not a number."""
    if not text.isascii() or "_" in text:
        raise ValueError(text)
    return float(text)


def join_cells(joined: str, count: int) -> pa.Array | None:
    """``count`` cells joined by newlines, as one Arrow string array (no per-cell objects).

    None when the text does not split back into ``count`` cells (a cell held a newline).
    """
    data = joined.encode()
    buf = np.frombuffer(data, dtype=np.uint8)
    cuts = np.flatnonzero(buf == 10)  # a newline byte never occurs inside a UTF-8 sequence
    if count == 0 or cuts.size != count - 1:
        return None
    offsets = np.empty(count + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:-1] = cuts + 1  # each cell keeps its trailing newline; trimming removes it
    offsets[-1] = len(data)
    return pa.LargeStringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))


def parse_cells(
    cells: pa.Array | None, texts: Callable[[], Sequence[str | None]], markers: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Floats and a missing mask for string cells (nulls and ``markers`` are missing).

    ``cells`` is the Arrow array (None to go straight to the cell-by-cell path); ``texts``
    gives the same cells as Python strings for that path. Missing cells hold NaN. Raises
    :class:`NotANumber` for the first cell that is neither.
    """
    markers = tuple(markers)
    if cells is not None:
        trimmed = pc.utf8_trim_whitespace(cells)
        if not _numeric_markers(markers):
            try:
                return _cast(trimmed, markers)
            except pa.ArrowInvalid:
                pass
        marker_set = pa.array(list(markers), type=trimmed.type)
        is_marker = pc.fill_null(pc.is_in(trimmed, value_set=marker_set), True)
        try:
            nulled = pc.if_else(is_marker, pa.scalar(None, type=trimmed.type), trimmed)
            return _cast(nulled, markers)
        except pa.ArrowInvalid:
            pass
    return _parse_python(texts(), markers)


def _numeric_markers(markers: tuple[str, ...]) -> bool:
    """Whether a marker reads as a number (say ``-999``), so a clean cast would miss it."""
    for m in markers:
        try:
            v = parse_text(m)
        except ValueError:
            continue
        if v == v:
            return True
    return False


def _cast(strings: pa.Array, markers: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    values = pc.cast(strings, pa.float64())
    x = np.array(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    missing = np.array(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    nan = np.flatnonzero(np.isnan(x) & ~missing)
    if nan.size and markers:
        # literal "nan"/"NaN" cells: missing when they are markers (they are by default)
        hit = pc.is_in(
            strings.take(pa.array(nan)), value_set=pa.array(list(markers), type=strings.type)
        )
        missing[nan[np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)]] = True
    x[missing] = np.nan
    return x, missing


def _parse_python(
    texts: Sequence[str | None], markers: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray]:
    marker_set = set(markers)
    x = np.empty(len(texts), dtype=np.float64)
    missing = np.zeros(len(texts), dtype=bool)
    for i, raw in enumerate(texts):
        if raw is None:
            missing[i] = True
            x[i] = np.nan
            continue
        t = raw.strip()
        if t in marker_set:
            missing[i] = True
            x[i] = np.nan
            continue
        try:
            x[i] = parse_text(t)
        except ValueError:
            raise NotANumber(i, raw) from None
    return x, missing
