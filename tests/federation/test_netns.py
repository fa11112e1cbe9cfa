"""Three sites on three hosts for real: each in its own network namespace, on a veth bridge.

Needs root and ``ip netns`` (CI has both); otherwise skipped with the reason.
Everything is created inside namespaces this test owns: a hub namespace holding
a bridge, and one namespace per site with its own address; nothing is added to
the host's own network namespace, and no traffic leaves the bridge.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from atoll.federation.certs import init_ca, issue_site_cert

pytestmark = pytest.mark.multiprocess

IDS = [9999, 10000, 10001]
SUBNET = "10.213.77"
PORT = 9370
ROOT = Path(__file__).resolve().parents[2]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


def _netns_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"atollprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, OSError) as exc:
        return f"ip netns add failed: {getattr(exc, 'stderr', b'') or exc}"
    _ip("netns", "del", probe)
    return None


@pytest.fixture
def namespaces():
    reason = _netns_unavailable()
    if reason:
        pytest.skip(reason)
    tag = f"at{os.getpid() % 100000}"
    hub = f"{tag}hub"
    sites = {pid: f"{tag}s{i}" for i, pid in enumerate(IDS)}
    created: list[str] = []
    for stale in [hub, *sites.values()]:  # left by an earlier run that was killed
        subprocess.run(["ip", "netns", "del", stale], capture_output=True, timeout=20)
    try:
        _ip("netns", "add", hub)
        created.append(hub)
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "link", "set", "br0", "up")
        for i, (pid, ns) in enumerate(sites.items()):
            _ip("netns", "add", ns)
            created.append(ns)
            _ip("-n", hub, "link", "add", f"v{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)  # fmt: skip
            _ip("-n", hub, "link", "set", f"v{i}", "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{SUBNET}.{i + 1}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as exc:
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
        pytest.skip(f"cannot build the veth bridge: {' '.join(exc.cmd)}: {exc.stderr!r}")
    try:
        yield {pid: (ns, f"{SUBNET}.{i + 1}") for i, (pid, ns) in enumerate(sites.items())}
    finally:
        for ns in reversed(created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


def test_three_party_ping_pong_across_namespaces(namespaces, tmp_path):
    init_ca(tmp_path / "ca")
    configs = {}
    for pid, (_ns, addr) in namespaces.items():
        site = tmp_path / f"site-{pid}"
        issue_site_cert(pid, tmp_path / "ca", site / "certs")
        cfg = {
            "party_id": pid,
            "listen": f"{addr}:{PORT}",
            "cert": "certs/party-" + str(pid) + ".crt",
            "key": "certs/party-" + str(pid) + ".key",
            "ca": "certs/ca.crt",
            "routes": {p: f"{a}:{PORT}" for p, (_n, a) in namespaces.items() if p != pid},
        }
        (site / "site.yaml").write_text(yaml.safe_dump(cfg))
        configs[pid] = site / "site.yaml"
    stop = tmp_path / "stop"
    procs = {}
    for pid, (ns, _addr) in namespaces.items():
        out = tmp_path / f"out-{pid}.json"
        cmd = [
            "ip", "netns", "exec", ns, sys.executable, "-m", "tests.federation._siteproc",
            str(configs[pid]), "ping_pong", json.dumps({"n": 200}), str(out), str(stop),
        ]  # fmt: skip
        procs[pid] = (subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE), out)
    try:
        deadline = time.monotonic() + 90
        while not all(out.exists() for _p, out in procs.values()):
            dead = {pid: p.poll() for pid, (p, _o) in procs.items() if p.poll() is not None}
            assert not dead, f"site processes exited early: {dead}"
            assert time.monotonic() < deadline, "sites did not finish"
            time.sleep(0.1)
        results = {pid: json.loads(out.read_text()) for pid, (_p, out) in procs.items()}
    finally:
        stop.touch()
        for p, _out in procs.values():
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.stderr:
                p.stderr.close()
    for pid, r in results.items():
        assert "ok" in r, f"site {pid}: {r.get('error')}"
    assert results[9999]["ok"]["n"] == 200
