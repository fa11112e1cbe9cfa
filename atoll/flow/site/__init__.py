"""A site's flow service: ``atoll site serve`` (gateway, scheduler, REST API in one process).

:mod:`.config` reads the site's file, :class:`Site` agrees on jobs with the
partner sites through the gateways and runs this site's tasks (:mod:`.runner`,
one process per task, :mod:`.worker`), :func:`serve` puts it behind the REST
API. :mod:`.backend` is the contract between the API and the site.
"""

from atoll.flow.errors import SiteError
from atoll.flow.site.config import ServeConfig, load_serve_config
from atoll.flow.site.site import Site

__all__ = ["ServeConfig", "Site", "SiteError", "load_serve_config"]
