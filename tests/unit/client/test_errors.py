"""Every server error code maps to the same exception on both transports, with the
server's message; transport failures map too; nothing raw leaks."""

from __future__ import annotations

import asyncio

import grpc
import httpx
import multihead_client as mh
import pytest
from multihead_client._proto import gateway_pb2 as pb

from .conftest import ScriptedGRPC, ScriptedHTTP, error_step

# (HTTP status, gRPC code name, exception) as the gateway answers them.
TABLE = [
    (400, "INVALID_ARGUMENT", mh.InvalidInput),
    (400, "FAILED_PRECONDITION", mh.InvalidInput),
    (400, "OUT_OF_RANGE", mh.InvalidInput),
    (401, "UNAUTHENTICATED", mh.Unauthenticated),
    (403, "PERMISSION_DENIED", mh.PermissionDenied),
    (404, "NOT_FOUND", mh.ModelNotFound),
    (429, "RESOURCE_EXHAUSTED", mh.Overloaded),
    (501, "UNIMPLEMENTED", mh.Unimplemented),
    (503, "UNAVAILABLE", mh.Unavailable),
    (504, "DEADLINE_EXCEEDED", mh.DeadlineExceeded),
    (500, "INTERNAL", mh.ServerError),
    (500, "UNKNOWN", mh.ServerError),
    (500, "DATA_LOSS", mh.ServerError),
]


@pytest.mark.parametrize(("status", "code", "exc_type"), TABLE,
                         ids=[f"{s}-{c}" for s, c, _ in TABLE])
def test_server_code_maps_to_exception(server, status, code, exc_type):
    message = f"input 'posts' is bad: {code.lower()}"
    server.script.append(error_step(server, status, code, message))
    with mh.Client(server.url, retries=0, timeout=3) as client:
        with pytest.raises(exc_type) as info:
            client.models()
    err = info.value
    assert type(err) is exc_type
    assert err.message == message
    assert err.code == code
    assert err.status == (status if isinstance(server, ScriptedHTTP) else None)
    assert message in str(err)
    if isinstance(server, ScriptedGRPC):
        assert isinstance(err.__cause__, grpc.RpcError)  # kept as the cause, never raised
    assert len(server.requests) == 1


def test_413_is_payload_too_large_over_rest(http_server):
    http_server.script.append(("error", 413, "body is 5000000 bytes; the limit is 4194304",
                               {}, "RESOURCE_EXHAUSTED"))
    with mh.Client(http_server.url, retries=2) as client, pytest.raises(mh.PayloadTooLarge):
        client.similarity("a", "b")
    assert len(http_server.requests) == 1  # not retried, unlike 429


def test_message_over_limit_is_payload_too_large_over_grpc():
    server = ScriptedGRPC(max_receive=1024)  # gRPC's own size check on the server side
    try:
        with mh.Client(server.url, retries=2) as client:
            with pytest.raises(mh.PayloadTooLarge) as info:
                client.similarity("a" * 4000, "b")
        assert info.value.code == "RESOURCE_EXHAUSTED"
        assert "larger than max" in info.value.message
    finally:
        server.stop()


@pytest.mark.parametrize("status", [400, 404, 503])
def test_async_client_maps_the_same(server, status):
    code = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 503: "UNAVAILABLE"}[status]
    server.script.append(error_step(server, status, code, "no model named 'nope'"))

    async def go():
        async with mh.AsyncClient(server.url, retries=0) as client:
            await client.metadata("nope")

    with pytest.raises(mh.MultiheadError) as info:
        asyncio.run(go())
    assert info.value.code == code
    assert info.value.message == "no model named 'nope'"


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "grpc://127.0.0.1:9"])
def test_unreachable_server_is_unavailable(url):
    with mh.Client(url, retries=0, timeout=3) as client:
        with pytest.raises(mh.Unavailable) as info:
            client.models()
    assert isinstance(info.value.__cause__, httpx.ConnectError | grpc.RpcError)


def test_non_json_error_bodies_map_by_status(http_server):
    http_server.script.extend([
        ("raw", 502, b"<html>Bad Gateway</html>", "text/html"),
        ("raw", 500, b"Internal Server Error", "text/plain"),
        ("raw", 200, b"this is not json", "text/plain"),
        ("ok", {"unexpected": True}),
    ])
    with mh.Client(http_server.url, retries=0) as client:
        with pytest.raises(mh.Unavailable, match="Bad Gateway"):
            client.models()
        with pytest.raises(mh.ServerError, match="Internal Server Error"):
            client.models()
        with pytest.raises(mh.ServerError, match="unexpected models response"):
            client.models()
        with pytest.raises(mh.ServerError, match="unexpected models response"):
            client.models()


def test_grpc_unexpected_response_shape_is_server_error(grpc_server):
    grpc_server.script.append(("ok", pb.PredictResponse(outputs={
        "x": pb.Tensor(dtype=pb.DATA_TYPE_FLOAT32, shape=[3], float_values=[1.0])})))
    with mh.Client(grpc_server.url, retries=0) as client:
        with pytest.raises(mh.ServerError, match="unexpected predict response"):
            client.predict("m", {"x": [1.0]})


def test_every_error_is_a_multihead_error():
    for exc_type in (mh.InvalidInput, mh.ModelNotFound, mh.Unauthenticated, mh.PermissionDenied,
                     mh.PayloadTooLarge, mh.Overloaded, mh.Unavailable, mh.DeadlineExceeded,
                     mh.Unimplemented, mh.ServerError):
        assert issubclass(exc_type, mh.MultiheadError)
    assert issubclass(mh.InvalidInput, ValueError)
    err = mh.ModelNotFound("no model named 'x'", code="NOT_FOUND", status=404)
    assert repr(err) == "ModelNotFound(\"no model named 'x'\", code='NOT_FOUND', status=404)"
