"""A synchronous client for a site's REST API (:mod:`atoll.flow.api`).

::

    client = SiteClient("http://127.0.0.1:9380", token)   # or SiteClient.from_config("site.yaml")
    job = client.submit("breast-lr.yaml")
    job = client.wait(job["job_id"], timeout=600)

Every method returns the API's JSON (see :mod:`atoll.flow.site.backend` for the
shapes). Every failure is an :class:`ApiError` with the HTTP status, the API's
error code and its message; a site that cannot be reached is status 0, code
``unreachable``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

__all__ = [
    "FINAL_STATES",
    "ApiError",
    "SiteClient",
    "connect",
    "load_submission",
]

JSON = dict[str, Any]
#: Job states after which nothing changes (until a rerun).
FINAL_STATES = frozenset({"success", "failed", "canceled", "timeout"})
ENV_SITE = "ATOLL_SITE"
ENV_TOKEN = "ATOLL_TOKEN"


class ApiError(Exception):
    """A request the site refused or could not answer: HTTP status (0: no answer), code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def load_submission(path: str | Path, conf: str | Path | None = None) -> JSON:
    """The submission for a job file: ``{"yaml": text}``, or ``{"fate": ...}`` for a FATE job.

    A file is a FATE job when ``conf`` is given or it holds ``components`` (a DSL) or
    ``dag`` (a FATE 2.x DAG); FATE files may be JSON or YAML.
    """
    p = Path(path)
    text = _read_text(p)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: not valid YAML or JSON: {exc}") from None
    is_fate = isinstance(raw, Mapping) and ("components" in raw or "dag" in raw)
    if conf is None and not is_fate:
        return {"yaml": text}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{p}: a FATE DSL or DAG is a mapping")
    conf_doc = None
    if conf is not None:
        try:
            conf_doc = yaml.safe_load(_read_text(Path(conf)))
        except yaml.YAMLError as exc:
            raise ValueError(f"{conf}: not valid YAML or JSON: {exc}") from None
        if not isinstance(conf_doc, Mapping):
            raise ValueError(f"{conf}: a FATE runtime conf is a mapping")
        conf_doc = dict(conf_doc)
    return {"fate": {"dsl": dict(raw), "conf": conf_doc}}


def _read_text(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{p}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not UTF-8 text") from None


class SiteClient:
    """The REST API of one site; ``token`` is the site's ``flow.token``."""

    def __init__(
        self,
        url: str,
        token: str,
        timeout: float = 30.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            url = f"http://{url}"
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url + "/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    @classmethod
    def from_config(cls, path: str | Path, timeout: float = 30.0) -> SiteClient:
        """The API of the site that ``path`` (its ``site.yaml``) configures."""
        from atoll.flow.site.config import load_serve_config

        config = load_serve_config(path)
        return cls(config.api_url, config.token, timeout)

    @classmethod
    def from_env(cls, timeout: float = 30.0) -> SiteClient:
        """The site named by ``$ATOLL_SITE`` with ``$ATOLL_TOKEN``."""
        return connect(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SiteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SiteClient({self.url!r})"

    # -- plumbing -------------------------------------------------------------------------
    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if "params" in kwargs:
            kwargs["params"] = {k: v for k, v in kwargs["params"].items() if v is not None}
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            message = f"site at {self.url} did not answer in time: {exc}"
            raise ApiError(0, "unreachable", message) from None
        except httpx.TransportError as exc:
            raise ApiError(0, "unreachable", f"cannot reach site at {self.url}: {exc}") from None
        if response.is_success:
            return response
        raise _error_of(response)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code, "bad_response", f"{method} {path}: the site sent no JSON"
            ) from None

    # -- site -----------------------------------------------------------------------------
    def health(self) -> JSON:
        result: JSON = self._json("GET", "/health")
        return result

    def site(self) -> JSON:
        result: JSON = self._json("GET", "/site")
        return result

    # -- jobs -----------------------------------------------------------------------------
    def submit(
        self,
        job: Mapping[str, Any] | str | Path | None = None,
        *,
        fate: Mapping[str, Any] | None = None,
        conf: Mapping[str, Any] | None = None,
    ) -> JSON:
        """Submit a job; returns it (state ``waiting``).

        ``job`` is a job spec as a mapping, a job file's path (a :class:`~pathlib.Path`,
        or a ``str`` naming an existing file; FATE files are recognised), or YAML text.
        ``fate`` (with ``conf``) submits a FATE DSL or DAG instead.
        """
        body: JSON
        if fate is not None:
            if job is not None:
                raise ValueError("submit: give a job or fate=..., not both")
            body = {"fate": {"dsl": dict(fate), "conf": None if conf is None else dict(conf)}}
        elif isinstance(job, Mapping):
            body = {"spec": dict(job)}
        elif isinstance(job, Path) or (isinstance(job, str) and _is_file(job)):
            body = load_submission(job)
        elif isinstance(job, str):
            body = {"yaml": job}
        else:
            raise ValueError("submit: give a job spec, a job file or YAML text, or fate=...")
        result: JSON = self._json("POST", "/jobs", json=body)
        return result

    def jobs(self, state: str | None = None, limit: int = 50, offset: int = 0) -> list[JSON]:
        params = {"state": state, "limit": limit, "offset": offset}
        result: list[JSON] = self._json("GET", "/jobs", params=params)
        return result

    def job(self, job_id: str) -> JSON:
        result: JSON = self._json("GET", f"/jobs/{_seg(job_id)}")
        return result

    def stop(self, job_id: str) -> JSON:
        result: JSON = self._json("POST", f"/jobs/{_seg(job_id)}/stop")
        return result

    def rerun(self, job_id: str) -> JSON:
        result: JSON = self._json("POST", f"/jobs/{_seg(job_id)}/rerun")
        return result

    def logs(
        self,
        job_id: str,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
        tail: int | None = None,
    ) -> JSON:
        params = {"task": task, "role": role, "party_id": party_id, "tail": tail}
        result: JSON = self._json("GET", f"/jobs/{_seg(job_id)}/logs", params=params)
        return result

    def dag(self, job_id: str) -> JSON:
        result: JSON = self._json("GET", f"/jobs/{_seg(job_id)}/dag")
        return result

    def dag_svg(self, job_id: str) -> str:
        """The job's DAG drawn as SVG (states coloured)."""
        return self._send("GET", f"/jobs/{_seg(job_id)}/dag.svg").text

    def metrics(
        self,
        job_id: str,
        task: str | None = None,
        role: str | None = None,
        party_id: int | None = None,
    ) -> list[JSON]:
        params = {"task": task, "role": role, "party_id": party_id}
        result: list[JSON] = self._json("GET", f"/jobs/{_seg(job_id)}/metrics", params=params)
        return result

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_update: Callable[[JSON], object] | None = None,
        interval: float = 1.0,
    ) -> JSON:
        """Poll the job until it reaches a final state; returns it.

        ``on_update`` sees the job after every poll. Raises :class:`TimeoutError` after
        ``timeout`` seconds (None: wait for ever).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if on_update is not None:
                on_update(job)
            if job["state"] in FINAL_STATES:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is still {job['state']} after {timeout} s")
            pause = interval if deadline is None else min(interval, deadline - time.monotonic())
            time.sleep(max(pause, 0.0))

    # -- data -----------------------------------------------------------------------------
    def upload_data(
        self,
        namespace: str,
        name: str,
        data: str | Path | bytes,
        *,
        id_column: str,
        label_column: str | None = None,
        overwrite: bool = False,
    ) -> JSON:
        """Upload a CSV file (its path) or CSV bytes as table ``namespace/name``."""
        params = {"id_column": id_column, "label_column": label_column, "overwrite": overwrite}
        path = f"/data/{_seg(namespace)}/{_seg(name)}"
        headers = {"Content-Type": "text/csv"}
        if isinstance(data, bytes):
            result: JSON = self._json("POST", path, params=params, content=data, headers=headers)
            return result
        with _open(Path(data)) as (f, size):
            headers["Content-Length"] = str(size)
            result = self._json("POST", path, params=params, content=_chunks(f), headers=headers)
        return result

    def data(self) -> list[JSON]:
        result: list[JSON] = self._json("GET", "/data")
        return result

    def preview(self, namespace: str, name: str, rows: int = 10) -> JSON:
        path = f"/data/{_seg(namespace)}/{_seg(name)}"
        result: JSON = self._json("GET", path, params={"rows": rows})
        return result

    def delete_data(self, namespace: str, name: str) -> JSON:
        result: JSON = self._json("DELETE", f"/data/{_seg(namespace)}/{_seg(name)}")
        return result

    # -- models ---------------------------------------------------------------------------
    def models(self, job_id: str | None = None) -> list[JSON]:
        result: list[JSON] = self._json("GET", "/models", params={"job_id": job_id})
        return result

    def export_models(self, job_id: str, dest: str | Path) -> Path:
        """Write the job's models at this site to ``dest`` (atomically); returns its path."""
        dest = Path(dest)
        content = self._send("GET", f"/models/{_seg(job_id)}/export").content
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return dest

    def import_models(self, source: str | Path | bytes) -> list[JSON]:
        """Import an export file (its path, or its bytes); returns the models imported."""
        content = source if isinstance(source, bytes) else _read_bytes(Path(source))
        headers = {"Content-Type": "application/octet-stream"}
        result: list[JSON] = self._json("POST", "/models/import", content=content, headers=headers)
        return result


def connect(
    url: str | None = None,
    token: str | None = None,
    config: str | Path | None = None,
    timeout: float = 30.0,
) -> SiteClient:
    """A client from what is given: ``url`` and ``token``, else ``config`` (a site.yaml),
    else ``$ATOLL_SITE`` and ``$ATOLL_TOKEN``. ValueError says what is missing."""
    if config is not None:
        from atoll.flow.site.config import load_serve_config

        loaded = load_serve_config(config)
        url = url or loaded.api_url
        token = token or loaded.token
    url = url or os.environ.get(ENV_SITE) or None
    token = token or os.environ.get(ENV_TOKEN) or None
    if url is None:
        raise ValueError(f"no site given: use --site URL (or ${ENV_SITE}), or --config site.yaml")
    if token is None:
        raise ValueError(
            f"no API token given: use --token (or ${ENV_TOKEN}), or --config site.yaml"
        )
    return SiteClient(url, token, timeout)


def _error_of(response: httpx.Response) -> ApiError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return ApiError(status, str(body.get("code", "error")), body["message"])
    text = response.text.strip()[:200] or response.reason_phrase
    return ApiError(status, "http_error", f"HTTP {status}: {text}")


def _seg(value: str) -> str:
    """``value`` as one URL path segment."""
    from urllib.parse import quote

    return quote(value, safe="")


def _is_file(text: str) -> bool:
    if "\n" in text or len(text) > 4096:
        return False
    try:
        return Path(text).is_file()
    except OSError:
        return False


@contextlib.contextmanager
def _open(path: Path) -> Iterator[Any]:
    try:
        f = path.open("rb")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
    with f:
        yield f, os.fstat(f.fileno()).st_size


def _chunks(f: Any, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := f.read(size):
        yield chunk


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
