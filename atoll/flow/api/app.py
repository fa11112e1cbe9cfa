"""The FastAPI application: bearer-token auth and JSON errors around :mod:`.routes`.

Every error is ``{"code": str, "message": str}`` with its HTTP status: a
:class:`~atoll.flow.errors.SiteError` or a job-store error as
:func:`~atoll.flow.errors.http_status` maps it, a request that does not
validate 422 ``invalid`` (the message names the field), no token or a wrong one
401 ``unauthorized``, anything else 500 ``internal`` (logged with its traceback).
"""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any

import fastapi
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atoll import __version__
from atoll.flow.api.routes import DEFAULT_MAX_UPLOAD, protected, public
from atoll.flow.errors import SiteError, error_code, http_status
from atoll.flow.site.backend import SiteBackend
from atoll.flow.store import StoreError

__all__ = ["DEFAULT_MAX_UPLOAD", "BodyLimit", "Unauthorized", "create_app"]

log = logging.getLogger("atoll.flow.api")

_bearer = HTTPBearer(auto_error=False, description="the site's API token (flow.token)")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
}


class Unauthorized(SiteError):
    code = "unauthorized"
    status = 401


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            message = f"the body has {int(declared)} bytes; this site accepts {self.limit}"
            await _error(413, "too_large", message)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise StarletteHTTPException(
                        413, f"the body passes {self.limit} bytes, the most this site accepts"
                    )
            return message

        await self.app(scope, limited, send)


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc) or "request"


def create_app(
    backend: SiteBackend, token: str, *, max_upload: int = DEFAULT_MAX_UPLOAD
) -> fastapi.FastAPI:
    """The site's REST API over ``backend``; every route but health and the docs needs ``token``.

    ``max_upload`` bounds every request body (413 ``too_large`` beyond it).
    """
    if not token:
        raise ValueError("create_app: an empty token would let anyone in")
    expected = token.encode()

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, fastapi.Security(_bearer)],
    ) -> None:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(credentials.credentials.encode(), expected):
            raise Unauthorized("wrong API token")

    app = fastapi.FastAPI(
        title="Atoll site API",
        version=__version__,
        description="Submit and follow federated jobs, manage tables and models at one site.",
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
    )
    app.state.backend = backend
    app.add_middleware(BodyLimit, limit=max_upload)
    app.include_router(public, prefix="/v1")
    app.include_router(protected, prefix="/v1", dependencies=[fastapi.Depends(require_token)])

    @app.exception_handler(Unauthorized)
    def _unauthorized(request: fastapi.Request, exc: Unauthorized) -> Any:
        return _error(401, exc.code, exc.message, {"WWW-Authenticate": "Bearer"})

    def _known(request: fastapi.Request, exc: Exception) -> Any:
        status = http_status(exc)
        if status >= 500 and not isinstance(exc, SiteError):
            return _internal(request, exc)
        return _error(status, error_code(exc), getattr(exc, "message", None) or str(exc))

    for kind in (SiteError, StoreError, ValueError):
        app.add_exception_handler(kind, _known)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: fastapi.Request, exc: RequestValidationError) -> Any:
        problems = [
            f"{_field(e.get('loc', ()))}: {str(e.get('msg', 'invalid')).removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        return _error(422, "invalid", "; ".join(problems[:5]) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    def _http(request: fastapi.Request, exc: StarletteHTTPException) -> Any:
        code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "error")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such route: {request.method} {request.url.path}"
        return _error(exc.status_code, code, message, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    def _internal(request: fastapi.Request, exc: Exception) -> Any:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal", f"internal error ({type(exc).__name__}); see the site's log")

    return app
