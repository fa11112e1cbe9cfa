"""Several sites on one machine, for trying Atoll out and for tests (``atoll site init-local``).

Writes a CA and, per party, ``site-<id>/site.yaml`` with its certificate, routes
to every other party on loopback, a free gateway port and API port, a random API
token in ``site-<id>/api-token`` (mode 0600) and ``data_dir: var``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

import yaml

from atoll.federation.throwaway import free_port, make_throwaway_federation

__all__ = ["init_local_sites"]


def init_local_sites(
    root: str | Path,
    party_ids: Sequence[int],
    *,
    cores: int = 2,
    allow: dict[int, dict[str, object]] | None = None,
) -> dict[int, Path]:
    """Lay out one site per party under ``root``; returns each site's config path."""
    if len(set(party_ids)) != len(party_ids) or len(party_ids) < 2:
        raise ValueError("init-local needs at least two distinct party ids")
    base = Path(root)
    if any((base / f"site-{pid}").exists() for pid in party_ids):
        raise ValueError(f"{base} already holds a site directory; choose an empty directory")
    paths = make_throwaway_federation(base, list(party_ids))
    for pid, path in paths.items():
        token_file = path.parent / "api-token"
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
        cfg = yaml.safe_load(path.read_text())
        flow: dict[str, object] = {
            "api": f"127.0.0.1:{free_port()}",
            "token_file": "api-token",
            "cores": cores,
        }
        if allow and pid in allow:
            flow["allow"] = allow[pid]
        cfg["flow"] = flow
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return paths
