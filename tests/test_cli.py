"""The ``atoll`` console command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
def test_demo_runs_end_to_end_and_reports_json(tmp_path):
    """The README's main job, small: three site processes, mTLS gateways, PSI, LR, evaluation."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "atoll.cli.main",
            "demo",
            "--dir",
            str(tmp_path),
            "--key-bits",
            "1024",
            "--epochs",
            "8",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("auc", "ks", "sklearn_auc", "intersection_size", "seconds"):
        assert key in report
    assert 380 < report["intersection_size"] < 427  # a few rows are on one side only
    assert report["auc"] > 0.95 and report["sklearn_auc"] > 0.95
    assert Path(report["report"]).read_text().count("<svg") >= 4
    assert (tmp_path / "data" / "job.yaml").exists()
    # the human-readable report went to stderr, the JSON alone to stdout
    assert "held-out test" in out.stderr
