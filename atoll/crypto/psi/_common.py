"""What both PSI protocols share: modes, the opening handshake, the result, messages."""

from __future__ import annotations

import dataclasses
import enum
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from atoll.codec import message
from atoll.crypto.psi._errors import PeerDataError, PSIConfigError
from atoll.crypto.psi._ids import IdSet, canonical, ordered, sort_key
from atoll.federation import Context, declare

__all__ = ["Hello", "Mode", "PSIResult", "PSITableResult"]


class Mode(enum.StrEnum):
    """What each party learns.

    - ``full``: both sides learn the shared ids (vertical training needs this).
    - ``guest_only``: the guest learns the shared ids; hosts learn only their count.
    - ``cardinality``: the guest learns only how many ids are shared (hosts
      shuffle before answering, so the guest cannot tell which); hosts learn the count.
    """

    FULL = "full"
    GUEST_ONLY = "guest_only"
    CARDINALITY = "cardinality"

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(m.value for m in cls)
            raise PSIConfigError(f"PSI mode {value!r} is not one of: {choices}") from None


@message(type_id=400)
@dataclasses.dataclass(frozen=True)
class Hello:
    """The guest's opening: which protocol and mode, and the per-job salt."""

    protocol: str
    mode: str
    salt: bytes
    version: int = 1


@dataclasses.dataclass(frozen=True)
class PSIResult:
    """One party's outcome.

    ``ids`` are this party's own id values (as it passed them) that are in the
    intersection, in the same order on every party that learns them; empty for
    a party that learns only the count.
    """

    protocol: str
    mode: str
    role: str
    ids: list[Any]
    count: int
    input_size: int
    duplicates: int

    def summary(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "mode": self.mode,
            "input_size": self.input_size,
            "duplicates": self.duplicates,
            "intersection_size": self.count,
        }


@dataclasses.dataclass(frozen=True)
class PSITableResult:
    """One party's outcome of a Table run (:func:`atoll.crypto.psi.run_table`).

    ``table`` holds this party's rows (``id -> value``, as in the input Table)
    whose ids are in the intersection; ``None`` for a party that learns only
    the count. Nothing here holds the ids in memory; :meth:`ordered_ids`
    collects them, in the order :attr:`PSIResult.ids` has on every party.
    """

    protocol: str
    mode: str
    role: str
    table: Any
    count: int
    input_size: int
    duplicates: int

    def ordered_ids(self) -> list[Any]:
        """The shared ids, sorted as :attr:`PSIResult.ids` is (the same order on every
        party). Holds every shared id (not point) in this process."""
        if self.table is None:
            return []
        ids = [key for key, _ in self.table.collect()]
        ids.sort(key=lambda k: sort_key(canonical(k)))
        return ids

    def to_result(self) -> PSIResult:
        """The list-API result: :meth:`ordered_ids` as ``ids``."""
        return PSIResult(
            self.protocol,
            self.mode,
            self.role,
            self.ordered_ids(),
            self.count,
            self.input_size,
            self.duplicates,
        )

    def summary(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "mode": self.mode,
            "input_size": self.input_size,
            "duplicates": self.duplicates,
            "intersection_size": self.count,
        }


HELLO = declare("psi_hello", sender="guest", receiver="host", payload=Hello)
POSITIONS = declare("psi_positions", sender="guest", receiver="host", payload=list)
COUNT = declare("psi_count", sender="guest", receiver="host", payload=int)


def new_salt() -> bytes:
    return secrets.token_bytes(32)


def check_hello(hello: Hello, protocol: str, mode: Mode, peer: str) -> None:
    for field, mine, theirs in [
        ("protocol", protocol, hello.protocol),
        ("mode", mode.value, hello.mode),
    ]:
        if mine != theirs:
            raise PSIConfigError(
                f"PSI {field} differs between parties: this host has {mine!r}, {peer} asked for {theirs!r}"
            )
    if hello.version != 1:
        raise PSIConfigError(f"PSI protocol version {hello.version} from {peer} is not supported")
    if len(hello.salt) < 16:
        raise PeerDataError(peer, HELLO.name, f"salt of {len(hello.salt)} bytes is too short")


def check_positions(positions: object, size: int, *, peer: str) -> list[int]:
    """The guest's list of positions into this host's unique ids: in range, no repeats."""
    if type(positions) is not list:
        raise PeerDataError(peer, POSITIONS.name, "expected a list of positions")
    seen: set[int] = set()
    for i, p in enumerate(positions):
        if type(p) is not int or not 0 <= p < size or p in seen:
            raise PeerDataError(
                peer, POSITIONS.name, f"entry {i} ({p!r}) is not a new position below {size}"
            )
        seen.add(p)
    return positions


def check_count(count: object, *, peer: str) -> int:
    if type(count) is not int or count < 0:
        raise PeerDataError(peer, COUNT.name, f"expected a non-negative count, got {count!r}")
    return count


def finish_guest(
    ctx: Context,
    protocol: str,
    mode: Mode,
    mine: IdSet,
    matched: set[int] | None,
    host_positions: Sequence[Callable[[int], int]],
) -> PSIResult:
    """The guest's last step: order the ids shared with every host, tell each host its part.

    ``host_positions[i](j)`` is the position, in host i's list, of the guest's
    j-th id (defined for every matched j).
    """
    final = sorted(matched or (), key=lambda j: (len(mine.keys[j]), mine.keys[j]))
    if mode is Mode.FULL:
        for handle, position in zip(ctx.hosts, host_positions, strict=True):
            handle.put(POSITIONS, [position(j) for j in final])
    else:
        ctx.hosts.put(COUNT, len(final))
    shared = [mine.ids[j] for j in final]
    return PSIResult(protocol, mode.value, "guest", shared, len(final), len(mine), mine.duplicates)


def finish_host(ctx: Context, protocol: str, mode: Mode, mine: IdSet, peer: str) -> PSIResult:
    """A host's last step: its shared ids (``full``) or only their count."""
    if mode is Mode.FULL:
        positions = check_positions(ctx.guest.get(POSITIONS), len(mine), peer=peer)
        shared = ordered([(mine.keys[p], mine.ids[p]) for p in positions])
        return PSIResult(
            protocol, mode.value, "host", shared, len(shared), len(mine), mine.duplicates
        )
    count = check_count(ctx.guest.get(COUNT), peer=peer)
    return PSIResult(protocol, mode.value, "host", [], count, len(mine), mine.duplicates)
