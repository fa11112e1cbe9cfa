"""Where FATE's public example data sets are, for the tests that use them.

They live in the workplace's ``../shared/data/fate`` (never copied into the
repository); ``ATOLL_SHARED_DATA`` (``shared/data`` or its ``fate/`` folder)
points elsewhere. Tests that need them use :data:`needs_fate` and skip with
a reason when they are absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["FATE", "needs_fate"]


def _fate_dir() -> Path | None:
    env = os.environ.get("ATOLL_SHARED_DATA")
    candidates = [Path(env) / "fate", Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fate")
    for c in candidates:
        if (c / "breast_hetero_guest.csv").is_file():
            return c.resolve()
    return None


FATE = _fate_dir()
needs_fate = pytest.mark.skipif(
    FATE is None,
    reason="FATE example data not found (no ../shared/data/fate beside the repository and "
    "ATOLL_SHARED_DATA unset)",
)
