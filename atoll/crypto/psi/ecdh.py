"""ECDH-PSI on ristretto255: the guest and host roles side by side.

Each party hashes its ids into the group with a per-job salt and blinds them
with a secret scalar; each re-blinds the other's points; equal ids give equal
doubly blinded points ``a*b*H(id)``, and nothing else can be linked (DDH).

::

    guest (scalar a)                          host (scalar b)
    ---------------- psi_hello(salt) ------------------>
    ---------------- A = a*H(guest ids) --------------->
    <--------------- B = b*H(host ids) -----------------
    <--------------- b*A (shuffled for cardinality) ----
    a*B, compare with b*A
    ---------------- positions in B (full) ------------>  or psi_count

Cost: two scalar multiplications per id on each side (plus one hash to the
group), i.e. four per pair of ids in all. Several hosts: the guest runs the
exchange with each and keeps the ids common to all.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Iterable
from typing import Any

from atoll.computing import ComputingSession
from atoll.crypto.psi import _ristretto as group
from atoll.crypto.psi._batches import map_batches, session_of
from atoll.crypto.psi._common import (
    COUNT,
    HELLO,
    Hello,
    Mode,
    PSIResult,
    check_hello,
    finish_guest,
    finish_host,
    new_salt,
)
from atoll.crypto.psi._errors import PSIConfigError
from atoll.crypto.psi._ids import prepare_ids
from atoll.federation import Context, declare

__all__ = ["guest", "host"]

PROTOCOL = "ecdh-ristretto255"
GUEST_POINTS = declare("psi_ecdh_guest_points", sender="guest", receiver="host", payload=bytes)
HOST_POINTS = declare("psi_ecdh_host_points", sender="host", receiver="guest", payload=bytes)
REBLINDED = declare("psi_ecdh_reblinded", sender="host", receiver="guest", payload=bytes)


def guest(
    ctx: Context,
    ids: Iterable[Any],
    *,
    mode: str | Mode = Mode.FULL,
    computing: ComputingSession | None = None,
) -> PSIResult:
    """The guest's side: learns the intersection (or its size) with every host.

    With a computing session (given, or the context's) the curve work runs in
    the site's worker processes, batch by batch.
    """
    mode = Mode.parse(mode)
    session = session_of(ctx, computing)
    hosts = ctx.hosts
    if mode is Mode.CARDINALITY and len(hosts) > 1:
        raise PSIConfigError("cardinality-only PSI works with exactly one host")
    mine = prepare_ids(ids, str(ctx.local))
    salt = new_salt()
    a = group.random_scalar()
    hosts.put(HELLO, Hello(PROTOCOL, mode.value, salt))
    hosts.put(GUEST_POINTS, _hash(session, salt, mine.keys, a))

    matched: set[int] | None = None  # guest positions present at every host so far
    host_index: list[dict[bytes, int]] = []
    reblinded_all: list[list[bytes]] = []
    for handle in hosts:
        peer = f"host {handle.party_id}"
        theirs = _reblind(session, handle.get(HOST_POINTS), a, peer=peer, message=HOST_POINTS.name)
        index = {p: k for k, p in enumerate(theirs)}
        reblinded = group.split_blob(
            handle.get(REBLINDED), peer=peer, message=REBLINDED.name, count=len(mine)
        )
        if mode is Mode.CARDINALITY:
            count = sum(1 for p in reblinded if p in index)
            handle.put(COUNT, count)
            return PSIResult(PROTOCOL, mode.value, "guest", [], count, len(mine), mine.duplicates)
        here = {j for j, p in enumerate(reblinded) if p in index}
        matched = here if matched is None else matched & here
        host_index.append(index)
        reblinded_all.append(reblinded)

    positions = [
        lambda j, index=index, reblinded=reblinded: index[reblinded[j]]
        for index, reblinded in zip(host_index, reblinded_all, strict=True)
    ]
    return finish_guest(ctx, PROTOCOL, mode, mine, matched, positions)


def host(
    ctx: Context,
    ids: Iterable[Any],
    *,
    mode: str | Mode = Mode.FULL,
    computing: ComputingSession | None = None,
) -> PSIResult:
    """A host's side: learns the intersection in ``full`` mode, only its size otherwise."""
    mode = Mode.parse(mode)
    session = session_of(ctx, computing)
    peer = f"guest {ctx.guest.party_id}"
    mine = prepare_ids(ids, str(ctx.local))
    hello = ctx.guest.get(HELLO)
    check_hello(hello, PROTOCOL, mode, peer)
    b = group.random_scalar()
    ctx.guest.put(HOST_POINTS, _hash(session, hello.salt, mine.keys, b))
    points = _reblind(session, ctx.guest.get(GUEST_POINTS), b, peer=peer, message=GUEST_POINTS.name)
    if mode is Mode.CARDINALITY:
        secrets.SystemRandom().shuffle(points)
    ctx.guest.put(REBLINDED, b"".join(points))
    return finish_host(ctx, PROTOCOL, mode, mine, peer)


def _hash(session: ComputingSession | None, salt: bytes, keys: list[bytes], scalar: bytes) -> bytes:
    work = functools.partial(_hash_batch, salt=salt, scalar=scalar)
    return b"".join(map_batches(session, work, keys))


def _hash_batch(start: int, keys: list[bytes], *, salt: bytes, scalar: bytes) -> bytes:
    return group.hash_to_points(salt, keys, scalar)


def _reblind(
    session: ComputingSession | None, blob: object, scalar: bytes, *, peer: str, message: str
) -> list[bytes]:
    """Check a peer's points, then multiply each by ``scalar`` (in batches)."""
    points = group.split_blob(blob, peer=peer, message=message)
    work = functools.partial(group.blind_points, scalar=scalar, peer=peer, message=message)
    return [p for batch in map_batches(session, work, points) for p in batch]
