"""A site's whole configuration (``atoll site serve --config site.yaml``).

The gateway's settings (:class:`~atoll.federation.config.SiteConfig`) sit at the
top level, as ``atoll site gateway`` reads them; the flow service's under
``flow:``::

    party_id: 9999
    listen: 0.0.0.0:9370             # the gateway (mutual TLS)
    cert: certs/party-9999.crt
    key: certs/party-9999.key
    ca: certs/ca.crt
    routes: {10000: 10.0.0.2:9370}
    data_dir: var                    # tables, job outputs, spool, logs
    flow:
      api: 127.0.0.1:9380            # the REST API (HTTP; put TLS in front of it to expose it)
      token_file: api-token          # or token: ...; every API call carries it as a Bearer token
      database: sqlite:///var/jobs.db   # or postgresql+psycopg://user:pw@host/db
      cores: 2                       # tasks of independent components run in parallel up to this
      workers: 1                     # computing worker processes per task
      allow:
        parties: [10000]             # partners whose jobs this site accepts (default: every route)
        components: ["*"]            # components they may run here (default: all)

Relative paths are relative to the file. Every error names the file and the field.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pydantic
import yaml

from atoll.federation import ConfigError
from atoll.federation.config import SiteConfig, parse_address, site_config_from_dict

__all__ = ["AllowList", "FlowConfig", "ServeConfig", "load_serve_config", "serve_config_from_dict"]


class AllowList(pydantic.BaseModel):
    """Which partners may start jobs here, and which components they may run."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    parties: list[int] | None = None  # None: every party this site has a route to
    components: list[str] = ["*"]

    def party_allowed(self, party_id: int, routes: dict[int, str]) -> bool:
        allowed = set(routes) if self.parties is None else set(self.parties)
        return party_id in allowed

    def component_allowed(self, name: str) -> bool:
        return "*" in self.components or name in self.components


class FlowConfig(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    api: str = "127.0.0.1:9380"
    token: str | None = None
    token_file: Path | None = None
    database: str | None = None  # default: sqlite:///<data_dir>/jobs.db
    cores: int = pydantic.Field(default=2, ge=1, le=1024)
    workers: int = pydantic.Field(default=1, ge=1, le=1024)
    job_dir: Path | None = None  # default: <data_dir>/jobs
    allow: AllowList = AllowList()
    propose_timeout: float = pydantic.Field(default=300.0, gt=0)

    @pydantic.field_validator("api")
    @classmethod
    def _check_api(cls, v: str) -> str:
        parse_address(v)
        return v

    @pydantic.model_validator(mode="after")
    def _one_token(self) -> FlowConfig:
        if self.token is not None and self.token_file is not None:
            raise ValueError("give token or token_file, not both")
        if self.token is None and self.token_file is None:
            raise ValueError("token or token_file is required: every API call must carry it")
        if self.token is not None and len(self.token) < 16:
            raise ValueError("token: use at least 16 characters")
        return self


class ServeConfig(pydantic.BaseModel):
    """The gateway's config, the flow service's, and where the site keeps its files."""

    model_config = pydantic.ConfigDict(frozen=True, arbitrary_types_allowed=True)

    site: SiteConfig
    flow: FlowConfig
    source: str
    token: str
    data_dir: Path
    database: str
    job_dir: Path

    @property
    def party_id(self) -> int:
        return self.site.party_id

    @property
    def api_url(self) -> str:
        host, port = parse_address(self.flow.api)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        try:
            if ipaddress.ip_address(host).version == 6:
                host = f"[{host}]"
        except ValueError:
            pass
        return f"http://{host}:{port}"


def serve_config_from_dict(
    data: Any, *, source: str = "<site config>", base: Path | None = None
) -> ServeConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    raw = dict(data)
    flow_raw = raw.pop("flow", None)
    if flow_raw is None:
        raise ConfigError(f"{source}: flow: required for a site that serves jobs (api, token)")
    if raw.get("data_dir") is None:
        raise ConfigError(f"{source}: data_dir: required for a site that serves jobs")
    site = site_config_from_dict(raw, source=source, base=base)
    try:
        flow = FlowConfig.model_validate(flow_raw)
    except pydantic.ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in ("flow", *err["loc"]))
            lines.append(f"{source}: {loc}: {err['msg'].removeprefix('Value error, ')}")
        raise ConfigError("\n".join(lines)) from None
    root = base or Path.cwd()
    assert site.data_dir is not None
    data_dir = site.data_dir if site.data_dir.is_absolute() else root / site.data_dir
    if flow.token_file is not None:
        path = flow.token_file if flow.token_file.is_absolute() else root / flow.token_file
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{source}: flow.token_file: cannot read {path}: {exc.strerror}"
            ) from None
        if len(token) < 16:
            raise ConfigError(f"{source}: flow.token_file: {path} holds fewer than 16 characters")
    else:
        assert flow.token is not None
        token = flow.token
    for pid in flow.allow.parties or []:
        if pid not in site.routes:
            raise ConfigError(
                f"{source}: flow.allow.parties: party {pid} has no route (add it under routes:)"
            )
    job_dir = flow.job_dir or Path("jobs")
    if not job_dir.is_absolute():
        job_dir = (data_dir / job_dir) if flow.job_dir is None else root / job_dir
    database = flow.database or f"sqlite:///{data_dir.resolve() / 'jobs.db'}"
    return ServeConfig(
        site=site,
        flow=flow,
        source=source,
        token=token,
        data_dir=data_dir.resolve(),
        database=database,
        job_dir=job_dir.resolve(),
    )


def load_serve_config(path: str | Path) -> ServeConfig:
    """Read and validate a site's config file; ConfigError names the file and the field."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return serve_config_from_dict(data, source=str(p), base=p.resolve().parent)
