"""``atoll site``: check a site's routes, or run its gateway alone.

::

    atoll site check --config site.yaml      # every partner: reachable?, why, round trip
    atoll site gateway --config site.yaml    # serve the gateway until interrupted
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from atoll.federation import FederationError, Gateway, load_site_config
from atoll.federation.certs import load_cert


def add_parser(subparsers: Any, name: str) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help="site gateway tools")
    parser.set_defaults(handler=lambda args: _help(parser))
    actions = parser.add_subparsers(dest="site_action", metavar="ACTION")

    p = actions.add_parser(
        "check", help="connect to every route, verify certificates both ways, print round trips"
    )
    p.add_argument("--config", required=True, help="the site's YAML config")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per partner (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(handler=_check)

    p = actions.add_parser("gateway", help="run this site's gateway until interrupted")
    p.add_argument("--config", required=True, help="the site's YAML config")
    p.set_defaults(handler=_gateway)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _check(args: argparse.Namespace) -> int:
    try:
        cfg = load_site_config(args.config)
        gw = Gateway(cfg)  # checks this site's own certificate, key and CA
    except FederationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        results = gw.check_routes(timeout=args.timeout)
    finally:
        gw.close()
    if args.json:
        print(
            json.dumps(
                {
                    "party_id": cfg.party_id,
                    "partners": [
                        {
                            "party_id": r.party_id,
                            "address": r.address,
                            "reachable": r.reachable,
                            "reason": r.reason,
                            "rtt_ms": r.rtt_ms,
                        }
                        for r in results
                    ],
                }
            )
        )
    else:
        if cfg.cert is not None and not cfg.insecure:
            until = load_cert(cfg.cert).not_valid_after_utc.date().isoformat()
            print(f"site {cfg.party_id}: certificate {cfg.cert} valid until {until}, CA {cfg.ca}")
        else:
            print(f"site {cfg.party_id}: INSECURE plaintext (loopback only)")
        if not results:
            print("no routes configured")
        for r in results:
            status = "reachable" if r.reachable else "UNREACHABLE"
            rtt = f"{r.rtt_ms:.2f} ms" if r.rtt_ms is not None else "-"
            print(f"party {r.party_id:<8} {r.address:<24} {status:<12} rtt {rtt:<10} {r.reason}")
    return 0 if all(r.reachable for r in results) else 1


def _gateway(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        gw = Gateway(load_site_config(args.config)).start()
    except (FederationError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        gw.close()
    return 0
