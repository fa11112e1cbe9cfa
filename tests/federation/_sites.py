"""Helpers that lay out a throwaway federation on loopback for tests."""

from __future__ import annotations

from pathlib import Path

from atoll.federation.certs import init_ca
from atoll.federation.throwaway import free_port, make_throwaway_federation

__all__ = ["free_port", "make_ca", "make_sites"]


def make_ca(root: Path, name: str = "ca") -> Path:
    ca_dir = root / name
    init_ca(ca_dir)
    return ca_dir


def make_sites(
    root: Path,
    party_ids: list[int],
    *,
    insecure: bool = False,
    extra: dict[str, object] | None = None,
) -> dict[int, Path]:
    """One site config per party, all routing to each other on loopback, 30 s get timeout."""
    return make_throwaway_federation(
        root, party_ids, insecure=insecure, extra={"get_timeout": 30, **(extra or {})}
    )
