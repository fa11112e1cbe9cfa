"""Table throughput: standalone (1 and 2 workers) and Spark local[2] beside plain Python, same run.

Workloads (``--quick`` divides each by 10):
- ``map_values`` then ``reduce`` over 10,000,000 rows (int key, float value);
  plain Python: a dict comprehension then ``functools.reduce`` over its values;
- an inner ``join`` of two 1,000,000-row Tables (half the keys in common),
  counted; plain Python: a dict comprehension over the common keys.

Times exclude building the input Tables (reported separately as ``*_setup_s``).
The host side of one coordinated-LR epoch (``_lr_host_epoch.py``: every mini-batch's
forward encryption and encrypted gradient, ``host_compute='table'``) runs on 100,000 x
300 features, batches of 20,000, Paillier-1024 (``--quick``: 2,000 x 20, batches of
500), on standalone with 2 workers and on Spark local[2], beside the in-process path.

Ratios are plain-Python time / Atoll time: below 1 means Atoll is slower. Plain
Python holds everything in one process's memory; Atoll stores every
intermediate Table in LMDB so that it need not.

The Spark backend (``--no-spark`` leaves it out; skipped with the reason when
PySpark or Java is missing) runs the same workloads on ``local[2]`` with 4
partitions, after the standalone runs; its start-up (JVM and SparkContext) is
reported as ``spark_start_s`` and not counted. Its figures are compared with
plain Python and with the standalone backend on 2 workers (``ratio_standalone_w2``:
standalone time / Spark time, below 1 means Spark is slower).
"""

from __future__ import annotations

import functools
import operator
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Report, best_of, parse_args, timed
from _lr_host_epoch import host_epoch, host_epoch_local

from atoll.computing import ComputingSession, open_session


def scale_value(v: float) -> float:
    return v * 1.5 + 1.0


def run_atoll(
    label: str,
    session: ComputingSession,
    parts: int,
    values: dict[int, float],
    left: dict[int, int],
    right: dict[int, int],
    expected_sum: float,
    expected_join: int,
    repeat: int,
    report: Report,
) -> tuple[float, float]:
    """Best times of map_values+reduce and of join on ``session`` (``label`` names figures)."""
    setup, table = timed(lambda: session.parallelize(values, partitions=parts))
    report.add(f"map_reduce_setup_{label}_s", round(setup, 3))

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
    report.add(f"join_setup_{label}_s", round(setup, 3))

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
    args = parse_args(
        __doc__.splitlines()[0],
        lambda p: p.add_argument(
            "--no-spark", action="store_true", help="leave the Spark backend out"
        ),
    )
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

    seconds: dict[int, tuple[float, float]] = {}
    for workers in (1, 2):
        with (
            tempfile.TemporaryDirectory() as data_dir,
            open_session(data_dir=data_dir, workers=workers) as session,
        ):
            seconds[workers] = run_atoll(
                f"w{workers}",
                session,
                2 * workers,
                values,
                left,
                right,
                expected_sum,
                expected_join,
                args.repeat,
                report,
            )
    for workers, (mr, j) in seconds.items():
        report.compare(
            f"map_reduce_w{workers}_s", mr, plain_mr, "s", higher_is_better=False, peer="plain"
        )
        report.compare(f"join_w{workers}_s", j, plain_j, "s", higher_is_better=False, peer="plain")
    report.add("map_reduce_speedup_2_over_1", round(seconds[1][0] / seconds[2][0], 3))
    report.add("join_speedup_2_over_1", round(seconds[1][1] / seconds[2][1], 3))
    epoch = (2_000, 20, 500) if args.quick else (100_000, 300, 20_000)
    report.add("lr_epoch_shape", f"{epoch[0]} x {epoch[1]}, batches of {epoch[2]}, paillier-1024")
    lr_local = host_epoch_local(*epoch, 1024, seed=0)
    report.add("lr_epoch_local_s", round(lr_local, 3))
    with (
        tempfile.TemporaryDirectory() as data_dir,
        open_session(data_dir=data_dir, workers=2) as session,
    ):
        host_epoch(session, 256, epoch[1], None, 1024, seed=0)  # warm the workers up
        lr_w2 = host_epoch(session, *epoch, 1024, seed=0)
    report.compare(
        "lr_epoch_standalone_w2_s", lr_w2, lr_local, "s", higher_is_better=False, peer="local"
    )
    if args.no_spark:
        report.add("spark", "left out (--no-spark)")
    else:
        run_spark(
            values,
            left,
            right,
            expected_sum,
            expected_join,
            args.repeat,
            report,
            plain_mr,
            plain_j,
            seconds[2],
            epoch,
            lr_w2,
        )
    report.finish()


def spark_missing() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed"
    from atoll.computing.spark import unavailable

    return unavailable()


def run_spark(
    values: dict[int, float],
    left: dict[int, int],
    right: dict[int, int],
    expected_sum: float,
    expected_join: int,
    repeat: int,
    report: Report,
    plain_mr: float,
    plain_j: float,
    standalone_w2: tuple[float, float],
    epoch: tuple[int, int, int],
    lr_w2: float,
) -> None:
    """The same workloads on Spark local[2], compared with plain Python and standalone w2."""
    missing = spark_missing()
    if missing is not None:
        report.add("spark", f"skipped: {missing}")
        return
    with tempfile.TemporaryDirectory() as data_dir:
        start, session = timed(
            lambda: open_session("spark", data_dir, master="local[2]", partitions=4)
        )
        report.add("spark_start_s", round(start, 3))
        with session:
            mr, j = run_atoll(
                "spark",
                session,
                4,
                values,
                left,
                right,
                expected_sum,
                expected_join,
                repeat,
                report,
            )
            host_epoch(session, 256, epoch[1], None, 1024, seed=0)  # ship the code once
            lr_spark = host_epoch(session, *epoch, 1024, seed=0)
    report.compare(
        "lr_epoch_spark_vs_standalone_s",
        lr_spark,
        lr_w2,
        "s",
        higher_is_better=False,
        peer="standalone_w2",
    )
    report.compare("map_reduce_spark_s", mr, plain_mr, "s", higher_is_better=False, peer="plain")
    report.compare("join_spark_s", j, plain_j, "s", higher_is_better=False, peer="plain")
    report.compare(
        "map_reduce_spark_vs_standalone_s",
        mr,
        standalone_w2[0],
        "s",
        higher_is_better=False,
        peer="standalone_w2",
    )
    report.compare(
        "join_spark_vs_standalone_s",
        j,
        standalone_w2[1],
        "s",
        higher_is_better=False,
        peer="standalone_w2",
    )


if __name__ == "__main__":
    main()
