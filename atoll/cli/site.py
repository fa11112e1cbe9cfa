"""``atoll site``: serve a site, lay out sites on one machine, check routes, run a gateway alone.

::

    atoll site serve --config site.yaml      # gateway + scheduler + REST API until Ctrl-C
    atoll site init-local DIR --parties 9999 10000   # CA, certificates, configs, tokens
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
        "serve", help="run this site: its gateway, its scheduler and its REST API"
    )
    p.add_argument("--config", required=True, help="the site's YAML config (with a flow: section)")
    p.add_argument("--verbose", action="store_true", help="log at DEBUG level")
    p.set_defaults(handler=_serve)

    p = actions.add_parser(
        "init-local",
        help="write a CA, certificates, API tokens and one site.yaml per party, on loopback",
    )
    p.add_argument("dir", help="where to write site-<party>/ directories")
    p.add_argument(
        "--parties", type=int, nargs="+", required=True, help="party ids, e.g. 9999 10000"
    )
    p.add_argument("--cores", type=int, default=2, help="core budget per site (default 2)")
    p.set_defaults(handler=_init_local)

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


def _serve(args: argparse.Namespace) -> int:
    from atoll.flow.site import load_serve_config
    from atoll.flow.site.serve import serve

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_serve_config(args.config)
    except FederationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def ready(site: Any) -> None:
        print(
            f"site {config.party_id} ready: API {config.api_url}, gateway {config.site.listen}",
            flush=True,
        )

    try:
        serve(config, on_ready=ready)
    except (FederationError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _init_local(args: argparse.Namespace) -> int:
    from atoll.flow.site.local import init_local_sites

    try:
        paths = init_local_sites(args.dir, args.parties, cores=args.cores)
    except (FederationError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for pid, path in paths.items():
        print(f"party {pid}: {path}")
    print("Start each with: atoll site serve --config <site.yaml>")
    return 0


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
