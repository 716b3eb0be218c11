"""A fourth protocol, as a fixture: everything it needs lives in this folder, and mounting
it needs only its name in `serving.protocols.PROTOCOLS` (test_fourth_protocol.py).

REST: `GET /echo/models` (the core's model listing, key-protected) and `GET /echo/health`
(open). gRPC: `echo.v1.Echo/Models` (key-protected) and `echo.v1.Echo/Health` (open), with
raw-bytes messages so that the fixture needs no generated stubs.
"""

from __future__ import annotations

from typing import Any

SERVICE_NAME = "echo.v1.Echo"
REST_OPEN_PATHS = ("/echo/health",)
GRPC_AUTH_SERVICES = (SERVICE_NAME,)
GRPC_OPEN_METHODS = (f"/{SERVICE_NAME}/Health",)


def rest_blueprint(settings: Any) -> Any:
    from flask import Blueprint, jsonify

    from serving.rest.context import service

    bp = Blueprint("echo", __name__)
    bp.add_url_rule("/echo/models", "models",
                    lambda: jsonify([m.name for m in service().list_models()]))
    bp.add_url_rule("/echo/health", "health", lambda: jsonify({"echo": "ok"}))
    return bp


def add_grpc_services(server: Any, settings: Any, service: Any) -> list[str]:
    import grpc

    def models(request: bytes, context: Any) -> bytes:
        return ",".join(m.name for m in service.list_models()).encode()

    def health(request: bytes, context: Any) -> bytes:
        return b"ok"

    handlers = {name: grpc.unary_unary_rpc_method_handler(fn)
                for name, fn in (("Models", models), ("Health", health))}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME,
                                                                          handlers),))
    return [SERVICE_NAME]
