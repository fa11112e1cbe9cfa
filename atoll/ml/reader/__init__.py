"""FATE's Reader + DataTransform as one function: a CSV or Parquet file to a :class:`Frame`.

>>> frame, report = read_frame("breast_hetero_guest.csv", ReaderParams(label_column="y", task="binary"))

See :class:`ReaderParams` for the column, missing-value, id and label rules, and
:class:`ReadReport` for what a read did. Every error is a :class:`ReaderError` (a
``ValueError``) whose message names the file and, where it applies, the line (CSV; the
header is line 1) or row (Parquet; the first data row is row 1) and the column.
"""

from atoll.ml.reader._params import DEFAULT_MISSING, ReaderError, ReaderParams
from atoll.ml.reader._report import ReadReport
from atoll.ml.reader.reader import read_frame

__all__ = ["DEFAULT_MISSING", "ReadReport", "ReaderError", "ReaderParams", "read_frame"]
