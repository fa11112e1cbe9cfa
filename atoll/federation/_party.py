"""Parties and roles: who takes part in a job.

A party is a (role, party_id) pair such as ``guest 9999``. A site serves one
party id; in one job it may play several roles (guest 9999 and arbiter 9999).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Iterator

from atoll.codec import message
from atoll.federation._errors import UsageError

__all__ = ["JobParties", "Party", "Role"]


class Role(enum.StrEnum):
    GUEST = "guest"
    HOST = "host"
    ARBITER = "arbiter"


_ROLES = frozenset(r.value for r in Role)
MAX_PARTY_ID = 2**63 - 1


@message(type_id=200)
@dataclasses.dataclass(frozen=True)
class Party:
    """One party of a job: its role and the id of the site that plays it."""

    role: str
    party_id: int

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise UsageError(f"party role must be one of {sorted(_ROLES)}, got {self.role!r}")
        if type(self.party_id) is not int or not 0 < self.party_id <= MAX_PARTY_ID:
            raise UsageError(f"party id must be a positive int, got {self.party_id!r}")
        # Normalise a Role member to its plain string, so equality and hashing agree.
        object.__setattr__(self, "role", str(Role(self.role).value))

    def __str__(self) -> str:
        return f"{self.role} {self.party_id}"


@dataclasses.dataclass(frozen=True)
class JobParties:
    """The parties of one job, in the fixed party order: guest, hosts, arbiter."""

    guest: Party | None = None
    hosts: tuple[Party, ...] = ()
    arbiter: Party | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "hosts", tuple(self.hosts))
        if self.guest is not None and self.guest.role != Role.GUEST:
            raise UsageError(f"guest must have role guest, got {self.guest}")
        if self.arbiter is not None and self.arbiter.role != Role.ARBITER:
            raise UsageError(f"arbiter must have role arbiter, got {self.arbiter}")
        for h in self.hosts:
            if h.role != Role.HOST:
                raise UsageError(f"hosts must have role host, got {h}")
        seen: set[Party] = set()
        for p in self.all:
            if p in seen:
                raise UsageError(f"party {p} is listed twice in the job")
            seen.add(p)
        if not seen:
            raise UsageError("a job needs at least one party")

    @classmethod
    def of(
        cls, *, guest: int | None = None, hosts: Iterable[int] = (), arbiter: int | None = None
    ) -> JobParties:
        """Build from party ids: ``JobParties.of(guest=9999, hosts=[10000], arbiter=10001)``."""
        return cls(
            guest=None if guest is None else Party(Role.GUEST, guest),
            hosts=tuple(Party(Role.HOST, h) for h in hosts),
            arbiter=None if arbiter is None else Party(Role.ARBITER, arbiter),
        )

    @property
    def all(self) -> tuple[Party, ...]:
        out: list[Party] = []
        if self.guest is not None:
            out.append(self.guest)
        out.extend(self.hosts)
        if self.arbiter is not None:
            out.append(self.arbiter)
        return tuple(out)

    def __iter__(self) -> Iterator[Party]:
        return iter(self.all)

    def __contains__(self, party: object) -> bool:
        return party in self.all
