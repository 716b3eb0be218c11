"""More clients than threads, more load than cores: the real gateway (`python -m serving`,
gunicorn, 2 workers x 8 threads, embedded runtime) on loopback.

- Slow and idle connections cost no thread: beside 150 connections trickling a request
  head and 150 idle ones, 20 good requests on fresh connections are each answered within
  2 s and /healthz within 1 s; a slow request is served once complete, a stalled one gets
  408 at REQUEST_TIMEOUT_S.
- Past `worker_connections` a new connection is answered 503 with Retry-After, counted.
- Overload: 512 REST connections and 64 gRPC callers for a few seconds. No connection is
  refused, reset or timed out; every answer is 200/OK or 503/UNAVAILABLE with Retry-After
  (a request that waited past the queue budget), each such refusal is counted in
  multihead_shed_requests_total, and /healthz, /readyz and gRPC health answer within 1 s
  throughout.

Each test prints its figures (`pytest -rP`). Goodput and latency at c=512 against c=32
are `make bench`'s overload point (tests/bench/overload.py), not asserted here: the suite
shares its two cores.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.protocols.multihead._gen import gateway_pb2 as pb
from serving.protocols.multihead._gen import gateway_pb2_grpc
from serving.rest.probes import PROBE_ANSWER_S
from tests.integration.conftest import Gateway, metric_value, start_gateway
from tests.integration.crowd import KUBELET_PROBE_S, Crowd, ProberProcess, percentile

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
REQUEST_TIMEOUT_S = 4.0
WORKER_CONNECTIONS = 400
QUEUE_BUDGET_S = 0.5
PATH = "/v1/models/profiler:predict"
BODY = json.dumps({"instances": ["my toddler starts daycare\nthe mortgage is due"]}).encode()
HEAD = (f"POST {PATH} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\n\r\n").encode()


@pytest.fixture(scope="module")
def gw(source_models: Path) -> Iterator[Gateway]:
    env = {"MULTIHEAD_REQUEST_TIMEOUT_S": str(REQUEST_TIMEOUT_S),
           "MULTIHEAD_WORKER_CONNECTIONS": str(WORKER_CONNECTIONS),
           "MULTIHEAD_MAX_QUEUE_WAIT_S": str(QUEUE_BUDGET_S),
           "MULTIHEAD_BATCH_TIMEOUT_MICROS": "0"}
    with start_gateway(source_models, "embedded", env=env) as gateway:
        yield gateway


def address(gw: Gateway) -> tuple[str, int]:
    host, port = gw.http_url.removeprefix("http://").split(":")
    return host, int(port)


def post_fresh(gw: Gateway, timeout_s: float) -> tuple[int, float]:
    """One predict on a new connection: (status, seconds)."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(*address(gw), timeout=timeout_s)
    try:
        conn.request("POST", PATH, body=BODY, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.monotonic() - started
    finally:
        conn.close()


def read_answer(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + int(
                data.split(b"Content-Length: ")[1].split(b"\r\n")[0] if b"Content-Length: "
                in data else 0):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        data += b"<timeout>"
    return data


def test_slow_and_idle_connections_cost_no_thread(gw: Gateway) -> None:
    idle = [socket.create_connection(address(gw)) for _ in range(150)]
    slow = [socket.create_connection(address(gw)) for _ in range(150)]
    sent = threading.Event()  # the first byte of every slow head is out
    stop = threading.Event()

    def trickle() -> None:  # a byte of the head per slow connection every 0.2 s
        for i in range(len(HEAD) - 1):
            for s in slow:
                s.send(HEAD[i:i + 1])
            sent.set()
            if stop.wait(0.2):
                return

    trickler = threading.Thread(target=trickle, daemon=True)
    try:
        trickler.start()
        assert sent.wait(10)
        answers = [post_fresh(gw, timeout_s=10) for _ in range(20)]
        health_started = time.monotonic()
        health = http.client.HTTPConnection(*address(gw), timeout=10)
        health.request("GET", "/healthz")
        health_status = health.getresponse().status
        health_s = time.monotonic() - health_started
        stop.set()
        trickler.join(5)
        # The slow heads stalled: each gets 408 at REQUEST_TIMEOUT_S from its first byte.
        stalled_started = time.monotonic()
        stalled = [read_answer(s, REQUEST_TIMEOUT_S + 3) for s in slow[:10]]
        stalled_s = time.monotonic() - stalled_started
    finally:
        stop.set()
        for s in idle + slow:
            s.close()
    seconds = [s for _, s in answers]
    print(f"\n20 good requests beside 150 slow + 150 idle connections: statuses "
          f"{sorted({c for c, _ in answers})}, max {max(seconds):.3f} s, median "
          f"{percentile(seconds, 0.5):.3f} s; /healthz {health_status} in {health_s:.3f} s; "
          f"stalled heads answered within {stalled_s:.1f} s more")
    assert all(code == 200 for code, _ in answers), answers
    assert max(seconds) <= 2.0, seconds
    assert health_status == 200 and health_s <= PROBE_ANSWER_S
    for reply in stalled:
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["code"] == "DEADLINE_EXCEEDED"


def test_a_slow_request_is_served_once_complete(gw: Gateway) -> None:
    with socket.create_connection(address(gw)) as sock:
        for i in range(0, len(HEAD), 16):
            sock.sendall(HEAD[i:i + 16])
            time.sleep(0.05)  # a slow client, not synchronization
        sock.sendall(BODY)
        reply = read_answer(sock, 10)
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:200]


def test_connections_past_the_limit_get_503(gw: Gateway) -> None:
    before = metric_value(gw.get("/metrics").text, "multihead_shed_requests_total",
                          reason="connections")
    extra = 60
    socks = [socket.create_connection(address(gw)) for _ in range(2 * WORKER_CONNECTIONS + extra)]
    try:
        refused: list[bytes] = []
        bound = time.monotonic() + 5
        open_socks = {s.fileno(): s for s in socks}
        while time.monotonic() < bound and len(refused) < extra:
            ready, _, _ = select.select(list(open_socks), [], [], 0.5)
            for fd in ready:
                refused.append(read_answer(open_socks.pop(fd), 2))
    finally:
        for s in socks:
            s.close()
    after = metric_value(gw.get("/metrics").text, "multihead_shed_requests_total",
                         reason="connections")
    print(f"\n{len(socks)} connections against 2 x {WORKER_CONNECTIONS}: {len(refused)} "
          f"answered 503 at once, {after - before:.0f} counted")
    assert len(refused) >= extra
    for reply in refused:
        assert reply.startswith(b"HTTP/1.1 503 "), reply[:200]
        assert b"\r\nRetry-After: 1\r\n" in reply
        assert "worker_connections" in json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"]
    assert after - before >= len(refused)
    assert post_fresh(gw, timeout_s=10)[0] == 200  # and the gateway serves on


def test_overload_sheds_by_queue_time_and_probes_answer(gw: Gateway) -> None:
    text = gw.get("/metrics").text
    shed_before = metric_value(text, "multihead_shed_requests_total", reason="queue_time")
    host, port = address(gw)
    request = pb.PredictRequest(model_spec=pb.ModelSpec(name="profiler"), inputs={
        "posts": pb.Tensor(dtype=pb.DataType.DATA_TYPE_STRING, shape=[1],
                           string_values=[b"exam week on campus"])})

    def grpc_call(channel) -> object:  # noqa: ANN001
        return gateway_pb2_grpc.GatewayStub(channel).Predict(request, timeout=5)

    crowd = Crowd(host, port, PATH, BODY, rest=512, grpc_target=gw.grpc_target,
                  grpc_call=grpc_call, grpc_clients=64, timeout_s=5.0)
    runner = crowd.start()
    assert crowd.ready.wait(30)
    prober = ProberProcess(host, port, gw.grpc_target, every_s=0.2)
    time.sleep(4.0)  # the load's duration, not synchronization
    probes = prober.stop()
    crowd.stop.set()
    runner.join(30)
    shed = metric_value(gw.get("/metrics").text, "multihead_shed_requests_total",
                        reason="queue_time") - shed_before

    rest = [c for c in crowd.calls if c.kind == "rest"]
    grpc_calls = [c for c in crowd.calls if c.kind == "grpc"]
    ok = [c.seconds for c in rest if c.status == "200"]
    refused = [c for c in rest if c.status == "503"]
    errors = [c for c in rest if c.error]
    grpc_codes = {code: sum(c.status == code for c in grpc_calls)
                  for code in {c.status for c in grpc_calls}}
    # The prober shares the 2 cores with 576 clients: held to what a kubelet allows; README
    # has the measured figures (0.36-0.68 s in three runs, 1.23 s once in a CI run).
    slow_probes = [c for c in probes if c.seconds > KUBELET_PROBE_S or c.error]
    print(f"\nREST c=512 + gRPC c=64 for 4 s: REST {len(ok)} x 200 (p50 "
          f"{percentile(ok, 0.5):.3f} s, p99 {percentile(ok, 0.99):.3f} s), {len(refused)} x 503, "
          f"{len(errors)} connection errors; gRPC {grpc_codes}; {shed:.0f} shed counted; "
          f"{len(probes)} probes, slowest {max(c.seconds for c in probes):.3f} s")
    assert not errors, errors[:5]
    assert {c.status for c in rest} <= {"200", "503"}
    assert all(c.retry_after == "1" for c in refused)
    assert set(grpc_codes) <= {"OK", "UNAVAILABLE"}, grpc_codes
    assert ok and grpc_codes.get("OK")
    assert shed == len(refused) + grpc_codes.get("UNAVAILABLE", 0)
    assert not slow_probes, slow_probes[:5]
    assert {c.status for c in probes} == {"200", "SERVING"}
