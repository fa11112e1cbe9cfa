"""Declared messages: a protocol names each message once, with who sends it to whom.

::

    HALF_D = declare("half_d", sender="guest", receiver="host", payload=np.ndarray)

    ctx.hosts.put(HALF_D, half_d)        # on the guest
    half_d = ctx.guest.get(HALF_D)       # on each host

A declared message is checked on both sides: the sender's and receiver's roles,
and the payload's type, so a mismatch is an immediate :class:`UsageError` or
:class:`PayloadError` naming the message, not a silent hang.
"""

from __future__ import annotations

import dataclasses

from atoll.federation._errors import UsageError
from atoll.federation._party import Role
from atoll.federation._tags import check_name

__all__ = ["MessageDef", "declare"]

RoleSpec = str | Role | tuple[str | Role, ...]


@dataclasses.dataclass(frozen=True)
class MessageDef:
    name: str
    sender: frozenset[str]
    receiver: frozenset[str]
    payload: type | tuple[type, ...] | None = None

    def __str__(self) -> str:
        return self.name


def _roles(spec: RoleSpec, what: str, name: str) -> frozenset[str]:
    items = (spec,) if isinstance(spec, str) else tuple(spec)
    out: set[str] = set()
    for r in items:
        try:
            out.add(Role(r).value)
        except ValueError:
            raise UsageError(f"message {name!r}: {what} role {r!r} is not a role") from None
    if not out:
        raise UsageError(f"message {name!r}: no {what} role")
    return frozenset(out)


def declare(
    name: str,
    *,
    sender: RoleSpec,
    receiver: RoleSpec,
    payload: type | tuple[type, ...] | None = None,
) -> MessageDef:
    """Declare a message once: its name, sending and receiving roles, and payload type."""
    check_name(name)
    return MessageDef(
        name, _roles(sender, "sender", name), _roles(receiver, "receiver", name), payload
    )
