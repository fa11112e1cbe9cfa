"""Errors raised by :mod:`atoll.computing`.

Every error names the Table and the operation at fault::

    ComputingError                  base class; catch this to catch them all
    ├── InvalidArgumentError        a bad parameter (also a ValueError): partitions=0,
    │                               fraction=1.5, a malformed namespace, a row that is
    │                               not a (key, value) pair
    ├── KeyTypeError                a key the backend cannot hash the same way in every
    │                               process (also a TypeError): float, None, list, ...
    ├── SerializationError          a value or function that cannot be stored or sent
    │                               to a worker; ``__cause__`` is the codec's or
    │                               pickle's error
    ├── TableNotFoundError          no saved Table by that namespace and name, or a
    │                               Table that was destroyed
    ├── TableExistsError            ``save`` onto an existing Table without overwrite
    ├── SessionClosedError          using a session (or its Tables) after ``close()``
    ├── TaskError                   a user function raised: carries the table, the
    │                               operation, the partition, the key, the original
    │                               exception's type, message and traceback text, and
    │                               the original as ``__cause__`` when it can be rebuilt
    └── WorkerCrashedError          a worker process died mid-operation; the pool is
                                    rebuilt for the next operation

A failed operation leaves nothing behind: its partial output is removed before
the error is raised.
"""

from __future__ import annotations

__all__ = [
    "ComputingError",
    "InvalidArgumentError",
    "KeyTypeError",
    "SerializationError",
    "SessionClosedError",
    "TableExistsError",
    "TableNotFoundError",
    "TaskError",
    "WorkerCrashedError",
]


class ComputingError(Exception):
    """Base class of every error raised by :mod:`atoll.computing`."""


class InvalidArgumentError(ComputingError, ValueError):
    """A parameter or an input row that the operation cannot accept."""


class KeyTypeError(ComputingError, TypeError):
    """A key of a type that cannot be hashed to a partition consistently.

    Keys must be ``int`` (any size; ``bool`` and numpy integers count as ints),
    ``str``, ``bytes``, or tuples of these. Floats, ``None`` and other objects
    are refused, because equal floats may print differently and objects have no
    stable hash across processes.
    """


class SerializationError(ComputingError):
    """A value that the codec cannot store, or a function that cannot be pickled."""


class TableNotFoundError(ComputingError):
    """No saved Table by that namespace and name, or the Table was destroyed."""


class TableExistsError(ComputingError):
    """``save`` would replace an existing saved Table and ``overwrite`` is false."""


class SessionClosedError(ComputingError):
    """The session (and every temporary Table it made) has been closed."""


class WorkerCrashedError(ComputingError):
    """A worker process died while running an operation.

    The operation's partial output is removed; the next operation starts a new pool.
    """


class TaskError(ComputingError):
    """A function given to an operation raised an exception.

    Attributes name where it happened; ``__cause__`` is the original exception
    when it could be carried back from the worker process (``None`` otherwise,
    in which case ``error_type``, ``error_message`` and ``remote_traceback``
    still describe it).
    """

    def __init__(
        self,
        *,
        table: str,
        operation: str,
        partition: int,
        key_repr: str | None,
        error_type: str,
        error_message: str,
        remote_traceback: str,
    ) -> None:
        where = f"partition {partition}"
        if key_repr is not None:
            where += f", key {key_repr}"
        super().__init__(
            f"{operation} on table {table!r} failed at {where}: "
            f"{error_type}: {error_message}\n--- traceback in the worker ---\n{remote_traceback}"
        )
        self.table = table
        self.operation = operation
        self.partition = partition
        self.key_repr = key_repr
        self.error_type = error_type
        self.error_message = error_message
        self.remote_traceback = remote_traceback

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_task_error, (self.args, self.__dict__.copy()))


def _rebuild_task_error(args: tuple[object, ...], state: dict[str, object]) -> TaskError:
    err = TaskError.__new__(TaskError)
    err.args = args
    err.__dict__.update(state)
    return err
