"""One attempt of one job at one site: its tasks as processes, in order, within the core budget.

Every site runs its own part of a job on its own: a task starts when its inputs
are ready here, and waits inside ``get`` for its peers' messages. So that two
sites with small core budgets never wait on each other, a site starts its tasks
in the job's one canonical order (the job file's topological order, the same at
every site): a task never starts before every earlier task of this site has.
Then the earliest unfinished task of the job is running, or about to, at every
site that has it, and the job always moves. The tasks of one component that this
site plays under two roles start together, even beyond the budget, since they talk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing as mp
import shutil
import threading
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atoll import codec
from atoll.federation import Party
from atoll.flow.site.worker import TaskOrder, task_main
from atoll.flow.spec import TaskPlan

if TYPE_CHECKING:
    from atoll.flow.site.site import Site

__all__ = ["JobRunner", "Slots", "Unit"]

log = logging.getLogger("atoll.flow.site")


class Slots:
    """The site's core budget, shared by every job's tasks."""

    def __init__(self, cores: int) -> None:
        self.cores = cores
        self.used = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        """Take ``n`` slots if one is free (a group of ``n`` may overrun; it must run together)."""
        with self._lock:
            if self.used > 0 and self.used + 1 > self.cores:
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self.used = max(0, self.used - n)


@dataclasses.dataclass
class Unit:
    """One task at one of this site's parties."""

    index: int
    party: Party
    plan: TaskPlan
    state: str = "waiting"
    proc: Any = None
    conn: Connection | None = None
    started: float = 0.0
    last_progress: float = 0.0
    tables_dir: Path | None = None  # its computing Tables, removed when it ends

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.plan.name, self.party.role, self.party.party_id)


class JobRunner(threading.Thread):
    """Runs ``todo`` (the units not already finished) of one job attempt at this site."""

    def __init__(
        self,
        site: Site,
        job_id: str,
        attempt: int,
        units: list[Unit],
        *,
        parties: dict[str, Any],
        job_dir: Path,
        timeout: float,
        deadline: float | None,
        workers: int,
        insecure: bool,
        tables: dict[str, dict[str, Any]],
        reused: set[tuple[str, str, int]],
    ) -> None:
        super().__init__(name=f"job-{job_id}", daemon=True)
        self.site = site
        self.job_id = job_id
        self.attempt = attempt
        self.fed_job_id = f"{job_id}.a{attempt}"
        self.units = units
        self.parties = parties
        self.job_dir = job_dir
        self.timeout = timeout
        self.deadline = deadline
        self.workers = workers
        self.insecure = insecure
        self.tables = tables
        self.reused = reused  # tasks finished by an earlier attempt: their outputs are on disk
        self._stop_as: tuple[str, dict[str, Any] | None] | None = None
        self._stop_event = threading.Event()
        self.outcome: str | None = None

    # -- control from the site -------------------------------------------------------------
    def stop(self, task_state: str = "canceled", error: dict[str, Any] | None = None) -> None:
        """End the attempt: running tasks are killed and marked ``task_state``, waiting ones canceled."""
        if self._stop_as is None:
            self._stop_as = (task_state, error)
        self._stop_event.set()

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug here must still end the job, not leave it running
            log.exception("job %s: the runner failed", self.job_id)
            self._kill_all("canceled", None)
            self.site.runner_failed(self, type(exc).__name__, str(exc))
        finally:
            self.site.runner_ended(self)

    def _loop(self) -> None:
        while True:
            if self._stop_event.is_set():
                state, error = self._stop_as or ("canceled", None)
                self._kill_all(state, error)
                self.outcome = "stopped"
                return
            running = [u for u in self.units if u.state == "running"]
            conns = [u.conn for u in running if u.conn is not None]
            if conns:
                for conn in wait(conns, timeout=0.2):
                    unit = next(u for u in running if u.conn is conn)
                    if not self._receive(unit):
                        self.outcome = "failed"
                        return
            else:
                self._stop_event.wait(0.05)
            if all(u.state == "success" for u in self.units):
                self.outcome = "success"
                self.site.part_done(self)
                return
            if self.deadline is not None and time.time() > self.deadline:
                self._kill_all("canceled", {"kind": "Timeout", "message": "the job timed out"})
                self.outcome = "timeout"
                self.site.job_timed_out(self)
                return
            self._start_ready()

    def _start_ready(self) -> None:
        done = {u.key for u in self.units if u.state == "success"} | self.reused
        pending = [u for u in self.units if u.state == "waiting"]
        while pending:
            index = pending[0].index
            group = [u for u in pending if u.index == index]
            for u in group:
                needs = {(src, u.party.role, u.party.party_id) for src, _ in _refs(u.plan)}
                if not needs <= done:
                    return  # strict order: nothing later starts before this group
            if not self.site.slots.take(len(group)):
                return
            for u in group:
                self._launch(u)
            pending = pending[len(group) :]

    def _launch(self, unit: Unit) -> None:
        party_dir = self.job_dir / f"{unit.party.role}-{unit.party.party_id}"
        task_dir = party_dir / unit.name
        with contextlib.suppress(FileNotFoundError):  # a rerun starts from a clean directory
            shutil.rmtree(task_dir)
        cfg = self.site.config
        assert cfg.site.local_socket_path is not None
        unit.tables_dir = (
            cfg.data_dir
            / "computing"
            / self.fed_job_id
            / (f"{unit.party.role}-{unit.party.party_id}-{unit.name}")
        )
        order = TaskOrder(
            fed_job_id=self.fed_job_id,
            role=unit.party.role,
            party_id=unit.party.party_id,
            parties=self.parties,
            task=unit.plan.model_dump(mode="json"),
            party_dir=str(party_dir),
            socket=str(cfg.site.local_socket_path),
            tables_dir=str(unit.tables_dir),
            chunk_size=cfg.site.chunk_size,
            timeout=self.timeout,
            workers=self.workers,
            insecure=self.insecure,
            tables=self.tables,
            models=self.site.registry_models(self.job_id, unit),
            log_level=logging.INFO,
            computing=cfg.site.computing.model_dump(exclude_defaults=True),
        )
        ctx = mp.get_context("spawn")
        mine, theirs = ctx.Pipe()
        proc = ctx.Process(
            target=task_main,
            args=(theirs, order.to_data()),
            name=f"atoll-task-{self.job_id}-{unit.name}",
            daemon=False,
        )
        proc.start()
        theirs.close()
        unit.proc, unit.conn, unit.state, unit.started = proc, mine, "running", time.monotonic()
        self.site.task_changed(self, unit, "running")

    def _receive(self, unit: Unit) -> bool:
        """Handle what a task process said; False when the job failed."""
        assert unit.conn is not None
        try:
            reply = codec.decode(unit.conn.recv_bytes())
        except (EOFError, OSError, codec.CodecError):
            unit.proc.join(timeout=5)
            code = unit.proc.exitcode
            return self._failed(
                unit, "ProcessDied", f"the task's process ended (exit code {code})", ""
            )
        if not isinstance(reply, dict):
            return self._failed(unit, "ProtocolError", "malformed reply from the task process", "")
        if "event" in reply:
            event = reply["event"]
            if isinstance(event, dict) and "step" in event:
                now = time.monotonic()
                last = event.get("total") is not None and event.get("step") == event.get("total")
                if now - unit.last_progress >= 0.5 or last:
                    unit.last_progress = now
                    self.site.task_progress(self, unit, event)
            return True
        if "error" in reply:
            kind, text, trace = reply["error"]
            self._reap(unit)
            return self._failed(unit, str(kind), str(text), str(trace))
        result = reply.get("result")
        self._reap(unit)
        unit.state = "success"
        self.site.task_succeeded(self, unit, result if isinstance(result, dict) else {})
        return True

    def _failed(self, unit: Unit, kind: str, text: str, trace: str) -> bool:
        self._reap(unit)
        unit.state = "failed"
        self.site.task_changed(self, unit, "failed", error={"kind": kind, "message": text})
        self._kill_all("canceled", None)
        self.site.task_failed(self, unit, kind, text, trace)
        return False

    def _reap(self, unit: Unit) -> None:
        """Collect a task's process, once: join it, close its pipe, free its slot and Tables."""
        if unit.proc is None:
            return
        if unit.proc is not None:
            unit.proc.join(timeout=10)
            if unit.proc.is_alive():
                unit.proc.kill()
                unit.proc.join()
        if unit.conn is not None:
            unit.conn.close()
            unit.conn = None
        unit.proc = None
        self.site.slots.give(1)
        if unit.tables_dir is not None:
            shutil.rmtree(unit.tables_dir, ignore_errors=True)

    def _kill_all(self, state: str, error: dict[str, Any] | None) -> None:
        for u in self.units:
            if u.state == "running":
                if u.proc is not None and u.proc.is_alive():
                    u.proc.terminate()
                    u.proc.join(timeout=3)
                    if u.proc.is_alive():
                        u.proc.kill()
                        u.proc.join()
                self._reap(u)
                u.state = state
                self.site.task_changed(self, u, state, error=error)
            elif u.state == "waiting":
                u.state = "canceled"
                self.site.task_changed(self, u, "canceled")


def _refs(plan: TaskPlan) -> list[tuple[str, str]]:
    return [ref for ref in plan.inputs.values() if ref is not None]
