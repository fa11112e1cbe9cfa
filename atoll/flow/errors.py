"""Errors a site's flow service reports; each carries a stable code and an HTTP status.

The REST API turns every :class:`SiteError` into ``{"code": ..., "message": ...}``
with its status. Errors from the job store map the same way
(:func:`http_status`): not found 404, conflicts and impossible state changes 409,
an invalid job file or parameter 422.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "SiteError",
    "Unavailable",
    "error_code",
    "http_status",
]


class SiteError(Exception):
    """Base of the errors a site reports to an API caller or a partner site."""

    code = "site_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(SiteError):
    code = "invalid"
    status = 422


class NotFound(SiteError):
    code = "not_found"
    status = 404


class Conflict(SiteError):
    code = "conflict"
    status = 409


class Forbidden(SiteError):
    code = "forbidden"
    status = 403


class Unavailable(SiteError):
    code = "unavailable"
    status = 503


def http_status(exc: BaseException) -> int:
    """The HTTP status for ``exc`` (SiteError, store errors, job-file and parameter errors)."""
    from atoll.flow.spec import JobSpecError
    from atoll.flow.store import ConflictError, InvalidTransition, NotFoundError

    if isinstance(exc, SiteError):
        return exc.status
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError | InvalidTransition):
        return 409
    if isinstance(exc, JobSpecError | ValueError):
        return 422
    return 500


def error_code(exc: BaseException) -> str:
    if isinstance(exc, SiteError):
        return exc.code
    return {404: "not_found", 409: "conflict", 422: "invalid"}.get(http_status(exc), "internal")
