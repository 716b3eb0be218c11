"""The gateway's own typed API: the task calls (similarity, profile, answer), the model
listing and diagrams, over REST (`rest.py`, `diagram.py`) and gRPC
(`multihead.v1.Gateway`, proto/multihead/v1/gateway.proto: `grpc.py`, `codec.py`, with the
stubs scripts/gen_proto.py generates into `_gen/`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Blueprint

    from serving.config import Settings
    from serving.core.service import InferenceService

SERVICE_NAME = "multihead.v1.Gateway"
GRPC_AUTH_SERVICES = (SERVICE_NAME,)
GRPC_PROTOS = ("multihead/v1/gateway.proto",)
# The JSON view of the drift gauges /metrics already shows (the playground draws it).
REST_OPEN_PATHS = ("/v1/drift",)


def rest_blueprint(settings: Settings) -> Blueprint:
    from serving.protocols.multihead.diagram import diagram_bp
    from serving.protocols.multihead.rest import blueprint

    bp = blueprint()
    bp.register_blueprint(diagram_bp)
    return bp


def add_grpc_services(server: Any, settings: Settings, service: InferenceService) -> list[str]:
    from serving.protocols.multihead._gen import gateway_pb2_grpc
    from serving.protocols.multihead.grpc import GatewayServicer

    gateway_pb2_grpc.add_GatewayServicer_to_server(GatewayServicer(settings, service), server)
    return [SERVICE_NAME]
