"""RuntimeGuard (serving/backends/runtime_guard.py) on real gRPC calls to an in-process
server whose handler does not answer until told: calls beyond the bound are refused at
once, a trip fails the calls in flight at once, and a closed guard lets calls through."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest

from serving.backends.runtime_guard import RuntimeGuard
from serving.errors import Shed

pytestmark = pytest.mark.timeout(60)
METHOD = "/test.Hung/Call"


class Hung:
    """A server that holds every call until `answer` is set."""

    def __init__(self) -> None:
        self.answer = threading.Event()
        self.arrived = threading.Semaphore(0)

    def handle(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        self.arrived.release()
        self.answer.wait(30)
        return request


@pytest.fixture
def hung() -> Iterator[tuple[Hung, grpc.Channel]]:
    runtime = Hung()
    server = grpc.server(futures.ThreadPoolExecutor(8))
    handler = grpc.unary_unary_rpc_method_handler(runtime.handle)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Hung", {"Call": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield runtime, channel
    runtime.answer.set()
    server.stop(None)


def test_bound_trip_and_close(hung: tuple[Hung, grpc.Channel]) -> None:
    runtime, channel = hung
    call = channel.unary_unary(METHOD)
    guard = RuntimeGuard(2, "the runtime")
    outcomes: list[object] = []

    def one() -> None:
        try:
            outcomes.append(guard.call(lambda: call.future(b"x", timeout=20)))
        except Shed as exc:
            outcomes.append(exc)

    waiting = [threading.Thread(target=one) for _ in range(2)]
    for t in waiting:
        t.start()
    for _ in waiting:  # both calls reached the runtime, which answers neither
        assert runtime.arrived.acquire(timeout=10)

    with pytest.raises(Shed, match="2 calls .* in flight") as busy:
        guard.call(lambda: call.future(b"x", timeout=20))
    assert busy.value.shed == "runtime_busy" and busy.value.retry_after_s == 1

    guard.trip("the runtime is not answering")
    for t in waiting:
        t.join(5)
        assert not t.is_alive(), "a call in flight outlived the trip"
    assert [getattr(o, "shed", None) for o in outcomes] == ["runtime_unavailable"] * 2
    with pytest.raises(Shed, match="not answering"):
        guard.call(lambda: call.future(b"x", timeout=20))

    guard.close()
    runtime.answer.set()
    assert guard.call(lambda: call.future(b"y", timeout=20)) == b"y"
