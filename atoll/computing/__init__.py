"""Tables: partitioned key-value collections for data that may not fit in one process.

>>> from atoll.computing import open_session
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d, open_session(data_dir=d, workers=1) as s:
...     t = s.parallelize([(i, i) for i in range(10)], partitions=3)
...     t.map_values(lambda v: v * v).reduce(lambda a, b: a + b)
285

A backend implements :class:`ComputingSession` and :class:`Table`; the
standalone backend (:mod:`atoll.computing.standalone`) is the default. Errors
form the tree drawn in :mod:`atoll.computing._errors`.
"""

from atoll.computing._api import ComputingSession, Table, TableWriter
from atoll.computing._errors import (
    ComputingError,
    InvalidArgumentError,
    KeyTypeError,
    SerializationError,
    SessionClosedError,
    TableExistsError,
    TableNotFoundError,
    TaskError,
    WorkerCrashedError,
)
from atoll.computing._factory import open_session

__all__ = [
    "ComputingError",
    "ComputingSession",
    "InvalidArgumentError",
    "KeyTypeError",
    "SerializationError",
    "SessionClosedError",
    "Table",
    "TableExistsError",
    "TableNotFoundError",
    "TableWriter",
    "TaskError",
    "WorkerCrashedError",
    "open_session",
]
