"""One task of one party, in its own process: the unit a site schedules, stops and reruns.

The site starts :func:`task_main` in a fresh (spawned) process with a pipe and
a :class:`TaskOrder`. The process reaches its site's gateway over the site's
private Unix socket, opens its own computing session, reads its inputs from the
files earlier tasks wrote, runs the component, writes its outputs, and answers
on the pipe (codec only): progress events ``{"event": ...}`` while it runs, then
``{"result": {"seconds", "metrics", "outputs"}}`` or ``{"error": [kind, message, trace]}``.
Its log lines go to ``task.log`` beside its outputs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from atoll import codec
from atoll.computing import open_session
from atoll.federation import Context, JobOptions, JobParties, LocalTransport, Party
from atoll.federation.config import ComputingConfig
from atoll.federation.launch import exit_with_parent, run_exit_handlers
from atoll.flow.party import load_output, run_task, store_outputs
from atoll.flow.spec import TaskPlan
from atoll.ml.data import write_atomic

__all__ = ["TaskOrder", "task_main"]


@dataclasses.dataclass(frozen=True)
class TaskOrder:
    """Everything a task process needs, as plain data (it crosses a spawn)."""

    fed_job_id: str  # the job id its messages travel under (one per attempt)
    role: str
    party_id: int
    parties: dict[str, Any]  # {"guest": int | None, "hosts": [int], "arbiter": int | None}
    task: dict[str, Any]  # a TaskPlan as data
    party_dir: str  # <job dir>/<role>-<party_id>
    socket: str  # the site gateway's Unix socket
    tables_dir: str  # this task's computing Tables
    chunk_size: int
    timeout: float
    workers: int
    insecure: bool
    tables: dict[str, dict[str, Any]]  # resolved named tables: "ns.name" -> path, columns
    models: dict[str, str]  # this party's registered models: "job_id/task[@vN]" -> file
    log_level: int = logging.INFO
    #: the site's ``computing:`` setting (engine and its options; empty: standalone)
    computing: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def task_main(conn: Connection, order_data: dict[str, Any]) -> None:
    """Entry point of a task process."""
    order = TaskOrder(**order_data)
    plan = TaskPlan.model_validate(order.task)
    party_dir = Path(order.party_dir)
    task_dir = party_dir / plan.name
    task_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(task_dir / "task.log", encoding="utf-8")
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s %(levelname)s [{order.role} {order.party_id}] %(name)s: %(message)s"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(order.log_level)
    lock = threading.Lock()

    def send(obj: Any) -> None:
        data = codec.encode(obj)
        with lock, contextlib.suppress(OSError):
            conn.send_bytes(data)

    exit_with_parent()
    start = time.perf_counter()
    log = logging.getLogger("atoll.flow.task")
    log.info("task %s (%s) starting, job %s", plan.name, plan.component, order.fed_job_id)
    try:
        inputs = {
            name: None if ref is None else load_output(party_dir / ref[0], ref[1])
            for name, ref in plan.inputs.items()
        }
        missing = [n for n, ref in plan.inputs.items() if ref is not None and inputs[n] is None]
        if missing:
            raise RuntimeError(f"task {plan.name!r}: no stored output for input {missing}")
        parties = JobParties.of(
            guest=order.parties["guest"],
            hosts=order.parties["hosts"],
            arbiter=order.parties["arbiter"],
        )
        session_kwargs = ComputingConfig.model_validate(order.computing).session_kwargs(
            order.workers
        )
        # the session before any gRPC channel: a Spark session forks its JVM, and a fork
        # while gRPC's threads run can kill that child
        with open_session(data_dir=order.tables_dir, **session_kwargs) as session:
            transport = LocalTransport(
                order.socket, party_id=order.party_id, chunk_size=order.chunk_size
            )
            ctx = Context(
                job_id=order.fed_job_id,
                local=Party(order.role, order.party_id),
                parties=parties,
                transport=transport,
                options=JobOptions(timeout=order.timeout),
                computing=session,
            )
            outputs, tctx = run_task(
                ctx,
                plan,
                party_dir,
                inputs,
                workers=order.workers,
                insecure=order.insecure,
                on_event=lambda event: send({"event": event}),
                tables=order.tables,
                models=order.models,
            )
            files = store_outputs(task_dir, outputs)
            metrics = tctx.metrics.to_dict()
            write_atomic(
                task_dir / "metrics.json", json.dumps(metrics, indent=1, allow_nan=False).encode()
            )
        transport.close()
        seconds = time.perf_counter() - start
        log.info("task %s done in %.2f s", plan.name, seconds)
        send({"result": {"seconds": seconds, "metrics": metrics, "outputs": files}})
    except BaseException as exc:  # every failure goes back to the site, then the process exits
        log.error("task %s failed: %s", plan.name, traceback.format_exc())
        send({"error": [type(exc).__name__, str(exc), traceback.format_exc()]})
        handler.flush()
        run_exit_handlers()
        os._exit(1)
    handler.flush()
    run_exit_handlers()  # a spawned child skips them; the HE pool needs them
