"""The site gateway over gRPC with mutual TLS: server, client and chunked streams."""

from atoll.federation.grpc_gateway._gateway import Gateway, GatewayTransport, RouteCheck
from atoll.federation.grpc_gateway._local import LocalTransport

__all__ = ["Gateway", "GatewayTransport", "LocalTransport", "RouteCheck"]
