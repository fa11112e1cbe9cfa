"""A site's configuration file (YAML), validated at the boundary.

::

    party_id: 9999
    listen: 0.0.0.0:9370
    cert: certs/party-9999.crt       # relative paths are relative to this file
    key: certs/party-9999.key
    ca: certs/ca.crt
    routes:
      10000: 10.0.0.2:9370
      10001: arbiter.example.org:9370
    data_dir: var/9999               # optional: spool for large incoming messages, and
                                     # var/9999/gateway.sock for this site's worker processes
    # local_socket: /run/atoll.sock  # optional: where worker processes reach the gateway
    # insecure: true                 # plaintext; only when every address is loopback
    computing:                       # optional: where this site runs its Tables
      engine: spark                  # standalone (the default) or spark
      master: spark://10.0.0.9:7077  # spark only: the cluster (default local[*])
      partitions: 8                  # spark only: default partitions of a new Table
      workers: 4                     # standalone only: worker processes
      options:                       # spark only: Spark conf, passed through unchanged
        spark.executor.memory: 8g

Every site chooses its computing engine on its own: one party may run its Tables on
Spark while its partners stay on the standalone backend.

Every error names the file and the field at fault (``site.yaml: routes.10000:
...``). Contradictory settings are refused: ``insecure: true`` with certificate
files, or with any non-loopback address.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from atoll.federation._errors import ConfigError

__all__ = ["ComputingConfig", "SiteConfig", "is_loopback", "load_site_config", "parse_address"]

MiB = 1024 * 1024


def parse_address(value: str) -> tuple[str, int]:
    """Split ``host:port`` (or ``[v6]:port``); raise ValueError if malformed."""
    if not isinstance(value, str) or ":" not in value:
        raise ValueError(f"expected host:port, got {value!r}")
    host, _, port_text = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError(f"expected host:port, got {value!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"port must be a number, got {port_text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port must be in 1-65535, got {port}")
    return host, port


def is_loopback(address: str) -> bool:
    host, _ = parse_address(address)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: The computing engines a site may name (``computing.engine``).
COMPUTING_ENGINES = ("standalone", "spark")


class ComputingConfig(BaseModel):
    """Where a site runs its Tables: ``engine`` and the settings of that engine.

    ``standalone`` takes ``workers`` (worker processes; default: the job's). ``spark``
    takes ``master`` (a Spark master URL: ``local[N]``, ``spark://host:port``, ``yarn``,
    ...), ``partitions`` (default partitions of a new Table) and ``options`` (Spark conf
    keys and values, e.g. ``spark.executor.memory: 8g``; passed on as strings); settings of
    the other engine are refused rather than ignored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str = "standalone"
    master: str | None = Field(default=None, min_length=1)
    partitions: int | None = Field(default=None, ge=1, le=1_000_000)
    workers: int | None = Field(default=None, ge=1, le=1024)
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("engine")
    @classmethod
    def _check_engine(cls, v: str) -> str:
        if v not in COMPUTING_ENGINES:
            raise ValueError(f"must be one of {', '.join(COMPUTING_ENGINES)}, got {v!r}")
        return v

    @field_validator("options")
    @classmethod
    def _check_options(
        cls, v: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        bad = [k for k in v if not k.strip()]
        if bad:
            raise ValueError("option names must not be empty")
        return v

    @model_validator(mode="after")
    def _check_engine_settings(self) -> ComputingConfig:
        if self.engine == "standalone":
            given = [
                name
                for name, value in (
                    ("master", self.master),
                    ("partitions", self.partitions),
                    ("options", self.options or None),
                )
                if value is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: only for engine: spark (this site's engine is standalone)"
                )
        elif self.workers is not None:
            raise ValueError(
                "workers: only for engine: standalone (Spark's executors come from master "
                "and options)"
            )
        return self

    def session_kwargs(self, default_workers: int | None = None) -> dict[str, Any]:
        """The keyword arguments for :func:`atoll.computing.open_session` (all but
        ``data_dir``): ``engine``, then only the settings given; a standalone site without
        ``workers`` gets ``default_workers`` (the job's)."""
        out: dict[str, Any] = {"engine": self.engine}
        workers = self.workers if self.workers is not None else default_workers
        if self.engine == "standalone" and workers is not None:
            out["workers"] = workers
        if self.master is not None:
            out["master"] = self.master
        if self.partitions is not None:
            out["partitions"] = self.partitions
        if self.options:
            # Spark's conf is strings; YAML's true/false become Spark's "true"/"false"
            out["conf"] = {
                k: (str(v).lower() if isinstance(v, bool) else str(v))
                for k, v in self.options.items()
            }
        return out


class SiteConfig(BaseModel):
    """One site: the party it serves, where it listens, its TLS files and its routes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    party_id: int = Field(gt=0, lt=2**63)
    listen: str
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None
    insecure: bool = False
    routes: dict[int, str] = Field(default_factory=dict)
    data_dir: Path | None = None
    local_socket: Path | None = None
    chunk_size: int = Field(default=4 * MiB, ge=64 * 1024, le=64 * MiB)
    max_chunk_size: int = Field(default=8 * MiB, ge=64 * 1024, le=128 * MiB)
    spill_threshold: int = Field(default=16 * MiB, ge=0)
    get_timeout: float = Field(default=600.0, gt=0)
    gone_grace: float = Field(default=3.0, ge=0)
    send_retry_for: float = Field(default=30.0, gt=0)
    computing: ComputingConfig = Field(default_factory=ComputingConfig)

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, v: str) -> str:
        parse_address(v)
        return v

    @field_validator("routes")
    @classmethod
    def _check_routes(cls, v: dict[int, str]) -> dict[int, str]:
        for party_id, address in v.items():
            if party_id <= 0:
                raise ValueError(f"route party id must be positive, got {party_id}")
            try:
                parse_address(address)
            except ValueError as exc:
                raise ValueError(f"route {party_id}: {exc}") from None
        return v

    @model_validator(mode="after")
    def _check_consistency(self) -> SiteConfig:
        if self.party_id in self.routes:
            raise ValueError(f"routes: lists this site's own party id {self.party_id}")
        if self.max_chunk_size < self.chunk_size:
            raise ValueError(
                f"max_chunk_size ({self.max_chunk_size}) must be >= chunk_size ({self.chunk_size})"
            )
        tls = {"cert": self.cert, "key": self.key, "ca": self.ca}
        if self.insecure:
            given = [k for k, v in tls.items() if v is not None]
            if given:
                raise ValueError(
                    f"insecure: true contradicts the TLS files given ({', '.join(given)})"
                )
            far = [a for a in [self.listen, *self.routes.values()] if not is_loopback(a)]
            if far:
                raise ValueError(
                    f"insecure: true is only allowed when every address is loopback; not: {', '.join(far)}"
                )
        else:
            missing = [k for k, v in tls.items() if v is None]
            if missing:
                raise ValueError(
                    f"{'/'.join(missing)}: required (mutual TLS is the default; "
                    "plaintext needs insecure: true and loopback addresses)"
                )
        return self

    @property
    def secure(self) -> bool:
        return not self.insecure

    @property
    def local_socket_path(self) -> Path | None:
        """The Unix socket for this site's worker processes (default: under ``data_dir``)."""
        if self.local_socket is not None:
            return self.local_socket
        return None if self.data_dir is None else self.data_dir / "gateway.sock"


def _format_error(source: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        shown = ""
        if err["type"] not in ("missing", "value_error") and not isinstance(err.get("input"), dict):
            shown = f" (got {err.get('input')!r})"
        lines.append(f"{source}: {loc}: {msg}{shown}" if loc else f"{source}: {msg}")
    return "\n".join(lines)


def site_config_from_dict(
    data: Any, *, source: str = "<site config>", base: Path | None = None
) -> SiteConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    try:
        cfg = SiteConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(source, exc)) from None
    if base is not None:
        updates: dict[str, Path] = {}
        for name in ("cert", "key", "ca", "data_dir", "local_socket"):
            value = getattr(cfg, name)
            if value is not None and not value.is_absolute():
                updates[name] = base / value
        cfg = cfg.model_copy(update=updates)
    for name in ("cert", "key", "ca"):
        value = getattr(cfg, name)
        if value is not None and not value.is_file():
            raise ConfigError(f"{source}: {name}: file not found: {value}")
    return cfg


def load_site_config(path: str | Path) -> SiteConfig:
    """Read and validate a site config file; raise ConfigError naming the file and field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return site_config_from_dict(data, source=str(p), base=p.parent)
