"""How fast the `tfserving` backend takes TF Serving for hung (serving/backends/tfserving.py):
on the first status poll that gets no answer, even when the runtime's last answer came just
after that poll's call started — a prediction sent before the runtime hung, answered late.

The runtime is a real gRPC server with TF Serving's own servicers: its GetModelStatus never
answers, its Predict answers (with an error of its own) after ANSWER_AFTER_S. The poll
interval is a minute, so only the first poll can decide within the test.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving import errors
from serving.backends.tfserving import STATUS_TIMEOUT_S, TFServingBackend
from serving.config import Settings
from serving.types import ModelVersion

pytestmark = pytest.mark.timeout(60)
ANSWER_AFTER_S = 0.4


class HangingRuntime(prediction_service_pb2_grpc.PredictionServiceServicer,
                     model_service_pb2_grpc.ModelServiceServicer):
    """Status calls hang until `release`; a Predict is answered late, with an error."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.status_asked = threading.Event()

    def GetModelStatus(self, request, context):  # noqa: ANN001, ANN201, N802 - TF Serving's name
        self.status_asked.set()
        self.release.wait(30)
        context.abort(grpc.StatusCode.UNAVAILABLE, "released")

    def Predict(self, request, context):  # noqa: ANN001, ANN201, N802 - TF Serving's name
        time.sleep(ANSWER_AFTER_S)
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "an answer of the runtime's own")


@pytest.fixture
def runtime() -> Iterator[tuple[HangingRuntime, str]]:
    servicer = HangingRuntime()
    server = grpc.server(futures.ThreadPoolExecutor(8))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        servicer.release.set()
        server.stop(grace=None)


def test_a_late_answer_does_not_postpone_the_verdict_by_a_poll(
        runtime: tuple[HangingRuntime, str], tmp_path) -> None:  # noqa: ANN001
    servicer, address = runtime
    settings = Settings(backend="tfserving", tfserving_addr=address, model_dir=str(tmp_path),
                        poll_interval_s=60.0)
    backend = TFServingBackend(settings, models=("m",))
    model = ModelVersion(name="m", version=1, signatures={})
    inputs = {"x": np.zeros((1, 1), np.float32)}
    backend.start()
    try:
        assert servicer.status_asked.wait(10), "the first poll never asked for a status"
        poll_started = time.monotonic()
        # Sent after the poll's status call: its answer is the runtime's last one.
        with pytest.raises(errors.GatewayError, match="answer of the runtime's own"):
            backend.predict(model, "serving_default", inputs)
        assert backend.wait_ready(timeout=3 * STATUS_TIMEOUT_S) is False
        decided = time.monotonic() - poll_started

        assert "is not answering" in " ".join(backend.readiness()), backend.readiness()
        # Taken for hung on this first poll: within the silence threshold after the late
        # answer, not a poll interval (a minute) later.
        assert decided < ANSWER_AFTER_S + STATUS_TIMEOUT_S + 1.0, decided
        started = time.monotonic()
        with pytest.raises(errors.Shed) as refused:
            backend.predict(model, "serving_default", inputs)
        assert refused.value.shed == "runtime_unavailable"
        assert time.monotonic() - started < 0.1  # refused at once, not sent
    finally:
        servicer.release.set()
        backend.stop()
