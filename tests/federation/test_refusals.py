"""Every refusal: refused, logged, never delivered."""

from __future__ import annotations

import datetime as dt
import logging

import grpc
import pytest

from atoll import codec
from atoll.federation import (
    CertificateError,
    Gateway,
    GetTimeoutError,
    JobOptions,
    JobParties,
    Party,
    PeerGoneError,
    RefusedError,
    load_site_config,
)
from atoll.federation._transport import Envelope
from atoll.federation.certs import init_ca, issue_site_cert
from atoll.federation.grpc_gateway._client import GatewayClient, TlsMaterial, open_channel
from tests.federation._sites import make_sites

PARTIES = JobParties.of(guest=9999, hosts=[10000], arbiter=10001)
GUEST, HOST = PARTIES.guest, PARTIES.hosts[0]
MAX_CHUNK = 64 * 1024
ONE = codec.encode(1)


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    root = tmp_path_factory.mktemp("refusals")
    paths = make_sites(
        root, [9999, 10000, 10001], extra={"chunk_size": MAX_CHUNK, "max_chunk_size": MAX_CHUNK}
    )
    gw = Gateway(load_site_config(paths[10000])).start()
    yield root, paths, gw
    gw.close()


def client(fed, party_id, cert, key, ca=None):
    _root, paths, gw = fed
    cfg = load_site_config(paths[9999])
    ca_bytes = (ca or cfg.ca).read_bytes()
    return GatewayClient(
        party_id=party_id,
        routes={10000: f"127.0.0.1:{gw.port}"},
        tls=TlsMaterial(cert.read_bytes(), key.read_bytes(), ca_bytes),
        max_message=4 * MAX_CHUNK,
    )


def legit(fed, party_id=9999):
    cfg = load_site_config(fed[1][party_id])
    return client(fed, party_id, cfg.cert, cfg.key)


def nothing_delivered(gw, name, src=GUEST):
    ctx = gw.context(f"check-{name}", HOST, PARTIES, options=JobOptions(timeout=0.3))
    key_ctx = gw.context("job", HOST, PARTIES, options=JobOptions(timeout=0.3))
    for c in (ctx, key_ctx):
        with pytest.raises(GetTimeoutError):
            c.party(src).get(name)
    return True


def env(name, src=GUEST, dst=HOST, job="job"):
    return Envelope(job, src, dst, name, "")


def test_legit_push_is_delivered_once_and_duplicate_dropped(fed, caplog):
    _, _, gw = fed
    cl = legit(fed)
    caplog.set_level(logging.INFO, "atoll.federation")
    assert cl.push(env("dup", job="dupjob"), lambda: [ONE], retry_for=5) == len(ONE)
    cl.push(env("dup", job="dupjob"), lambda: [ONE], retry_for=5)
    assert "duplicate dropped" in caplog.text
    c = gw.context("dupjob", HOST, PARTIES, options=JobOptions(timeout=0.3))
    assert c.guest.get("dup") == 1
    c2 = gw.context("dupjob", HOST, PARTIES, options=JobOptions(timeout=0.3))
    with pytest.raises(GetTimeoutError):
        c2.guest.get("dup")


def test_spoofed_source_is_refused(fed, caplog):
    _, _, gw = fed
    cl = legit(fed, 10001)  # a real partner, claiming to be the guest 9999
    with pytest.raises(RefusedError, match="spoofed source"):
        cl.push(env("spoof"), lambda: [ONE], retry_for=5)
    assert "REFUSED" in caplog.text and "spoofed source" in caplog.text
    assert nothing_delivered(gw, "spoof")


def test_party_not_served_is_refused(fed, caplog):
    _, _, gw = fed
    cl = legit(fed)
    # a correct client checks the server's name, so aim a channel to 10000 by hand
    cl._channels[424242] = open_channel(f"127.0.0.1:{gw.port}", 10000, cl.tls, cl.max_message)
    with pytest.raises(RefusedError, match="serves party 10000"):
        cl.push(env("lost", dst=Party("host", 424242)), lambda: [ONE], retry_for=5)
    assert "REFUSED" in caplog.text and "not host 424242" in caplog.text


def test_oversized_chunk_is_refused(fed, caplog):
    _, _, gw = fed
    cl = legit(fed)
    with pytest.raises(RefusedError, match="exceeds the limit"):
        cl.push(env("huge"), lambda: [ONE, b"x" * (MAX_CHUNK + 1)], retry_for=5)
    assert "REFUSED" in caplog.text and "exceeds the limit" in caplog.text
    assert nothing_delivered(gw, "huge")


def test_oversized_single_chunk_is_refused(fed, caplog):
    _, _, gw = fed
    cl = legit(fed)
    with pytest.raises(RefusedError, match="exceeds the limit"):
        cl.push(env("huge1"), lambda: [b"x" * (MAX_CHUNK + 1)], retry_for=5)
    assert "REFUSED Deliver" in caplog.text
    assert nothing_delivered(gw, "huge1")


def test_stream_without_end_marker_is_not_delivered(fed, caplog):
    _, _, gw = fed
    cl = legit(fed)
    call = cl.channel(10000).stream_unary("/atoll.federation.Gateway/Push")
    header = codec.encode(env("cut"))
    with pytest.raises(grpc.RpcError) as info:
        call(iter([header, ONE, ONE]))  # no empty end frame: a truncated message
    assert info.value.code() == grpc.StatusCode.ABORTED
    assert "without its end marker" in caplog.text
    assert nothing_delivered(gw, "cut")


def test_unknown_partner_is_refused(fed, caplog):
    root, _, _gw = fed
    cert, key = issue_site_cert(555, root / "ca", root / "stranger")
    cl = client(fed, 555, cert, key)
    with pytest.raises(RefusedError, match="not among the routes"):
        cl.push(env("stranger", src=Party("host", 555)), lambda: [ONE], retry_for=5)
    assert "not among the routes" in caplog.text


def test_certificate_from_another_ca_is_refused(fed, capfd):
    root, _, gw = fed
    other = root / "other-ca"
    init_ca(other)
    cert, key = issue_site_cert(9999, other, root / "rogue")
    cl = client(fed, 9999, cert, key)
    with pytest.raises(PeerGoneError, match="party 10000"):
        cl.push(env("foreign"), lambda: [ONE], retry_for=1)
    err = capfd.readouterr().err
    assert "Handshake failed" in err and "CERTIFICATE_VERIFY_FAILED" in err
    assert nothing_delivered(gw, "foreign")


def test_expired_certificate_is_refused(fed, capfd):
    root, _, gw = fed
    cert, key = issue_site_cert(
        9999,
        root / "ca",
        root / "expired",
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
    )
    cl = client(fed, 9999, cert, key)
    with pytest.raises(PeerGoneError):
        cl.push(env("expired"), lambda: [ONE], retry_for=1)
    assert "certificate has expired" in capfd.readouterr().err
    assert nothing_delivered(gw, "expired")


def test_site_refuses_to_start_with_expired_own_certificate(fed, tmp_path):
    root, paths, _ = fed
    issue_site_cert(
        10001,
        root / "ca",
        tmp_path,
        not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        not_after=dt.datetime(2021, 1, 1, tzinfo=dt.UTC),
    )
    cfg = load_site_config(paths[10001]).model_copy(
        update={"cert": tmp_path / "party-10001.crt", "key": tmp_path / "party-10001.key"}
    )
    with pytest.raises(CertificateError, match="expired"):
        Gateway(cfg)


def test_client_refuses_a_server_naming_another_party(fed):
    # the route to "10001" points at 10000's gateway: its certificate names the wrong party
    _root, paths, gw = fed
    cfg = load_site_config(paths[9999])
    cl = GatewayClient(
        party_id=9999,
        routes={10001: f"127.0.0.1:{gw.port}"},
        tls=TlsMaterial(cfg.cert.read_bytes(), cfg.key.read_bytes(), cfg.ca.read_bytes()),
        max_message=4 * MAX_CHUNK,
    )
    with pytest.raises(PeerGoneError, match="TLS handshake failed"):
        cl.push(env("mitm", dst=PARTIES.arbiter), lambda: [ONE], retry_for=5)


def test_plaintext_client_is_refused_by_tls_gateway(fed):
    _, _, gw = fed
    ch = grpc.insecure_channel(f"127.0.0.1:{gw.port}")
    call = ch.unary_unary("/atoll.federation.Gateway/Ping")
    with pytest.raises(grpc.RpcError) as info:
        call(b"\xc0", timeout=2)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    ch.close()
