"""Open Inference Protocol v2 on the real gateway, through the real clients: tritonclient
http and grpc, sync and aio, binary and JSON, on every runtime of the session `gateway`
fixture (embedded, tfserving in front of the stand-in), and on a hand-built SavedModel
with FP32, INT32 and BYTES inputs and outputs (embedded, with API keys on).

Predictions are compared with a direct in-process call of the same SavedModel and with
the gateway's TF Serving REST predict. The bad-input tables hand-craft what no client
would send; each answer must be a 4xx / non-OK status naming the field, never a 500 or
INTERNAL, and the gateway keeps serving.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
import tritonclient.grpc.aio as tgrpc_aio
import tritonclient.http as thttp
import tritonclient.http.aio as thttp_aio
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from tests.integration.conftest import (
    MODELS,
    SAMPLES,
    assert_outputs_equal,
    start_gateway,
    versions_of,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
HEADER = "Inference-Header-Content-Length"


def http_client(gw: Any, **kw: Any) -> thttp.InferenceServerClient:
    return thttp.InferenceServerClient(gw.http_url.removeprefix("http://"), **kw)


def grpc_client(gw: Any) -> tgrpc.InferenceServerClient:
    return tgrpc.InferenceServerClient(gw.grpc_target)


def sample_arrays(model: str) -> dict[str, np.ndarray]:
    out = {}
    for name, values in SAMPLES[model].items():
        out[name] = (np.asarray(values, dtype=np.float32) if name == "aux"
                     else np.array([v.encode() for v in values], dtype=object))
    return out


def infer_inputs(mod: Any, arrays: dict[str, np.ndarray], binary: bool = True) -> list[Any]:
    inputs = []
    for name, arr in arrays.items():
        datatype = "BYTES" if arr.dtype == object else {np.float32: "FP32",
                                                        np.int32: "INT32"}[arr.dtype.type]
        x = mod.InferInput(name, list(arr.shape), datatype)
        if mod is thttp or mod is thttp_aio:
            x.set_data_from_numpy(arr, binary_data=binary)
        else:
            x.set_data_from_numpy(arr)
        inputs.append(x)
    return inputs


def requested(mod: Any, names: list[str], binary: bool = True) -> list[Any]:
    if mod is thttp or mod is thttp_aio:
        return [mod.InferRequestedOutput(n, binary_data=binary) for n in names]
    return [mod.InferRequestedOutput(n) for n in names]


def result_outputs(result: Any) -> dict[str, np.ndarray]:
    """Outputs in answer order, as the client decodes them (BYTES as bytes objects)."""
    response = result.get_response()
    outs = response["outputs"] if isinstance(response, dict) else response.outputs
    names = [o["name"] if isinstance(o, dict) else o.name for o in outs]
    return {n: result.as_numpy(n) for n in names}


def as_text(outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """BYTES outputs as text, which `assert_outputs_equal` compares with the reference
    (tritonclient.http gives str elements for JSON BYTES, bytes for binary ones)."""
    def text(b: Any) -> Any:
        return b.decode() if isinstance(b, bytes) else b

    return {n: np.vectorize(text, otypes=[object])(a) if a.dtype == object else a
            for n, a in outputs.items()}


# -- health, metadata, config ----------------------------------------------------------------

def test_health_bodies_are_json_and_clients_agree(gateway: Any) -> None:
    # KServe's REST client reads json()["live"] / json()["ready"].
    assert gateway.get("/v2/health/live").json() == {"live": True}
    assert gateway.get("/v2/health/ready").json() == {"ready": True}
    for client in (http_client(gateway), grpc_client(gateway)):
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("profiler")
        assert not client.is_model_ready("no-such-model")
        assert not client.is_model_ready("profiler", "99")
        meta = client.get_server_metadata()
        meta = meta if isinstance(meta, dict) else {"name": meta.name,
                                                    "extensions": list(meta.extensions)}
        assert meta["name"] == "multihead"
        assert set(meta["extensions"]) == {"binary_tensor_data", "model_configuration"}
        client.close()


def test_model_metadata_over_http_and_grpc(gateway: Any) -> None:
    want_outputs = {"age": ("FP32", [-1]), "gender": ("FP32", [-1]),
                    "gender_label": ("BYTES", [-1]), "income": ("FP32", [-1, 4]),
                    "income_label": ("BYTES", [-1])}
    http_meta = http_client(gateway).get_model_metadata("profiler")
    assert http_meta["platform"] == "tensorflow_savedmodel"
    assert http_meta["inputs"] == [{"name": "posts", "datatype": "BYTES", "shape": [-1, 1]}]
    assert {o["name"]: (o["datatype"], o["shape"]) for o in http_meta["outputs"]} == want_outputs
    grpc_meta = grpc_client(gateway).get_model_metadata("profiler", as_json=True)
    assert grpc_meta["inputs"] == [{"name": "posts", "datatype": "BYTES", "shape": ["-1", "1"]}]
    assert grpc_meta["versions"] == http_meta["versions"] == ["1"]


@pytest.mark.parametrize("model", MODELS)
def test_config_is_what_perf_analyzer_needs(gateway: Any, model: str) -> None:
    """perf_analyzer (src/model_parser.cc): metadata then /config; with max_batch_size > 0
    it drops the first metadata dim, and every remaining -1 would need --shape."""
    client = http_client(gateway)
    meta = client.get_model_metadata(model)
    config = client.get_model_config(model)
    # The newest version: other tests of the session add versions (hot reload).
    newest = max(meta["versions"], key=int)
    assert config == gateway.get(f"/v2/models/{model}/versions/{newest}/config").json()
    assert config["name"] == model and config["platform"] == "tensorflow_savedmodel"
    assert config["max_batch_size"] == 64  # the gateway's max_batch_size (default)
    meta_inputs = {t["name"]: t for t in meta["inputs"]}
    assert {i["name"] for i in config["input"]} == set(meta_inputs)
    for item in config["input"]:
        shape = meta_inputs[item["name"]]["shape"]
        assert shape[0] == -1 and -1 not in shape[1:], (model, item)
        assert item["data_type"] == ("TYPE_STRING" if meta_inputs[item["name"]]["datatype"]
                                     == "BYTES" else "TYPE_FP32")
        assert item["dims"] == (shape[1:] or [1])
    grpc_config = grpc_client(gateway).get_model_config(model, as_json=True)["config"]
    assert int(grpc_config["max_batch_size"]) == 64
    assert [i["name"] for i in grpc_config["input"]] == [i["name"] for i in config["input"]]


# -- infer -----------------------------------------------------------------------------------

@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_http_infer_equals_direct_call(gateway: Any, gateway_repo: Any, reference: Any,
                                      binary: bool) -> None:
    client = http_client(gateway)
    for model in MODELS:
        newest = str(versions_of(gateway_repo.path, model)[-1])
        want = reference(model, SAMPLES[model])
        result = client.infer(model, infer_inputs(thttp, sample_arrays(model), binary),
                              outputs=requested(thttp, sorted(want), binary),
                              request_id=f"req-{model}")
        response = result.get_response()
        assert response["id"] == f"req-{model}"
        assert response["model_name"] == model and response["model_version"] == newest
        assert_outputs_equal(as_text(result_outputs(result)), want)
    # No outputs listed: tritonclient asks for binary_data_output and gets everything.
    result = client.infer("headline", infer_inputs(thttp, sample_arrays("headline")))
    assert_outputs_equal(as_text(result_outputs(result)),
                         reference("headline", SAMPLES["headline"]))


def test_grpc_infer_equals_direct_call(gateway: Any, gateway_repo: Any, reference: Any) -> None:
    client = grpc_client(gateway)
    for model in MODELS:
        newest = str(versions_of(gateway_repo.path, model)[-1])
        want = reference(model, SAMPLES[model])
        result = client.infer(model, infer_inputs(tgrpc, sample_arrays(model)),
                              request_id="g-1")
        assert result.get_response().id == "g-1"
        assert result.get_response().model_version == newest
        assert_outputs_equal(as_text(result_outputs(result)), want)


def test_aio_clients(gateway: Any, reference: Any) -> None:
    want = reference("headline", SAMPLES["headline"])

    async def run() -> list[dict[str, np.ndarray]]:
        http = thttp_aio.InferenceServerClient(gateway.http_url.removeprefix("http://"))
        grpc_aio = tgrpc_aio.InferenceServerClient(gateway.grpc_target)
        try:
            assert await http.is_server_ready() and await grpc_aio.is_model_ready("headline")
            answers = await asyncio.gather(
                http.infer("headline", infer_inputs(thttp_aio, sample_arrays("headline"))),
                http.infer("headline", infer_inputs(thttp_aio, sample_arrays("headline"),
                                                    binary=False),
                           outputs=requested(thttp_aio, ["aux_output", "main_output"], False)),
                grpc_aio.infer("headline", infer_inputs(tgrpc_aio, sample_arrays("headline"))))
            return [result_outputs(a) for a in answers]
        finally:
            await http.close()
            await grpc_aio.close()

    for got in asyncio.run(run()):
        assert_outputs_equal(as_text(got), want)


def test_requested_outputs_hold_under_batching(gateway: Any, reference: Any) -> None:
    """Concurrent calls with different requested outputs (batching on in the session
    gateway): each answer holds exactly its own outputs (MLServer#514, kserve#3307)."""
    want = reference("profiler", SAMPLES["profiler"])
    # The core merges calls with the same requested outputs (the batch key holds them),
    # so few distinct choices keep merges likely.
    choices = [["age"], ["gender", "gender_label"], ["income_label", "income"]]
    arrays = sample_arrays("profiler")

    def call(i: int) -> tuple[list[str], dict[str, np.ndarray]]:
        names = choices[i % len(choices)]
        if i % 2:
            client = grpc_client(gateway)
            result = client.infer("profiler", infer_inputs(tgrpc, arrays),
                                  outputs=requested(tgrpc, names))
        else:
            client = http_client(gateway)
            result = client.infer("profiler", infer_inputs(thttp, arrays, binary=i % 4 == 0),
                                  outputs=requested(thttp, names, binary=i % 4 == 0))
        client.close()
        return names, result_outputs(result)

    merged = False
    for _ in range(3):  # bounded: a burst on 2 busy cores may, rarely, not merge at all
        batches_before = gateway.metric("multihead_batch_size_count", model="profiler")
        examples_before = gateway.metric("multihead_batch_size_sum", model="profiler")
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(call, range(48)))
        for names, got in answers:
            assert list(got) == names
            assert_outputs_equal(as_text(got), {n: want[n] for n in names})
        batches = gateway.metric("multihead_batch_size_count", model="profiler") - batches_before
        examples = gateway.metric("multihead_batch_size_sum", model="profiler") - examples_before
        # 3 examples per request: more than 3 per batch means some calls were merged
        merged = examples > 3 * batches > 0
        if merged or gateway.backend != "embedded":  # tfserving: TF Serving batches
            break
    assert merged or gateway.backend != "embedded", "no call was merged in three bursts"


def test_versions(gateway: Any, gateway_repo: Any, reference: Any) -> None:
    versions = [str(v) for v in versions_of(gateway_repo.path, "similarity")]
    assert len(versions) == 2
    client = http_client(gateway)
    assert client.get_model_metadata("similarity")["versions"] == versions
    assert client.get_model_metadata("similarity", versions[0])["versions"] == versions
    g = grpc_client(gateway)
    for version in versions:
        want = reference("similarity", SAMPLES["similarity"], version=int(version))
        for c, mod in ((client, thttp), (g, tgrpc)):
            result = c.infer("similarity", infer_inputs(mod, sample_arrays("similarity")),
                             model_version=version)
            response = result.get_response()
            got = response["model_version"] if isinstance(response, dict) \
                else response.model_version
            assert got == version
            assert_outputs_equal(as_text(result_outputs(result)), want)
    newest = client.infer("similarity", infer_inputs(thttp, sample_arrays("similarity")))
    assert newest.get_response()["model_version"] == versions[-1]
    assert client.is_model_ready("similarity", versions[0])
    with pytest.raises(InferenceServerException) as info:
        client.infer("similarity", infer_inputs(thttp, sample_arrays("similarity")),
                     model_version="99")
    assert info.value.status() == "404" and "99" in info.value.message()
    with pytest.raises(InferenceServerException) as info:
        g.infer("similarity", infer_inputs(tgrpc, sample_arrays("similarity")),
                model_version="99")
    assert info.value.status() == "StatusCode.NOT_FOUND"


@pytest.mark.parametrize("model", MODELS)
def test_same_outputs_as_tf_serving_rest(gateway: Any, model: str) -> None:
    rest = gateway.post(f"/v1/models/{model}:predict", {"inputs": SAMPLES[model]})
    assert rest.status_code == 200, rest.text
    tf_outputs = rest.json()["outputs"]
    if not isinstance(tf_outputs, dict):
        tf_outputs = {next(iter(reference_names(gateway, model))): tf_outputs}
    result = grpc_client(gateway).infer(model, infer_inputs(tgrpc, sample_arrays(model)))
    got = result_outputs(result)
    assert set(got) == set(tf_outputs)
    for name, values in tf_outputs.items():
        if got[name].dtype == object:
            assert [b.decode() for b in got[name].ravel()] == list(np.ravel(values)), name
        else:
            np.testing.assert_allclose(got[name], np.asarray(values), atol=1e-5, rtol=0)


def reference_names(gateway: Any, model: str) -> list[str]:
    return [o["name"] for o in gateway.get(f"/v2/models/{model}").json()["outputs"]]


def test_unimplemented_rpcs_say_so(gateway: Any) -> None:
    with pytest.raises(InferenceServerException) as info:
        grpc_client(gateway).get_inference_statistics("profiler")
    assert info.value.status() == "StatusCode.UNIMPLEMENTED"
    assert "ModelStatistics is not implemented" in info.value.message()


def test_metrics_label_protocol_v2(gateway: Any) -> None:
    before = gateway.metric("multihead_requests_total", protocol="v2", model="headline")
    http_client(gateway).infer("headline", infer_inputs(thttp, sample_arrays("headline")))
    grpc_client(gateway).infer("headline", infer_inputs(tgrpc, sample_arrays("headline")))
    after = gateway.metric("multihead_requests_total", protocol="v2", model="headline")
    assert after - before == 2


# -- bad input ---------------------------------------------------------------------------------

def _json_body(inputs: Any, **extra: Any) -> dict[str, Any]:
    return {"inputs": inputs, **extra}


_AUX = {"name": "aux", "shape": [1, 5], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}
_HEAD = {"name": "headline", "shape": [1], "datatype": "BYTES", "data": ["a headline"]}
_FP32_2 = struct.pack("<2f", 1.0, 2.0)

# (case, path, body: JSON object or (json header, binary tail), status, text in the message)
BAD_REST: list[tuple[str, str, Any, int, str]] = [
    ("not json", "headline", b"{nope", 400, "not valid JSON"),
    ("json array", "headline", b"[1, 2]", 400, "JSON object"),
    ("no inputs", "headline", {"outputs": []}, 400, "inputs"),
    ("input not object", "headline", _json_body([3]), 400, "inputs[0]"),
    ("unknown datatype", "headline", _json_body([{**_AUX, "datatype": "FP33"}, _HEAD]), 400,
     "inputs[0].datatype"),
    ("datatype mismatch", "headline", _json_body([{**_AUX, "datatype": "INT32"}, _HEAD]),
     400, "inputs[0].datatype"),
    ("data length vs shape", "headline", _json_body([{**_AUX, "data": [1, 2, 3]}, _HEAD]),
     400, "inputs[0].data"),
    ("shape vs signature", "headline",
     _json_body([{**_AUX, "shape": [1, 4], "data": [1, 2, 3, 4]}, _HEAD]), 400,
     "inputs[0].shape"),
    ("negative dim", "headline", _json_body([{**_AUX, "shape": [-1, 5]}, _HEAD]), 400,
     "inputs[0].shape"),
    ("huge shape", "headline", _json_body([{**_AUX, "shape": [2**40, 2**40]}, _HEAD]), 400,
     "inputs[0].shape"),
    ("string where FP32", "headline", _json_body([{**_AUX, "data": ["x"] * 5}, _HEAD]), 400,
     "inputs[0].data[0]"),
    ("number where BYTES", "headline", _json_body([_AUX, {**_HEAD, "data": [7]}]), 400,
     "inputs[1].data[0]"),
    ("lone surrogate BYTES", "headline", b'{"inputs": [' + b'{"name": "aux", "shape": [1, 5],'
     b' "datatype": "FP32", "data": [1,2,3,4,5]}, {"name": "headline", "shape": [1],'
     b' "datatype": "BYTES", "data": ["\\ud800"]}]}', 400, "not valid JSON"),
    ("unknown input", "headline", _json_body([_AUX, _HEAD, {**_HEAD, "name": "nope"}]), 400,
     "inputs[2].name"),
    ("missing input", "headline", _json_body([_AUX]), 400, "headline"),
    ("unknown output", "headline", _json_body([_AUX, _HEAD], outputs=[{"name": "nope"}]), 400,
     "outputs[0].name"),
    ("id not string", "headline", _json_body([_AUX, _HEAD], id=5), 400, "id"),
    ("bad signature param", "headline",
     _json_body([_AUX, _HEAD], parameters={"signature_name": 3}), 400,
     "parameters.signature_name"),
    ("unknown signature", "headline",
     _json_body([_AUX, _HEAD], parameters={"signature_name": "nope"}), 400, "nope"),
    ("binary size past body", "headline",
     ({"inputs": [{"name": "aux", "shape": [1, 5], "datatype": "FP32",
                   "parameters": {"binary_data_size": 20}}, _HEAD]}, _FP32_2), 400,
     "inputs[0].parameters.binary_data_size"),
    ("binary size vs shape", "headline",
     ({"inputs": [{"name": "aux", "shape": [1, 5], "datatype": "FP32",
                   "parameters": {"binary_data_size": 8}}, _HEAD]}, _FP32_2), 400,
     "inputs[0] binary data (input 'aux')"),
    ("trailing bytes", "headline", ({"inputs": [_AUX, _HEAD]}, b"xx"), 400, "bytes after"),
    ("bad BYTES prefix", "headline",
     ({"inputs": [_AUX, {"name": "headline", "shape": [1], "datatype": "BYTES",
                         "parameters": {"binary_data_size": 6}}]},
      struct.pack("<I", 100) + b"ab"), 400, "inputs[1] binary data (input 'headline')"),
    ("header length too big", "headline", ({"inputs": [_AUX, _HEAD]}, b""), 400, HEADER),
    ("unknown model", "nope", _json_body([_AUX, _HEAD]), 404, "nope"),
    ("unknown version", "headline/versions/99", _json_body([_AUX, _HEAD]), 404, "99"),
    ("version not a number", "headline/versions/abc", _json_body([_AUX, _HEAD]), 400,
     "model_version"),
]


@pytest.mark.parametrize("case,path,body,status,text", BAD_REST, ids=[c[0] for c in BAD_REST])
def test_bad_rest_requests(gateway: Any, case: str, path: str, body: Any, status: int,
                           text: str) -> None:
    import orjson

    headers = {}
    if isinstance(body, tuple):
        head = orjson.dumps(body[0])
        content = head + body[1]
        headers[HEADER] = str(len(head) + (1000 if case == "header length too big" else 0))
    elif isinstance(body, bytes):
        content = body
    else:
        content = orjson.dumps(body)
    response = gateway.post(f"/v2/models/{path}/infer", content=content, headers=headers)
    assert response.status_code == status, (case, response.text)
    assert text in response.json()["error"], (case, response.text)


def test_gateway_still_serves_after_bad_rest_requests(gateway: Any, reference: Any) -> None:
    assert gateway.get("/v2/health/ready").status_code == 200
    result = http_client(gateway).infer("headline", infer_inputs(thttp, sample_arrays("headline")))
    assert_outputs_equal(as_text(result_outputs(result)),
                         reference("headline", SAMPLES["headline"]))


def _grpc_request(**fields: Any) -> service_pb2.ModelInferRequest:
    request = service_pb2.ModelInferRequest(model_name="headline")
    aux = request.inputs.add(name="aux", datatype="FP32", shape=[1, 5])
    aux.contents.fp32_contents.extend([1, 2, 3, 4, 5])
    head = request.inputs.add(name="headline", datatype="BYTES", shape=[1])
    head.contents.bytes_contents.append(b"a headline")
    for key, value in fields.items():
        value(request) if callable(value) else setattr(request, key, value)
    return request


def _set(path: str, value: Any) -> Any:
    def apply(request: service_pb2.ModelInferRequest) -> None:
        index, attr = path.split(".", 1)
        target = request.inputs[int(index)]
        if attr == "shape":
            del target.shape[:]
            target.shape.extend(value)
        elif attr == "fp32":
            del target.contents.fp32_contents[:]
            target.contents.fp32_contents.extend(value)
        else:
            setattr(target, attr, value)
    return apply


def _raw(*blobs: bytes) -> Any:
    def apply(request: service_pb2.ModelInferRequest) -> None:
        for item in request.inputs:
            item.ClearField("contents")
        request.raw_input_contents.extend(blobs)
    return apply


BAD_GRPC: list[tuple[str, Any, grpc.StatusCode, str]] = [
    ("unknown model", _grpc_request(model_name="nope"), grpc.StatusCode.NOT_FOUND, "nope"),
    ("unknown version", _grpc_request(model_version="99"), grpc.StatusCode.NOT_FOUND, "99"),
    ("bad version", _grpc_request(model_version="x1"), grpc.StatusCode.INVALID_ARGUMENT,
     "model_version"),
    ("unknown datatype", _grpc_request(d=_set("0.datatype", "FLOAT")),
     grpc.StatusCode.INVALID_ARGUMENT, "inputs[0].datatype"),
    ("datatype mismatch", _grpc_request(d=_set("0.datatype", "FP64")),
     grpc.StatusCode.INVALID_ARGUMENT, "inputs[0]"),
    ("count vs shape", _grpc_request(d=_set("0.fp32", [1.0, 2.0])),
     grpc.StatusCode.INVALID_ARGUMENT, "inputs[0].contents"),
    ("shape vs signature", _grpc_request(d=_set("0.shape", [5, 1])),
     grpc.StatusCode.INVALID_ARGUMENT, "inputs[0].shape"),
    ("negative dim", _grpc_request(d=_set("0.shape", [-1, 5])),
     grpc.StatusCode.INVALID_ARGUMENT, "inputs[0].shape"),
    ("raw count", _grpc_request(r=_raw(_FP32_2)), grpc.StatusCode.INVALID_ARGUMENT,
     "raw_input_contents"),
    ("raw size vs shape", _grpc_request(r=_raw(_FP32_2, struct.pack("<I", 1) + b"a")),
     grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents[0] (input 'aux')"),
    ("raw BYTES past end", _grpc_request(
        r=_raw(struct.pack("<5f", 1, 2, 3, 4, 5), struct.pack("<I", 9) + b"a")),
     grpc.StatusCode.INVALID_ARGUMENT, "raw_input_contents[1] (input 'headline')"),
    ("unknown output", _grpc_request(o=lambda r: r.outputs.add(name="nope")),
     grpc.StatusCode.INVALID_ARGUMENT, "outputs[0].name"),
    ("no inputs", service_pb2.ModelInferRequest(model_name="headline"),
     grpc.StatusCode.INVALID_ARGUMENT, "inputs"),
]


def test_bad_grpc_requests(gateway: Any) -> None:
    with grpc.insecure_channel(gateway.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        assert len(stub.ModelInfer(_grpc_request(), timeout=30).raw_output_contents) == 2
        for case, request, code, text in BAD_GRPC:
            with pytest.raises(grpc.RpcError) as info:
                stub.ModelInfer(request, timeout=30)
            assert info.value.code() == code, (case, info.value.details())
            assert text in info.value.details(), (case, info.value.details())
        # still serving, typed contents (KServe's client style) included
        response = stub.ModelInfer(_grpc_request(), timeout=30)
        assert [o.name for o in response.outputs] == ["aux_output", "main_output"]


# -- a hand-built SavedModel: FP32, INT32, BYTES in and out; a second signature; API keys -------

KEY = "v2-test-key"


def auth() -> dict[str, str]:
    # A fresh dict per call: tritonclient.http adds Inference-Header-Content-Length to the
    # headers dict it is given, which would then be stale on the next request.
    return {"Authorization": f"Bearer {KEY}"}


def build_toy(repo: Path) -> None:
    import tensorflow as tf

    class Toy(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32),
                                      tf.TensorSpec([None], tf.int32),
                                      tf.TensorSpec([None], tf.string)])
        def serve(self, x: Any, n: Any, s: Any) -> dict[str, Any]:
            return {"doubled": x * 2.0, "next": n + 1, "shout": tf.strings.join([s, b"!"]),
                    "length": tf.strings.length(s)}

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def total(self, x: Any) -> dict[str, Any]:
            return {"sum": tf.reduce_sum(x, axis=1)}

    toy = Toy()
    tf.saved_model.save(toy, str(repo / "toy" / "1"),
                        signatures={"serving_default": toy.serve, "total": toy.total})


@pytest.fixture(scope="module")
def toy_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    repo = tmp_path_factory.mktemp("v2toy") / "models"
    build_toy(repo)
    with start_gateway(repo, "embedded", workers=1,
                       env={"MULTIHEAD_API_KEYS": KEY, "MULTIHEAD_MAX_BATCH_SIZE": "16"}) as gw:
        yield gw


TOY_IN = {"x": np.array([[1, 2, 3], [4.5, -1, 0]], np.float32),
          "n": np.array([7, -3], np.int32),
          "s": np.array([b"hey", b"\xff\xfe"], dtype=object)}  # not UTF-8: binary only
TOY_OUT = {"doubled": TOY_IN["x"] * 2, "next": TOY_IN["n"] + 1,
           "shout": np.array([b"hey!", b"\xff\xfe!"], dtype=object),
           "length": np.array([3, 2], np.int32)}


def _assert_toy(got: dict[str, np.ndarray], names: list[str]) -> None:
    assert list(got) == names
    for name in names:
        if TOY_OUT[name].dtype == object:
            assert got[name].tolist() == TOY_OUT[name].tolist()
        else:
            assert got[name].dtype == TOY_OUT[name].dtype, name
            np.testing.assert_array_equal(got[name], TOY_OUT[name])


def test_toy_binary_http_and_grpc(toy_gateway: Any) -> None:
    names = ["doubled", "length", "next", "shout"]
    http = http_client(toy_gateway)
    meta = http.get_model_metadata("toy", headers=auth())
    assert {t["name"]: t["datatype"] for t in meta["inputs"]} == \
        {"n": "INT32", "s": "BYTES", "x": "FP32"}
    assert http.get_model_config("toy", headers=auth())["max_batch_size"] == 16
    result = http.infer("toy", infer_inputs(thttp, TOY_IN), headers=auth())
    _assert_toy(result_outputs(result), names)
    result = grpc_client(toy_gateway).infer("toy", infer_inputs(tgrpc, TOY_IN),
                                            headers={"authorization": f"Bearer {KEY}"})
    _assert_toy(result_outputs(result), names)


def test_toy_json_and_signature_choice(toy_gateway: Any) -> None:
    http = http_client(toy_gateway)
    utf8 = {**TOY_IN, "s": np.array([b"hey", b"caf\xc3\xa9"], dtype=object)}
    result = http.infer("toy", infer_inputs(thttp, utf8, binary=False), headers=auth(),
                        outputs=requested(thttp, ["shout", "next"], binary=False))
    got = result_outputs(result)
    assert got["shout"].tolist() == ["hey!", "café!"]  # JSON BYTES come back as text
    np.testing.assert_array_equal(got["next"], TOY_OUT["next"])
    # Non-UTF-8 BYTES cannot go back as JSON: a 400 naming the output, not a 500.
    with pytest.raises(InferenceServerException) as info:
        http.infer("toy", infer_inputs(thttp, TOY_IN), headers=auth(),
                   outputs=requested(thttp, ["shout"], binary=False))
    assert info.value.status() == "400" and "shout" in info.value.message()
    for client, mod, headers in ((http, thttp, auth()),
                                 (grpc_client(toy_gateway), tgrpc,
                                  {"authorization": f"Bearer {KEY}"})):
        result = client.infer("toy", infer_inputs(mod, {"x": TOY_IN["x"]}), headers=headers,
                              parameters={"signature_name": "total"})
        np.testing.assert_allclose(result.as_numpy("sum"), TOY_IN["x"].sum(axis=1))


def test_toy_typed_grpc_contents(toy_gateway: Any) -> None:
    request = service_pb2.ModelInferRequest(model_name="toy")
    x = request.inputs.add(name="x", datatype="FP32", shape=[2, 3])
    x.contents.fp32_contents.extend(TOY_IN["x"].ravel().tolist())
    n = request.inputs.add(name="n", datatype="INT32", shape=[2])
    n.contents.int_contents.extend(TOY_IN["n"].tolist())
    s = request.inputs.add(name="s", datatype="BYTES", shape=[2])
    s.contents.bytes_contents.extend(TOY_IN["s"].tolist())
    request.outputs.add(name="length")
    with grpc.insecure_channel(toy_gateway.grpc_target) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        response = stub.ModelInfer(request, timeout=30,
                                   metadata=(("authorization", f"Bearer {KEY}"),))
    assert [o.name for o in response.outputs] == ["length"]
    assert response.outputs[0].datatype == "INT32"
    np.testing.assert_array_equal(np.frombuffer(response.raw_output_contents[0], "<i4"), [3, 2])


def test_toy_api_keys(toy_gateway: Any) -> None:
    assert httpx.get(toy_gateway.http_url + "/v2/models/toy").status_code == 401
    # The health routes are probes: open over REST as over gRPC.
    assert httpx.get(toy_gateway.http_url + "/v2/health/live").json() == {"live": True}
    assert httpx.get(toy_gateway.http_url + "/v2/health/ready").json() == {"ready": True}
    client = grpc_client(toy_gateway)
    # health-like RPCs stay open, like the gRPC health service
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("toy")
    for call in (lambda: client.get_model_metadata("toy"),
                 lambda: client.infer("toy", infer_inputs(tgrpc, TOY_IN))):
        with pytest.raises(InferenceServerException) as info:
            call()
        assert info.value.status() == "StatusCode.UNAUTHENTICATED"


def test_openapi_describes_the_v2_routes(gateway: Any) -> None:
    from openapi_spec_validator import validate

    doc = gateway.get("/openapi.json").json()
    validate(doc)
    for path in ("/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{model_name}",
                 "/v2/models/{model_name}/versions/{version}/infer",
                 "/v2/models/{model_name}/config", "/v2/models/{model_name}/ready"):
        assert path in doc["paths"], path


def _readme_section() -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = text.index("## Open Inference Protocol v2 (KServe, Triton)")
    return text[start:text.index("\n## ", start + 1)]


def test_readme_examples_work(gateway: Any) -> None:
    """The section's curl lines answer 200 JSON; its tritonclient snippet runs."""
    import json
    import re
    import shlex
    import subprocess

    if gateway.backend != "embedded":
        pytest.skip("the README examples run once, against the default runtime")
    section = _readme_section()
    block = re.search(r"<!-- v2-curl-examples:begin -->\n```bash\n(.*?)```", section, re.S)
    assert block is not None
    curls = [line for line in block.group(1).splitlines() if line.startswith("curl ")]
    assert any("/infer" in c for c in curls) and any("/config" in c for c in curls)
    for command in curls:
        args = shlex.split(command.replace("http://127.0.0.1:8000", gateway.http_url))
        run = subprocess.run(args + ["-sS", "-w", "\n%{http_code}"], capture_output=True,
                             text=True, timeout=60)
        body, _, status = run.stdout.rpartition("\n")
        assert status == "200", (command, body)
        assert isinstance(json.loads(body), dict)
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    assert snippet is not None
    code = snippet.group(1).replace("127.0.0.1:8000", gateway.http_url.removeprefix("http://"))
    code = code.replace("127.0.0.1:9000", gateway.grpc_target)
    exec(compile(code, "README.md", "exec"), {"print": lambda *a: None})  # noqa: S102
