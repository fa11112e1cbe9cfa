"""Errors of the job store; every message names the job (and task or model) concerned."""

from __future__ import annotations

__all__ = ["ConflictError", "ExportError", "InvalidTransition", "NotFoundError", "StoreError"]


class StoreError(Exception):
    """Base of every error the job store raises on purpose."""


class NotFoundError(StoreError, LookupError):
    """No such job, task or model in this store."""


class ConflictError(StoreError):
    """A write that would duplicate what is stored (a job id, a model version)."""


class InvalidTransition(StoreError, ValueError):
    """A state change the job or task state machine does not allow (``success -> running``)."""


class ExportError(StoreError, ValueError):
    """A model export file that is malformed, corrupted or tampered with; nothing was imported."""
