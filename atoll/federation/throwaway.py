"""A throwaway federation on one machine: a CA, one certificate and config per site.

For ``atoll run job.yaml`` (every party of a job on this machine, each its own
process with its own gateway on loopback, mutual TLS with throwaway
certificates) and for tests::

    configs = make_throwaway_federation(tmp_dir, [9999, 10000, 10001])
    gateway = Gateway(load_site_config(configs[9999])).start()
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from atoll.federation.certs import init_ca, issue_site_cert

__all__ = ["free_port", "make_throwaway_federation"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS may hand it out again)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def make_throwaway_federation(
    root: str | Path,
    party_ids: Sequence[int],
    *,
    host: str = "127.0.0.1",
    insecure: bool = False,
    extra: Mapping[str, Any] | None = None,
    per_party: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[int, Path]:
    """Write ``root/site-<id>/site.yaml`` for each party, every site routing to every other.

    With ``insecure=False`` (the default) a CA is created in ``root/ca`` and each
    site gets its own certificate; ``insecure=True`` is for loopback only. ``extra``
    adds settings to every site's config, ``per_party`` to one site's (by party id,
    after ``extra``), e.g. ``{10000: {"computing": {"engine": "spark"}}}``.
    """
    base = Path(root)
    ports = {pid: free_port(host) for pid in party_ids}
    ca_dir = base / "ca"
    if not insecure:
        init_ca(ca_dir)
    out: dict[int, Path] = {}
    for pid in party_ids:
        site = base / f"site-{pid}"
        site.mkdir(parents=True, exist_ok=True)
        cfg: dict[str, Any] = {
            "party_id": pid,
            "listen": f"{host}:{ports[pid]}",
            "routes": {p: f"{host}:{ports[p]}" for p in party_ids if p != pid},
            "data_dir": "var",
        }
        if insecure:
            cfg["insecure"] = True
        else:
            issue_site_cert(pid, ca_dir, site / "certs")
            cfg.update(
                cert=f"certs/party-{pid}.crt", key=f"certs/party-{pid}.key", ca="certs/ca.crt"
            )
        cfg.update(extra or {})
        cfg.update((per_party or {}).get(pid, {}))
        path = site / "site.yaml"
        path.write_text(yaml.safe_dump(cfg))
        out[pid] = path
    return out
