"""Federation throughput and latency: Atoll's gateways against a bare grpcio stream.

Two sites (guest 9999, host 10000), each its own OS process with its own
gateway, mutual TLS on loopback. Measured in the same run:

* Table transfer: a Table of ``--mb`` MiB (1 GiB by default, 100 MiB with
  ``--quick``) streamed partition by partition from the guest's component,
  through both gateways, into the host's component; MB/s from the start of
  ``put`` until the host has read the last row (it answers with a small message,
  whose round trip is subtracted).
* Small-message latency: round trip of a tiny message (put, then get the reply).

The ceiling is a bare grpcio client-streaming call between two processes with
the same TLS certificates and the same 4 MiB chunks, and a bare unary call for
the round trip (ours is two messages, each acknowledged: put, then the reply).
Both pairs of processes stay up and the runs alternate, ours then the ceiling,
so a busy neighbour slows both alike; the best run of each counts. Prints ours,
the ceiling, the ratio, and as its last line one JSON object.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import itertools
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Report, parse_args

MiB = 1024 * 1024
CHUNK = 4 * MiB
ROW_BYTES = 64 * 1024
PARTITIONS = 8


# ----------------------------------------------------------------------------- setup
def make_sites(root: Path) -> dict[int, Path]:
    import socket

    import yaml

    from atoll.federation.certs import init_ca, issue_site_cert

    init_ca(root / "ca")
    ports = {}
    for pid in (9999, 10000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports[pid] = s.getsockname()[1]
    out = {}
    for pid in (9999, 10000):
        site = root / f"site-{pid}"
        issue_site_cert(pid, root / "ca", site / "certs")
        other = 10000 if pid == 9999 else 9999
        cfg = {
            "party_id": pid,
            "listen": f"127.0.0.1:{ports[pid]}",
            "cert": f"certs/party-{pid}.crt",
            "key": f"certs/party-{pid}.key",
            "ca": "certs/ca.crt",
            "routes": {other: f"127.0.0.1:{ports[other]}"},
            "data_dir": "var",
            "chunk_size": CHUNK,
        }
        (site / "site.yaml").write_text(yaml.safe_dump(cfg))
        out[pid] = site / "site.yaml"
    return out


class _SyntheticTable:
    """Rows made on the fly from one buffer (used when atoll.computing is unavailable)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self._blob = bytes(range(256)) * (ROW_BYTES // 256)

    @property
    def num_partitions(self) -> int:
        return PARTITIONS

    def iter_partition(self, i: int) -> Iterator[tuple[Any, Any]]:
        for r in range(i, self.rows, PARTITIONS):
            yield r, self._blob


class _CountingWriter:
    def __init__(self) -> None:
        self.rows = 0
        self.nbytes = 0

    def __enter__(self) -> _CountingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def put_all(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        for _k, v in pairs:
            self.rows += 1
            self.nbytes += len(v)

    def commit(self) -> dict[str, int]:
        return {"rows": self.rows, "nbytes": self.nbytes}


class _CountingSession:
    """The receiving component only counts rows, as the ceiling only counts bytes."""

    def writer(self, partitions: int) -> _CountingWriter:
        return _CountingWriter()


def _make_table(rows: int, data_dir: Path) -> tuple[Any, str, Any]:
    try:
        from atoll.computing import open_session
    except ImportError:
        return _SyntheticTable(rows), "synthetic", None
    session = open_session(data_dir=data_dir, workers=1)
    blob = bytes(range(256)) * (ROW_BYTES // 256)
    with session.writer(partitions=PARTITIONS) as w:
        for start in range(0, rows, 256):
            w.put_all((i, blob) for i in range(start, min(rows, start + 256)))
        table = w.commit()
    return table, "atoll.computing standalone", session


# ----------------------------------------------------------------------------- ours
def _atoll_site(cfg_path: str, role: str, rows: int, conn: Any) -> None:
    """One site; the guest obeys the parent's commands and relays each to the host."""
    from atoll.federation import Gateway, JobOptions, JobParties, load_site_config

    parties = JobParties.of(guest=9999, hosts=[10000])
    gw = Gateway(load_site_config(cfg_path)).start()
    opts = JobOptions(timeout=600)
    try:
        if role == "host":
            ctx = gw.context(
                "bench", parties.hosts[0], parties, options=opts, computing=_CountingSession()
            )
            conn.send("ready")
            for step in itertools.count():
                it = ctx.sub("step", step)
                cmd, n = it.guest.get("cmd")
                if cmd == "stop":
                    break
                if cmd == "table":
                    got = it.guest.get("table")
                    if got["rows"] != rows:
                        raise RuntimeError(f"host got {got} rows, expected {rows}")
                    it.guest.put("done", got["nbytes"])
                else:
                    for ping in it.iterations("ping", n):
                        ping.guest.put("pong", ping.guest.get("ping"))
            return
        with tempfile.TemporaryDirectory() as tmp:
            table, source, session = _make_table(rows, Path(tmp))
            ctx = gw.context("bench", parties.guest, parties, options=opts)
            conn.send("ready")
            for step in itertools.count():
                it = ctx.sub("step", step)
                cmd, n = conn.recv()
                it.hosts[0].put("cmd", [cmd, n])
                if cmd == "stop":
                    break
                if cmd == "table":
                    t0 = time.perf_counter()
                    it.hosts[0].put("table", table)
                    it.hosts[0].get("done")
                    conn.send({"seconds": time.perf_counter() - t0, "source": source})
                else:
                    rtts = []
                    for ping in it.iterations("ping", n):
                        t0 = time.perf_counter()
                        ping.hosts[0].put("ping", ping.tag)
                        ping.hosts[0].get("pong")
                        rtts.append(time.perf_counter() - t0)
                    conn.send({"rtts": rtts[1:]})
            if session is not None:
                session.close()
    finally:
        gw.close()


class _Pair:
    """Two processes and a pipe to the one that measures."""

    def __init__(self, procs: list[Any], conn: Any) -> None:
        self.procs = procs
        self.conn = conn

    def ask(self, cmd: str, n: int = 0) -> Any:
        self.conn.send((cmd, n))
        return self.conn.recv()

    def close(self, stop: Any) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            stop()
        for p in self.procs:
            p.join(30)
            if p.is_alive():
                p.kill()


def start_atoll(root: Path, rows: int) -> _Pair:
    sites = make_sites(root)
    ctx = mp.get_context("spawn")
    host_conn, host_child = ctx.Pipe()
    guest_conn, guest_child = ctx.Pipe()
    host = ctx.Process(target=_atoll_site, args=(str(sites[10000]), "host", rows, host_child))
    guest = ctx.Process(target=_atoll_site, args=(str(sites[9999]), "guest", rows, guest_child))
    host.start()
    guest.start()
    if host_conn.recv() != "ready" or guest_conn.recv() != "ready":
        raise RuntimeError("sites did not start")
    return _Pair([guest, host], guest_conn)


# ----------------------------------------------------------------------------- ceiling
def _bare_server(cfg_path: str, conn: Any) -> None:
    import grpc

    from atoll.federation import load_site_config

    cfg = load_site_config(cfg_path)

    def sink(requests: Iterator[bytes], context: Any) -> bytes:
        n = 0
        for chunk in requests:
            n += len(chunk)
        return n.to_bytes(8, "big")

    def echo(request: bytes, context: Any) -> bytes:
        return request

    handler = grpc.method_handlers_generic_handler(
        "bench.Bare",
        {
            "Sink": grpc.stream_unary_rpc_method_handler(sink),
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
        },
    )
    opts = [
        ("grpc.max_receive_message_length", 2 * CHUNK),
        ("grpc.max_send_message_length", 2 * CHUNK),
    ]
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(8), handlers=[handler], options=opts)
    if cfg.key is None or cfg.cert is None or cfg.ca is None:
        raise RuntimeError("the bare server needs TLS files")
    creds = grpc.ssl_server_credentials(
        [(cfg.key.read_bytes(), cfg.cert.read_bytes())],
        root_certificates=cfg.ca.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    conn.send(port)
    conn.recv()
    server.stop(0).wait()


def _bare_client(cfg_path: str, port: int, total: int, conn: Any) -> None:
    import grpc

    from atoll.federation import load_site_config
    from atoll.federation.certs import server_name

    cfg = load_site_config(cfg_path)
    if cfg.key is None or cfg.cert is None or cfg.ca is None:
        raise RuntimeError("the bare client needs TLS files")
    creds = grpc.ssl_channel_credentials(
        cfg.ca.read_bytes(), cfg.key.read_bytes(), cfg.cert.read_bytes()
    )
    opts = [
        ("grpc.max_receive_message_length", 2 * CHUNK),
        ("grpc.max_send_message_length", 2 * CHUNK),
        ("grpc.ssl_target_name_override", server_name(10000)),
    ]
    channel = grpc.secure_channel(f"127.0.0.1:{port}", creds, options=opts)
    sink = channel.stream_unary("/bench.Bare/Sink")
    echo = channel.unary_unary("/bench.Bare/Echo")
    chunk = bytes(range(256)) * (CHUNK // 256)

    def frames() -> Iterator[bytes]:
        left = total
        while left > 0:
            piece = chunk if left >= CHUNK else chunk[:left]
            left -= len(piece)
            yield piece

    echo(b"warm-up")
    conn.send("ready")
    while True:
        cmd, n = conn.recv()
        if cmd == "stop":
            break
        if cmd == "table":
            t0 = time.perf_counter()
            got = int.from_bytes(sink(frames()), "big")
            conn.send({"seconds": time.perf_counter() - t0})
            if got != total:
                raise RuntimeError(f"bare sink got {got} of {total} bytes")
        else:
            rtts = []
            for i in range(n):
                t0 = time.perf_counter()
                echo(str(i).encode())
                rtts.append(time.perf_counter() - t0)
            conn.send({"rtts": rtts[1:]})
    channel.close()


def start_bare(root: Path, total: int) -> tuple[_Pair, Any]:
    sites = make_sites(root)
    ctx = mp.get_context("spawn")
    s_conn, s_child = ctx.Pipe()
    c_conn, c_child = ctx.Pipe()
    server = ctx.Process(target=_bare_server, args=(str(sites[10000]), s_child))
    server.start()
    port = s_conn.recv()
    client = ctx.Process(target=_bare_client, args=(str(sites[9999]), port, total, c_child))
    client.start()
    if c_conn.recv() != "ready":
        raise RuntimeError("bare client did not start")
    return _Pair([client, server], c_conn), s_conn


# ----------------------------------------------------------------------------- main
def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mb", type=int, default=None, help="Table size in MiB (default 1024; 100 with --quick)"
    )
    parser.add_argument(
        "--pings", type=int, default=None, help="round trips (default 1000; 200 with --quick)"
    )


def main() -> int:
    args = parse_args((__doc__ or "").splitlines()[0], _extra)
    mb = args.mb or (100 if args.quick else 1024)
    pings = args.pings or (200 if args.quick else 1000)
    repeat = max(1, args.repeat)
    rows = mb * MiB // ROW_BYTES
    total = rows * ROW_BYTES
    report = Report("federation", quick=args.quick)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ours = start_atoll(root / "atoll", rows)
        bare, bare_server = start_bare(root / "bare", total)
        try:
            # Alternate ours and the ceiling, so a noisy neighbour hurts both alike.
            ours_s, bare_s, ours_rtt, bare_rtt = [], [], [], []
            source = ""
            for _ in range(repeat):
                r = ours.ask("table")
                ours_s.append(r["seconds"])
                source = r["source"]
                bare_s.append(bare.ask("table")["seconds"])
            for _ in range(repeat):
                ours_rtt += ours.ask("ping", pings // repeat + 1)["rtts"]
                bare_rtt += bare.ask("ping", pings // repeat + 1)["rtts"]
        finally:
            ours.close(lambda: ours.conn.send(("stop", 0)))
            bare.close(lambda: (bare.conn.send(("stop", 0)), bare_server.send("stop")))
    ours_mbs = total / MiB / min(ours_s)
    bare_mbs = total / MiB / min(bare_s)
    report.add("table_mib", mb)
    report.add("table_source", source)
    report.compare(
        "table_throughput_mib_s",
        ours_mbs,
        bare_mbs,
        "MiB/s",
        higher_is_better=True,
        peer="bare_grpcio",
    )
    report.compare(
        "small_message_rtt_ms",
        statistics.median(ours_rtt) * 1000,
        statistics.median(bare_rtt) * 1000,
        "ms",
        higher_is_better=False,
        peer="bare_grpcio",
    )
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
