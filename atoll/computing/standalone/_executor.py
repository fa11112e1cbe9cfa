"""Run tasks inline or in a pool of worker processes, and turn failures into errors.

The pool uses the ``forkserver`` start method where the platform has it and
``spawn`` elsewhere, never ``fork``: the driver will hold gRPC threads, which a
forked child would inherit in an undefined state. A worker that dies (for
example ``os._exit`` in a user function, or the OOM killer) breaks the whole
``ProcessPoolExecutor``; the operation then raises
:class:`~atoll.computing.WorkerCrashedError` and the next operation gets a new pool.
"""

from __future__ import annotations

import abc
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import cloudpickle

from atoll.computing._errors import (
    ComputingError,
    InvalidArgumentError,
    KeyTypeError,
    SerializationError,
    TaskError,
    WorkerCrashedError,
)
from atoll.computing.standalone._tasks import Failure, Task, init_worker, run_task

__all__ = ["Executor", "InlineExecutor", "PoolExecutor", "make_executor"]


class Executor(abc.ABC):
    """Runs the tasks of one operation and returns their results in task order."""

    workers: int

    @abc.abstractmethod
    def ship(self, func: Any, operation: str, table: str) -> Any:
        """Prepare a user function for the tasks (pickled for worker processes)."""

    @abc.abstractmethod
    def run(self, operation: str, table: str, tasks: list[Task]) -> list[Any]:
        """Run all tasks; raise the error of the first failure after all have stopped."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the workers. Idempotent."""


def raise_failure(failure: Failure, operation: str, table: str) -> None:
    """Raise the :mod:`atoll.computing` exception that ``failure`` describes."""
    cause = failure.cause
    if cause is None and failure.cause_pickled is not None:
        try:
            cause = cloudpickle.loads(failure.cause_pickled)
        except Exception:
            cause = None
    if not isinstance(cause, BaseException):
        cause = None
    if failure.kind == "task":
        error = TaskError(
            table=table,
            operation=operation,
            partition=failure.partition,
            key_repr=failure.key_repr,
            error_type=failure.error_type,
            error_message=failure.error_message,
            remote_traceback=failure.traceback,
        )
        raise error from cause
    if failure.kind == "key":
        raise KeyTypeError(failure.message)
    if failure.kind == "invalid":
        raise InvalidArgumentError(failure.message)
    if failure.kind == "serialization":
        raise SerializationError(failure.message) from cause
    raise ComputingError(failure.message) from cause


class InlineExecutor(Executor):
    """Runs every task in the calling process, one after another (``workers=1``)."""

    workers = 1

    def ship(self, func: Any, operation: str, table: str) -> Any:
        return func

    def run(self, operation: str, table: str, tasks: list[Task]) -> list[Any]:
        results = []
        for task in tasks:
            result = run_task(task, in_worker=False)
            if isinstance(result, Failure):
                raise_failure(result, operation, table)
            results.append(result)
        return results

    def close(self) -> None:
        pass


def _mp_context() -> multiprocessing.context.BaseContext:
    # The fork server's preload list is process-global; it is left to the
    # application (other layers start processes too), so each worker imports
    # the task module itself (a few hundred milliseconds, once per worker).
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def _run_in_worker(task: Task) -> Any:
    return run_task(task, in_worker=True)


class PoolExecutor(Executor):
    """Runs tasks in ``workers`` worker processes, started on first use."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=_mp_context(), initializer=init_worker
            )
        return self._pool

    def ship(self, func: Any, operation: str, table: str) -> Any:
        if func is None:
            return None
        try:
            return cloudpickle.dumps(func)
        except Exception as exc:
            raise SerializationError(
                f"{operation} on table {table!r}: the function {func!r} cannot be sent to "
                f"worker processes: {type(exc).__name__}: {exc}"
            ) from exc

    def run(self, operation: str, table: str, tasks: list[Task]) -> list[Any]:
        if not tasks:
            return []
        pool = self._get_pool()
        try:
            futures: list[Future[Any]] = [pool.submit(_run_in_worker, t) for t in tasks]
        except BrokenProcessPool:
            self._discard_pool()
            pool = self._get_pool()
            futures = [pool.submit(_run_in_worker, t) for t in tasks]
        failure: Failure | None = None
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if future.cancelled() or future.exception() is not None:
                    continue
                result = future.result()
                if isinstance(result, Failure) and failure is None:
                    failure = result
                    for other in pending:
                        other.cancel()
        crashed = any(
            not f.cancelled() and isinstance(f.exception(), BrokenProcessPool) for f in futures
        )
        if crashed:
            self._discard_pool()
            raise WorkerCrashedError(
                f"a worker process died while running {operation} on table {table!r} "
                "(killed, out of memory, or os._exit in a function); its partial output "
                "was removed and the next operation starts new workers"
            )
        for future in futures:
            if future.cancelled():
                continue
            exc = future.exception()
            if exc is not None:
                raise ComputingError(
                    f"{operation} on table {table!r}: a worker could not run or return "
                    f"its task: {type(exc).__name__}: {exc}"
                ) from exc
        if failure is not None:
            raise_failure(failure, operation, table)
        return [f.result() for f in futures]

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self._discard_pool()


def make_executor(workers: int) -> Executor:
    """Inline for ``workers == 1``, a process pool otherwise."""
    if workers == 1:
        return InlineExecutor()
    return PoolExecutor(workers)
