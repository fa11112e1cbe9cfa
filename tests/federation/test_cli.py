"""``atoll cert`` and ``atoll site`` end to end, through their argparse entry points."""

from __future__ import annotations

import argparse
import json
import stat

import pytest

from atoll.cli import cert as cert_cli
from atoll.cli import site as site_cli
from atoll.federation import Gateway, load_site_config
from tests.federation._sites import make_sites


def run(argv):
    parser = argparse.ArgumentParser(prog="atoll")
    sub = parser.add_subparsers(dest="command")
    cert_cli.add_parser(sub, "cert")
    site_cli.add_parser(sub, "site")
    args = parser.parse_args(argv)
    return args.handler(args)


def test_cert_init_and_issue(tmp_path, capsys):
    assert run(["cert", "init-ca", "--out", str(tmp_path / "ca")]) == 0
    assert (
        run(
            [
                "cert",
                "issue",
                "--party-id",
                "9999",
                "--ca",
                str(tmp_path / "ca"),
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == 0
    )
    key = tmp_path / "s" / "party-9999.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "party 9999" in capsys.readouterr().out
    assert run(["cert", "init-ca", "--out", str(tmp_path / "ca")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert run(["cert"]) == 2


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    return make_sites(tmp_path_factory.mktemp("cli"), [9999, 10000, 10001])


def test_site_check_reports_each_partner(sites, capsys):
    with Gateway(load_site_config(sites[10000])):
        rc = run(["site", "check", "--config", str(sites[9999]), "--timeout", "2"])
    out = capsys.readouterr().out
    assert rc == 1  # 10001 is down
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("party ")}
    assert "reachable" in lines["10000"] and "mutual TLS verified both ways" in lines["10000"]
    assert "ms" in lines["10000"]
    assert "UNREACHABLE" in lines["10001"]


def test_site_check_json_all_reachable(sites, capsys):
    with Gateway(load_site_config(sites[10000])), Gateway(load_site_config(sites[10001])):
        rc = run(["site", "check", "--config", str(sites[9999]), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert [p["reachable"] for p in report["partners"]] == [True, True]
    assert all(p["rtt_ms"] > 0 for p in report["partners"])


def test_site_check_partner_without_route_back(tmp_path, capsys):
    # 10000 does not list 9999 among its routes: the partner refuses us, and says why
    paths = make_sites(tmp_path, [9999, 10000])
    cfg = load_site_config(paths[10000]).model_copy(update={"routes": {}})
    with Gateway(cfg):
        rc = run(["site", "check", "--config", str(paths[9999])])
    out = capsys.readouterr().out
    assert rc == 1 and "not among the routes of party 10000" in out


def test_site_check_bad_config(tmp_path, capsys):
    bad = tmp_path / "site.yaml"
    bad.write_text("party_id: 1\nlisten: 127.0.0.1:1\n")
    assert run(["site", "check", "--config", str(bad)]) == 2
    assert "cert/key/ca: required" in capsys.readouterr().err


GATEWAY_MAIN = (
    "import argparse, sys\n"
    "from atoll.cli import site\n"
    "p = argparse.ArgumentParser(prog='atoll')\n"
    "site.add_parser(p.add_subparsers(), 'site')\n"
    "a = p.parse_args(sys.argv[1:])\n"
    "sys.exit(a.handler(a))\n"
)


@pytest.mark.multiprocess
def test_site_gateway_serves_until_terminated(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    paths = make_sites(tmp_path, [9999, 10000])
    proc = subprocess.Popen(
        [sys.executable, "-c", GATEWAY_MAIN, "site", "gateway", "--config", str(paths[10000])],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        gw = Gateway(load_site_config(paths[9999]))
        try:
            deadline = time.monotonic() + 30
            while not gw.check_route(10000, timeout=1).reachable:
                assert time.monotonic() < deadline, "the gateway never came up"
                time.sleep(0.2)
        finally:
            gw.close()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert "listening on 127.0.0.1" in err and "mutual TLS" in err
