"""A site's REST API (FastAPI) over a :class:`~atoll.flow.site.backend.SiteBackend`.

``create_app(backend, token)`` builds it; ``atoll site serve`` runs it with uvicorn.
Routes live under ``/v1``; the OpenAPI schema is at ``/v1/openapi.json``.
"""

from atoll.flow.api.app import BodyLimit, Unauthorized, create_app
from atoll.flow.api.routes import DEFAULT_MAX_UPLOAD

__all__ = ["DEFAULT_MAX_UPLOAD", "BodyLimit", "Unauthorized", "create_app"]
