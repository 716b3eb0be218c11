"""MULTIHEAD_PROTOCOLS mounts only the rooms it names, on REST and on gRPC."""

from __future__ import annotations

import socket

import grpc
import pytest

from serving import protocols
from serving.config import Settings
from serving.rest import build_service, create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unknown_protocol_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="'soap'; known: multihead, tfserving, v2"):
        protocols.chosen(("soap",))
    assert protocols.chosen(()) == tuple(protocols.PROTOCOLS)


@pytest.mark.parametrize("mounted, open_paths, closed_paths", [
    (("v2",), ["/v2/health/live"], ["/v1/models/x/metadata", "/v1/models"]),
    (("tfserving",), [], ["/v2/health/live", "/v1/models"]),
    (("multihead",), ["/v1/models"], ["/v2/health/live", "/v1/models/x/metadata"]),
])
def test_rest_mounts_only_the_chosen_protocols(tmp_path, mounted, open_paths,
                                               closed_paths) -> None:  # noqa: ANN001
    settings = Settings(model_dir=str(tmp_path), protocols=mounted)
    client = create_app(settings).test_client()
    for path in open_paths:
        assert client.get(path).status_code == 200, path
    for path in closed_paths:
        resp = client.get(path)
        assert resp.status_code == 404 and "No route" in resp.get_json()["error"], path
    assert client.get("/healthz").status_code == 200  # the transport's own probes stay


def test_grpc_serves_only_the_chosen_protocols(tmp_path) -> None:  # noqa: ANN001
    from serving.grpc.server import serve

    settings = Settings(model_dir=str(tmp_path), protocols=("tfserving",),
                        grpc_port=_free_port())
    service = build_service(settings)
    server = serve(settings, service)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            call = channel.unary_unary("/multihead.v1.Gateway/ListModels",
                                       request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
            with pytest.raises(grpc.RpcError) as info:
                call(b"", timeout=10)
            assert info.value.code() is grpc.StatusCode.UNIMPLEMENTED
            status = channel.unary_unary("/tensorflow.serving.ModelService/GetModelStatus",
                                         request_serializer=lambda b: b,
                                         response_deserializer=lambda b: b)
            with pytest.raises(grpc.RpcError) as info:
                status(b"", timeout=10)  # mounted: TF Serving's own answer to no model_spec
            assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    finally:
        server.stop(grace=0).wait(5)
        service.stop()


@pytest.mark.parametrize("name", list(protocols.PROTOCOLS))
def test_each_room_alone_makes_a_valid_openapi_document(name: str) -> None:
    """A room's openapi.yaml refers only to itself and the transport's part."""
    from openapi_spec_validator import validate

    from serving.rest.openapi import build_openapi

    doc = build_openapi(Settings(protocols=(name,), api_keys=("k",)), protocols.rooms((name,)))
    validate(doc)
    assert "/healthz" in doc["paths"] and len(doc["paths"]) > 4
