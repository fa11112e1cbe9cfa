"""Site-to-site control messages through the gateways (mutual TLS)."""

from __future__ import annotations

import grpc
import pytest

from atoll import codec
from atoll.federation import Gateway, PeerGoneError, RefusedError, RemoteError, load_site_config
from atoll.federation.grpc_gateway._client import GatewayClient, TlsMaterial
from atoll.federation.grpc_gateway._wire import CONTROL, ControlRequest
from tests.federation._sites import make_sites


class Refusal(Exception):
    code = "forbidden"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    paths = make_sites(tmp_path_factory.mktemp("control"), [9999, 10000, 10001])
    gws = {pid: Gateway(load_site_config(p)) for pid, p in paths.items()}
    seen = []

    def handler(party_id, kind, body):
        seen.append((party_id, kind, body))
        if kind == "refuse":
            raise Refusal(f"party {party_id} may not {body['what']}")
        if kind == "crash":
            raise KeyError("boom")
        return {"echo": body, "from": party_id}

    gws[10000].serve_control(handler)  # before start: kept and used once serving
    for gw in gws.values():
        gw.start()
    yield paths, gws, seen
    for gw in gws.values():
        gw.close()


def test_answer_travels_back_and_names_the_caller(sites):
    _paths, gws, seen = sites
    assert gws[9999].call(10000, "hello", {"x": [1, 2]}) == {"echo": {"x": [1, 2]}, "from": 9999}
    assert seen[-1] == (9999, "hello", {"x": [1, 2]})


def test_handler_errors_come_back_with_code_and_message(sites):
    _paths, gws, _seen = sites
    with pytest.raises(RemoteError) as info:
        gws[10001].call(10000, "refuse", {"what": "run psi"})
    assert info.value.code == "forbidden"
    assert info.value.text == "party 10001 may not run psi"
    assert "party 10000" in str(info.value)
    with pytest.raises(RemoteError) as info:
        gws[9999].call(10000, "crash")
    assert info.value.code == "internal" and "boom" in info.value.text


def test_site_without_flow_service_says_so(sites):
    _paths, gws, _seen = sites
    with pytest.raises(RefusedError, match="runs no flow service"):
        gws[10000].call(9999, "hello")


def test_unreachable_site_is_peer_gone(sites, tmp_path):
    paths = make_sites(tmp_path, [7, 8])
    gw = Gateway(load_site_config(paths[7]))  # 8 never starts
    try:
        with pytest.raises(PeerGoneError, match="party 8"):
            gw.call(8, "hello", timeout=1.0)
    finally:
        gw.close()


def test_claiming_another_party_is_refused(sites):
    paths, gws, seen = sites
    cfg = load_site_config(paths[9999])
    client = GatewayClient(
        party_id=9999,
        routes={10000: f"127.0.0.1:{gws[10000].port}"},
        tls=TlsMaterial(cfg.cert.read_bytes(), cfg.key.read_bytes(), cfg.ca.read_bytes()),
        max_message=1 << 20,
    )
    before = len(seen)
    try:
        call = client.channel(10000).unary_unary(CONTROL)
        with pytest.raises(grpc.RpcError) as info:
            call(codec.encode(ControlRequest(10001, "hello", None)), timeout=5)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "certificate names party 9999" in info.value.details()
        with pytest.raises(grpc.RpcError) as info:
            call(b"\x00garbage", timeout=5)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        client.close()
    assert len(seen) == before  # neither reached the handler
