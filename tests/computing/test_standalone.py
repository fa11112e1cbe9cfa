"""Standalone-backend internals: partitioner, storage layout, cleanup, no-shuffle joins."""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from atoll.codec import decode, encode
from atoll.computing import (
    ComputingError,
    InvalidArgumentError,
    KeyTypeError,
    TaskError,
    open_session,
)
from atoll.computing.standalone import StandaloneSession, StandaloneTable, _storage
from atoll.computing.standalone import _partitioner as part
from atoll.computing.standalone import _session as _session_module

# --------------------------------------------------------------------------- partitioner

# Pinned values: changing any of them changes where saved Tables keep their rows,
# which needs a new PARTITIONER_VERSION.
KNOWN_HASHES = {
    0: 0xE220A8397B1DCDAF,
    1: 0x910A2DEC89025CC1,
    -1: 0xE4D971771B652C20,
}


# Our own composition over str, bytes, tuples and big ints, pinned the same way.
PINNED_HASHES = {
    "a": 0xA3EB30ABF2C7B2D5,
    b"a": 0x4D86FA7729B0F794,
    (1, "a"): 0x8FBEC0BC99C0F868,
    2**64: 0x058E623ECE9A619F,
}


def test_splitmix64_known_answers():
    # For int keys the hash is the first output of splitmix64 seeded with the key
    # (Steele, Lea, Flood 2014; Vigna's splitmix64.c): 0xE220A8397B1DCDAF for seed 0.
    for key, expected in KNOWN_HASHES.items():
        assert part.key_hash(key) == expected
    for key, expected in PINNED_HASHES.items():
        assert part.key_hash(key) == expected


def test_vectorised_hash_matches_scalar():
    rng = np.random.default_rng(5)
    ints = [int(x) for x in rng.integers(-(2**63), 2**63 - 1, size=2000, dtype=np.int64)]
    ints += [0, 1, -1, 2**63 - 1, -(2**63)]
    assert part.key_hashes(ints).tolist() == [part.key_hash(k) for k in ints]
    strs = [f"user-{i}-ключ" for i in range(500)] + [""]
    assert part.key_hashes(strs).tolist() == [part.key_hash(k) for k in strs]
    blobs = [s.encode() for s in strs]
    assert part.key_hashes(blobs).tolist() == [part.key_hash(k) for k in blobs]
    mixed = [1, "1", b"1", (1, "1"), 2**70, True]
    assert part.key_hashes(mixed).tolist() == [part.key_hash(k) for k in mixed]


def test_equal_keys_hash_equally():
    assert part.key_hash(True) == part.key_hash(1)
    assert part.key_hash(np.int32(7)) == part.key_hash(7)
    assert part.key_hash(np.uint64(2**64 - 1)) == part.key_hash(2**64 - 1)
    assert part.key_hashes([np.int64(3), 4]).tolist() == part.key_hashes([3, 4]).tolist()
    assert part.key_hash(2**64) != part.key_hash(-(2**64))


def test_partitions_spread_evenly():
    counts = np.bincount(part.partitions_of(list(range(100_000)), 8), minlength=8)
    assert counts.min() > 11_500 and counts.max() < 13_500
    counts = np.bincount(part.partitions_of([f"id{i}" for i in range(100_000)], 8), minlength=8)
    assert counts.min() > 11_500 and counts.max() < 13_500


def test_hash_independent_of_pythonhashseed():
    code = textwrap.dedent(
        """
        from atoll.computing.standalone._partitioner import key_hashes
        print(key_hashes(["a", "bb", "ccc"]).tolist(), key_hashes([(1, "x"), b"y"]).tolist())
        """
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env=dict(os.environ, PYTHONHASHSEED=seed),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


@pytest.mark.parametrize("key", [1.0, None, [1], {"a": 1}, np.float64(1), frozenset()])
def test_refused_key_types(key):
    with pytest.raises(KeyTypeError, match=r"on table 'tbl'"):
        part.key_hashes([1, key], "tbl", "op")


def test_sample_mask_fraction():
    keys = list(range(200_000))
    kept = part.sample_mask(keys, 0.3, 11).mean()
    assert abs(kept - 0.3) < 0.01
    assert not part.sample_mask(keys, 0.0, 1).any()
    assert part.sample_mask(keys, 1.0, 1).all()


# --------------------------------------------------------------------------- storage


def test_block_writer_splits_huge_blocks(tmp_path):
    path = str(tmp_path / "env")
    _storage.create_env(path)
    writer = _storage.BlockWriter(path, 2, source=0)
    big = b"x" * (3 * _storage.BLOCK_BYTES)
    writer.extend(0, list(range(4)), [big] * 4)
    writer.extend(1, list(range(10_000)), list(range(10_000)))
    assert writer.close() == [4, 10_000]
    blocks0 = list(_storage.iter_blocks(path, 0))
    assert [len(k) for k, _ in blocks0] == [1, 1, 1, 1]
    blocks1 = list(_storage.iter_blocks(path, 1))
    assert sum(len(k) for k, _ in blocks1) == 10_000
    assert all(len(k) <= _storage.BLOCK_ROWS for k, _ in blocks1)
    assert list(_storage.iter_blocks(path, 2)) == []
    _storage.remove_env(path)
    assert not os.path.exists(path)


def test_unencodable_row_names_its_key(tmp_path):
    path = str(tmp_path / "env")
    _storage.create_env(path)
    writer = _storage.BlockWriter(path, 1, source=0)
    writer.extend(0, [1, 2, 3], [1, object(), 3])
    with pytest.raises(_storage.UnencodableRow) as info:
        writer.close()
    assert info.value.key == 2
    _storage.remove_env(path)


# --------------------------------------------------------------------------- session and table


@pytest.fixture(params=[1, 2], ids=["inline", "workers2"])
def standalone(request, tmp_path):
    session = open_session("standalone", data_dir=tmp_path, workers=request.param)
    assert isinstance(session, StandaloneSession)
    yield session
    session.close()


def _temp_envs(session: StandaloneSession) -> set[str]:
    return set(os.listdir(session.tmp_dir))


def test_co_partitioned_join_moves_no_data(standalone):
    a = standalone.parallelize([(i, i) for i in range(1000)], partitions=4)
    b = standalone.parallelize([(i, -i) for i in range(500, 1500)], partitions=4)
    before = standalone.stats["shuffles"]
    assert a.join(b, lambda x, y: x + y).count() == 500
    assert a.union(b).count() == 1500
    assert a.subtract_by_key(b).count() == 500
    assert a.map_values(str).filter(lambda k, v: True).sample(0.5).count() > 0
    assert standalone.stats["shuffles"] == before
    c = standalone.parallelize([(i, 0) for i in range(10)], partitions=3)
    a.join(c, lambda x, y: x)
    assert standalone.stats["shuffles"] == before + 1


def test_rows_live_in_their_hash_partition(standalone):
    table = standalone.parallelize([(f"k{i}", i) for i in range(300)], partitions=5)
    for derived in (table, table.map(lambda k, v: (v, k)), table.repartition(3)):
        for p in range(derived.num_partitions):
            keys = [k for k, _ in derived.iter_partition(p)]
            assert (part.partitions_of(keys, derived.num_partitions) == p).all()
        assert derived.partition_counts() == [
            sum(1 for _ in derived.iter_partition(p)) for p in range(derived.num_partitions)
        ]


def test_failed_operations_leave_nothing_behind(standalone):
    table = standalone.parallelize([(i, i) for i in range(100)], partitions=3)
    before = _temp_envs(standalone)
    with pytest.raises(TaskError):
        table.map_values(lambda v: 1 // (v - 50))
    with pytest.raises(TaskError):
        table.map(lambda k, v: (k, 1 // (v - 50)))
    with pytest.raises(KeyTypeError):
        table.map(lambda k, v: (None, v))
    with pytest.raises(ComputingError):
        standalone.parallelize([(1, 1), (2, object())])
    with pytest.raises(InvalidArgumentError):
        standalone.parallelize([(1, 1), 5])
    with pytest.raises(RuntimeError), standalone.writer(2) as writer:
        writer.put_all([(1, 1)])
        raise RuntimeError
    assert _temp_envs(standalone) == before


def test_destroy_and_close_remove_files(tmp_path):
    session = open_session(data_dir=tmp_path, workers=1)
    assert isinstance(session, StandaloneSession)
    table = session.parallelize([(1, 1)])
    assert isinstance(table, StandaloneTable)
    assert os.path.exists(table.path)
    table.destroy()
    assert not os.path.exists(table.path)
    other = session.parallelize([(1, 1)])
    session.close()
    assert not os.path.exists(session.tmp_dir)
    assert not os.path.exists(other.path)  # type: ignore[attr-defined]


def test_stale_temp_areas_of_dead_processes_are_removed(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(proc.stdout)
    host = _session_module._host_tag()
    stale = tmp_path / "tmp" / f"{dead_pid}-{host}-deadbeef"
    live = tmp_path / "tmp" / f"{os.getpid()}-{host}-alive"
    elsewhere = tmp_path / "tmp" / f"{dead_pid}-00000000-otherhost"
    for path in (stale, live, elsewhere):
        path.mkdir(parents=True)
    with open_session(data_dir=tmp_path, workers=1):
        pass
    assert not stale.exists()
    assert live.exists()
    assert elsewhere.exists()  # a pid of another host says nothing about its process


def test_saved_layout_and_metadata(tmp_path):
    with open_session(data_dir=tmp_path, workers=1) as session:
        table = session.parallelize([(i, i) for i in range(20)], partitions=3)
        table.save("ns", "tbl")
        meta_path = tmp_path / "tables" / "ns" / "tbl" / "meta.atoll"
        meta = decode(meta_path.read_bytes())
        assert meta["partitions"] == 3
        assert meta["counts"] == table.partition_counts()
        assert meta["partitioner"] == part.PARTITIONER_VERSION
        assert not [p for p in os.listdir(tmp_path / "tables" / "ns") if p.startswith(".")]
        meta_path.write_bytes(encode({**meta, "partitioner": 99}))
        with pytest.raises(ComputingError, match="partitioner version 99"):
            session.load("ns", "tbl")
        meta_path.write_bytes(b"garbage")
        with pytest.raises(ComputingError, match="corrupt"):
            session.load("ns", "tbl")


def test_saved_table_survives_session_and_overwrite_by_other_session(tmp_path):
    with open_session(data_dir=tmp_path, workers=1) as first:
        first.parallelize({1: "old"}, partitions=2).save("ns", "t")
        loaded = first.load("ns", "t")
        assert dict(loaded.collect()) == {1: "old"}
        with open_session(data_dir=tmp_path, workers=1) as second:
            second.parallelize({1: "new"}, partitions=2).save("ns", "t", overwrite=True)
        assert dict(first.load("ns", "t").collect()) == {1: "new"}


def test_bad_parameters():
    with pytest.raises(InvalidArgumentError, match="engine 'nope'"):
        open_session("nope")
    with pytest.raises(InvalidArgumentError, match="workers"):
        open_session(workers=0, data_dir="/nonexistent-never-created")


def test_bad_partition_count(standalone):
    with pytest.raises(InvalidArgumentError, match="partitions"):
        standalone.parallelize([(1, 1)], partitions=0)
    with pytest.raises(InvalidArgumentError, match="partitions"):
        standalone.writer(partitions=True)


def test_task_error_pickles():
    err = TaskError(
        table="t",
        operation="map",
        partition=1,
        key_repr="'k'",
        error_type="ValueError",
        error_message="bad",
        remote_traceback="tb",
    )
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err)
    assert again.key_repr == "'k'"


def test_unpicklable_function_is_refused(tmp_path):
    import threading

    lock = threading.Lock()
    with open_session(data_dir=tmp_path, workers=2) as session:
        table = session.parallelize([(1, 1)], partitions=2)
        with pytest.raises(ComputingError, match=r"map_values on table .*cannot be sent"):
            table.map_values(lambda v: (lock, v)[1])


def test_unreferenced_temporary_tables_are_removed(standalone):
    table = standalone.parallelize([(i, i) for i in range(10)], partitions=2)
    mapped = table.map_values(lambda v: v + 1)
    path = mapped.path
    kept = table.save("ns", "kept")
    del mapped
    gc.collect()
    assert os.path.exists(path)  # removed at the next operation, not inside the collector
    assert table.count() == 10
    table.filter(lambda k, v: True)
    assert not os.path.exists(path)
    del kept
    gc.collect()
    table.filter(lambda k, v: True)
    assert standalone.load("ns", "kept").count() == 10  # saved Tables are never collected


def test_list_extend_keeps_partial_results():
    """``_tasks._apply`` finds the failing row with this CPython behaviour."""

    def fail_at_five(v):
        if v == 5:
            raise ValueError(v)
        return v

    out: list[int] = []
    with pytest.raises(ValueError):
        out.extend(map(fail_at_five, range(10)))
    assert out == [0, 1, 2, 3, 4]


def test_parallelize_merges_only_when_keys_repeat(standalone, monkeypatch):
    before = standalone.stats["merges"]
    unique = standalone.parallelize([(i, i) for i in range(20_000)], partitions=3)
    assert unique.count() == 20_000
    assert standalone.stats["merges"] == before
    repeated = standalone.parallelize([(i % 7, i) for i in range(100)], partitions=3)
    assert dict(repeated.collect()) == {i % 7: i for i in range(100)}
    assert standalone.stats["merges"] == before + 1
    # Past the tracking limit the writer stops keeping hashes and always merges.
    monkeypatch.setattr(type(standalone.writer(1)), "TRACK_ROWS", 5)
    again = standalone.parallelize([(i, i) for i in range(10)], partitions=2)
    assert dict(again.collect()) == {i: i for i in range(10)}
    assert standalone.stats["merges"] == before + 2


@pytest.mark.parametrize("workers", [1, 2])
def test_session_shared_by_threads(tmp_path, workers):
    """Parties of an in-process federation share one session from several threads."""
    import threading

    from atoll.computing import open_session

    errors: list[str] = []

    def work() -> None:
        try:
            for _ in range(8):
                t = s.parallelize([(j, j) for j in range(500)], partitions=3)
                u = t.map_values(lambda v: v * 2).join(t, lambda a, b: a + b)
                assert u.reduce(lambda a, b: a + b) == 3 * sum(range(500))
                u.destroy()
                t.destroy()
        except Exception as exc:  # collected and reported below
            errors.append(repr(exc))

    with open_session(data_dir=tmp_path, workers=workers) as s:
        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
