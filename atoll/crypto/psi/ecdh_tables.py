"""ECDH-PSI on Tables: every step partition by partition in the site's worker processes.

The same cryptography as :mod:`~atoll.crypto.psi.ecdh` (ristretto255, one
per-job salt, one secret scalar per party), but no process ever holds more
than a partition of points: the ids come in as a Table (``id -> value``), the
points are Tables keyed by the point bytes, they travel with ``put`` (streamed
partition by partition) and are matched with Table joins.

::

    guest (scalar a)                               host i (scalar b_i)
    ---------- psi_hello(salt) ------------------------->
    ---------- Table {a*H(x): None} -------------------->    re-blind per partition
    <--------- Table {b*H(y): None} ---------------------
    <--------- Table {a*H(x): b*a*H(x)} -----------------
    join on the doubly blinded point: {a*H(x): (x, b*H(y))}
    ---------- Table {b*H(y): None} of the shared ids --->  (full)   or psi_count
                                                             join with {b*H(y): y}

A host learns which of its own points are shared (``full``), as with the list
API; it never sees an id, a hash of one, or the guest's points linked to them.
The shared points reach it sorted within each partition, so their order tells
nothing of how the guest stores its rows (with the list API they come in the
order of the shared ids, which the host can compute itself).
Each party's output is a Table of its own input rows whose ids are shared; the
order of :attr:`PSIResult.ids` (by the ids' canonical bytes, the same on every
party) is available from :meth:`PSITableResult.ordered_ids`.

Modes: ``full`` and ``guest_only``, with any number of hosts. ``cardinality``
needs the host to shuffle its answer, which a Table cannot keep from the
guest's layout; it is refused (use :func:`atoll.crypto.psi.run`).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from atoll.computing import Table, TaskError
from atoll.crypto.psi import _ristretto as group
from atoll.crypto.psi._common import (
    COUNT,
    HELLO,
    Hello,
    Mode,
    PSITableResult,
    check_count,
    check_hello,
    new_salt,
)
from atoll.crypto.psi._errors import PeerDataError, PSIConfigError, PSIError
from atoll.crypto.psi._ids import canonical
from atoll.federation import Context, declare

__all__ = ["PROTOCOL", "guest", "host"]

PROTOCOL = "ecdh-ristretto255-tables"
GUEST_POINTS = declare("psi_ecdht_guest_points", sender="guest", receiver="host", payload=Table)
HOST_POINTS = declare("psi_ecdht_host_points", sender="host", receiver="guest", payload=Table)
REBLINDED = declare("psi_ecdht_reblinded", sender="host", receiver="guest", payload=Table)
MATCHED = declare("psi_ecdht_matched", sender="guest", receiver="host", payload=Table)

_HASH_BATCH = 1024  # ids hashed per call, inside a partition


def guest(ctx: Context, table: Table, *, mode: str | Mode = Mode.FULL) -> PSITableResult:
    """The guest's side: the rows of ``table`` whose ids every host holds (or their count)."""
    with _worker_errors():
        return _guest(ctx, table, mode)


def host(ctx: Context, table: Table, *, mode: str | Mode = Mode.FULL) -> PSITableResult:
    """A host's side: its rows whose ids are shared (``full``), or only their count."""
    with _worker_errors():
        return _host(ctx, table, mode)


def _guest(ctx: Context, table: Table, mode: str | Mode) -> PSITableResult:
    mode = _check_args(ctx, table, mode)
    hosts = ctx.hosts
    salt = new_salt()
    a = group.random_scalar()
    hosts.put(HELLO, Hello(PROTOCOL, mode.value, salt))
    with _Scratch() as scratch:
        mine = scratch.add(table.map_partitions(_hasher(salt, a)))  # {a*H(x): x}
        size = mine.count()
        hosts.put(GUEST_POINTS, scratch.add(mine.map_values(_none)))
        common: Table = mine  # {a*H(x): (x, b_1*H(x), ...)} once joined with each host
        for i, handle in enumerate(hosts):
            peer = f"host {handle.party_id}"
            theirs = scratch.add(handle.get(HOST_POINTS))  # {b*H(y): None}
            # {a*b*H(y): b*H(y)}, checking every point the host sent
            theirs = scratch.add(
                theirs.map_partitions(_blinder(a, peer, HOST_POINTS.name, rekey=True))
            )
            answer = scratch.add(handle.get(REBLINDED))  # {a*H(x): b*a*H(x)}
            if answer.count() != size:
                raise PeerDataError(
                    peer, REBLINDED.name, f"expected {size} points, got {answer.count()}"
                )
            answer = scratch.add(
                answer.map_partitions(functools.partial(_by_value, peer=peer))
            )  # {b*a*H(x): a*H(x)}
            pairs = scratch.add(answer.join(theirs, _pair))  # {a*b*H(x): (a*H(x), b*H(x))}
            matched = scratch.add(pairs.map(_unpair))  # {a*H(x): b*H(x)}
            common = scratch.add(common.join(matched, _extend if i else _start))
        count = common.count()
        if mode is Mode.FULL:
            for i, handle in enumerate(hosts):
                points = scratch.add(common.map(functools.partial(_host_point, i=i)))
                # sorted within each partition, so their order depends on nothing but the set
                handle.put(MATCHED, scratch.add(points.map_partitions(_sorted_rows)))
        else:
            hosts.put(COUNT, count)
        ids = scratch.add(common.map(_guest_id))
        shared = table.join(ids, _left)
    return PSITableResult(PROTOCOL, mode.value, "guest", shared, count, size, table.count() - size)


def _host(ctx: Context, table: Table, mode: str | Mode) -> PSITableResult:
    mode = _check_args(ctx, table, mode)
    peer = f"guest {ctx.guest.party_id}"
    hello = ctx.guest.get(HELLO)
    check_hello(hello, PROTOCOL, mode, peer)
    b = group.random_scalar()
    with _Scratch() as scratch:
        mine = scratch.add(table.map_partitions(_hasher(hello.salt, b)))  # {b*H(y): y}
        size = mine.count()
        ctx.guest.put(HOST_POINTS, scratch.add(mine.map_values(_none)))
        theirs = scratch.add(ctx.guest.get(GUEST_POINTS))  # {a*H(x): None}
        answer = scratch.add(
            theirs.map_partitions(_blinder(b, peer, GUEST_POINTS.name, rekey=False))
        )
        ctx.guest.put(REBLINDED, answer)
        if mode is not Mode.FULL:
            count = check_count(ctx.guest.get(COUNT), peer=peer)
            return PSITableResult(
                PROTOCOL, mode.value, "host", None, count, size, table.count() - size
            )
        chosen = scratch.add(ctx.guest.get(MATCHED))  # {b*H(y): None}
        found = scratch.add(mine.join(chosen, _left))  # {b*H(y): y}
        if found.count() != chosen.count():
            raise PeerDataError(
                peer,
                MATCHED.name,
                f"{chosen.count() - found.count()} of {chosen.count()} points are not this host's",
            )
        ids = scratch.add(found.map(_swap_to_id))
        shared = table.join(ids, _left)
    return PSITableResult(
        PROTOCOL, mode.value, "host", shared, shared.count(), size, table.count() - size
    )


# --------------------------------------------------------------------------- helpers


def _check_args(ctx: Context, table: object, mode: str | Mode) -> Mode:
    mode = Mode.parse(mode)
    if mode is Mode.CARDINALITY:
        raise PSIConfigError(
            "cardinality-only PSI is not available on Tables; use psi.run with a list of ids"
        )
    if not isinstance(table, Table):
        raise PSIConfigError(
            f"PSI on Tables needs an atoll.computing.Table of ids, got {type(table).__name__}"
        )
    if ctx.computing is None:
        raise PSIConfigError(
            "PSI on Tables needs a context with a computing session (the peer's Tables "
            "arrive in it)"
        )
    return mode


class _Scratch(contextlib.AbstractContextManager["_Scratch"]):
    """Intermediate Tables, destroyed when the step is done (or fails)."""

    def __init__(self) -> None:
        self._tables: list[Table] = []

    def add(self, table: Table) -> Table:
        self._tables.append(table)
        return table

    def __exit__(self, *exc: object) -> None:
        while self._tables:
            with contextlib.suppress(Exception):
                self._tables.pop().destroy()


class _PeerProblem(Exception):
    """Raised in a worker (it pickles, unlike :class:`PeerDataError`); re-raised as one."""

    def __init__(self, peer: str, message: str, problem: str) -> None:
        super().__init__(peer, message, problem)


@contextlib.contextmanager
def _worker_errors() -> Iterator[None]:
    """Raise a PSI error that a worker function raised as itself, not as a TaskError."""
    try:
        yield
    except TaskError as exc:
        cause = exc.__cause__
        if isinstance(cause, _PeerProblem):
            raise PeerDataError(*cause.args) from exc
        if isinstance(cause, PSIError):
            raise cause from exc
        raise


def _hasher(salt: bytes, scalar: bytes) -> Any:
    return functools.partial(_hash_rows, salt=salt, scalar=scalar)


def _hash_rows(
    rows: Iterator[tuple[Any, Any]], *, salt: bytes, scalar: bytes
) -> Iterator[tuple[bytes, Any]]:
    """``(scalar * H(salt, id), id)`` for each row of a partition."""
    while True:
        ids = [key for key, _ in itertools.islice(rows, _HASH_BATCH)]
        if not ids:
            return
        blob = group.hash_to_points(salt, [canonical(k) for k in ids], scalar)
        for i, key in enumerate(ids):
            yield blob[32 * i : 32 * i + 32], key


def _blinder(scalar: bytes, peer: str, message: str, *, rekey: bool) -> Any:
    return functools.partial(_blind_rows, scalar=scalar, peer=peer, message=message, rekey=rekey)


def _blind_rows(
    rows: Iterable[tuple[Any, Any]], *, scalar: bytes, peer: str, message: str, rekey: bool
) -> Iterator[tuple[bytes, bytes]]:
    """``(P, scalar*P)`` (or ``(scalar*P, P)`` with ``rekey``) for each peer point P."""
    valid, mul = group._valid, group._mul
    for point, _ in rows:
        if type(point) is not bytes or len(point) != group.POINT_BYTES or not valid(point):
            raise _PeerProblem(
                peer, message, f"key {point!r:.80} is not a valid ristretto255 point"
            )
        out = mul(scalar, point)
        yield (out, point) if rekey else (point, out)


def _by_value(rows: Iterable[tuple[Any, Any]], *, peer: str) -> Iterator[tuple[bytes, bytes]]:
    """The host's answer ``{A: b*A}`` re-keyed by ``b*A``, checking both are 32 bytes."""
    for a_point, reblinded in rows:
        for what, value in (("key", a_point), ("value", reblinded)):
            if type(value) is not bytes or len(value) != group.POINT_BYTES:
                raise _PeerProblem(
                    peer, REBLINDED.name, f"{what} {value!r:.80} is not a 32-byte point"
                )
        yield reblinded, a_point


def _sorted_rows(rows: Iterable[tuple[bytes, Any]]) -> list[tuple[bytes, Any]]:
    return sorted(rows, key=lambda row: row[0])


def _none(value: Any) -> None:
    return None


def _pair(a_point: bytes, b_point: bytes) -> tuple[bytes, bytes]:
    return (a_point, b_point)


def _unpair(key: bytes, pair: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    return pair[0], pair[1]


def _start(ident: Any, b_point: bytes) -> tuple[Any, ...]:
    return (ident, b_point)


def _extend(acc: tuple[Any, ...], b_point: bytes) -> tuple[Any, ...]:
    return (*acc, b_point)


def _host_point(key: bytes, acc: tuple[Any, ...], *, i: int) -> tuple[bytes, None]:
    return acc[1 + i], None


def _guest_id(key: bytes, acc: tuple[Any, ...]) -> tuple[Any, None]:
    return acc[0], None


def _swap_to_id(key: bytes, ident: Any) -> tuple[Any, None]:
    return ident, None


def _left(mine: Any, other: Any) -> Any:
    return mine
