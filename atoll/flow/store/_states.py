"""The job and task state machines.

Jobs::

    waiting -> running | canceled | failed | timeout
    running -> success | failed | canceled | timeout
    success, failed, canceled, timeout: final

Tasks (one row per task per party)::

    waiting     -> running | canceled | failed
    running     -> success | failed | canceled | interrupted
    interrupted -> waiting | running | failed | canceled   (a rerun after a restart)
    success, failed, canceled: final

A state never moves to itself: a repeated ``running -> running`` is refused like
any other impossible change, so a caller notices a duplicated event.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "JOB_FINAL",
    "JOB_STATES",
    "JOB_TRANSITIONS",
    "TASK_FINAL",
    "TASK_STATES",
    "TASK_TRANSITIONS",
]

JOB_STATES: Final = ("waiting", "running", "success", "failed", "canceled", "timeout")
JOB_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "waiting": frozenset({"running", "canceled", "failed", "timeout"}),
    "running": frozenset({"success", "failed", "canceled", "timeout"}),
    "success": frozenset(),
    "failed": frozenset(),
    "canceled": frozenset(),
    "timeout": frozenset(),
}
JOB_FINAL: Final = frozenset(s for s, nxt in JOB_TRANSITIONS.items() if not nxt)
JOB_ERROR_STATES: Final = frozenset({"failed", "canceled", "timeout"})

TASK_STATES: Final = ("waiting", "running", "success", "failed", "canceled", "interrupted")
TASK_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "waiting": frozenset({"running", "canceled", "failed"}),
    "running": frozenset({"success", "failed", "canceled", "interrupted"}),
    "interrupted": frozenset({"waiting", "running", "failed", "canceled"}),
    "success": frozenset(),
    "failed": frozenset(),
    "canceled": frozenset(),
}
TASK_FINAL: Final = frozenset({"success", "failed", "canceled"})
TASK_ERROR_STATES: Final = frozenset({"failed", "canceled", "interrupted"})
