"""run_local_job's party processes never outlive their launcher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.multiprocess


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has exited; it only waits for its parent to reap it
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_parties_exit_when_the_launcher_is_killed(tmp_path):
    script = Path(__file__).with_name("_blocking_job.py")
    launcher = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob("*.pid"))) < 2:
            assert time.monotonic() < deadline, "the parties did not start"
            assert launcher.poll() is None, "the launcher exited early"
            time.sleep(0.1)
        pids = [int(p.read_text()) for p in tmp_path.glob("*.pid")]
        launcher.send_signal(signal.SIGKILL)
        launcher.wait()
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in pids), "a party outlived its launcher"
    finally:
        if launcher.poll() is None:
            launcher.kill()


def test_a_party_with_a_process_pool_exits_cleanly(tmp_path, monkeypatch):
    """A party's atexit handlers run when it finishes, so its pool's workers stop with it
    (they used to keep the party waiting until the launcher killed it, orphaning them)."""
    from atoll.federation import JobParties
    from atoll.federation.launch import run_local_job

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    parties = JobParties.of(guest=9999, hosts=[10000])
    out = run_local_job(
        "_blocking_job:pool_party", parties, {p: {"dir": str(tmp_path)} for p in parties}
    )
    assert [o.result for o in out.values()] == [2, 2]
    workers = [int(w) for f in tmp_path.glob("*.workers") for w in f.read_text().split()]
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers), "a pool worker outlived its party"
