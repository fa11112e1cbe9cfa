"""Private set intersection: find the ids parties share without revealing the others.

Two protocols, each with its guest and host roles side by side:

- :mod:`~atoll.crypto.psi.ecdh`: ECDH-PSI on ristretto255 (FATE 2.x's and
  SecretFlow's choice; the fastest);
- :mod:`~atoll.crypto.psi.rsa_blind`: RSA blind signatures (FATE 1.x's default).

Both take a federation context (never a socket) and an iterable of ids::

    result = psi.run(ctx, ids, protocol="ecdh", mode="full")   # on every party

Modes (:class:`Mode`): ``full`` (both sides learn the shared ids),
``guest_only`` (hosts learn only the count), ``cardinality`` (ECDH, one host:
only the count). Duplicate ids are dropped (first occurrence kept) and counted
in :attr:`PSIResult.duplicates`; ints and strings compare by their text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from atoll.crypto.psi import ecdh, rsa_blind
from atoll.crypto.psi._common import Mode, PSIResult
from atoll.crypto.psi._errors import PeerDataError, PSIConfigError, PSIError
from atoll.federation import Context

__all__ = ["PROTOCOLS", "Mode", "PSIConfigError", "PSIError", "PSIResult", "PeerDataError", "run"]

PROTOCOLS = {"ecdh": ecdh, "rsa": rsa_blind}


def run(
    ctx: Context,
    ids: Iterable[Any],
    *,
    protocol: str = "ecdh",
    mode: str | Mode = Mode.FULL,
    **options: Any,
) -> PSIResult:
    """Run this party's role of a PSI protocol (``ctx.role`` picks guest or host)."""
    try:
        module = PROTOCOLS[protocol]
    except KeyError:
        raise PSIConfigError(
            f"PSI protocol {protocol!r} is not one of: {', '.join(PROTOCOLS)}"
        ) from None
    if ctx.role == "guest":
        return module.guest(ctx, ids, mode=mode, **options)
    if ctx.role == "host":
        return module.host(ctx, ids, mode=mode, **options)
    raise PSIConfigError(f"PSI has no role {ctx.role!r}; it runs between a guest and hosts")
