"""The `stereo` export (two pictures in, disparity and same_object out) served by the real
gunicorn gateway on every protocol, each answer equal to an in-process call of the same
SavedModel: TF Serving REST (`{"b64": ...}`, rows and columns) and gRPC (DT_STRING), the
Open Inference Protocol v2 with BYTES over REST (binary data extension: JSON cannot carry
raw bytes) and gRPC, through Triton's own clients, the multihead gRPC Predict through the
SDK, and the demo request the export wrote into the model card. The gateway has no
stereo-specific code. One gateway, about 20 s with the session's stereo training."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import grpc
import numpy as np
import pytest
import tensorflow as tf
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.integration.conftest import Gateway, start_gateway
from tests.stereo_support import sample_pairs, trained_stereo

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
HEADS = ("disparity", "same_object")


@pytest.fixture(scope="module")
def stereo_gateway() -> Iterator[Gateway]:
    with start_gateway(trained_stereo().model_dir, workers=1) as gw:
        yield gw


@pytest.fixture(scope="module")
def pairs() -> dict:
    return sample_pairs(3, seed=21)


@pytest.fixture(scope="module")
def in_process(pairs) -> dict[str, np.ndarray]:
    loaded = tf.saved_model.load(str(trained_stereo().export_dir))
    out = loaded.signatures["serving_default"](left=tf.constant(pairs["left"]),
                                               right=tf.constant(pairs["right"]))
    return {k: v.numpy() for k, v in out.items()}


def _b64(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode("ascii")}


def _assert_heads(got: dict, want: dict[str, np.ndarray]) -> None:
    for head in HEADS:
        np.testing.assert_allclose(np.asarray(got[head], np.float64).reshape(-1),
                                   want[head].astype(np.float64), atol=1e-5, err_msg=head)
    labels = [x.decode() if isinstance(x, bytes) else x
              for x in np.asarray(got["same_object_label"], dtype=object).reshape(-1)]
    assert labels == [x.decode() for x in want["same_object_label"]]


def test_tfserving_rest_rows_and_columns(stereo_gateway, pairs, in_process) -> None:
    rows = [{"left": _b64(a), "right": _b64(b)} for a, b in zip(pairs["left"], pairs["right"],
                                                                  strict=True)]
    r = stereo_gateway.post("/v1/models/stereo:predict", {"instances": rows})
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    _assert_heads({k: [p[k] for p in predictions] for k in predictions[0]}, in_process)
    r = stereo_gateway.post("/v1/models/stereo/versions/1:predict", {"inputs": {
        "left": [_b64(p) for p in pairs["left"]], "right": [_b64(p) for p in pairs["right"]]}})
    assert r.status_code == 200, r.text
    _assert_heads(r.json()["outputs"], in_process)


def test_tfserving_grpc(stereo_gateway, pairs, in_process) -> None:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "stereo"
    for view in ("left", "right"):
        request.inputs[view].CopyFrom(tf.make_tensor_proto(np.array(pairs[view], dtype=object)))
    with grpc.insecure_channel(stereo_gateway.grpc_target) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        reply = stub.Predict(request, timeout=30)
    _assert_heads({k: tf.make_ndarray(v) for k, v in reply.outputs.items()}, in_process)


def _v2_inputs(mod, pairs: dict) -> list:
    inputs = []
    for view in ("left", "right"):
        arr = np.array(pairs[view], dtype=object)
        x = mod.InferInput(view, list(arr.shape), "BYTES")
        if mod is thttp:
            x.set_data_from_numpy(arr, binary_data=True)  # raw bytes: the binary extension
        else:
            x.set_data_from_numpy(arr)
        inputs.append(x)
    return inputs


def test_v2_rest_binary_and_grpc(stereo_gateway, pairs, in_process) -> None:
    http = thttp.InferenceServerClient(stereo_gateway.http_url.removeprefix("http://"))
    result = http.infer("stereo", _v2_inputs(thttp, pairs))
    _assert_heads({n: result.as_numpy(n) for n in (*HEADS, "same_object_label")}, in_process)
    meta = http.get_model_metadata("stereo")
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == {"left": "BYTES",
                                                                  "right": "BYTES"}
    with tgrpc.InferenceServerClient(stereo_gateway.grpc_target) as client:
        result = client.infer("stereo", _v2_inputs(tgrpc, pairs))
    _assert_heads({n: result.as_numpy(n) for n in (*HEADS, "same_object_label")}, in_process)


def test_multihead_grpc_predict_through_the_sdk(stereo_gateway, pairs, in_process) -> None:
    import multihead_client as mh

    with mh.Client(f"grpc://{stereo_gateway.grpc_target}", timeout=30) as client:
        got = client.predict("stereo", {"left": pairs["left"], "right": pairs["right"]})
        (listed,) = [m for m in client.models() if m.name == "stereo"]
    _assert_heads(got, in_process)
    assert [h.name for h in listed.heads] == list(HEADS)


def test_the_cards_demo_request_answers(stereo_gateway) -> None:
    card = json.loads((trained_stereo().export_dir / "assets.extra" / "model_card.json")
                      .read_text())
    (example,) = card["examples"]
    r = stereo_gateway.post(example["path"], example["body"])
    assert r.status_code == 200, r.text
    (row,) = r.json()["predictions"]
    assert set(row) == {"disparity", "same_object", "same_object_label"}
