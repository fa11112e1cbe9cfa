"""Run a Spark action and turn its failure into the matching :mod:`atoll.computing` error.

Spark reports a failed task as a Java exception whose text holds the worker's
Python traceback. A failure raised by :mod:`._partition_ops` carries an encoded
:class:`~atoll.computing.standalone._tasks.Failure` there, which becomes a
``TaskError`` (with the original exception as ``__cause__``), ``KeyTypeError``,
``SerializationError`` or ``InvalidArgumentError`` exactly as on the standalone
backend. A Python worker that died becomes ``WorkerCrashedError``; Spark starts a
new worker for the next task by itself.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any, TypeVar

import cloudpickle

from atoll.computing._errors import ComputingError, SerializationError, WorkerCrashedError
from atoll.computing.spark._partition_ops import failure_from_text
from atoll.computing.standalone._executor import raise_failure

__all__ = ["check_function", "run_job"]

T = TypeVar("T")

_CRASH_MARKERS = (
    "Python worker exited unexpectedly",
    "Python worker failed",
    "Connection reset",
    "crashed",
)


def check_function(func: Any, operation: str, table: str) -> None:
    """Refuse a function that cannot be sent to the workers, naming the Table."""
    if func is None:
        return
    try:
        cloudpickle.dumps(func)
    except Exception as exc:
        raise SerializationError(
            f"{operation} on table {table!r}: the function {func!r} cannot be sent to "
            f"Spark's workers: {type(exc).__name__}: {exc}"
        ) from exc


def run_job(operation: str, table: str, action: Callable[[], T]) -> T:
    """Run ``action`` (a Spark job); raise an :mod:`atoll.computing` error if it fails."""
    try:
        return action()
    except (pickle.PicklingError, TypeError) as exc:
        if "pickl" in str(exc).lower() or "serializ" in str(exc).lower():
            raise SerializationError(
                f"{operation} on table {table!r}: a function cannot be sent to Spark's "
                f"workers: {exc}"
            ) from exc
        raise
    except Exception as exc:
        text = _error_text(exc)
        if not _is_spark_error(exc):
            raise
        failure = failure_from_text(text)
        if failure is not None:
            raise_failure(failure, operation, table)
        if any(marker in text for marker in _CRASH_MARKERS):
            raise WorkerCrashedError(
                f"a Spark Python worker died while running {operation} on table {table!r} "
                "(killed, out of memory, or os._exit in a function); Spark starts new "
                "workers for the next operation"
            ) from None
        raise ComputingError(
            f"{operation} on table {table!r}: the Spark job failed: {_first_lines(text)}"
        ) from exc


def _is_spark_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return module.startswith(("py4j", "pyspark"))


def _error_text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return repr(exc)


def _first_lines(text: str, lines: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[:lines])
