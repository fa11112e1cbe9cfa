"""Control messages to partner sites that must arrive even if the partner is briefly away.

One sender thread per partner keeps that partner's messages in order (a task's
``running`` before its ``success``) and retries while the partner's gateway does
not answer, for up to ``give_up_after`` seconds; a partner that answers with an
error is logged and the message dropped (retrying would get the same answer).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

from atoll.federation import Gateway, PeerGoneError, RefusedError, RemoteError

__all__ = ["Outbox"]

log = logging.getLogger("atoll.flow.site")


class Outbox:
    def __init__(self, gateway: Gateway, *, give_up_after: float = 600.0) -> None:
        self._gw = gateway
        self._give_up_after = give_up_after
        self._cond = threading.Condition()
        self._queues: dict[int, collections.deque[tuple[str, Any, float]]] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._busy: set[int] = set()
        self._closed = False

    def send(self, party_id: int, kind: str, body: Any) -> None:
        """Queue ``kind`` for ``party_id``'s site; returns at once."""
        with self._cond:
            if self._closed:
                return
            self._queues.setdefault(party_id, collections.deque()).append(
                (kind, body, time.monotonic())
            )
            if party_id not in self._threads:
                t = threading.Thread(
                    target=self._run, args=(party_id,), name=f"outbox-{party_id}", daemon=True
                )
                self._threads[party_id] = t
                t.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued message was delivered or dropped; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while any(self._queues.values()) or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self, party_id: int) -> None:
        queue = self._queues[party_id]
        while True:
            with self._cond:
                while not queue and not self._closed:
                    self._cond.wait()
                if not queue:
                    return
                kind, body, since = queue[0]
                self._busy.add(party_id)
            delay = 0.2
            while True:
                try:
                    self._gw.call(party_id, kind, body, timeout=10.0)
                    break
                except PeerGoneError as exc:
                    if self._closed or time.monotonic() - since > self._give_up_after:
                        log.warning("gave up sending %r to party %s: %s", kind, party_id, exc)
                        break
                    time.sleep(delay)
                    delay = min(2 * delay, 5.0)
                except (RemoteError, RefusedError) as exc:
                    log.warning("party %s did not take %r: %s", party_id, kind, exc)
                    break
                except Exception:
                    log.exception("sending %r to party %s failed", kind, party_id)
                    break
            with self._cond:
                queue.popleft()
                self._busy.discard(party_id)
                self._cond.notify_all()
