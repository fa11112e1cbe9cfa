"""Two real sites (guest 9999, host 10000) as separate processes, mutual TLS between them.

Each site is ``python -m atoll.cli.main site serve --config site.yaml``, laid out
by :func:`atoll.flow.site.local.init_local_sites`, with its own job database
(SQLite, or a fresh PostgreSQL database each). Its output goes to ``serve.log``
beside its config, which a failing test prints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from atoll.cli.demo import demo_job, write_demo_data
from atoll.flow.client import SiteClient
from atoll.flow.site.local import init_local_sites

GUEST, HOST = 9999, 10000
REPO = Path(__file__).resolve().parents[3]


class SiteProcess:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = SiteClient.from_config(config, timeout=30.0)
        self.log = config.parent / "serve.log"

    def start(self, wait: bool = True) -> SiteProcess:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "atoll.cli.main",
                    "site",
                    "serve",
                    "--config",
                    str(self.config),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.config.parent,
                env=env,
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"site {self.config} exited {self.proc.returncode}:\n{self.tail()}"
                )
            try:
                self.client.health()
                return
            except Exception:
                time.sleep(0.1)
        raise TimeoutError(f"site {self.config} not ready:\n{self.tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return 0 if self.proc is None else int(self.proc.returncode)
        self.proc.send_signal(sig)
        try:
            return int(self.proc.wait(timeout))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


class Federation:
    """The two sites, their clients, and demo data uploaded where a test asks for it."""

    def __init__(self, root: Path, databases: dict[int, str] | None = None, **allow: Any) -> None:
        self.root = root
        self.paths = init_local_sites(root, [GUEST, HOST], cores=2, allow=allow.get("allow"))
        for pid, path in self.paths.items():
            if databases and pid in databases:
                cfg = yaml.safe_load(path.read_text())
                cfg["flow"]["database"] = databases[pid]
                path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        self.sites = {pid: SiteProcess(path) for pid, path in self.paths.items()}
        self.data = write_demo_data(root / "data")

    def set_flow(self, pid: int, **values: Any) -> None:
        path = self.paths[pid]
        cfg = yaml.safe_load(path.read_text())
        cfg["flow"].update(values)
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))

    @property
    def guest(self) -> SiteClient:
        return self.sites[GUEST].client

    @property
    def host(self) -> SiteClient:
        return self.sites[HOST].client

    def start(self) -> Federation:
        for s in self.sites.values():
            s.start(wait=False)
        for s in self.sites.values():
            s.wait_ready()
        return self

    def stop(self) -> None:
        for s in self.sites.values():
            s.stop()
        for s in self.sites.values():
            s.client.close()

    def upload(self, pid: int, split: str) -> None:
        role = "guest" if pid == GUEST else "host"
        client = self.sites[pid].client
        client.upload_data(
            "demo",
            f"{role}_{split}",
            Path(self.data["files"][f"{role}_{split}"]),
            id_column="id",
            label_column="y" if role == "guest" else None,
            overwrite=True,
        )

    def logs(self) -> str:
        return "\n".join(f"--- site {pid}\n{s.tail()}" for pid, s in self.sites.items())


def lr_job(*, epochs: int = 3, key_bits: int = 1024, timeout: float = 600.0) -> dict[str, Any]:
    """The demo's vertical LR job on the uploaded tables, the arbiter at the host's site."""
    files = {f"{r}_{s}": f"{r}_{s}.csv" for r in ("guest", "host") for s in ("train", "test")}
    job = demo_job(files, key_bits=key_bits, epochs=epochs, seed=7, workers=1)
    for split in ("train", "test"):
        job["tasks"][f"read_{split}"] = {
            "component": "reader",
            "role_parameters": {
                "guest": {"table": f"demo.guest_{split}", "task": "binary"},
                "host": {"table": f"demo.host_{split}"},
            },
        }
    job["name"] = "sites-lr"
    job["parties"] = {"guest": GUEST, "host": [HOST], "arbiter": HOST}
    job["options"] = {"timeout": timeout}
    job["tasks"]["evaluate"]["parameters"] = {}
    return job


def wait_state(
    client: SiteClient, job_id: str, states: set[str], timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.job(job_id)
        if job["state"] in states:
            return job
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} still {job['state']} ({job['status_message']})")
        time.sleep(0.2)


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)
