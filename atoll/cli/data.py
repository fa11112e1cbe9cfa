"""``atoll data ...``: upload, list, preview and delete a site's tables (CSV files)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from atoll.cli.job import add_actions, console, print_json
from atoll.flow.client import SiteClient

__all__ = ["add_parser"]


def add_parser(sub: Any, name: str) -> None:
    def upload_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("file", help="the CSV file (a header line, then one row per line)")
        p.add_argument("--namespace", required=True, help="the table's namespace")
        p.add_argument("--name", required=True, help="the table's name")
        p.add_argument("--id-column", required=True, help="the column that holds the row ids")
        p.add_argument("--label-column", help="the column that holds the labels (guest)")
        p.add_argument("--overwrite", action="store_true", help="replace a table of that name")
        p.add_argument("--json", action="store_true", help="print the table's description as JSON")

    def list_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def preview_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("namespace")
        p.add_argument("name")
        p.add_argument("--rows", type=int, default=10, help="how many rows (default 10)")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def table_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("namespace")
        p.add_argument("name")

    add_actions(
        sub,
        name,
        "upload and manage a site's tables",
        [
            ("upload", "upload a CSV file as a named table", _upload, upload_args),
            ("list", "the site's tables", _list, list_args),
            ("preview", "a table's columns and first rows", _preview, preview_args),
            ("delete", "delete a table", _delete, table_args),
        ],
    )


def _upload(client: SiteClient, args: argparse.Namespace) -> int:
    table = client.upload_data(
        args.namespace,
        args.name,
        args.file,
        id_column=args.id_column,
        label_column=args.label_column,
        overwrite=args.overwrite,
    )
    if args.json:
        print_json(table)
    else:
        print(
            f"Uploaded {args.file} as {table['namespace']}/{table['name']}: {table['rows']} rows, "
            f"{len(table['columns'])} columns, sha256 {table['sha256'][:12]}."
        )
    return 0


def _list(client: SiteClient, args: argparse.Namespace) -> int:
    tables = client.data()
    if args.json:
        print_json(tables)
        return 0
    out = Table("namespace", "name", "rows", "columns", "id", "label", "bytes", "created")
    for t in tables:
        out.add_row(
            t["namespace"],
            t["name"],
            str(t["rows"]),
            str(len(t["columns"])),
            t["id_column"],
            t.get("label_column") or "",
            str(t["bytes"]),
            t["created_at"][:19],
        )
    console().print(out)
    return 0


def _preview(client: SiteClient, args: argparse.Namespace) -> int:
    preview = client.preview(args.namespace, args.name, rows=args.rows)
    if args.json:
        print_json(preview)
        return 0
    title = (
        f"{preview['namespace']}/{preview['name']}: {preview['rows']} rows "
        f"(id {preview['id_column']}, label {preview.get('label_column') or '-'})"
    )
    out = Table(*preview["header"], title=title, title_justify="left")
    for row in preview["rows_preview"]:
        out.add_row(*row)
    console().print(out)
    return 0


def _delete(client: SiteClient, args: argparse.Namespace) -> int:
    table = client.delete_data(args.namespace, args.name)
    print(f"Deleted {table['namespace']}/{table['name']} ({table['rows']} rows).")
    return 0
