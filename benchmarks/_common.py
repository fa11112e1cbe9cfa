"""Shared plumbing for benchmark scripts.

Every script in ``benchmarks/`` runs Atoll and its peer in the same run, prints
each figure with the peer's and the ratio, takes ``--quick`` (the whole script in
under a minute) and prints as its last line one JSON object with all figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Report", "best_of", "parse_args", "timed"]


def parse_args(
    description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: the whole run in under a minute"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement; the best is kept"
    )
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    """Best wall time in seconds of ``repeat`` runs (the least disturbed one)."""
    return min(timed(fn)[0] for _ in range(max(1, repeat)))


class Report:
    """Collects figures, prints a readable table as it goes and the JSON line at the end."""

    def __init__(self, name: str, *, quick: bool) -> None:
        self.name = name
        self.figures: dict[str, Any] = {}
        print(
            f"# {name} ({'quick' if quick else 'full'}) on {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}",
            flush=True,
        )

    def compare(
        self, key: str, ours: float, theirs: float, unit: str, *, higher_is_better: bool, peer: str
    ) -> None:
        """Record our figure, the peer's from the same run, and ours/theirs as a speed ratio."""
        ratio = (
            (ours / theirs if higher_is_better else theirs / ours)
            if ours and theirs
            else float("nan")
        )
        self.figures[key] = {
            "atoll": _round(ours),
            peer: _round(theirs),
            f"ratio_{peer}": _round(ratio),
            "unit": unit,
        }
        print(
            f"{key:<44} atoll {ours:>12.4g} {unit:<8} {peer} {theirs:>12.4g}   ratio {ratio:6.2f}x",
            flush=True,
        )

    def add(self, key: str, value: Any) -> None:
        self.figures[key] = value
        print(f"{key:<44} {value}", flush=True)

    def finish(self) -> None:
        print(json.dumps({"benchmark": self.name, **self.figures}, sort_keys=False), flush=True)
        sys.stdout.flush()


def _round(x: float) -> float:
    return float(f"{x:.4g}") if x == x else x


def median(xs: list[float]) -> float:
    return statistics.median(xs)
