"""The ``atoll`` console command."""

from __future__ import annotations

import subprocess
import sys

import pytest

import atoll
from atoll.cli.main import main


def test_version(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == f"atoll {atoll.__version__}"


def test_help_lists_commands(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "demo" in out


def test_console_script_runs():
    out = subprocess.run(
        [sys.executable, "-m", "atoll.cli.main", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert atoll.__version__ in out.stdout


@pytest.mark.multiprocess
def test_demo_runs_end_to_end_and_checks_itself():
    """The README's main job, small: two site processes, mTLS gateways, PSI, Paillier."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "atoll.cli.main",
            "demo",
            "--rows",
            "400",
            "--key-bits",
            "1024",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "matches numpy.corrcoef" in out.stdout
    assert "shared customers" in out.stdout
    # the transcript shows only points, ciphertexts and public keys crossing
    assert "psi_ecdh_guest_points" in out.stdout and "pearson_encrypted_columns" in out.stdout
