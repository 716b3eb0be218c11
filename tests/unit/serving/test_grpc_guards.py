"""The guards every gRPC handler gets at registration (serving/grpc/guards.py), on a real
grpcio server and channel on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest

from serving.core.batching import Arrivals
from serving.errors import Shed
from serving.grpc.guards import GuardedRegistry, Guards
from serving.grpc.status import PUSHBACK_KEY, handle_errors
from serving.request_context import METADATA_KEY

METHOD = "/test.Shedding/Call"


class Shedding:
    @handle_errors
    def Call(self, request: bytes, context: grpc.ServicerContext) -> bytes:  # noqa: N802
        raise Shed("the queue budget passed", shed="queue_time")


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    registry = GuardedRegistry(server, Guards(Arrivals()))
    servicer = Shedding()
    registry.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Shedding", {"Call": grpc.unary_unary_rpc_method_handler(
            lambda request, context: servicer.Call(request, context))}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            yield ch
    finally:
        server.stop(0)


def test_a_shed_call_carries_its_pushback_and_its_request_id(channel: Any) -> None:
    call = channel.unary_unary(METHOD)
    with pytest.raises(grpc.RpcError) as info:
        call(b"", timeout=10, metadata=((METADATA_KEY, "shed-call-1"),))
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    trailing = dict(info.value.trailing_metadata())
    assert trailing[PUSHBACK_KEY] == "1000"  # gRFC A6: Shed.retry_after_s
    assert trailing[METADATA_KEY] == "shed-call-1"
