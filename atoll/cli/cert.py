"""``atoll cert``: create a federation CA and issue site certificates.

::

    atoll cert init-ca --out ca/
    atoll cert issue --party-id 9999 --ca ca/ --out site-9999/certs/

Private keys are written with mode 0600.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from atoll.federation import CertificateError
from atoll.federation.certs import init_ca, issue_site_cert, load_cert


def add_parser(subparsers: Any, name: str) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help="federation certificates (CA and site certificates)"
    )
    parser.set_defaults(handler=lambda args: _help(parser))
    actions = parser.add_subparsers(dest="cert_action", metavar="ACTION")

    p = actions.add_parser("init-ca", help="create a federation CA (ca.crt, ca.key)")
    p.add_argument("--out", required=True, help="directory to write ca.crt and ca.key into")
    p.add_argument("--days", type=int, default=3650, help="validity in days (default 3650)")
    p.add_argument("--force", action="store_true", help="replace an existing CA")
    p.set_defaults(handler=_init_ca)

    p = actions.add_parser("issue", help="issue a site certificate for one party id")
    p.add_argument("--party-id", type=int, required=True, help="the party id the site serves")
    p.add_argument("--ca", required=True, help="directory holding ca.crt and ca.key")
    p.add_argument("--out", required=True, help="directory to write party-<id>.crt/.key and ca.crt")
    p.add_argument("--days", type=int, default=397, help="validity in days (default 397)")
    p.set_defaults(handler=_issue)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _init_ca(args: argparse.Namespace) -> int:
    try:
        cert, key = init_ca(args.out, days=args.days, overwrite=args.force)
    except CertificateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"CA certificate: {cert}")
    print(f"CA key (mode 0600, keep it offline): {key}")
    return 0


def _issue(args: argparse.Namespace) -> int:
    try:
        cert, key = issue_site_cert(args.party_id, args.ca, args.out, days=args.days)
    except CertificateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    until = load_cert(cert).not_valid_after_utc.date().isoformat()
    print(f"site certificate for party {args.party_id} (valid until {until}): {cert}")
    print(f"site key (mode 0600): {key}")
    return 0
