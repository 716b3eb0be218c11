"""Every protocol takes the core's one predict path, in-process over the Flask test client
and an in-process gRPC server: every rejected request is counted, on all five predict
entry points and the task calls, and the version rule is the same on every protocol."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
from tritonclient.grpc import service_pb2, service_pb2_grpc

from serving.protocols.multihead._gen import gateway_pb2 as pb
from serving.protocols.multihead._gen import gateway_pb2_grpc
from tests.unit.serving.conftest import install, settings_for

pytestmark = pytest.mark.timeout(180)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """One service behind both transports, in this process."""

    def __init__(self, service, channel: grpc.Channel, client) -> None:  # noqa: ANN001
        self.service, self.channel, self.client = service, channel, client

    def count(self, protocol: str, transport: str, code: str) -> float:
        total = 0.0
        for metric in self.service.metrics.registry.collect():
            for sample in metric.samples:
                if sample.name == "multihead_requests_total" and \
                        sample.labels["protocol"] == protocol and \
                        sample.labels["transport"] == transport and sample.labels["code"] == code:
                    total += sample.value
        return total


@pytest.fixture(scope="module")
def gateway(exports: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    import shutil

    from serving.backends.embedded import EmbeddedBackend
    from serving.core.service import InferenceService
    from serving.grpc.server import serve
    from serving.metrics import Metrics
    from serving.rest import create_app

    repo = tmp_path_factory.mktemp("one-path")
    install(exports["pairs_v1"], str(repo), "pairs", 1)
    shutil.copytree(f"{exports['tasks']}/similarity", repo / "similarity")
    settings = settings_for(str(repo), grpc_port=_free_port())
    service = InferenceService(settings, EmbeddedBackend(settings), Metrics())
    service.start()
    assert service.wait_ready(60), service.readiness()
    server = serve(settings, service)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield Gateway(service, channel, create_app(settings, service).test_client())
    finally:
        server.stop(0)
        service.stop()


def _rest(path: str, body: object) -> Callable[[Gateway], int]:
    def call(gw: Gateway) -> int:
        data = body if isinstance(body, bytes) else None
        resp = gw.client.post(path, data=data, json=None if data is not None else body)
        return resp.status_code
    return call


def _grpc(method: Callable[[Gateway], Callable], request: object) -> Callable[[Gateway], str]:
    def call(gw: Gateway) -> str:
        try:
            method(gw)(request, timeout=10)
        except grpc.RpcError as err:
            return err.code().name
        return "OK"
    return call


def _tf_predict(gw: Gateway) -> Callable:
    return prediction_service_pb2_grpc.PredictionServiceStub(gw.channel).Predict


def _v2_infer(gw: Gateway) -> Callable:
    return service_pb2_grpc.GRPCInferenceServiceStub(gw.channel).ModelInfer


def _gateway(name: str) -> Callable[[Gateway], Callable]:
    return lambda gw: getattr(gateway_pb2_grpc.GatewayStub(gw.channel), name)


REJECTED = [  # (protocol, transport, call that is rejected with INVALID_ARGUMENT)
    ("tfserving", "rest", _rest("/v1/models/pairs:predict", b"{not json")),
    ("v2", "rest", _rest("/v2/models/pairs/infer", b"{not json")),
    ("multihead", "rest", _rest("/v1/similarity", b"{not json")),
    ("multihead", "rest", _rest("/v1/similarity", {"pairs": [["only one"]]})),
    ("tfserving", "grpc", _grpc(_tf_predict, predict_pb2.PredictRequest())),
    ("v2", "grpc", _grpc(_v2_infer, service_pb2.ModelInferRequest(model_name="pairs"))),
    ("multihead", "grpc", _grpc(_gateway("Predict"), pb.PredictRequest(
        model_spec=pb.ModelSpec(name="pairs"),
        inputs={"left": pb.Tensor(dtype=pb.DATA_TYPE_FLOAT32, shape=[1], float_values=[1])}))),
    ("multihead", "grpc", _grpc(_gateway("Similarity"), pb.SimilarityRequest())),
]


@pytest.mark.parametrize("protocol,transport,call", REJECTED,
                         ids=[f"{p}-{t}-{i}" for i, (p, t, _) in enumerate(REJECTED)])
def test_every_rejected_request_is_counted(gateway: Gateway, protocol: str, transport: str,
                                           call: Callable) -> None:
    before = gateway.count(protocol, transport, "INVALID_ARGUMENT")
    outcome = call(gateway)
    assert outcome in (400, "INVALID_ARGUMENT")
    assert gateway.count(protocol, transport, "INVALID_ARGUMENT") == before + 1


def test_version_zero_is_a_version_on_every_protocol(gateway: Gateway) -> None:
    """Version 0 names directory 0, as TF Serving's does: not found here, on all six."""
    pairs = {"left": ["ab"], "right": ["c"], "aux": [[0.0] * 5]}
    assert gateway.client.post("/v1/models/pairs/versions/0:predict",
                               json={"inputs": pairs}).status_code == 404
    assert gateway.client.post("/v2/models/pairs/versions/0/infer", json={"inputs": [
        {"name": "left", "shape": [1], "datatype": "BYTES", "data": ["ab"]}]}
    ).status_code == 404
    assert gateway.client.post("/v1/similarity", json={"pairs": [["a", "b"]], "version": 0}
                               ).status_code == 404
    spec = pb.ModelSpec(name="similarity", version=0)
    assert _grpc(_gateway("Similarity"), pb.SimilarityRequest(
        model_spec=spec, pairs=[pb.SentencePair(left="a", right="b")]))(gateway) == "NOT_FOUND"
    tf_request = predict_pb2.PredictRequest()
    tf_request.model_spec.name = "pairs"
    tf_request.model_spec.version.value = 0
    assert _grpc(_tf_predict, tf_request)(gateway) == "NOT_FOUND"
    v2_request = service_pb2.ModelInferRequest(model_name="pairs", model_version="0")
    v2_request.inputs.add(name="left", datatype="BYTES", shape=[1]).contents.bytes_contents[:] \
        = [b"ab"]
    assert _grpc(_v2_infer, v2_request)(gateway) == "NOT_FOUND"
    # A negative version is bad input everywhere it can be written.
    resp = gateway.client.post("/v1/similarity", json={"pairs": [["a", "b"]], "version": -1})
    assert resp.status_code == 400 and "version" in resp.get_json()["error"]
    assert _grpc(_gateway("Similarity"), pb.SimilarityRequest(
        model_spec=pb.ModelSpec(name="similarity", version=-1),
        pairs=[pb.SentencePair(left="a", right="b")]))(gateway) == "INVALID_ARGUMENT"


def test_a_passed_client_deadline_fails_and_is_counted(gateway: Gateway) -> None:
    """The one deadline rule: a gRPC call whose deadline has passed is DEADLINE_EXCEEDED
    before anything runs (v2 used to pass a zero budget on)."""
    from serving.core.calls import ModelRef, Origin, PredictCall, arrays
    from serving.core.deadline import Deadline
    from serving.errors import DeadlineExceeded

    before = gateway.count("v2", "grpc", "DEADLINE_EXCEEDED")
    passed = Origin("v2", "grpc", Deadline.start(30.0, client_remaining_s=-0.001))
    call = PredictCall(ModelRef("similarity"), arrays({"left": np.array([b"x"], object),
                                                       "right": np.array([b"y"], object)}))
    with pytest.raises(DeadlineExceeded, match="client's deadline passed before the call"):
        gateway.service.predict(passed, call)
    assert gateway.count("v2", "grpc", "DEADLINE_EXCEEDED") == before + 1
