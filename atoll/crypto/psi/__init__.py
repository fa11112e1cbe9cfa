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

For inputs too large for one process, :func:`run_table` takes a Table whose
keys are the ids and runs ECDH-PSI partition by partition in the site's
workers; each party gets a Table of its shared rows (:class:`PSITableResult`)::

    result = psi.run_table(ctx, table, mode="full")     # ctx.computing receives Tables
    result.table                                        # {id: value} of the shared ids
    result.ordered_ids()                                # == psi.run(...).ids
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from atoll.computing import Table
from atoll.crypto.psi import ecdh, ecdh_tables, rsa_blind
from atoll.crypto.psi._common import Mode, PSIResult, PSITableResult
from atoll.crypto.psi._errors import PeerDataError, PSIConfigError, PSIError
from atoll.federation import Context

__all__ = [
    "PROTOCOLS",
    "TABLE_PROTOCOLS",
    "Mode",
    "PSIConfigError",
    "PSIError",
    "PSIResult",
    "PSITableResult",
    "PeerDataError",
    "run",
    "run_table",
]

PROTOCOLS = {"ecdh": ecdh, "rsa": rsa_blind}
TABLE_PROTOCOLS = {"ecdh": ecdh_tables}


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


def run_table(
    ctx: Context,
    table: Table,
    *,
    protocol: str = "ecdh",
    mode: str | Mode = Mode.FULL,
) -> PSITableResult:
    """Run this party's role of PSI on a Table whose keys are the ids (values: anything).

    Every step runs partition by partition in the workers of ``table``'s session,
    and the points travel as Tables, so no process holds more than a partition
    of points. ``ctx.computing`` (where the peer's Tables arrive) must be that
    session. Modes ``full`` and ``guest_only``, any number of hosts; Table keys
    are unique, but ``42`` and ``"42"`` are the same id, and only one of them is
    kept (counted in ``duplicates``). The result's ``table`` holds this party's
    shared rows; ``ordered_ids()`` gives the ids in :attr:`PSIResult.ids` order.
    """
    try:
        module = TABLE_PROTOCOLS[protocol]
    except KeyError:
        raise PSIConfigError(
            f"PSI protocol {protocol!r} has no Table version; one of: {', '.join(TABLE_PROTOCOLS)}"
        ) from None
    if ctx.role == "guest":
        return module.guest(ctx, table, mode=mode)
    if ctx.role == "host":
        return module.host(ctx, table, mode=mode)
    raise PSIConfigError(f"PSI has no role {ctx.role!r}; it runs between a guest and hosts")
