"""One predict on every protocol and transport, each with the caller's headers / metadata.

The tracing and request-id tests send the same six calls to an in-process gateway (Flask's
test client, an in-process gRPC server) and to a real one (httpx, a gRPC channel):
TF Serving's REST and gRPC predict, OIP v2's REST and gRPC infer, and the gateway's own API
(its REST similarity task, its gRPC Predict). Each call returns the request id the answer
echoed (`X-Request-ID` header, `x-request-id` trailing metadata).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np

CALLS = (("tfserving", "rest"), ("v2", "rest"), ("multihead", "rest"),
         ("tfserving", "grpc"), ("v2", "grpc"), ("multihead", "grpc"))


@dataclass(frozen=True)
class Target:
    """Where the calls go: `post(path, json, headers) -> (status, headers)`, a channel,
    a model with its inputs (column arrays), and a similarity model's name."""

    post: Callable[[str, Any, dict[str, str]], tuple[int, Mapping[str, str]]]
    channel: grpc.Channel
    model: str
    inputs: Mapping[str, np.ndarray]
    similarity: str = "similarity"


def call(target: Target, protocol: str, transport: str, headers: dict[str, str]) -> str:
    """Send one predict; return the echoed request id (asserts the call succeeded)."""
    if transport == "rest":
        path, body = _rest(target, protocol)
        status, answer_headers = target.post(path, body, headers)
        assert status == 200, (protocol, transport, status)
        return answer_headers["X-Request-ID"]
    method, request, response_type = _grpc(target, protocol)
    stub = target.channel.unary_unary(method, request_serializer=lambda m: m.SerializeToString(),
                                      response_deserializer=response_type.FromString)
    _, rpc = stub.with_call(request, timeout=30,
                            metadata=tuple((k.lower(), v) for k, v in headers.items()))
    return dict(rpc.trailing_metadata())["x-request-id"]


def _columns(inputs: Mapping[str, np.ndarray]) -> dict[str, list]:
    return {k: np.asarray(v).tolist() for k, v in inputs.items()}


def _rest(target: Target, protocol: str) -> tuple[str, Any]:
    if protocol == "tfserving":
        return f"/v1/models/{target.model}:predict", {"inputs": _columns(target.inputs)}
    if protocol == "v2":
        return f"/v2/models/{target.model}/infer", {"inputs": [
            {"name": name, "shape": list(np.shape(arr)), "datatype": _v2_type(arr),
             "data": np.asarray(arr).ravel().tolist()} for name, arr in target.inputs.items()]}
    return "/v1/similarity", {"model": target.similarity,
                              "pairs": [["a short text", "another short text"]]}


def _v2_type(arr: Any) -> str:
    return "BYTES" if np.asarray(arr).dtype.kind in "OSU" else "FP32"


def _grpc(target: Target, protocol: str) -> tuple[str, Any, Any]:
    if protocol == "tfserving":
        from tensorflow_serving.apis import predict_pb2

        from serving.tensor_proto import array_to_proto

        request = predict_pb2.PredictRequest()
        request.model_spec.name = target.model
        for name, arr in target.inputs.items():
            array_to_proto(_typed(arr), out=request.inputs[name])
        return ("/tensorflow.serving.PredictionService/Predict", request,
                predict_pb2.PredictResponse)
    if protocol == "v2":
        from tritonclient.grpc import service_pb2

        request = service_pb2.ModelInferRequest(model_name=target.model)
        for name, arr in target.inputs.items():
            arr = np.asarray(arr)
            tensor = request.inputs.add(name=name, datatype=_v2_type(arr), shape=list(arr.shape))
            if arr.dtype.kind in "OSU":
                tensor.contents.bytes_contents.extend(str(x).encode() for x in arr.ravel())
            else:
                tensor.contents.fp32_contents.extend(arr.astype(np.float32).ravel().tolist())
        return ("/inference.GRPCInferenceService/ModelInfer", request,
                service_pb2.ModelInferResponse)
    from serving.protocols.multihead._gen import gateway_pb2 as pb
    from serving.protocols.multihead.codec import to_tensor

    request = pb.PredictRequest()
    request.model_spec.name = target.model
    for name, arr in target.inputs.items():
        to_tensor(_typed(arr), out=request.inputs[name])
    return "/multihead.v1.Gateway/Predict", request, pb.PredictResponse


def _typed(arr: Any) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind in "OSU":
        return np.array([str(x).encode() for x in arr.ravel()], dtype=object).reshape(arr.shape)
    return arr.astype(np.float32)
