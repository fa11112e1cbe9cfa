"""What the Spark backend adds beyond the contract suite (which it also passes).

Every test here shares the contract suite's Spark session (one SparkContext per
test process) and skips, with the reason, where Java or PySpark is missing.
"""

from __future__ import annotations

from typing import Any

import gmpy2
import numpy as np
import pytest

from atoll.codec import decode
from atoll.computing import (
    InvalidArgumentError,
    Table,
    TableNotFoundError,
    open_session,
)

from .conftest import BACKENDS, SPARK_MARKS, Backend

pytestmark = SPARK_MARKS


@pytest.fixture(scope="module")
def spark_backend(tmp_path_factory: pytest.TempPathFactory) -> Any:
    options = BACKENDS["spark-local2"][0]
    data_dir = tmp_path_factory.mktemp("spark-only")
    session = open_session(data_dir=data_dir, **options)
    try:
        yield Backend("spark-local2", options, True, data_dir, session)
    finally:
        session.close()


@pytest.fixture
def spark(spark_backend: Backend) -> Any:
    return spark_backend.session


def partitions(table: Table) -> list[list[tuple[Any, Any]]]:
    return [sorted(table.iter_partition(p), key=repr) for p in range(table.num_partitions)]


def test_same_placement_as_standalone(spark, tmp_path):
    """A key lives in the same partition on both backends: Tables move between sites
    (and backends) partition by partition without re-hashing."""
    rows = [(k, i) for i, k in enumerate([*range(200), "a", b"b", (1, "x"), 2**80])]
    with open_session(data_dir=tmp_path, workers=1) as standalone:
        expected = partitions(standalone.parallelize(rows, partitions=5))
    assert partitions(spark.parallelize(rows, partitions=5)) == expected


def test_standalone_blocks_copy_into_spark_unchanged(spark, tmp_path):
    """What federation does: encoded blocks of one backend become rows of the other."""
    rows = {i: np.full(3, i, dtype=np.int64) for i in range(5000)}
    with open_session(data_dir=tmp_path, workers=1) as standalone:
        source = standalone.parallelize(rows, partitions=3)
        with spark.writer(partitions=3, unique_keys=True) as writer:
            for p in range(3):
                for blob in source.iter_partition_encoded(p):
                    keys, values = decode(blob)
                    writer.put_all(zip(keys, values, strict=True))
            copy = writer.commit()
        assert copy.partition_counts() == source.partition_counts()
    got = dict(copy.collect())
    assert len(got) == 5000
    np.testing.assert_array_equal(got[4321], rows[4321])


def test_iter_partition_runs_one_task(spark):
    """iter_partition reads one partition: its job has a single task, the others stay put."""
    table = spark.parallelize([(i, i) for i in range(1000)], partitions=4)
    sc = spark.spark.sparkContext
    sc.setJobGroup("atoll-one-partition", "iter_partition")
    try:
        rows = list(table.iter_partition(2))
    finally:
        sc.setJobGroup("atoll-other", "other")
    tracker = sc.statusTracker()
    jobs = tracker.getJobIdsForGroup("atoll-one-partition")
    assert len(jobs) == 1
    stages = tracker.getJobInfo(jobs[0]).stageIds
    assert [tracker.getStageInfo(s).numTasks for s in stages] == [1]
    assert len(rows) == table.partition_counts()[2]


def test_big_integer_ciphertexts_survive_every_path(spark):
    """gmpy2 and int values of 4096 bits (Paillier ciphertexts) through ops and storage."""
    rng = np.random.default_rng(5)
    values = {i: int.from_bytes(rng.bytes(512), "big") for i in range(300)}
    table = spark.parallelize({k: gmpy2.mpz(v) for k, v in values.items()}, partitions=3)
    doubled = table.map_values(lambda c: int(c) * 2)
    assert dict(doubled.collect()) == {k: v * 2 for k, v in values.items()}
    saved = doubled.save("spark", "ciphertexts", overwrite=True)
    loaded = spark.load("spark", "ciphertexts")
    assert dict(loaded.collect()) == {k: v * 2 for k, v in values.items()}
    assert loaded.partition_counts() == doubled.partition_counts()
    saved.destroy()


def test_saved_table_is_parquet_of_codec_blocks(spark, spark_backend):
    """On disk: Parquet with a binary column of codec blocks (no pickle), plus metadata."""
    table = spark.parallelize({i: f"v{i}" for i in range(100)}, partitions=2)
    table.save("spark", "format", overwrite=True)
    root = spark_backend.data_dir / "spark-tables" / "spark" / "format"
    assert (root / "_atoll_meta").is_file()
    meta = decode((root / "_atoll_meta").read_bytes())
    assert meta["counts"] == table.partition_counts()
    frame = spark.spark.read.parquet(str(root / "data"))
    assert frame.columns == ["partition", "seq", "rows", "block"]
    rows: dict[int, str] = {}
    for record in frame.collect():
        keys, values = decode(bytes(record["block"]))
        assert len(keys) == record["rows"]
        rows.update(zip(keys, values, strict=True))
    assert rows == {i: f"v{i}" for i in range(100)}
    spark.load("spark", "format").destroy()
    with pytest.raises(TableNotFoundError, match="spark/format"):
        spark.load("spark", "format")


def test_saved_handle_outlives_the_table_it_came_from(spark):
    source = spark.parallelize({i: i for i in range(50)}, partitions=2)
    saved = source.save("spark", "outlives", overwrite=True)
    source.destroy()
    assert saved.map_values(lambda v: v + 1).reduce(lambda a, b: a + b) == sum(range(1, 51))
    saved.destroy()


def test_long_chains_do_not_grow_the_plan(spark):
    """Each Table is checkpointed locally, so an iterative loop keeps a short lineage."""
    table = spark.parallelize({i: 0 for i in range(20)}, partitions=2)
    for _ in range(15):
        table = table.map_values(lambda v: v + 1)
    assert table.reduce(lambda a, b: a + b) == 20 * 15
    assert table.rdd.toDebugString().count(b"PythonRDD") <= 2


def test_warehouse_setting_places_saved_tables(spark_backend, tmp_path):
    options = dict(spark_backend.options)
    options["conf"] = {"atoll.warehouse": str(tmp_path / "warehouse")}
    with open_session(data_dir=tmp_path / "data", **options) as session:
        session.parallelize({1: "one"}, partitions=1).save("ns", "elsewhere")
        assert (tmp_path / "warehouse" / "ns" / "elsewhere" / "_atoll_meta").is_file()
        assert dict(session.load("ns", "elsewhere").collect()) == {1: "one"}


def test_settings_of_the_other_engine_are_refused(spark_backend, tmp_path):
    with pytest.raises(InvalidArgumentError, match="workers"):
        open_session("spark", tmp_path, workers=2, master="local[2]")
    with pytest.raises(InvalidArgumentError, match="master"):
        open_session("standalone", tmp_path, master="local[2]")
    with pytest.raises(InvalidArgumentError, match="partitions"):
        open_session("spark", tmp_path, master="local[2]", partitions=0)


def test_one_spark_context_per_process(spark_backend, tmp_path):
    with pytest.raises(InvalidArgumentError, match=r"master: 'local\[1\]'"):
        open_session("spark", tmp_path, master="local[1]")
    with pytest.raises(InvalidArgumentError, match=r"spark\.ui\.enabled"):
        open_session("spark", tmp_path, master="local[2]", conf={"spark.ui.enabled": "true"})


def test_two_tables_without_a_shared_partitioner_still_meet(spark):
    """If Spark cannot see two Tables as co-partitioned, join/union/subtract bring
    partition i of each together with a shuffle, and the results are the same."""
    from atoll.computing.spark import SparkTable

    a = spark.parallelize({i: i for i in range(40)}, partitions=3)
    b = spark.parallelize({i: -i for i in range(20, 60)}, partitions=3)
    bare = SparkTable(spark, b.rdd.map(lambda block: block), "bare", b.partition_counts())
    assert bare.rdd.partitioner is None
    assert dict(a.join(bare, lambda x, y: x + y).collect()) == {i: 0 for i in range(20, 40)}
    assert dict(a.union(bare).collect()) == {**{i: -i for i in range(40, 60)}, **dict(a.collect())}
    assert dict(a.subtract_by_key(bare).collect()) == {i: i for i in range(20)}


def test_federation_payload_round_trip_between_backends(spark, tmp_path):
    """What a gateway does with a Table: the sender streams it partition by partition
    (Spark's stored blocks, unchanged), the receiver writes it into its own backend."""
    from atoll.federation._payload import read_table, table_chunks

    rows = {i: (f"v{i}", np.arange(i % 5)) for i in range(3000)}
    table = spark.parallelize(rows, partitions=3)
    with open_session(data_dir=tmp_path, workers=1) as standalone:
        received = read_table(table_chunks(table, 64 * 1024), 3, standalone, "test")
        assert received.partition_counts() == table.partition_counts()
        back = read_table(table_chunks(received, 64 * 1024), 3, spark, "test")
    assert [[k for k, _ in part] for part in partitions(back)] == [
        [k for k, _ in part] for part in partitions(table)
    ]
    got = dict(back.collect())
    assert got[1234][0] == "v1234"
    np.testing.assert_array_equal(got[1234][1], np.arange(4))


def test_spark_tables_cross_real_gateways_both_ways(spark, tmp_path):
    """A Spark-backed Table goes through two sites' gateways (mutual TLS) to a standalone
    party partition by partition, and a standalone Table comes back into Spark."""
    from atoll.federation import Gateway, JobParties, load_site_config
    from tests.federation._sites import make_sites

    parties = JobParties.of(guest=9999, hosts=[10000])
    paths = make_sites(tmp_path / "fed", [9999, 10000])
    with (
        Gateway(load_site_config(paths[9999])) as gw_g,
        Gateway(load_site_config(paths[10000])) as gw_h,
        open_session(data_dir=tmp_path / "h", workers=1) as standalone,
    ):
        g = gw_g.context("spark-x", parties.guest, parties, computing=spark)
        h = gw_h.context("spark-x", parties.hosts[0], parties, computing=standalone)
        table = spark.parallelize(
            [(i, gmpy2.mpz(7) ** 300 + i) for i in range(5_000)], partitions=3
        )
        g.hosts.put("t", table)
        got = h.guest.get("t")
        assert got.num_partitions == 3 and got.count() == 5_000
        assert partitions(got) == partitions(table)
        h.guest.put("back", got.map_values(lambda v: v * 2))
        (back,) = g.hosts.get("back")
        assert type(back).__module__.startswith("atoll.computing.spark")
        assert dict(back.collect()) == {i: 2 * (gmpy2.mpz(7) ** 300 + i) for i in range(5_000)}
