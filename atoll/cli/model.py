"""``atoll model ...``: list a site's models, export a job's models, import them elsewhere."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from atoll.cli.job import add_actions, console, print_json
from atoll.flow.client import SiteClient

__all__ = ["add_parser"]


def add_parser(sub: Any, name: str) -> None:
    def list_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--job-id", help="only this job's models")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def export_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("job_id")
        p.add_argument("-o", "--output", required=True, help="the file to write")

    def import_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", help="a file from 'atoll model export'")
        p.add_argument("--json", action="store_true", help="print the imported models as JSON")

    add_actions(
        sub,
        name,
        "list, export and import a site's trained models",
        [
            ("list", "the site's models", _list, list_args),
            ("export", "write a job's models at the site to one file", _export, export_args),
            ("import", "import a model export file into the site", _import, import_args),
        ],
    )


def _table(models: list[dict[str, Any]]) -> Table:
    out = Table("job id", "task", "party", "component", "version", "created", "sha256")
    for m in models:
        out.add_row(
            m["job_id"],
            m["task"],
            f"{m['role']} {m['party_id']}",
            m["component"],
            str(m["version"]),
            m["created_at"][:19],
            m["sha256"][:12],
        )
    return out


def _list(client: SiteClient, args: argparse.Namespace) -> int:
    models = client.models(args.job_id)
    if args.json:
        print_json(models)
    else:
        console().print(_table(models))
    return 0


def _export(client: SiteClient, args: argparse.Namespace) -> int:
    path = client.export_models(args.job_id, args.output)
    print(f"Wrote the models of job {args.job_id} to {path} ({path.stat().st_size} bytes).")
    return 0


def _import(client: SiteClient, args: argparse.Namespace) -> int:
    models = client.import_models(args.file)
    if args.json:
        print_json(models)
        return 0
    print(f"Imported {len(models)} model(s) from {args.file}.")
    console().print(_table(models))
    return 0
