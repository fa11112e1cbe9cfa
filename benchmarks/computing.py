"""Table throughput: the standalone backend with 1 and 2 workers beside plain Python, same run.

Workloads (``--quick`` divides each by 10):
- ``map_values`` then ``reduce`` over 10,000,000 rows (int key, float value);
  plain Python: a dict comprehension then ``functools.reduce`` over its values;
- an inner ``join`` of two 1,000,000-row Tables (half the keys in common),
  counted; plain Python: a dict comprehension over the common keys.

Times exclude building the input Tables (reported separately as ``*_setup_s``).
Ratios are plain-Python time / Atoll time: below 1 means Atoll is slower. Plain
Python holds everything in one process's memory; Atoll stores every
intermediate Table in LMDB so that it need not.
"""

from __future__ import annotations

import functools
import operator
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, best_of, parse_args, timed

from atoll.computing import open_session


def scale_value(v: float) -> float:
    return v * 1.5 + 1.0


def run_atoll(
    workers: int,
    values: dict[int, float],
    left: dict[int, int],
    right: dict[int, int],
    expected_sum: float,
    expected_join: int,
    repeat: int,
    report: Report,
) -> tuple[float, float]:
    """Best times of map_values+reduce and of join with ``workers`` workers."""
    parts = 2 * workers
    with (
        tempfile.TemporaryDirectory() as data_dir,
        open_session(data_dir=data_dir, workers=workers) as session,
    ):
        setup, table = timed(lambda: session.parallelize(values, partitions=parts))
        report.add(f"map_reduce_setup_w{workers}_s", round(setup, 3))

        def table_map_reduce() -> float:
            mapped = table.map_values(scale_value)
            try:
                return mapped.reduce(operator.add)  # type: ignore[no-any-return]
            finally:
                mapped.destroy()

        got = table_map_reduce()
        if abs(got - expected_sum) > 1e-6 * abs(expected_sum):
            raise SystemExit(f"map_values+reduce gave {got}, plain Python {expected_sum}")
        map_reduce = best_of(repeat, table_map_reduce)
        table.destroy()

        setup, (a, b) = timed(
            lambda: (
                session.parallelize(left, partitions=parts),
                session.parallelize(right, partitions=parts),
            )
        )
        report.add(f"join_setup_w{workers}_s", round(setup, 3))

        def table_join() -> int:
            joined = a.join(b, operator.add)
            try:
                return joined.count()
            finally:
                joined.destroy()

        if table_join() != expected_join:
            raise SystemExit("join row counts differ from plain Python")
        return map_reduce, best_of(repeat, table_join)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    scale = 10 if args.quick else 1
    n_map = 10_000_000 // scale
    n_join = 1_000_000 // scale
    report = Report("computing", quick=args.quick)
    report.add("rows_map_reduce", n_map)
    report.add("rows_join", n_join)

    values = {i: float(i % 1000) for i in range(n_map)}
    left = {i: i for i in range(n_join)}
    right = {i: -i for i in range(n_join // 2, n_join + n_join // 2)}

    def plain_map_reduce() -> float:
        mapped = {k: scale_value(v) for k, v in values.items()}
        return functools.reduce(operator.add, mapped.values())

    def plain_join() -> int:
        return len({k: v + right[k] for k, v in left.items() if k in right})

    expected_sum = plain_map_reduce()
    expected_join = plain_join()
    plain_mr = best_of(args.repeat, plain_map_reduce)
    plain_j = best_of(args.repeat, plain_join)
    report.add("map_reduce_plain_s", round(plain_mr, 4))
    report.add("join_plain_s", round(plain_j, 4))

    seconds = {
        workers: run_atoll(
            workers, values, left, right, expected_sum, expected_join, args.repeat, report
        )
        for workers in (1, 2)
    }
    for workers, (mr, j) in seconds.items():
        report.compare(
            f"map_reduce_w{workers}_s", mr, plain_mr, "s", higher_is_better=False, peer="plain"
        )
        report.compare(f"join_w{workers}_s", j, plain_j, "s", higher_is_better=False, peer="plain")
    report.add("map_reduce_speedup_2_over_1", round(seconds[1][0] / seconds[2][0], 3))
    report.add("join_speedup_2_over_1", round(seconds[1][1] / seconds[2][1], 3))
    report.finish()


if __name__ == "__main__":
    main()
