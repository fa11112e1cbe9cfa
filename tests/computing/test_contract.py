"""The Table contract: every computing backend must pass this file unchanged.

Tests use only the public API (``atoll.computing``) and the ``backend`` /
``session`` fixtures from ``conftest.py``; they never look at storage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoll.computing import (
    ComputingError,
    InvalidArgumentError,
    KeyTypeError,
    SerializationError,
    SessionClosedError,
    Table,
    TableExistsError,
    TableNotFoundError,
    TaskError,
    WorkerCrashedError,
)


def by_key(table: Table) -> list[tuple[Any, Any]]:
    return sorted(table.collect(), key=lambda row: repr(row[0]))


def as_dict(table: Table) -> dict[Any, Any]:
    rows = list(table.collect())
    result = dict(rows)
    assert len(result) == len(rows), "keys must be unique"
    return result


@pytest.fixture
def ten(session):
    table = session.parallelize([(i, i * 10) for i in range(10)], partitions=3, name="ten")
    yield table
    table.destroy()


class Boom(Exception):
    """A user exception type that the caller must get back as the cause."""


# --------------------------------------------------------------------------- create and read


def test_parallelize_collect_count(session):
    rows = [(i, f"v{i}") for i in range(100)]
    table = session.parallelize(rows, partitions=4, name="hundred")
    assert table.num_partitions == 4
    assert table.count() == 100
    assert sum(table.partition_counts()) == 100
    assert by_key(table) == sorted(rows, key=lambda r: repr(r[0]))
    assert sorted(row for i in range(4) for row in table.iter_partition(i)) == sorted(rows)
    assert "hundred" in table.name


def test_parallelize_mapping_and_duplicates_last_wins(session):
    assert as_dict(session.parallelize({"a": 1, "b": 2}, partitions=2)) == {"a": 1, "b": 2}
    table = session.parallelize([("k", 1), ("j", 0), ("k", 2), ("k", 3)], partitions=2)
    assert table.count() == 2
    assert as_dict(table) == {"k": 3, "j": 0}


def test_default_partitions(session):
    table = session.parallelize([(1, 1)])
    assert table.num_partitions == session.default_partitions >= 1


def test_key_types_supported(session):
    keys = [
        0,
        -1,
        2**63 - 1,
        -(2**63),
        2**64,
        -(2**200),
        "",
        "ключ",
        b"\x00\xff",
        (1, "a", b"b"),
        ((1, 2), ()),
    ]
    table = session.parallelize([(k, i) for i, k in enumerate(keys)], partitions=3)
    assert as_dict(table) == {k: i for i, k in enumerate(keys)}
    # Equal keys meet in a join whatever their Python type (True == 1, np.int64(5) == 5).
    other = session.parallelize([(1, "one"), (5, "five")], partitions=3)
    flags = session.parallelize([(True, "t"), (np.int64(5), "n")], partitions=3)
    assert as_dict(other.join(flags, lambda a, b: a + b)) == {1: "onet", 5: "fiven"}


def test_same_key_same_partition_index_across_tables(session):
    a = session.parallelize([(k, 1) for k in range(50)], partitions=5)
    b = session.parallelize([(k, "x") for k in reversed(range(50))], partitions=5)
    where_a = {k: p for p in range(5) for k, _ in a.iter_partition(p)}
    where_b = {k: p for p in range(5) for k, _ in b.iter_partition(p)}
    assert where_a == where_b


def test_take_and_first(ten):
    rows = list(ten.collect())
    assert ten.take(3) == rows[:3]
    assert ten.take(0) == []
    assert ten.take(100) == rows
    assert ten.first() == rows[0]
    with pytest.raises(InvalidArgumentError, match="ten"):
        ten.take(-1)


def test_iter_partition_bounds(ten):
    with pytest.raises(InvalidArgumentError, match="partition 3"):
        ten.iter_partition(3)
    with pytest.raises(InvalidArgumentError, match="partition 3"):
        list(ten.iter_partition_encoded(3))


def test_encoded_blocks_hold_the_partition_rows(session):
    """What federation sends: codec [keys, values] blocks, row for row the partition."""
    from atoll.codec import decode

    table = session.parallelize(
        [(i, {"v": i, "b": b"x" * (i % 7)}) for i in range(20_000)], partitions=3
    )
    for p in range(table.num_partitions):
        rows = []
        for blob in table.iter_partition_encoded(p):
            keys, values = decode(blob)
            rows.extend(zip(keys, values, strict=True))
        assert rows == list(table.iter_partition(p))


# --------------------------------------------------------------------------- no-shuffle ops


def test_map_values_with_closure(ten):
    offset = 7
    assert as_dict(ten.map_values(lambda v: v + offset)) == {i: i * 10 + 7 for i in range(10)}


def test_filter(ten):
    assert as_dict(ten.filter(lambda k, v: k % 2 == 0 and v > 0)) == {2: 20, 4: 40, 6: 60, 8: 80}


def test_reduce(ten):
    assert ten.reduce(lambda a, b: a + b) == 450
    assert ten.map_values(lambda v: [v]).reduce(lambda a, b: a + b).__len__() == 10


def test_sample_is_deterministic(session):
    table = session.parallelize([(i, i) for i in range(4000)], partitions=3)
    a = as_dict(table.sample(0.25, seed=7))
    b = as_dict(table.sample(0.25, seed=7))
    c = as_dict(table.sample(0.25, seed=8))
    assert a == b
    assert a != c
    assert 800 < len(a) < 1200
    # The decision depends on (seed, key) only, not on the partitioning.
    again = as_dict(table.repartition(5).sample(0.25, seed=7))
    assert again == a
    assert table.sample(0.0, seed=1).count() == 0
    assert table.sample(1.0, seed=1).count() == 4000
    with pytest.raises(InvalidArgumentError, match="fraction"):
        table.sample(1.5)


# --------------------------------------------------------------------------- shuffles


def test_map_changes_keys(ten):
    result = ten.map(lambda k, v: (f"k{k}", v // 10))
    assert as_dict(result) == {f"k{i}": i for i in range(10)}
    assert result.num_partitions == ten.num_partitions


def test_map_duplicates_last_wins_in_partition_order(session):
    one = session.parallelize([(i, i) for i in range(10)], partitions=1)
    assert as_dict(one.map(lambda k, v: (k % 3, v))) == {0: 9, 1: 7, 2: 8}
    many = session.parallelize([(i, i) for i in range(30)], partitions=4)
    result = as_dict(many.map(lambda k, v: (k % 3, v)))
    assert set(result) == {0, 1, 2}
    assert all(v % 3 == k for k, v in result.items())


def test_flat_map(ten):
    result = ten.flat_map(lambda k, v: [(k, v), (-k - 1, v)] if k < 3 else [])
    assert as_dict(result) == {0: 0, -1: 0, 1: 10, -2: 10, 2: 20, -3: 20}


def test_map_partitions(ten):
    result = ten.map_partitions(lambda rows: [(k, v + 1) for k, v in rows])
    assert as_dict(result) == {i: i * 10 + 1 for i in range(10)}
    sums = ten.map_partitions(lambda rows: [("total", sum(v for _, v in rows))])
    assert sums.count() == 1


def test_map_reduce_partitions_word_count(session):
    lines = session.parallelize(
        [(i, line) for i, line in enumerate(["a b a", "b c", "a", "", "c c c"])], partitions=3
    )

    def words(rows):
        for _, line in rows:
            for w in line.split():
                yield w, 1

    counts = lines.map_reduce_partitions(words, lambda a, b: a + b)
    assert as_dict(counts) == {"a": 3, "b": 2, "c": 4}


def test_repartition(ten):
    wider = ten.repartition(7)
    assert wider.num_partitions == 7
    assert as_dict(wider) == as_dict(ten)
    assert sum(wider.partition_counts()) == 10
    with pytest.raises(InvalidArgumentError, match="partitions"):
        ten.repartition(0)


# --------------------------------------------------------------------------- two tables


def test_join(session, ten):
    other = session.parallelize([(i, f"o{i}") for i in range(5, 15)], partitions=3)
    assert as_dict(ten.join(other, lambda a, b: (a, b))) == {
        i: (i * 10, f"o{i}") for i in range(5, 10)
    }


def test_join_no_common_keys(session, ten):
    other = session.parallelize([(i, i) for i in range(100, 110)], partitions=3)
    joined = ten.join(other, lambda a, b: a)
    assert joined.count() == 0
    assert list(joined.collect()) == []


def test_join_different_partitioning(session, ten):
    other = session.parallelize([(i, -i) for i in range(0, 20, 2)], partitions=5)
    joined = ten.join(other, lambda a, b: a + b)
    assert joined.num_partitions == ten.num_partitions
    assert as_dict(joined) == {i: i * 10 - i for i in range(0, 10, 2)}
    assert as_dict(other.join(ten, lambda a, b: a + b)) == {i: i * 10 - i for i in range(0, 10, 2)}


def test_union_shared_keys(session, ten):
    other = session.parallelize([(i, 1000 + i) for i in range(8, 12)], partitions=4)
    expected = {i: i * 10 for i in range(10)} | {10: 1010, 11: 1011}
    assert as_dict(ten.union(other)) == expected  # default keeps the left value
    merged = as_dict(ten.union(other, lambda a, b: (a, b)))
    assert merged[8] == (80, 1008) and merged[9] == (90, 1009) and merged[10] == 1010
    assert len(merged) == 12


def test_subtract_by_key(session, ten):
    other = session.parallelize([(i, None) for i in range(0, 20, 3)], partitions=2)
    assert as_dict(ten.subtract_by_key(other)) == {i: i * 10 for i in range(10) if i % 3}


# --------------------------------------------------------------------------- edge sizes


def test_empty_table_everywhere(session):
    empty = session.parallelize([], partitions=3)
    full = session.parallelize([(1, 1)], partitions=3)
    assert empty.count() == 0
    assert list(empty.collect()) == []
    assert empty.first() is None
    assert empty.take(5) == []
    assert empty.reduce(lambda a, b: a + b) is None
    for derived in [
        empty.map_values(lambda v: v),
        empty.map(lambda k, v: (k, v)),
        empty.flat_map(lambda k, v: [(k, v)]),
        empty.map_partitions(lambda rows: rows),
        empty.map_reduce_partitions(lambda rows: rows, lambda a, b: a),
        empty.filter(lambda k, v: True),
        empty.sample(0.5),
        empty.repartition(2),
        empty.join(full, lambda a, b: a),
        full.join(empty, lambda a, b: a),
        empty.subtract_by_key(full),
    ]:
        assert derived.count() == 0
    assert as_dict(empty.union(full)) == {1: 1}
    assert as_dict(full.subtract_by_key(empty)) == {1: 1}
    empty_with_reduce = session.parallelize({}, partitions=1)
    assert empty_with_reduce.reduce(lambda a, b: a) is None


def test_one_row_table(session):
    one = session.parallelize([("only", 41)], partitions=4)
    assert one.count() == 1
    assert one.first() == ("only", 41)
    assert one.reduce(lambda a, b: a + b) == 41
    assert as_dict(one.map_values(lambda v: v + 1)) == {"only": 42}
    assert as_dict(one.map(lambda k, v: (v, k))) == {41: "only"}
    assert as_dict(one.join(one, lambda a, b: a + b)) == {"only": 82}
    assert as_dict(one.union(one, lambda a, b: a * b)) == {"only": 1681}
    assert one.subtract_by_key(one).count() == 0


def test_numpy_values_round_trip(session):
    arrays = {i: np.arange(i * 3, dtype=np.float64).reshape(i, 3) for i in range(1, 5)}
    table = session.parallelize(arrays, partitions=2)
    doubled = as_dict(table.map_values(lambda a: a * 2))
    for i, a in arrays.items():
        np.testing.assert_array_equal(doubled[i], a * 2)


@pytest.mark.slow
def test_hundred_megabyte_value(session):
    big = (
        np.random.default_rng(0).integers(0, 255, size=100 * 1024 * 1024, dtype=np.uint8).tobytes()
    )
    table = session.parallelize([("big", big), ("small", b"x")], partitions=2)
    assert table.map_values(len).reduce(lambda a, b: a + b) == len(big) + 1
    got = dict(table.collect())
    assert got["big"] == big
    assert table.filter(lambda k, v: len(v) > 1).count() == 1


@pytest.mark.slow
def test_million_rows(session):
    n = 1_000_000
    table = session.parallelize(((i, i) for i in range(n)), partitions=4)
    assert table.count() == n
    doubled = table.map_values(lambda v: 2 * v)
    assert doubled.reduce(lambda a, b: a + b) == n * (n - 1)
    evens = table.filter(lambda k, v: k % 2 == 0)
    assert evens.count() == n // 2
    assert table.join(evens, lambda a, b: a - b).reduce(lambda a, b: a + b) == 0
    assert table.map(lambda k, v: (k // 2, v)).count() == n // 2


# --------------------------------------------------------------------------- writer


def test_writer_in_pieces(session):
    with session.writer(partitions=3, name="received") as writer:
        writer.put_all([(i, i) for i in range(5)])
        writer.put_all(iter([(i, -i) for i in range(3, 8)]))
        table = writer.commit()
    assert as_dict(table) == {0: 0, 1: 1, 2: 2, 3: -3, 4: -4, 5: -5, 6: -6, 7: -7}
    assert table.num_partitions == 3


def test_writer_discards_on_error(session):
    with pytest.raises(RuntimeError, match="stream broke"), session.writer(partitions=2) as writer:
        writer.put_all([(1, 1)])
        raise RuntimeError("stream broke")
    with pytest.raises(ComputingError, match="discarded"):
        writer.commit()


def test_writer_without_commit_discards(session):
    with session.writer(partitions=2) as writer:
        writer.put_all([(1, 1)])
    with pytest.raises(ComputingError, match="discarded"):
        writer.commit()


def test_two_table_operations_need_a_table(ten):
    with pytest.raises(InvalidArgumentError, match="join on table 'ten'"):
        ten.join([(1, 1)], lambda a, b: a)  # type: ignore[arg-type]


def test_writer_copies_a_table_partition_by_partition(session, ten):
    with session.writer(partitions=ten.num_partitions, unique_keys=True) as writer:
        for p in range(ten.num_partitions):
            writer.put_all(ten.iter_partition(p))
        copy = writer.commit()
    assert as_dict(copy) == as_dict(ten)
    assert copy.partition_counts() == ten.partition_counts()


# --------------------------------------------------------------------------- persistence


def test_save_load_destroy(session, ten):
    saved = ten.save("contract", "ten")
    loaded = session.load("contract", "ten")
    assert as_dict(loaded) == as_dict(ten)
    assert loaded.num_partitions == ten.num_partitions
    assert loaded.count() == 10
    with pytest.raises(TableExistsError, match="contract/ten"):
        ten.save("contract", "ten")
    ten.map_values(lambda v: -v).save("contract", "ten", overwrite=True)
    assert as_dict(session.load("contract", "ten"))[3] == -30
    saved.destroy()
    with pytest.raises(TableNotFoundError, match="contract/ten"):
        session.load("contract", "ten")


def test_saved_table_destroyed_through_another_handle(session):
    session.parallelize({1: 1}, partitions=2).save("contract", "twice")
    first, second = session.load("contract", "twice"), session.load("contract", "twice")
    first.destroy()
    with pytest.raises(TableNotFoundError, match="contract/twice"):
        second.count()


def test_load_missing_names_the_table(session):
    with pytest.raises(TableNotFoundError, match="nowhere/nothing"):
        session.load("nowhere", "nothing")
    with pytest.raises(InvalidArgumentError, match="namespace"):
        session.load("../etc", "passwd")


def test_destroyed_table_refuses_use(session):
    table = session.parallelize([(1, 1)], partitions=1, name="gone")
    table.destroy()
    table.destroy()  # idempotent
    with pytest.raises(TableNotFoundError, match="gone"):
        table.count()
    with pytest.raises(TableNotFoundError, match="gone"):
        table.map_values(lambda v: v)


_CHILD = textwrap.dedent(
    """
    import json, sys
    from atoll.computing import open_session

    def main():
        options = json.loads(sys.argv[1])
        with open_session(data_dir=sys.argv[2], **options) as session:
            table = session.load("persist", "parent")
            total = table.map_values(lambda v: v * 2).reduce(lambda a, b: a + b)
            session.parallelize({"from": "child"}, partitions=2).save("persist", "child")
            print(json.dumps({"count": table.count(), "total": total, "parts": table.num_partitions}))

    if __name__ == "__main__":
        main()
    """
)


@pytest.mark.multiprocess
def test_persistence_across_processes(backend, tmp_path):
    table = backend.session.parallelize([(i, i) for i in range(1000)], partitions=3)
    table.save("persist", "parent", overwrite=True)
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, str(script), json.dumps(backend.options), str(backend.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {
        "count": 1000,
        "total": 999000,
        "parts": 3,
    }
    assert as_dict(backend.session.load("persist", "child")) == {"from": "child"}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad_key", [1.5, None, [1], object(), (1, 2.0)])
def test_bad_key_type_names_table_and_type(session, bad_key):
    with pytest.raises(KeyTypeError, match="'keyed'") as info:
        session.parallelize([(1, 1), (bad_key, 2)], partitions=2, name="keyed")
    assert type(bad_key).__name__ in str(info.value) or "float" in str(info.value)


def test_bad_key_from_map(ten):
    with pytest.raises(KeyTypeError, match=r"map on table 'ten'.*float"):
        ten.map(lambda k, v: (k / 2, v))


def test_unserialisable_value_names_table(session, ten):
    with pytest.raises(SerializationError, match="'objects'") as info:
        session.parallelize([(1, 1), (2, object())], partitions=2, name="objects")
    assert "key 2" in str(info.value)
    with pytest.raises(SerializationError, match=r"map_values on table 'ten'.*key 4"):
        ten.map_values(lambda v: object() if v == 40 else v)


def test_rows_must_be_pairs(session, ten):
    with pytest.raises(InvalidArgumentError, match="row 1"):
        session.parallelize([(1, 1), (1, 2, 3)], name="triples")
    with pytest.raises(InvalidArgumentError, match="pairs"):
        ten.map(lambda k, v: k)
    with pytest.raises(InvalidArgumentError, match="pairs"):
        ten.flat_map(lambda k, v: [k])


def test_function_that_raises_reports_key_and_cause(ten):
    def explode(v):
        if v == 70:
            raise Boom("seven is unlucky")
        return v

    with pytest.raises(TaskError) as info:
        ten.map_values(explode)
    err = info.value
    assert err.table == "ten"
    assert err.operation == "map_values"
    assert err.key_repr == "7"
    assert err.error_type.endswith("Boom")
    assert err.error_message == "seven is unlucky"
    assert "explode" in err.remote_traceback
    assert isinstance(err.__cause__, Boom)
    assert "key 7" in str(err) and "seven is unlucky" in str(err)
    assert 0 <= err.partition < ten.num_partitions


@pytest.mark.parametrize(
    "operation",
    ["filter", "map", "flat_map", "map_partitions", "reduce", "join", "union", "mr_reducer"],
)
def test_every_operation_reports_user_errors(session, ten, operation):
    def fail(*args):
        raise ValueError("no")

    other = session.parallelize([(i, i) for i in range(10)], partitions=3)
    calls = {
        "filter": lambda: ten.filter(fail),
        "map": lambda: ten.map(fail),
        "flat_map": lambda: ten.flat_map(fail),
        "map_partitions": lambda: ten.map_partitions(fail),
        "reduce": lambda: ten.reduce(fail),
        "join": lambda: ten.join(other, fail),
        "union": lambda: ten.union(other, fail),
        "mr_reducer": lambda: ten.map_reduce_partitions(
            lambda rows: ((0, v) for _, v in rows), fail
        ),
    }
    with pytest.raises(TaskError, match="ValueError: no") as info:
        calls[operation]()
    assert isinstance(info.value.__cause__, ValueError)


def test_stop_iteration_in_a_function_is_an_error_not_the_end(ten):
    def stop(*args):
        raise StopIteration

    for call in (
        lambda: ten.map_values(stop),
        lambda: ten.filter(stop),
        lambda: ten.map(stop),
        lambda: ten.flat_map(stop),
    ):
        with pytest.raises(TaskError, match="StopIteration"):
            call()


def test_session_recovers_after_errors(ten):
    with pytest.raises(TaskError):
        ten.map_values(lambda v: 1 / 0)
    assert ten.map_values(lambda v: v + 1).reduce(lambda a, b: a + b) == 460


def test_worker_crash_is_reported_and_pool_recovers(backend, ten):
    if not backend.isolated:
        pytest.skip("functions run in the test process on this backend")
    with pytest.raises(WorkerCrashedError, match=r"map_values.*'ten'"):
        ten.map_values(lambda v: os._exit(3))
    assert ten.map_values(lambda v: v + 1).reduce(lambda a, b: a + b) == 460
    assert ten.count() == 10


def test_closed_session_refuses_use(backend, tmp_path):
    session = backend.open(tmp_path)
    table = session.parallelize([(1, 1)], partitions=1)
    session.close()
    session.close()  # idempotent
    with pytest.raises(SessionClosedError):
        session.parallelize([(1, 1)])
    with pytest.raises(SessionClosedError):
        table.count()


def test_chained_pipeline(session):
    words = session.parallelize(
        [
            (i, w)
            for i, w in enumerate(
                [
                    "the",
                    "quick",
                    "brown",
                    "fox",
                    "jumps",
                    "over",
                    "the",
                    "lazy",
                    "dog",
                    "the",
                    "end",
                ]
            )
        ],
        partitions=3,
    )
    counts = words.map(lambda k, w: (w, 1)).union(
        words.map_reduce_partitions(lambda rows: ((w, 1) for _, w in rows), lambda a, b: a + b),
        lambda a, b: b,
    )
    result = as_dict(counts)
    assert result["the"] == 3
    assert Counter(result.values())[1] == 8


# --------------------------------------------------------------------------- plaintext twin

_keys = st.one_of(
    st.integers(-(2**70), 2**70),
    st.text(max_size=4),
    st.binary(max_size=4),
    st.tuples(st.integers(-5, 5), st.text(max_size=2)),
)
_rows = st.lists(st.tuples(_keys, st.integers(-1000, 1000)), max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(left=_rows, right=_rows, p1=st.integers(1, 5), p2=st.integers(1, 5), seed=st.integers(0, 9))
def test_matches_a_dict_model(backend, left, right, p1, p2, seed):
    """Every operation agrees with the same computation on plain dicts."""
    session = backend.session
    a = session.parallelize(left, partitions=p1)
    b = session.parallelize(right, partitions=p2)
    da, db = dict(left), dict(right)
    assert as_dict(a) == da
    assert a.count() == len(da)
    assert as_dict(a.map_values(lambda v: v * 3)) == {k: v * 3 for k, v in da.items()}
    assert as_dict(a.filter(lambda k, v: v % 2 == 0)) == {k: v for k, v in da.items() if v % 2 == 0}
    assert as_dict(a.join(b, lambda x, y: (x, y))) == {
        k: (v, db[k]) for k, v in da.items() if k in db
    }
    assert as_dict(a.union(b, lambda x, y: x - y)) == {
        **db,
        **{k: (v - db[k] if k in db else v) for k, v in da.items()},
    }
    assert as_dict(a.subtract_by_key(b)) == {k: v for k, v in da.items() if k not in db}
    assert a.reduce(lambda x, y: x + y) == (sum(da.values()) if da else None)
    by_type = a.map_reduce_partitions(
        lambda rows: ((type(k).__name__, v) for k, v in rows), lambda x, y: x + y
    )
    expected: dict[str, int] = {}
    for k, v in da.items():
        expected[type(k).__name__] = expected.get(type(k).__name__, 0) + v
    assert as_dict(by_type) == expected
    assert as_dict(a.flat_map(lambda k, v: [((k, 0), v), ((k, 1), -v)])) == {
        **{(k, 0): v for k, v in da.items()},
        **{(k, 1): -v for k, v in da.items()},
    }
    sampled = as_dict(a.sample(0.5, seed))
    assert sampled.items() <= da.items()
    assert as_dict(a.repartition(p2).sample(0.5, seed)) == sampled
    for table in (a, b):
        table.destroy()
