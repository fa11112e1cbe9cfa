"""``atoll site serve``: one site's gateway, flow service and REST API in one process.

The gateway (mutual TLS) carries the jobs' messages and the sites' control
messages; the :class:`~atoll.flow.site.Site` schedules this site's tasks as
processes; uvicorn serves the REST API. SIGINT or SIGTERM stops it cleanly:
running tasks are killed and marked interrupted, their jobs failed (and the
partners told), every file written so far was written atomically.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn

from atoll.federation import Gateway
from atoll.federation.config import parse_address
from atoll.flow.api import create_app
from atoll.flow.site.config import ServeConfig
from atoll.flow.site.site import Site
from atoll.flow.store import DataCatalog, JobStore

__all__ = ["serve"]

log = logging.getLogger("atoll.flow.site")


def serve(config: ServeConfig, *, on_ready: Callable[[Site], None] | None = None) -> None:
    """Run the site until SIGINT/SIGTERM (or ``should_exit`` on the returned server)."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.job_dir.mkdir(parents=True, exist_ok=True)
    _log_to_file(config.data_dir / "site.log")
    store = JobStore(config.database)
    gateway = Gateway(config.site)
    site: Site | None = None
    try:
        catalog = DataCatalog(store, config.data_dir / "tables")
        gateway.start()
        site = Site(config, gateway, store, catalog).start()
        host, port = parse_address(config.flow.api)
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(site, config.token),
                host=host,
                port=port,
                log_level="warning",
                lifespan="off",
            )
        )
        if on_ready is not None:
            ready_site = site

            def watch() -> None:
                while not server.started and not server.should_exit:
                    threading.Event().wait(0.05)
                if server.started:
                    on_ready(ready_site)

            threading.Thread(target=watch, daemon=True).start()
        log.info(
            "site %s serving: gateway %s, API %s, jobs in %s, database %s",
            config.party_id,
            config.site.listen,
            config.api_url,
            config.job_dir,
            _safe_url(config.database),
        )
        # uvicorn stops on SIGINT/SIGTERM, then raises the signal again for whoever handled it
        # before: make that a KeyboardInterrupt, so that the clean-up below runs.
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
        if not server.started:
            raise OSError(f"party {config.party_id}: cannot serve the API on {config.flow.api}")
    finally:
        if site is not None:
            site.close()
        gateway.close()
        store.close()
        log.info("site %s stopped", config.party_id)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _log_to_file(path: Path) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at:
        return url
    scheme, _, cred = head.partition("://")
    user = cred.partition(":")[0]
    return f"{scheme}://{user}:***@{tail}"
