"""``atoll job ...``: submit jobs to a site and follow them through its REST API.

Also holds what ``atoll data`` and ``atoll model`` share: the ``--site``,
``--token`` and ``--config`` options, and the exit codes (0 done; 1 a job that
did not succeed or a site error; 2 a usage error or a request the site refused;
3 a site that cannot be reached).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from atoll.flow.client import FINAL_STATES, ApiError, SiteClient, connect, load_submission
from atoll.flow.sdk import JobFailed, job_table

__all__ = [
    "EXIT_FAILED",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "add_actions",
    "add_parser",
    "add_site_options",
    "console",
    "print_json",
    "remote",
]

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

Action = Callable[[SiteClient, argparse.Namespace], int]


def add_site_options(p: argparse.ArgumentParser) -> None:
    """``--site``, ``--token``, ``--config`` and ``--timeout``: which site, with which token."""
    g = p.add_argument_group("site")
    g.add_argument(
        "--site",
        metavar="URL",
        help="the site's API, e.g. http://127.0.0.1:9380 (default: $ATOLL_SITE)",
    )
    g.add_argument("--token", help="the site's API token (default: $ATOLL_TOKEN)")
    g.add_argument(
        "--config",
        metavar="SITE.YAML",
        help="take the API address and token from the site's config file",
    )
    g.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")


def remote(prog: str, action: Action) -> Callable[[argparse.Namespace], int]:
    """A handler that connects to the site, runs ``action`` and turns errors into exit codes."""

    def handler(args: argparse.Namespace) -> int:
        try:
            client = connect(args.site, args.token, args.config, args.timeout)
        except ValueError as exc:  # also ConfigError: the config file names the field
            return _fail(prog, str(exc), EXIT_USAGE)
        try:
            with client:
                return action(client, args)
        except ApiError as exc:
            if exc.status == 0:
                return _fail(prog, exc.message, EXIT_UNREACHABLE)
            code = EXIT_USAGE if 400 <= exc.status < 500 else EXIT_FAILED
            return _fail(prog, f"{exc.message} ({exc.status} {exc.code})", code)
        except JobFailed as exc:
            return _fail(prog, str(exc), EXIT_FAILED)
        except TimeoutError as exc:
            return _fail(prog, str(exc), EXIT_FAILED)
        except ValueError as exc:  # a file that cannot be read, a job file that is not YAML
            return _fail(prog, str(exc), EXIT_USAGE)

    return handler


def _fail(prog: str, message: str, code: int) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return code


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def console() -> Console:
    """A console on the current stdout, wide enough for ids and times when not a terminal."""
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)


def add_actions(
    sub: Any, name: str, what: str, actions: list[tuple[str, str, Action, Callable[[Any], None]]]
) -> None:
    """Register ``atoll NAME ACTION`` for each (action, help, function, add its arguments)."""
    p = sub.add_parser(name, help=what, description=what)
    common = argparse.ArgumentParser(add_help=False)
    add_site_options(common)
    acts = p.add_subparsers(dest="action", metavar="ACTION")
    for action, action_help, fn, arguments in actions:
        a = acts.add_parser(action, parents=[common], help=action_help, description=action_help)
        arguments(a)
        a.set_defaults(handler=remote(f"atoll {name}", fn))

    def usage(args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_USAGE

    p.set_defaults(handler=usage)


def add_parser(sub: Any, name: str) -> None:
    def submit_args(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "job", help="the job file (YAML), or a FATE DSL / FATE 2.x DAG (JSON or YAML)"
        )
        p.add_argument("--conf", help="the FATE runtime conf that goes with a FATE v1/v2 DSL")
        p.add_argument("--wait", action="store_true", help="follow the job until it ends")
        p.add_argument("--json", action="store_true", help="print the job as JSON")

    def list_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--state", choices=sorted(FINAL_STATES | {"waiting", "running"}))
        p.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def status_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("job_id")
        p.add_argument("--watch", action="store_true", help="refresh until the job ends")
        p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def job_id_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("job_id")

    def logs_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("job_id")
        p.add_argument("--task", help="only this task")
        p.add_argument("--role", choices=["guest", "host", "arbiter"], help="only this role")
        p.add_argument("--party-id", type=int, help="only this party")
        p.add_argument("--tail", type=int, help="only the last N lines of each log")
        p.add_argument("--json", action="store_true", help="print JSON")

    def dag_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("job_id")
        p.add_argument("-o", "--output", help="write the DAG drawn as SVG to this file")
        p.add_argument("--json", action="store_true", help="print the DAG as JSON")

    add_actions(
        sub,
        name,
        "submit jobs to a site and follow them",
        [
            ("submit", "submit a job file (Atoll or FATE) to the site", _submit, submit_args),
            ("list", "the site's jobs, newest first", _list, list_args),
            ("status", "a job's tasks per party: state, seconds, progress", _status, status_args),
            ("stop", "cancel a waiting or running job at every site", _stop, job_id_arg),
            ("rerun", "rerun a failed or canceled job from where it stopped", _rerun, job_id_arg),
            ("logs", "each party's task state and error, and this site's logs", _logs, logs_args),
            ("dag", "a job's tasks and their inputs; drawn as SVG with -o", _dag, dag_args),
        ],
    )


def _submit(client: SiteClient, args: argparse.Namespace) -> int:
    body = load_submission(args.job, args.conf)
    if "fate" in body:
        job = client.submit(fate=body["fate"]["dsl"], conf=body["fate"]["conf"])
    else:
        job = client.submit(body["yaml"])
    if args.json and not args.wait:
        print_json(job)
        return 0
    print(f"Submitted job {job['job_id']} ({job['name']}) to {client.url}.")
    if not args.wait:
        return 0
    job = _watch(client, job, 1.0)
    if args.json:
        print_json(job)
    return _final(job)


def _watch(client: SiteClient, job: dict[str, Any], interval: float) -> dict[str, Any]:
    from rich.live import Live

    with Live(job_table(job), console=console(), refresh_per_second=4) as live:
        return client.wait(
            job["job_id"], on_update=lambda j: live.update(job_table(j)), interval=interval
        )


def _final(job: dict[str, Any]) -> int:
    if job["state"] == "success":
        print(f"Job {job['job_id']} succeeded in {job.get('seconds') or 0:.1f} s.")
        return 0
    raise JobFailed(job)


def _list(client: SiteClient, args: argparse.Namespace) -> int:
    jobs = client.jobs(state=args.state, limit=args.limit)
    if args.json:
        print_json(jobs)
        return 0
    table = Table("job id", "name", "state", "created", "seconds", "attempt", "note")
    for j in jobs:
        note = j["error"]["message"] if j.get("error") else j.get("status_message") or ""
        seconds = "" if j.get("seconds") is None else f"{j['seconds']:.1f}"
        table.add_row(
            j["job_id"],
            j["name"],
            j["state"],
            j["created_at"][:19],
            seconds,
            str(j["attempt"]),
            note,
        )
    console().print(table)
    return 0


def _status(client: SiteClient, args: argparse.Namespace) -> int:
    job = client.job(args.job_id)
    if args.watch and job["state"] not in FINAL_STATES:
        if args.json:
            job = client.wait(args.job_id, interval=args.interval)
        else:
            job = _watch(client, job, args.interval)
    elif not args.json:
        console().print(job_table(job))
    if args.json:
        print_json(job)
    if job["state"] == "success":
        return 0
    if args.watch or job["state"] in FINAL_STATES:
        if job.get("error"):
            e = job["error"]
            print(f"failed at {e['party']}: {e['kind']}: {e['message']}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _stop(client: SiteClient, args: argparse.Namespace) -> int:
    job = client.stop(args.job_id)
    print(f"Job {job['job_id']} is {job['state']}.")
    return 0


def _rerun(client: SiteClient, args: argparse.Namespace) -> int:
    job = client.rerun(args.job_id)
    print(f"Job {job['job_id']} rerun (attempt {job['attempt']}): {job['state']}.")
    return 0


def _dag(client: SiteClient, args: argparse.Namespace) -> int:
    if args.output:
        from atoll.ml.data import write_atomic

        path = write_atomic(Path(args.output), client.dag_svg(args.job_id).encode())
        print(f"Wrote the DAG of job {args.job_id} to {path}")
        return 0
    dag = client.dag(args.job_id)
    if args.json:
        print_json(dag)
        return 0
    for node in dag["nodes"]:
        states = ", ".join(f"{p} {s}" for p, s in sorted(node["states"].items()))
        feeds = [
            f"{e['output']}->{e['target']}.{e['input']}"
            for e in dag["edges"]
            if e["source"] == node["task"]
        ]
        print(f"{node['task']:<20} {node['component']:<18} {states}")
        for f in feeds:
            print(f"{'':<20} -> {f}")
    return 0


def _logs(client: SiteClient, args: argparse.Namespace) -> int:
    logs = client.logs(
        args.job_id, task=args.task, role=args.role, party_id=args.party_id, tail=args.tail
    )
    if args.json:
        print_json(logs)
        return 0
    for e in logs["entries"]:
        print(f"== {e['task']} at {e['role']} {e['party_id']}: {e['state']}")
        if e.get("error"):
            print(f"   error: {e['error']['kind']}: {e['error']['message']}")
        if e.get("log"):
            print(e["log"].rstrip("\n"))
        elif not e.get("local"):
            print(f"   (ran at party {e['party_id']}; its log stays at that site)")
    if not logs["entries"]:
        print(f"Job {logs['job_id']} has no tasks that match.")
    return 0
