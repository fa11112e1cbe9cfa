"""RSA blind-signature PSI (FATE 1.x's default): the guest and host roles side by side.

::

    guest                                         host (RSA key n, e, d)
    ---------------- psi_hello(salt) ------------------>
    <--------------- public key (n, e) -----------------
    <--------------- G(H(host id)^d) for its ids -------
    ---------------- H(id) * r^e mod n (blinded) ------>
    <--------------- (H(id) * r^e)^d = H(id)^d * r -----
    unblind: H(id)^d, compare G(.) with the host's tags
    ---------------- positions in the host's list ----->  (full) or psi_count

The host signs (CRT) every id of both parties; the guest does cheap work
(``r^e`` with e = 65537 and one inverse per id), so put the stronger machine on
the host side. Cardinality-only mode is not offered: the guest must unblind
each answer with its own ``r``, so the host cannot shuffle them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

import gmpy2

from atoll.crypto.psi import _rsa
from atoll.crypto.psi._common import (
    HELLO,
    Hello,
    Mode,
    PSIResult,
    check_hello,
    finish_guest,
    finish_host,
    new_salt,
)
from atoll.crypto.psi._errors import PeerDataError, PSIConfigError
from atoll.crypto.psi._ids import prepare_ids
from atoll.federation import Context, declare

__all__ = ["guest", "host"]

PROTOCOL = "rsa-blind-signature"
TAG_BYTES = 32
PUBLIC_KEY = declare("psi_rsa_public_key", sender="host", receiver="guest", payload=_rsa.RSAPublic)
HOST_TAGS = declare("psi_rsa_host_tags", sender="host", receiver="guest", payload=bytes)
BLINDED = declare("psi_rsa_blinded", sender="guest", receiver="host", payload=list)
SIGNED = declare("psi_rsa_signed", sender="host", receiver="guest", payload=list)


def _check_mode(mode: str | Mode) -> Mode:
    parsed = Mode.parse(mode)
    if parsed is Mode.CARDINALITY:
        raise PSIConfigError(
            "RSA blind-signature PSI does not offer cardinality-only mode; use ECDH-PSI for it"
        )
    return parsed


def guest(ctx: Context, ids: Iterable[Any], *, mode: str | Mode = Mode.FULL) -> PSIResult:
    """The guest's side: blinds its ids, has each host sign them, compares tags."""
    mode = _check_mode(mode)
    mine = prepare_ids(ids, str(ctx.local))
    salt = new_salt()
    ctx.hosts.put(HELLO, Hello(PROTOCOL, mode.value, salt))
    rng = secrets.SystemRandom()

    matched: set[int] | None = None
    per_host: list[tuple[dict[bytes, int], list[bytes]]] = []
    for handle in ctx.hosts:
        peer = f"host {handle.party_id}"
        public = handle.get(PUBLIC_KEY)
        n, e = gmpy2.mpz(public.n), gmpy2.mpz(public.e)
        nbytes = (public.n.bit_length() + 7) // 8
        blinds = [_unit(rng, public.n) for _ in mine.keys]
        hashed = [_rsa.full_domain_hash(salt, k, public.n) for k in mine.keys]
        handle.put(
            BLINDED,
            [int(h * gmpy2.powmod(r, e, n) % n) for h, r in zip(hashed, blinds, strict=True)],
        )
        tags_blob = handle.get(HOST_TAGS)
        signed = _rsa.check_residues(
            handle.get(SIGNED), public.n, peer=peer, message=SIGNED.name, count=len(mine)
        )
        if type(tags_blob) is not bytes or len(tags_blob) % TAG_BYTES:
            raise PeerDataError(peer, HOST_TAGS.name, "not a whole number of 32-byte tags")
        index = {
            tags_blob[i : i + TAG_BYTES]: i // TAG_BYTES
            for i in range(0, len(tags_blob), TAG_BYTES)
        }
        tags = [
            _rsa.tag(salt, int(z * gmpy2.invert(r, n) % n), nbytes)
            for z, r in zip(signed, blinds, strict=True)
        ]
        here = {j for j, t in enumerate(tags) if t in index}
        matched = here if matched is None else matched & here
        per_host.append((index, tags))

    positions = [lambda j, index=index, tags=tags: index[tags[j]] for index, tags in per_host]
    return finish_guest(ctx, PROTOCOL, mode, mine, matched, positions)


def host(
    ctx: Context, ids: Iterable[Any], *, mode: str | Mode = Mode.FULL, key_bits: int = 2048
) -> PSIResult:
    """A host's side: owns the RSA key, signs its own ids and the guest's blinded ones."""
    mode = _check_mode(mode)
    peer = f"guest {ctx.guest.party_id}"
    mine = prepare_ids(ids, str(ctx.local))
    hello = ctx.guest.get(HELLO)
    check_hello(hello, PROTOCOL, mode, peer)
    key = _rsa.generate_key(key_bits)
    n = key.public.n
    nbytes = (n.bit_length() + 7) // 8
    ctx.guest.put(PUBLIC_KEY, key.public)
    own = key.sign([_rsa.full_domain_hash(hello.salt, k, n) for k in mine.keys])
    blinded = _rsa.check_residues(ctx.guest.get(BLINDED), n, peer=peer, message=BLINDED.name)
    ctx.guest.put(HOST_TAGS, b"".join(_rsa.tag(hello.salt, s, nbytes) for s in own))
    ctx.guest.put(SIGNED, key.sign(blinded))
    return finish_host(ctx, PROTOCOL, mode, mine, peer)


def _unit(rng: secrets.SystemRandom, n: int) -> Any:
    """A uniformly random unit of Z_n (a blinding factor)."""
    while True:
        r = gmpy2.mpz(rng.randrange(2, n - 1))
        if gmpy2.gcd(r, n) == 1:
            return r
