"""Runtime failures with the `tfserving` backend: the real gateway (gunicorn, 2 workers)
in front of the TF Serving stand-in process, which is started late, killed mid-run
and restarted on the same port. The gateway is never restarted.

The same gateway also checks what needs a gateway of its own: API keys over gRPC,
batch-queue overload (RESOURCE_EXHAUSTED), deadlines, and graceful shutdown.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from serving.protocols.multihead import codec
from serving.protocols.multihead._gen import gateway_pb2 as pb
from serving.protocols.multihead._gen import gateway_pb2_grpc
from tests.fakes import NO_BINARY_REASON, TFSERVING_BINARY, RealTFServing
from tests.fakes.tfserving_fake import FakeTFServing
from tests.integration.conftest import Gateway, launch_gateway, ready_on_fresh_connections
from tests.processes import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
KEY = "test-key-1"
AUTH = (("authorization", f"Bearer {KEY}"),)
HEADERS = {"Authorization": f"Bearer {KEY}"}
DEADLINE_S = 3.0
DELAY_S = 0.3  # the stand-in's time per Predict: calls are in flight when it dies
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health_everywhere(gw: Gateway, status: int, probes: int = 6) -> bool:
    """Every probe on a fresh connection (so both workers answer) reports `status`."""
    for _ in range(probes):
        try:
            with grpc.insecure_channel(gw.grpc_target) as ch:
                got = health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(service="multihead.v1.Gateway"), timeout=2)
        except grpc.RpcError:
            return False
        if got.status != status:
            return False
    return True


def predict_request() -> pb.PredictRequest:
    request = pb.PredictRequest(model_spec=pb.ModelSpec(name="profiler"))
    codec.to_tensor(np.array([b"my toddler starts daycare"], dtype=object),
                    out=request.inputs["posts"])
    return request


def grpc_predict(gw: Gateway, timeout: float = DEADLINE_S) -> tuple[str, float, str]:
    """(code name, seconds, details) of one Predict on a fresh channel."""
    start = time.monotonic()
    with grpc.insecure_channel(gw.grpc_target) as ch:
        try:
            gateway_pb2_grpc.GatewayStub(ch).Predict(predict_request(), timeout=timeout,
                                                     metadata=AUTH)
            return "OK", time.monotonic() - start, ""
        except grpc.RpcError as exc:
            return exc.code().name, time.monotonic() - start, exc.details() or ""


def rest_predict(gw: Gateway) -> tuple[int, float, str]:
    start = time.monotonic()
    resp = httpx.post(gw.http_url + "/v1/models/profiler:predict", headers=HEADERS,
                      json={"instances": ["my toddler starts daycare"]}, timeout=30)
    return resp.status_code, time.monotonic() - start, resp.text


@pytest.fixture(scope="module", params=["stand-in", TFSERVING_BINARY])
def rig(request: pytest.FixtureRequest, gateway_repo: Any,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Any]]:
    # One model keeps the stand-in's (re)starts short; the config is TF Serving's own.
    config = tmp_path_factory.mktemp("faults") / "models.config"
    config.write_text('model_config_list { config { name: "profiler" base_path: '
                      f'"{gateway_repo.path / "profiler"}" model_platform: "tensorflow" }} }}\n')
    port = free_port()
    if request.param == TFSERVING_BINARY:
        if shutil.which(TFSERVING_BINARY) is None:
            pytest.skip(NO_BINARY_REASON)
        fake: Any = RealTFServing(gateway_repo.path, port=port, model_config=config)
    else:
        fake = FakeTFServing(gateway_repo.path, port=port, model_config=config,
                             predict_delay_s=DELAY_S)
    gw = launch_gateway(gateway_repo.path, "tfserving", env={
        "MULTIHEAD_TFSERVING_ADDR": f"127.0.0.1:{port}",
        "MULTIHEAD_MODEL_CONFIG": str(config), "MULTIHEAD_API_KEYS": KEY,
        "MULTIHEAD_REQUEST_TIMEOUT_S": str(DEADLINE_S), "MULTIHEAD_MAX_BATCH_SIZE": "2",
        "MULTIHEAD_MAX_ENQUEUED_BATCHES": "1", "MULTIHEAD_NUM_BATCH_THREADS": "1",
        "MULTIHEAD_POLL_INTERVAL_S": "0.5"})
    try:
        with fake:
            fake.prepare()  # loads beside the gateway's start; its port stays closed
            yield gw, fake
    finally:
        gw.close()


def test_gateway_follows_tf_serving_down_and_up(rig: tuple[Gateway, Any]) -> None:
    gw, fake = rig
    # 1. TF Serving not started yet: the gateway runs but is not ready.
    gw.wait_until(lambda: health_everywhere(gw, NOT_SERVING), 180, "answering NOT_SERVING")
    ready = httpx.get(gw.http_url + "/readyz", timeout=5)
    assert ready.status_code == 503 and fake.address in ready.json()["error"]
    code, seconds, details = grpc_predict(gw)
    assert code == "UNAVAILABLE" and seconds < DEADLINE_S
    assert f"TF Serving at {fake.address} is unreachable" in details
    status, _, body = rest_predict(gw)
    assert status == 503 and "unreachable" in body

    # 2. TF Serving comes up: ready everywhere, traffic flows.
    fake.start()
    fake.prepare()  # its successor, for step 4, loads now
    gw.wait_until(lambda: ready_on_fresh_connections(gw) and health_everywhere(gw, SERVING),
                  30, "ready after TF Serving started", interval_s=0.1)
    assert grpc_predict(gw)[0] == "OK" and rest_predict(gw)[0] == 200

    # 3. TF Serving dies mid-run: every call ends within its deadline with OK or 503.
    results: list[tuple[str, float]] = []
    answered = threading.Condition()
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            code, seconds, _ = grpc_predict(gw)
            status, rest_seconds, _ = rest_predict(gw)
            with answered:
                results.extend([(code, seconds), (str(status), rest_seconds)])
                answered.notify_all()

    def seen(codes: set[str], count: int = 1) -> None:
        """Until `count` more answers with one of `codes` have come in."""
        with answered:
            target = sum(c in codes for c, _ in results) + count
            assert answered.wait_for(lambda: sum(c in codes for c, _ in results) >= target,
                                     30), (codes, results)

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    seen({"OK", "200"}, 4)  # traffic flows when TF Serving dies
    fake.stop(kill=True)
    gw.wait_until(lambda: health_everywhere(gw, NOT_SERVING), 10, "NOT_SERVING after the kill",
                  interval_s=0.1)
    # Each worker's poller notices on its own: /readyz on fresh connections, from any worker.
    gw.wait_until(lambda: all(httpx.get(gw.http_url + "/readyz", timeout=5).status_code == 503
                              for _ in range(6)), 10, "/readyz 503 after the kill",
                  interval_s=0.1)
    seen({"UNAVAILABLE", "503"}, 2)  # and goes on, failing fast, while it is down

    # 4. Restarted on the same port: traffic succeeds again within seconds, no gateway restart.
    fake.start()
    started = time.monotonic()
    gw.wait_until(lambda: grpc_predict(gw)[0] == "OK" and rest_predict(gw)[0] == 200, 10,
                  "serving again after the restart", interval_s=0.1)
    recovery = time.monotonic() - started
    gw.wait_until(lambda: ready_on_fresh_connections(gw) and health_everywhere(gw, SERVING), 10,
                  "ready again", interval_s=0.1)
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive(), "a request hung"
    assert recovery < 5
    codes = {code for code, _ in results}
    assert codes <= {"OK", "200", "UNAVAILABLE", "503"}, results
    assert {"UNAVAILABLE", "503"} & codes, "no call saw TF Serving down"
    assert max(seconds for _, seconds in results) < DEADLINE_S + 1.0, results
    assert gw.process.poll() is None


@pytest.fixture
def up(rig: tuple[Gateway, Any]) -> Gateway:
    gw, fake = rig
    if fake.process is None:
        fake.start()
    gw.wait_until(lambda: ready_on_fresh_connections(gw), 180, "ready", interval_s=0.1)
    return gw


@pytest.fixture
def slow(rig: tuple[Gateway, Any], up: Gateway) -> Gateway:
    """The gateway, where TF Serving takes DELAY_S per Predict (the stand-in's option)."""
    if not isinstance(rig[1], FakeTFServing):
        pytest.skip("needs the stand-in's --predict-delay-s to hold calls in flight")
    return up


def test_api_keys_guard_the_gateway_service_not_health(up: Gateway) -> None:
    with grpc.insecure_channel(up.grpc_target) as ch:
        stub = gateway_pb2_grpc.GatewayStub(ch)
        for metadata in [(), (("authorization", "Bearer wrong"),), (("authorization", KEY),)]:
            with pytest.raises(grpc.RpcError) as info:
                stub.ListModels(pb.ListModelsRequest(), timeout=10, metadata=metadata)
            assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert "authorization" in info.value.details()
        assert stub.ListModels(pb.ListModelsRequest(), timeout=10, metadata=AUTH).models
        # Open without a key; SERVING once this worker's health watcher saw the runtime
        # (it polls every HEALTH_POLL_S, the REST readiness the fixture waited for does not).
        up.wait_until(lambda: health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(), timeout=10).status == SERVING, 10,
            "gRPC health SERVING without a key", interval_s=0.1)


def test_full_batch_queue_is_resource_exhausted(slow: Gateway) -> None:
    # max_batch_size 2, one batch may wait, one batch thread, 0.3 s per TF Serving call:
    # eight simultaneous 2-row calls on one connection (one worker) overflow the queue.
    request = pb.PredictRequest(model_spec=pb.ModelSpec(name="profiler"))
    codec.to_tensor(np.array([b"a b", b"c d"], dtype=object), out=request.inputs["posts"])
    with grpc.insecure_channel(slow.grpc_target) as ch:
        stub = gateway_pb2_grpc.GatewayStub(ch)
        calls = [stub.Predict.future(request, timeout=10, metadata=AUTH) for _ in range(8)]
        codes = []
        for call in calls:
            try:
                call.result()
                codes.append("OK")
            except grpc.RpcError as exc:
                codes.append(exc.code().name)
                assert "queue is full" in exc.details()
    assert "OK" in codes and "RESOURCE_EXHAUSTED" in codes, codes
    assert set(codes) <= {"OK", "RESOURCE_EXHAUSTED"}


def test_client_deadline_is_deadline_exceeded(slow: Gateway) -> None:
    code, seconds, _ = grpc_predict(slow, timeout=DELAY_S / 2)
    assert code == "DEADLINE_EXCEEDED" and seconds < DELAY_S * 2


def test_graceful_shutdown_lets_in_flight_calls_finish(slow: Gateway) -> None:
    with grpc.insecure_channel(slow.grpc_target) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        stub = gateway_pb2_grpc.GatewayStub(ch)
        call = stub.Predict.future(predict_request(), timeout=20, metadata=AUTH)
        # The call is being served (it waits DELAY_S at TF Serving): then the signal.
        slow.wait_until(lambda: slow.metric("multihead_inflight_requests") >= 1 or call.done(),
                        10, "the call in flight", interval_s=0.01)
        assert not call.done(), "answered before the signal: nothing was in flight"
        slow.process.send_signal(15)  # SIGTERM: gunicorn's graceful shutdown
        response = call.result()
    assert response.model_spec.name == "profiler"
    assert codec.to_numpy(response.outputs["age"]).shape == (1,)
    slow.process.wait(30)
