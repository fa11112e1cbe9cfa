"""``atoll run JOB.yaml``: every party of a job on this machine, with progress and a report."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import yaml

from atoll.federation import Party
from atoll.federation.launch import PartyFailed
from atoll.flow.local import JobResult, default_job_dir, run_job
from atoll.flow.spec import JobSpec, JobSpecError, load_job, parse_job
from atoll.flow.store import JobStore

__all__ = ["ProgressPrinter", "add_parser", "print_failure", "summarize"]


def add_parser(sub: Any, name: str) -> None:
    p = sub.add_parser(name, help="run every party of a job file on this machine")
    p.add_argument("job", help="the job file (YAML), or a FATE DSL / FATE 2.x DAG file")
    p.add_argument("--conf", help="the FATE runtime conf that goes with a FATE v1/v2 DSL")
    p.add_argument(
        "--table",
        action="append",
        default=[],
        metavar="NAMESPACE.NAME=PATH",
        help="the file behind a FATE table a FATE job reads (repeatable)",
    )
    p.add_argument("--job-dir", help="where outputs go (default: atoll-jobs/<name>-<time>)")
    p.add_argument("--workers", type=int, help="worker processes per party (default: the job's)")
    p.add_argument(
        "--transcript", action="store_true", help="record what each party sent and received"
    )
    p.add_argument("--verbose", action="store_true", help="show the parties' log lines")
    p.add_argument(
        "--json", action="store_true", help="print the summary as one JSON line at the end"
    )
    p.set_defaults(handler=main)


class ProgressPrinter:
    """Prints each party's task starts, progress (epoch, loss) and completions as they happen."""

    def __init__(self, stream: TextIO = sys.stdout, every: float = 0.0) -> None:
        self.stream = stream
        self.every = every
        self._last: dict[tuple[Party, str], float] = {}

    def __call__(self, party: Party, event: dict[str, Any]) -> None:
        who = f"{party.role} {party.party_id}"
        task = event.get("task", "?")
        if event.get("status") == "running":
            line = f"  {who:<14} {task:<22} started"
        elif event.get("status") == "done":
            line = f"  {who:<14} {task:<22} done in {event.get('seconds', 0.0):.2f} s"
        else:
            now = time.monotonic()
            key = (party, task)
            total = event.get("total")
            last_step = total is not None and event.get("step") == total
            if now - self._last.get(key, 0.0) < self.every and not last_step:
                return
            self._last[key] = now
            step = f"{event.get('step')}" + (f"/{total}" if total else "")
            values = "  ".join(f"{k} {v:.5g}" for k, v in event.get("values", {}).items())
            line = f"  {who:<14} {task:<22} {step:>7}  {values}"
        print(line, file=self.stream, flush=True)


def print_failure(exc: PartyFailed, stream: TextIO = sys.stderr) -> None:
    print(f"\nFAILED at {exc.party}: {exc.kind}: {exc.text}", file=stream)
    if exc.trace:
        print("\n".join("  | " + line for line in exc.trace.rstrip().splitlines()), file=stream)


def summarize(result: JobResult) -> dict[str, Any]:
    """A short, JSON-able summary: seconds per task (slowest party) and the headline metrics."""
    tasks: dict[str, Any] = {}
    for party, summary in result.parties.items():
        for name, s in summary.items():
            t = tasks.setdefault(name, {"component": s["component"], "seconds": 0.0})
            t["seconds"] = max(t["seconds"], s["seconds"])
            records = s["metrics"]["records"]
            for key in ("summary", "evaluation"):
                if key in records and party.role == "guest":
                    t[key] = records[key]
            t.setdefault("outputs", {})[f"{party.role}-{party.party_id}"] = s["outputs"]
    return {"job_dir": str(result.job_dir), "seconds": result.seconds, "tasks": tasks}


def main(args: argparse.Namespace) -> int:
    try:
        spec = _load(args)
    except JobSpecError as exc:
        print(f"atoll run: {exc}", file=sys.stderr)
        return 2
    print(f"Running {spec.name!r}: {len(spec.tasks)} tasks, parties {_parties(spec)}")
    job_dir = Path(args.job_dir) if args.job_dir else default_job_dir(spec)
    job_dir.parent.mkdir(parents=True, exist_ok=True)
    store = JobStore(f"sqlite:///{job_dir.parent.resolve() / 'jobs.db'}")
    try:
        result = run_job(
            spec,
            job_dir,
            store=store,
            workers=args.workers,
            transcript=args.transcript,
            on_event=ProgressPrinter(),
            log_level=logging.INFO if args.verbose else logging.WARNING,
        )
    except PartyFailed as exc:
        print_failure(exc)
        return 1
    finally:
        store.close()
    summary = summarize(result)
    print(f"\nDone in {result.seconds:.1f} s. Outputs: {result.job_dir}")
    for name, t in summary["tasks"].items():
        print(f"  {name:<22} {t['component']:<16} {t['seconds']:8.2f} s  {_headline(t)}")
    if args.json:
        print(json.dumps(summary, default=str))
    return 0


def _headline(task: dict[str, Any]) -> str:
    """The numbers a person looks for first: intersection size, sums, AUC and KS."""
    shown = []
    summary = task.get("summary") or {}
    for key in ("intersection_size", "sum", "epochs", "rows_kept"):
        if key in summary:
            shown.append(f"{key} {summary[key]:.6g}")
    for kind, ev in (task.get("evaluation") or {}).items():
        shown.append(f"{kind} auc {ev['auc']:.4f} ks {ev['ks']:.4f}")
    return ", ".join(shown)


def _load(args: argparse.Namespace) -> JobSpec:
    """Atoll's own job file, or a FATE job converted (DSL v1/v2 with ``--conf``, or a 2.x DAG)."""
    tables = {}
    for item in args.table:
        key, eq, path = item.partition("=")
        if not eq or not key or not path:
            raise JobSpecError(f"--table {item!r}: write it as NAMESPACE.NAME=PATH")
        tables[key] = path
    raw: Any = None
    with contextlib.suppress(OSError, yaml.YAMLError):  # load_job names the file's problem
        raw = yaml.safe_load(Path(args.job).read_text())
    if args.conf or (isinstance(raw, dict) and ("components" in raw or "dag" in raw)):
        from atoll.flow.fate import load_fate_job

        converted = load_fate_job(args.job, args.conf, tables or None)
        print(f"Converted the FATE job {args.job} to Atoll's job format.")
        return parse_job(converted, args.job)
    return load_job(args.job)


def _parties(spec: Any) -> str:
    p = spec.parties
    parts = [f"guest {p.guest}"] if p.guest is not None else []
    parts += [f"host {h}" for h in p.host]
    if p.arbiter is not None:
        parts.append(f"arbiter {p.arbiter}")
    return ", ".join(parts)
