"""A site's config file: the gateway's fields at the top, the flow service's under ``flow:``."""

from __future__ import annotations

import pytest
import yaml

from atoll.federation import ConfigError
from atoll.flow.site import load_serve_config
from atoll.flow.site.local import init_local_sites
from atoll.flow.spec import load_job


@pytest.fixture
def site(tmp_path):
    path = init_local_sites(tmp_path, [9999, 10000], cores=3)[9999]
    return path, yaml.safe_load(path.read_text())


def write(path, cfg):
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_init_local_gives_a_working_config(site):
    path, _ = site
    config = load_serve_config(path)
    assert config.party_id == 9999 and config.flow.cores == 3
    assert len(config.token) >= 32 and oct(path.with_name("api-token").stat().st_mode)[-3:] == "600"
    assert config.data_dir == (path.parent / "var").resolve()
    assert config.database == f"sqlite:///{config.data_dir / 'jobs.db'}"
    assert config.job_dir == config.data_dir / "jobs"
    assert config.api_url.startswith("http://127.0.0.1:")
    assert config.flow.allow.party_allowed(10000, config.site.routes)
    assert not config.flow.allow.party_allowed(10001, config.site.routes)


def test_init_local_refuses_to_overwrite(site):
    path, _ = site
    with pytest.raises(ValueError, match="already holds a site"):
        init_local_sites(path.parent.parent, [9999, 10000])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("flow"), "flow: required"),
        (lambda c: c.pop("data_dir"), "data_dir: required"),
        (lambda c: c["flow"].update(token="short", token_file=None), "at least 16"),
        (lambda c: c["flow"].update(token="x" * 20), "token or token_file, not both"),
        (lambda c: c["flow"].update(api="nowhere"), "flow.api"),
        (lambda c: c["flow"].update(cores=0), "flow.cores"),
        (lambda c: c["flow"].update(colour="blue"), "flow.colour"),
        (lambda c: c["flow"].update(allow={"parties": [10001]}), "party 10001 has no route"),
        (lambda c: c["flow"].update(token_file="missing-token"), "cannot read"),
    ],
)
def test_errors_name_the_file_and_the_field(site, change, message):
    path, cfg = site
    change(cfg)
    with pytest.raises(ConfigError) as info:
        load_serve_config(write(path, cfg))
    assert str(path) in str(info.value) and message in str(info.value)


def test_component_allow_list(site):
    path, cfg = site
    cfg["flow"]["allow"] = {"components": ["reader", "psi"]}
    allow = load_serve_config(write(path, cfg)).flow.allow
    assert allow.component_allowed("psi") and not allow.component_allowed("coordinated_lr")


@pytest.mark.parametrize("name", ["lr-job.yaml", "predict-job.yaml"])
def test_the_example_jobs_are_valid(name):
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    assert load_job(root / "examples" / "sites" / name).tasks
