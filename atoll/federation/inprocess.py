"""The federation API with no sockets: every party of a job in one process.

For unit tests of protocols::

    fed = InProcessFederation(JobParties.of(guest=9999, hosts=[10000], arbiter=10001))
    results = fed.run({"guest": guest_fn, "host": host_fn, "arbiter": arbiter_fn})

Each party runs in its own thread with its own :class:`Context`. Payloads go
through the same codec and the same chunking as between sites, so what works
here works over the gateway. When one party's function raises, the others'
pending ``get`` fail at once with :class:`PeerGoneError`, and ``run`` re-raises
the first original error. Waiting on a party that has already returned fails at
once too ("finished without sending it"): a protocol bug is an error, not a hang.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from atoll.federation._context import Context, JobOptions
from atoll.federation._errors import PeerGoneError, UsageError
from atoll.federation._mailbox import Mailbox
from atoll.federation._party import JobParties, Party
from atoll.federation._tables import TableSession
from atoll.federation._transport import ChunkSource, Envelope, Incoming, MessageKey, Transport

__all__ = ["InProcessFederation", "InProcessTransport"]

T = TypeVar("T")


class InProcessTransport(Transport):
    """One mailbox per party id, shared by every party of the process."""

    def __init__(self, *, spool_dir: Path | None = None, gone_grace: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._boxes: dict[int, Mailbox] = {}
        self._spool_dir = spool_dir
        self._gone_grace = gone_grace

    def mailbox(self, party_id: int) -> Mailbox:
        with self._lock:
            box = self._boxes.get(party_id)
            if box is None:
                spool = None if self._spool_dir is None else self._spool_dir / str(party_id)
                box = self._boxes[party_id] = Mailbox(spool_dir=spool, gone_grace=self._gone_grace)
            return box

    def send(self, envelope: Envelope, chunks: ChunkSource, *, timeout: float) -> int:
        nbytes = self.mailbox(envelope.dst.party_id).deliver(envelope, chunks())
        return 0 if nbytes is None else nbytes

    def recv(self, key: MessageKey, *, timeout: float) -> Incoming:
        return self.mailbox(key[2].party_id).take(key, timeout=timeout)

    def mark_gone(self, party: Party, reason: str) -> None:
        """Tell every mailbox that ``party`` is gone (its other roles may still be alive)."""
        with self._lock:
            boxes = list(self._boxes.values())
        for box in boxes:
            box.mark_gone(party, reason)


class InProcessFederation:
    """All parties of one job in this process, each with its own context."""

    def __init__(
        self,
        parties: JobParties,
        *,
        job_id: str = "job",
        options: JobOptions | None = None,
        computing: TableSession | Mapping[Party, TableSession] | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self.parties = parties
        self.job_id = job_id
        self.options = options or JobOptions(timeout=30.0)
        self.transport = InProcessTransport(spool_dir=spool_dir)
        self._computing = computing
        for p in parties:
            self.transport.mailbox(p.party_id)

    def context(self, party: Party) -> Context:
        comp = self._computing
        session = comp.get(party) if isinstance(comp, Mapping) else comp
        return Context(
            job_id=self.job_id,
            local=party,
            parties=self.parties,
            transport=self.transport,
            options=self.options,
            computing=session,
        )

    def run(
        self,
        fns: Mapping[Party | str, Callable[[Context], T]],
        *,
        timeout: float | None = None,
    ) -> dict[Party, T]:
        """Run one function per party (key: a Party, or a role for every party of that role).

        Returns each party's result; re-raises the first error a party raised.
        """
        plan: dict[Party, Callable[[Context], T]] = {}
        for key, fn in fns.items():
            if isinstance(key, Party):
                if key not in self.parties:
                    raise UsageError(f"{key} is not a party of job {self.job_id!r}")
                plan[key] = fn
            else:
                matched = [p for p in self.parties if p.role == key]
                if not matched:
                    raise UsageError(f"job {self.job_id!r} has no party with role {key!r}")
                for p in matched:
                    plan.setdefault(p, fn)
        results: dict[Party, Any] = {}
        errors: list[tuple[Party, BaseException]] = []
        lock = threading.Lock()

        def body(party: Party, fn: Callable[[Context], T]) -> None:
            try:
                value = fn(self.context(party))
            except BaseException as exc:
                with lock:
                    errors.append((party, exc))
                self.transport.mark_gone(party, f"{party} failed: {type(exc).__name__}: {exc}")
                return
            with lock:
                results[party] = value
            # Everything it sent is already in the mailboxes: whoever still waits on it
            # waits for a message that will never come.
            self.transport.mark_gone(party, f"{party} finished without sending it")

        threads = [
            threading.Thread(
                target=body, args=(p, fn), name=f"party-{p.role}-{p.party_id}", daemon=True
            )
            for p, fn in plan.items()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout)
            if t.is_alive():
                raise TimeoutError(f"party thread {t.name} still running after {timeout} s")
        if errors:
            primary = [e for e in errors if not isinstance(e[1], PeerGoneError)] or errors
            raise primary[0][1]
        return results
