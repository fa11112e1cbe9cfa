"""Entry point of the ``atoll`` command.

Sub-commands live in their own modules and register themselves in
:data:`COMMANDS`; ``main`` builds the parser from that table, so adding a
command never touches this file's logic.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from atoll import __version__

Handler = Callable[[argparse.Namespace], int]
# name -> (module that defines ``add_parser(subparsers)``)
COMMANDS: dict[str, str] = {
    "demo": "atoll.cli.demo",
    "run": "atoll.cli.run",
    "cert": "atoll.cli.cert",
    "site": "atoll.cli.site",
    "job": "atoll.cli.job",
    "data": "atoll.cli.data",
    "model": "atoll.cli.model",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atoll",
        description="Atoll: federated learning across data islands.",
    )
    parser.add_argument("--version", action="version", version=f"atoll {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import importlib

    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_parser(sub, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
