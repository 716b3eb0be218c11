"""Adding a protocol is a new folder plus its name in `PROTOCOLS`: the fixture room in
echo_protocol/ is mounted on REST and gRPC, its open paths stay open under API keys, its
OpenAPI part appears in /openapi.json, and its gRPC service gets auth, health and
reflection, with no other file touched."""

from __future__ import annotations

import socket

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from serving import protocols
from serving.config import Settings
from serving.rest import build_service, create_app

KEY = "s3cret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:  # noqa: ANN001
    monkeypatch.setitem(protocols.PROTOCOLS, "echo", "tests.unit.serving.echo_protocol")
    return Settings(model_dir=str(tmp_path), protocols=("multihead", "echo"),
                    api_keys=(KEY,), grpc_port=_free_port())


def test_rest_routes_auth_and_openapi(settings: Settings) -> None:
    from openapi_spec_validator import validate

    client = create_app(settings).test_client()
    assert client.get("/echo/models").status_code == 401
    answered = client.get("/echo/models", headers={"Authorization": f"Bearer {KEY}"})
    assert answered.status_code == 200 and answered.get_json() == []
    assert client.get("/echo/health").get_json() == {"echo": "ok"}  # open without a key
    doc = client.get("/openapi.json").get_json()
    validate(doc)
    assert doc["paths"]["/echo/health"]["get"]["security"] == []
    assert "security" not in doc["paths"]["/echo/models"]["get"]
    assert "EchoHealth" in doc["components"]["schemas"]
    assert "/v1/similarity" in doc["paths"] and "/v2/health/live" not in doc["paths"]


def test_grpc_service_auth_health_and_reflection(settings: Settings) -> None:
    from serving.grpc.server import serve

    server = serve(settings, build_service(settings))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            def call(method: str, key: str | None = None) -> bytes:
                stub = channel.unary_unary(f"/echo.v1.Echo/{method}",
                                           request_serializer=lambda b: b,
                                           response_deserializer=lambda b: b)
                metadata = (("authorization", f"Bearer {key}"),) if key else None
                return stub(b"", timeout=10, metadata=metadata)

            with pytest.raises(grpc.RpcError) as denied:
                call("Models")
            assert denied.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert call("Models", KEY) == b""
            assert call("Health") == b"ok"
            health = health_pb2_grpc.HealthStub(channel)
            status = health.Check(health_pb2.HealthCheckRequest(service="echo.v1.Echo"),
                                  timeout=10)
            assert status.status in (health_pb2.HealthCheckResponse.SERVING,
                                     health_pb2.HealthCheckResponse.NOT_SERVING)
            reflected = ProtoReflectionDescriptorDatabase(channel).get_services()
            assert "echo.v1.Echo" in reflected and "multihead.v1.Gateway" in reflected
    finally:
        server.stop(0)
