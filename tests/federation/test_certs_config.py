"""Certificates and site configs: what is written, and what is refused with which field named."""

from __future__ import annotations

import datetime as dt
import stat

import pytest
import yaml
from cryptography import x509

from atoll.federation import CertificateError, ConfigError, load_site_config
from atoll.federation.certs import (
    check_site_cert,
    init_ca,
    issue_site_cert,
    load_cert,
    party_id_from_cert,
    server_name,
)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    d = tmp_path_factory.mktemp("ca")
    init_ca(d)
    return d


def test_keys_are_private_and_subject_names_party(ca, tmp_path):
    assert stat.S_IMODE((ca / "ca.key").stat().st_mode) == 0o600
    cert_path, key_path = issue_site_cert(9999, ca, tmp_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    cert = load_cert(cert_path)
    assert party_id_from_cert(cert) == 9999
    assert "party-9999" in cert.subject.rfc4514_string()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [server_name(9999)]
    assert (tmp_path / "ca.crt").read_bytes() == (ca / "ca.crt").read_bytes()
    check_site_cert(cert_path, key_path, ca / "ca.crt", 9999)


def test_init_ca_refuses_to_overwrite(ca):
    with pytest.raises(CertificateError, match="already exists"):
        init_ca(ca)


def test_check_site_cert_refusals(ca, tmp_path):
    cert, key = issue_site_cert(9999, ca, tmp_path / "a")
    with pytest.raises(CertificateError, match="names party 9999, but this site is party 10000"):
        check_site_cert(cert, key, ca / "ca.crt", 10000)
    other = tmp_path / "other"
    init_ca(other)
    with pytest.raises(CertificateError, match="not signed by the federation CA"):
        check_site_cert(cert, key, other / "ca.crt", 9999)
    _, key2 = issue_site_cert(9999, ca, tmp_path / "b")
    with pytest.raises(CertificateError, match="does not match"):
        check_site_cert(cert, key2, ca / "ca.crt", 9999)
    old, old_key = issue_site_cert(
        9999,
        ca,
        tmp_path / "c",
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2020, 6, 1, tzinfo=dt.UTC),
    )
    with pytest.raises(CertificateError, match="expired"):
        check_site_cert(old, old_key, ca / "ca.crt", 9999)


def write(tmp_path, data):
    p = tmp_path / "site.yaml"
    p.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return p


def secure_config(ca, tmp_path, **over):
    issue_site_cert(9999, ca, tmp_path / "certs")
    cfg = {
        "party_id": 9999,
        "listen": "0.0.0.0:9370",
        "cert": "certs/party-9999.crt",
        "key": "certs/party-9999.key",
        "ca": "certs/ca.crt",
        "routes": {10000: "10.0.0.2:9370"},
    }
    cfg.update(over)
    return cfg


def test_valid_config_resolves_paths(ca, tmp_path):
    cfg = load_site_config(write(tmp_path, secure_config(ca, tmp_path)))
    assert cfg.party_id == 9999 and cfg.routes == {10000: "10.0.0.2:9370"}
    assert cfg.cert == tmp_path / "certs/party-9999.crt"
    assert cfg.secure


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"party_id": 0}, "party_id: Input should be greater than 0"),
        ({"listen": "nowhere"}, "listen: expected host:port"),
        ({"routes": {10000: "host:99999"}}, "routes: route 10000: port must be in 1-65535"),
        ({"routes": {9999: "127.0.0.1:1"}}, "routes: lists this site's own party id"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"cert": "missing.crt"}, "cert: file not found"),
        ({"insecure": True}, "insecure: true contradicts the TLS files"),
        ({"chunk_size": 10}, "chunk_size: Input should be greater than or equal to 65536"),
    ],
)
def test_config_errors_name_file_and_field(ca, tmp_path, change, message):
    path = write(tmp_path, secure_config(ca, tmp_path, **change))
    with pytest.raises(ConfigError) as info:
        load_site_config(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_insecure_only_on_loopback(tmp_path):
    ok = {
        "party_id": 1,
        "listen": "127.0.0.1:5000",
        "insecure": True,
        "routes": {2: "localhost:5001"},
    }
    assert load_site_config(write(tmp_path, ok)).insecure
    bad = dict(ok, routes={2: "192.168.1.4:5001"})
    with pytest.raises(
        ConfigError, match=r"only allowed when every address is loopback.*192\.168\.1\.4"
    ):
        load_site_config(write(tmp_path, bad))


def test_tls_files_required_by_default(tmp_path):
    with pytest.raises(ConfigError, match="cert/key/ca: required"):
        load_site_config(write(tmp_path, {"party_id": 1, "listen": "127.0.0.1:5000"}))


def test_not_yaml_or_not_mapping(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_site_config(write(tmp_path, "a: [\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_site_config(write(tmp_path, "- 1\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_site_config(tmp_path / "nope.yaml")
