"""A site's ``computing:`` setting: what is accepted, what reaches ``open_session``, and what
is refused with the file and field named."""

from __future__ import annotations

import pytest
import yaml

from atoll.federation import ConfigError, JobParties, Party, UsageError, load_site_config
from atoll.federation.config import ComputingConfig
from atoll.federation.launch import _computing_configs, run_local_job
from atoll.federation.throwaway import make_throwaway_federation

BASE = {"party_id": 9999, "listen": "127.0.0.1:9370", "insecure": True}


def _load(tmp_path, computing):
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump({**BASE, "computing": computing}))
    return load_site_config(path)


def test_default_is_standalone_with_the_jobs_workers(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(BASE))
    cfg = load_site_config(path)
    assert cfg.computing == ComputingConfig()
    assert cfg.computing.session_kwargs(3) == {"engine": "standalone", "workers": 3}
    assert cfg.computing.session_kwargs() == {"engine": "standalone"}


def test_standalone_workers_override_the_jobs(tmp_path):
    cfg = _load(tmp_path, {"engine": "standalone", "workers": 4})
    assert cfg.computing.session_kwargs(1) == {"engine": "standalone", "workers": 4}


def test_spark_settings_pass_through_only_when_given(tmp_path):
    cfg = _load(
        tmp_path,
        {
            "engine": "spark",
            "master": "spark://10.0.0.9:7077",
            "partitions": 8,
            "options": {
                "spark.executor.memory": "8g",
                "spark.executor.cores": 4,
                "spark.dynamicAllocation.enabled": True,
            },
        },
    )
    assert cfg.computing.session_kwargs(2) == {
        "engine": "spark",
        "master": "spark://10.0.0.9:7077",
        "partitions": 8,
        "conf": {
            "spark.executor.memory": "8g",
            "spark.executor.cores": "4",
            "spark.dynamicAllocation.enabled": "true",
        },
    }
    bare = _load(tmp_path, {"engine": "spark"})
    assert bare.computing.session_kwargs(2) == {"engine": "spark"}  # no workers for Spark


@pytest.mark.parametrize(
    "computing,message",
    [
        ({"engine": "ray"}, r"computing\.engine: must be one of standalone, spark, got 'ray'"),
        ({"engine": "spark", "partitions": 0}, r"computing\.partitions: .*greater than or equal"),
        ({"engine": "spark", "workers": 2}, r"computing: workers: only for engine: standalone"),
        ({"master": "local[2]"}, r"computing: master: only for engine: spark"),
        ({"partitions": 4, "options": {"a": 1}}, r"computing: partitions, options: only for"),
        ({"engine": "spark", "options": {"k": [1]}}, r"computing\.options\.k"),
        ({"engine": "spark", "options": {" ": 1}}, r"computing\.options: .*must not be empty"),
        ({"engine": "spark", "executors": 3}, r"computing\.executors: Extra inputs"),
        ({"workers": 0}, r"computing\.workers: .*greater than or equal to 1"),
        ("spark", r"computing: .*valid dictionary"),
    ],
)
def test_bad_computing_names_file_and_field(tmp_path, computing, message):
    with pytest.raises(ConfigError, match=message) as info:
        _load(tmp_path, computing)
    assert str(info.value).startswith(str(tmp_path / "site.yaml"))


def test_throwaway_federation_gives_one_party_its_engine(tmp_path):
    paths = make_throwaway_federation(
        tmp_path,
        [9999, 10000],
        insecure=True,
        per_party={10000: {"computing": {"engine": "spark", "master": "local[2]"}}},
    )
    assert load_site_config(paths[9999]).computing == ComputingConfig()
    spark = load_site_config(paths[10000]).computing
    assert (spark.engine, spark.master) == ("spark", "local[2]")


def test_run_local_job_checks_computing_before_starting_anything():
    parties = JobParties.of(guest=9999, hosts=[10000])
    host = Party("host", 10000)
    assert _computing_configs(parties, {host: {"engine": "spark", "partitions": 2}}) == {
        10000: {"computing": {"engine": "spark", "partitions": 2}}
    }
    assert _computing_configs(parties, None) == {}
    params = {p: {} for p in parties}
    with pytest.raises(UsageError, match=r"host 10000: computing\.engine: must be one of"):
        run_local_job("json:dumps", parties, params, computing={host: {"engine": "dask"}})
    with pytest.raises(UsageError, match="computing: arbiter 1 is not a party of this job"):
        run_local_job("json:dumps", parties, params, computing={Party("arbiter", 1): {}})
