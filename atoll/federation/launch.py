"""Run every party of a job on this machine, each in its own OS process with its own gateway.

This is the process model of ``atoll run`` and ``atoll demo``: a throwaway
federation (a CA, one certificate and site config per party) on loopback with
mutual TLS, one process per party, each with its gateway, its computing session
and its :class:`~atoll.federation.Context`. The party function is named by an
import path (``"package.module:function"``) and called as ``fn(ctx, params)``.

Only codec-encoded bytes pass between the launcher and the parties: parameters
go in, and each party's result (or its error, as type, message and traceback
text) comes back through the codec, never pickle.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import importlib
import logging
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from atoll import codec
from atoll.computing import open_session
from atoll.federation._context import JobOptions
from atoll.federation._errors import FederationError, UsageError
from atoll.federation._party import JobParties, Party
from atoll.federation.config import ComputingConfig, load_site_config
from atoll.federation.grpc_gateway import Gateway
from atoll.federation.throwaway import make_throwaway_federation
from atoll.federation.transcript import Transcript

__all__ = [
    "PartyFailed",
    "PartyOutcome",
    "emit_event",
    "exit_with_parent",
    "run_exit_handlers",
    "run_local_job",
]

log = logging.getLogger("atoll.launch")


class PartyFailed(FederationError):
    """A party's function raised; carries the party, the error type, message and traceback."""

    def __init__(self, party: Party, kind: str, text: str, trace: str) -> None:
        super().__init__(f"{party} failed: {kind}: {text}")
        self.party = party
        self.kind = kind
        self.text = text
        self.trace = trace


@dataclasses.dataclass(frozen=True)
class PartyOutcome:
    """What one party returned, and how long it took."""

    party: Party
    result: Any
    seconds: float
    transcript: list[dict[str, Any]]


def run_local_job(
    target: str,
    parties: JobParties,
    params: Mapping[Party, Any],
    *,
    job_id: str = "local-job",
    workdir: str | Path | None = None,
    timeout: float = 600.0,
    workers: int = 1,
    insecure: bool = False,
    log_level: int = logging.INFO,
    transcript: bool = False,
    on_event: Callable[[Party, Any], None] | None = None,
    computing: Mapping[Party, Mapping[str, Any]] | None = None,
) -> dict[Party, PartyOutcome]:
    """Run ``target(ctx, params[party])`` on every party, each in its own process.

    ``workers`` is the number of computing worker processes per site (1 runs
    inline). ``computing`` gives some parties a computing config of their own (the
    ``computing:`` section of a site config, e.g. ``{host: {"engine": "spark",
    "master": "local[2]"}}``); the others use the standalone backend. With ``transcript=True`` each outcome lists what that party sent
    and received (name, tag, payload summary, bytes). A party function may call
    :func:`emit_event` (progress, say); ``on_event(party, event)`` receives each
    event in the launcher as it happens. Returns each party's outcome; raises
    :class:`PartyFailed` for the first party that failed (the others are stopped).
    """
    _resolve(target)  # fail here, with the path in the message, not in every child
    ids = [p.party_id for p in parties]
    if len(set(ids)) != len(ids):
        raise UsageError("run_local_job needs a distinct party id for every party")
    missing = [str(p) for p in parties if p not in params]
    if missing:
        raise UsageError(f"no parameters for {', '.join(missing)}")
    per_party = _computing_configs(parties, computing)
    spec = codec.encode(
        {
            "guest": None if parties.guest is None else parties.guest.party_id,
            "hosts": [h.party_id for h in parties.hosts],
            "arbiter": None if parties.arbiter is None else parties.arbiter.party_id,
            "job_id": job_id,
            "timeout": timeout,
            "workers": workers,
            "log_level": log_level,
            "transcript": transcript,
        }
    )
    with tempfile.TemporaryDirectory(prefix="atoll-job-") as tmp:
        root = Path(workdir) if workdir is not None else Path(tmp)
        configs = make_throwaway_federation(root, ids, insecure=insecure, per_party=per_party)
        ctx = mp.get_context("spawn")
        procs: dict[Party, tuple[Any, Connection]] = {}
        for party in parties:
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(
                target=_party_main,
                args=(
                    theirs,
                    target,
                    str(configs[party.party_id]),
                    party.role,
                    party.party_id,
                    spec,
                ),
                name=f"atoll-{party.role}-{party.party_id}",
                daemon=False,  # a party runs its own worker processes
            )
            proc.start()
            theirs.close()
            mine.send_bytes(codec.encode(params[party]))
            procs[party] = (proc, mine)
        try:
            return _collect(procs, timeout, on_event)
        finally:
            for _proc, conn in procs.values():
                with contextlib.suppress(OSError):
                    conn.send_bytes(b"stop")
            for proc, conn in procs.values():
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
                conn.close()


def _computing_configs(
    parties: JobParties, computing: Mapping[Party, Mapping[str, Any]] | None
) -> dict[int, dict[str, Any]]:
    """Each named party's ``computing:`` site setting, validated here (so a bad one fails
    before any process starts, naming the party and the field)."""
    from pydantic import ValidationError

    out: dict[int, dict[str, Any]] = {}
    members = set(parties)
    for party, cfg in (computing or {}).items():
        if party not in members:
            raise UsageError(f"computing: {party} is not a party of this job")
        try:
            valid = ComputingConfig.model_validate(dict(cfg))
        except ValidationError as exc:
            errors = "; ".join(
                f"{'.'.join(str(p) for p in ('computing', *e['loc']))}: "
                + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            )
            raise UsageError(f"{party}: {errors}") from None
        out[party.party_id] = {"computing": valid.model_dump(exclude_defaults=True)}
    return out


def _collect(
    procs: Mapping[Party, tuple[Any, Connection]],
    timeout: float,
    on_event: Callable[[Party, Any], None] | None,
) -> dict[Party, PartyOutcome]:
    deadline = time.monotonic() + timeout + 30
    pending = dict(procs)
    out: dict[Party, PartyOutcome] = {}
    while pending:
        for party, (proc, conn) in list(pending.items()):
            if conn.poll(0.05):
                try:
                    reply = codec.decode(conn.recv_bytes())
                except (EOFError, OSError):
                    raise PartyFailed(
                        party, "ProcessDied", f"exit code {proc.exitcode}", ""
                    ) from None
                if not isinstance(reply, dict):
                    raise PartyFailed(
                        party, "ProtocolError", "malformed reply from party process", ""
                    )
                if "event" in reply:
                    if on_event is not None:
                        on_event(party, reply["event"])
                    continue
                if "error" in reply:
                    kind, text, trace = reply["error"]
                    raise PartyFailed(party, kind, text, trace)
                out[party] = PartyOutcome(
                    party, reply["result"], reply["seconds"], reply["transcript"]
                )
                del pending[party]
            elif not proc.is_alive():
                raise PartyFailed(party, "ProcessDied", f"exit code {proc.exitcode}", "")
        if time.monotonic() > deadline:
            raise PartyFailed(
                next(iter(pending)), "Timeout", f"no result after {timeout:.0f} s", ""
            )
    return out


_emit_lock = threading.Lock()
_emit_conn: Connection | None = None


def emit_event(event: Any) -> None:
    """Send ``event`` (codec-encodable) to the launcher's ``on_event``; a no-op
    outside a party process started by :func:`run_local_job`."""
    conn = _emit_conn
    if conn is None:
        return
    data = codec.encode({"event": event})
    with _emit_lock, contextlib.suppress(OSError):
        conn.send_bytes(data)


def _resolve(target: str) -> Callable[..., Any]:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise UsageError(f"job target {target!r} must look like 'package.module:function'")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot load job target {target!r}: {exc}") from None
    if not callable(fn):
        raise UsageError(f"job target {target!r} is not callable")
    return cast(Callable[..., Any], fn)


def _party_main(
    conn: Connection, target: str, config_path: str, role: str, party_id: int, spec_bytes: bytes
) -> None:
    """Entry point of one party's process (spawned: only a pipe, strings, ints and bytes come in)."""
    spec = cast(dict[str, Any], codec.decode(spec_bytes))
    logging.basicConfig(
        level=spec["log_level"],
        stream=sys.stderr,
        format=f"%(asctime)s [{role} {party_id}] %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    party = Party(role, party_id)
    start = time.perf_counter()
    global _emit_conn
    _emit_conn = conn
    exit_with_parent()
    try:
        params = codec.decode(conn.recv_bytes())
        fn = _resolve(target)
        config = load_site_config(config_path)
        parties = JobParties.of(guest=spec["guest"], hosts=spec["hosts"], arbiter=spec["arbiter"])
        data_dir = Path(config_path).parent / "var" / "tables"
        session_kwargs = config.computing.session_kwargs(spec["workers"])
        # the computing session first: a Spark session starts its JVM as a child process,
        # and forking while gRPC's threads run (the gateway's) can kill that child
        with (
            open_session(data_dir=data_dir, **session_kwargs) as session,
            Gateway(config) as gateway,
        ):
            record = Transcript() if spec["transcript"] else None
            ctx = gateway.context(
                spec["job_id"],
                party,
                parties,
                options=JobOptions(timeout=spec["timeout"], transcript=record),
                computing=session,
            )
            result = fn(ctx, params)
            reply = {
                "result": result,
                "seconds": time.perf_counter() - start,
                "transcript": [] if record is None else [r.to_dict() for r in record],
            }
            reply_bytes = codec.encode(reply)
            with _emit_lock:
                conn.send_bytes(reply_bytes)
            _wait_for_stop(conn)
        run_exit_handlers()
    except BaseException as exc:  # report every failure to the launcher, then exit non-zero
        with contextlib.suppress(OSError):
            conn.send_bytes(
                codec.encode({"error": [type(exc).__name__, str(exc), traceback.format_exc()]})
            )
        run_exit_handlers()
        os._exit(1)


def run_exit_handlers() -> None:
    """Run the ``atexit`` handlers now, as a program's exit would.

    A multiprocessing child never runs them: when its target returns it joins its own
    non-daemon children and leaves with ``os._exit``. A party that started a process
    pool (the HE layer's, say) would wait forever for workers that only its ``atexit``
    handler stops, and be killed by the launcher with its workers orphaned.
    """
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()


def exit_with_parent(interval: float = 1.0) -> None:
    """Exit this process if its parent (the launcher, or a site) dies, so that no party is
    left behind waiting on a peer that will never answer."""
    launcher = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != launcher:
                os._exit(3)

    threading.Thread(target=watch, name="atoll-launcher-watch", daemon=True).start()


def _wait_for_stop(conn: Connection) -> None:
    with contextlib.suppress(EOFError, OSError):
        conn.recv_bytes()
