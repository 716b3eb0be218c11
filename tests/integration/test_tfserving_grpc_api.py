"""TF Serving's gRPC API on the gateway (`tensorflow.serving.PredictionService`,
`ModelService`), called exactly as a program written for TF Serving calls it: the
generated stubs of `tensorflow-serving-api`, `tf.make_tensor_proto` in and
`tf.make_ndarray` out (the pattern of TF Serving's example/resnet_client_grpc.py).

Runs against the session `gateway` fixture, so both model runtimes are covered
(embedded, and tfserving in front of the TF Serving stand-in); similarity has two
versions and the labels `stable` and `canary` there. Outputs are compared with a direct
in-process call of the same signature (`reference`), and with the gateway's other
protocols (TF Serving REST, multihead.v1 gRPC). The last tests run in-process: API keys,
reflection and a foreign SavedModel (TF Serving's half_plus_two).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from serving.protocols.multihead import codec
from serving.protocols.multihead._gen import gateway_pb2, gateway_pb2_grpc
from tests.integration.conftest import MODELS, SAMPLES, assert_outputs_equal, versions_of
from tests.processes import REPO_ROOT, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
TIMEOUT_S = 30.0
SIGNATURE_DEF_MAP_URL = "type.googleapis.com/tensorflow.serving.SignatureDefMap"
BAD_CODES = {grpc.StatusCode.OK, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> prediction_service_pb2_grpc.PredictionServiceStub:
    return prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture(scope="module")
def model_stub(channel: grpc.Channel) -> model_service_pb2_grpc.ModelServiceStub:
    return model_service_pb2_grpc.ModelServiceStub(channel)


def make_request(model: str, sample: dict[str, Any] | None = None,
                 signature: str = "serving_default", **spec: Any) -> predict_pb2.PredictRequest:
    """A PredictRequest as TF Serving's clients build it: tf.make_tensor_proto per input."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if "version" in spec:
        request.model_spec.version.value = spec["version"]
    if "version_label" in spec:
        request.model_spec.version_label = spec["version_label"]
    for name, values in (SAMPLES[model] if sample is None else sample).items():
        dtype = tf.float32 if name == "aux" else tf.string
        request.inputs[name].CopyFrom(tf.make_tensor_proto(values, dtype=dtype))
    return request


def as_numpy(response: predict_pb2.PredictResponse) -> dict[str, np.ndarray]:
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def decoded(response: predict_pb2.PredictResponse) -> dict[str, np.ndarray]:
    """as_numpy with string outputs as text (what `assert_outputs_equal` compares)."""
    return {name: np.vectorize(lambda b: b.decode(), otypes=[object])(array)
            if array.dtype == object else array for name, array in as_numpy(response).items()}


def rpc_error(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


# -- Predict ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_predict_answers_every_head_as_the_savedmodel(stub: Any, reference: Any,
                                                      gateway_repo: Any, model: str) -> None:
    response = stub.Predict(make_request(model), TIMEOUT_S)
    assert response.model_spec.name == model
    assert response.model_spec.version.value == versions_of(gateway_repo.path, model)[-1]
    assert response.model_spec.signature_name == "serving_default"
    assert_outputs_equal(decoded(response), reference(model, SAMPLES[model]))
    for proto in response.outputs.values():
        # TF Serving's default encoding: typed *_val fields, not tensor_content.
        assert not proto.tensor_content
        assert proto.float_val or proto.string_val, proto.dtype


def test_empty_signature_name_is_serving_default(stub: Any, reference: Any) -> None:
    response = stub.Predict(make_request("similarity", signature=""), TIMEOUT_S)
    assert response.model_spec.signature_name == "serving_default"
    assert_outputs_equal(decoded(response), reference("similarity", SAMPLES["similarity"]))


def test_versions_and_labels(stub: Any, gateway_repo: Any, reference: Any) -> None:
    for spec, version in [({"version": gateway_repo.stable}, gateway_repo.stable),
                          ({"version_label": "stable"}, gateway_repo.stable),
                          ({"version_label": "canary"}, gateway_repo.canary),
                          ({}, gateway_repo.canary)]:
        response = stub.Predict(make_request("similarity", **spec), TIMEOUT_S)
        assert response.model_spec.version.value == version, spec
        assert response.model_spec.WhichOneof("version_choice") == "version"
        assert_outputs_equal(decoded(response),
                             reference("similarity", SAMPLES["similarity"], version=version))


def test_output_filter_returns_exactly_the_aliases_asked_for(stub: Any, reference: Any) -> None:
    want = reference("profiler", SAMPLES["profiler"])
    for aliases in (["gender"], ["income_label", "age"], ["gender", "gender_label"]):
        request = make_request("profiler")
        request.output_filter.extend(aliases)
        got = decoded(stub.Predict(request, TIMEOUT_S))
        assert sorted(got) == sorted(aliases)  # no H_label brought along
        assert_outputs_equal(got, {a: want[a] for a in aliases})

    request = make_request("profiler")
    request.output_filter.append("height")
    error = rpc_error(lambda: stub.Predict(request, TIMEOUT_S))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == ("output tensor alias not found in signature: height Outputs "
                               "expected to be in the set "
                               "{age,gender,gender_label,income,income_label}.")
    request = make_request("profiler")
    request.output_filter.extend(["age", "gender", "age"])
    error = rpc_error(lambda: stub.Predict(request, TIMEOUT_S))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "duplicate output tensor alias: age"


def _typed(dtype: int, shape: list[int], field: str, values: list[Any]) -> tensor_pb2.TensorProto:
    """A TensorProto with typed *_val fields, as perf_analyzer and Java/Go clients send."""
    proto = tensor_pb2.TensorProto(dtype=dtype)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    getattr(proto, field).extend(values)
    return proto


def test_typed_val_inputs_as_perf_analyzer_sends_them(stub: Any, reference: Any) -> None:
    sample = SAMPLES["headline"]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "headline"
    request.inputs["headline"].CopyFrom(_typed(
        types_pb2.DT_STRING, [3], "string_val", [h.encode() for h in sample["headline"]]))
    request.inputs["aux"].CopyFrom(_typed(
        types_pb2.DT_FLOAT, [3, 5], "float_val", np.ravel(sample["aux"]).tolist()))
    assert_outputs_equal(decoded(stub.Predict(request, TIMEOUT_S)),
                         reference("headline", sample))

    # int_val into the `ids` signature (int32 token ids); fewer values than the shape holds
    # repeat the last one, as tf.make_ndarray reads them.
    ids = {"left": [[5, 6, 7, 0], [8, 9, 9, 9]], "right": [[5, 6, 0, 0], [3, 3, 3, 3]]}
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "similarity"
    request.model_spec.signature_name = "ids"
    request.inputs["left"].CopyFrom(_typed(types_pb2.DT_INT32, [2, 4], "int_val",
                                           [5, 6, 7, 0, 8, 9]))
    request.inputs["right"].CopyFrom(_typed(types_pb2.DT_INT32, [2, 4], "int_val",
                                            np.ravel(ids["right"]).tolist()))
    response = stub.Predict(request, TIMEOUT_S)
    assert response.model_spec.signature_name == "ids"
    assert_outputs_equal(decoded(response), reference("similarity", ids, signature="ids"))


def test_same_outputs_on_every_protocol(stub: Any, channel: grpc.Channel, gateway: Any) -> None:
    """TF Serving gRPC, TF Serving REST and multihead.v1 gRPC agree within 1e-5."""
    gateway_stub = gateway_pb2_grpc.GatewayStub(channel)
    for model in ("headline", "profiler"):
        sample = SAMPLES[model]
        tfs = as_numpy(stub.Predict(make_request(model), TIMEOUT_S))
        rest = gateway.post(f"/v1/models/{model}:predict", {"inputs": sample})
        assert rest.status_code == 200, rest.text
        outputs = rest.json()["outputs"]
        request = gateway_pb2.PredictRequest(model_spec=gateway_pb2.ModelSpec(name=model))
        for name, values in sample.items():
            array = (np.asarray(values, np.float32) if name == "aux"
                     else np.array([v.encode() for v in values], dtype=object))
            codec.to_tensor(array, out=request.inputs[name])
        multihead = {n: codec.to_numpy(t)
                     for n, t in gateway_stub.Predict(request, timeout=TIMEOUT_S).outputs.items()}
        assert set(tfs) == set(outputs) == set(multihead)
        for name, array in tfs.items():
            if array.dtype == object:
                assert [b.decode() for b in array.ravel()] == np.ravel(outputs[name]).tolist()
                assert multihead[name].tolist() == array.tolist()
            else:
                np.testing.assert_allclose(np.asarray(outputs[name]), array, atol=1e-5, rtol=0)
                np.testing.assert_allclose(multihead[name], array, atol=1e-5, rtol=0)


# -- GetModelMetadata -------------------------------------------------------------------


def metadata_request(model: str, *fields: str) -> get_model_metadata_pb2.GetModelMetadataRequest:
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = model
    request.metadata_field.extend(fields)
    return request


@pytest.mark.parametrize("model", MODELS)
def test_metadata_as_perf_analyzer_reads_it(stub: Any, gateway: Any, gateway_repo: Any,
                                            model: str) -> None:
    response = stub.GetModelMetadata(metadata_request(model, "signature_def"), TIMEOUT_S)
    assert response.model_spec.name == model
    assert response.model_spec.version.value == versions_of(gateway_repo.path, model)[-1]
    assert response.metadata["signature_def"].type_url == SIGNATURE_DEF_MAP_URL
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(sig_map)
    assert {"serving_default", "ids"} <= set(sig_map.signature_def)

    # perf_analyzer --service-kind=tfserving turns the response into JSON (C++
    # MessageToJsonString; MessageToJson in Python) and reads
    # metadata.signature_def.signature_def[sig].inputs[*].{dtype, tensor_shape}.
    doc = json.loads(json_format.MessageToJson(response, preserving_proto_field_name=True))
    signatures = doc["metadata"]["signature_def"]["signature_def"]
    loaded = tf.saved_model.load(str(gateway_repo.path / model /
                                     str(versions_of(gateway_repo.path, model)[-1])))
    for sig_name in ("serving_default", "ids"):
        inputs = signatures[sig_name]["inputs"]
        want = loaded.signatures[sig_name].structured_input_signature[1]
        assert set(inputs) == set(want)
        for alias, spec in want.items():
            assert inputs[alias]["dtype"] == types_pb2.DataType.Name(spec.dtype.as_datatype_enum)
            assert [int(d["size"]) for d in inputs[alias]["tensor_shape"]["dim"]] == \
                [-1 if d is None else d for d in spec.shape.as_list()]
            assert inputs[alias]["name"].endswith(":0")
        assert set(signatures[sig_name]["outputs"]) == set(
            loaded.signatures[sig_name].structured_outputs)
        assert signatures[sig_name]["method_name"] == "tensorflow/serving/predict"
    # The same signatures as TF Serving's REST metadata of the gateway.
    rest = gateway.get(f"/v1/models/{model}/metadata").json()
    assert rest["metadata"]["signature_def"]["signature_def"].keys() == signatures.keys()


def test_metadata_errors_are_tf_servings(stub: Any, gateway_repo: Any) -> None:
    cases = [
        (metadata_request("profiler"), grpc.StatusCode.INVALID_ARGUMENT,
         "GetModelMetadataRequest must specify at least one metadata_field"),
        (metadata_request("profiler", "signature_def", "graph"),
         grpc.StatusCode.INVALID_ARGUMENT, "Metadata field graph is not supported"),
        (get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"]),
         grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec"),
    ]
    for request, code, message in cases:
        error = rpc_error(lambda r=request: stub.GetModelMetadata(r, TIMEOUT_S))
        assert (error.code(), error.details()) == (code, message)
    error = rpc_error(lambda: stub.GetModelMetadata(metadata_request("nosuch", "signature_def"),
                                                    TIMEOUT_S))
    assert error.code() is grpc.StatusCode.NOT_FOUND and "nosuch" in error.details()
    request = metadata_request("similarity", "signature_def")
    request.model_spec.version_label = "stable"
    response = stub.GetModelMetadata(request, TIMEOUT_S)
    assert response.model_spec.version.value == gateway_repo.stable


# -- ModelService -----------------------------------------------------------------------


def status_request(model: str, **spec: Any) -> get_model_status_pb2.GetModelStatusRequest:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = model
    if "version" in spec:
        request.model_spec.version.value = spec["version"]
    if "version_label" in spec:
        request.model_spec.version_label = spec["version_label"]
    return request


def test_model_status_as_tf_serving(model_stub: Any, gateway_repo: Any) -> None:
    available = get_model_status_pb2.ModelVersionStatus.AVAILABLE
    both = {gateway_repo.stable, gateway_repo.canary}
    for spec, versions in [({}, both), ({"version": gateway_repo.stable}, {gateway_repo.stable}),
                           ({"version_label": "stable"}, both)]:  # a label is ignored
        response = model_stub.GetModelStatus(status_request("similarity", **spec), TIMEOUT_S)
        statuses = response.model_version_status
        assert {s.version for s in statuses} == versions, spec
        assert all(s.state == available and s.status.error_code == 0
                   and s.status.error_message == "" for s in statuses)
    cases = [
        (status_request("nosuch"), grpc.StatusCode.NOT_FOUND,
         "Could not find any versions of model nosuch"),
        (status_request("similarity", version=99), grpc.StatusCode.NOT_FOUND,
         "Could not find version 99 of model similarity"),
        (get_model_status_pb2.GetModelStatusRequest(), grpc.StatusCode.INVALID_ARGUMENT,
         "Missing ModelSpec"),
    ]
    for request, code, message in cases:
        error = rpc_error(lambda r=request: model_stub.GetModelStatus(r, TIMEOUT_S))
        assert (error.code(), error.details()) == (code, message)


def test_unimplemented_methods_name_the_alternative(stub: Any, model_stub: Any) -> None:
    calls = {
        "Classify": lambda: stub.Classify(classification_pb2.ClassificationRequest(), TIMEOUT_S),
        "Regress": lambda: stub.Regress(regression_pb2.RegressionRequest(), TIMEOUT_S),
        "MultiInference": lambda: stub.MultiInference(inference_pb2.MultiInferenceRequest(),
                                                      TIMEOUT_S),
    }
    for method, call in calls.items():
        error = rpc_error(call)
        assert error.code() is grpc.StatusCode.UNIMPLEMENTED, method
        assert method in error.details()
        assert "PredictionService.Predict" in error.details(), error.details()
    # Model management: closed on a gateway without an admin key (test_management.py).
    error = rpc_error(lambda: model_stub.HandleReloadConfigRequest(
        model_management_pb2.ReloadConfigRequest(), TIMEOUT_S))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "MULTIHEAD_ADMIN_KEYS" in error.details()


# -- bad input ----------------------------------------------------------------------------


def _edit(model: str, change: Callable[[predict_pb2.PredictRequest], None],
          **spec: Any) -> predict_pb2.PredictRequest:
    request = make_request(model, **spec)
    change(request)
    return request


def _set(name: str, proto: tensor_pb2.TensorProto) -> Callable[[Any], None]:
    return lambda r: r.inputs[name].CopyFrom(proto)


def _aux(shape: list[int], **fields: Any) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, **fields)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


def _name(request: predict_pb2.PredictRequest, name: str) -> None:
    request.model_spec.name = name


def _label(request: predict_pb2.PredictRequest, label: str) -> None:
    request.model_spec.version_label = label


# case -> (request, expected code, a word the message must hold)
BAD_INPUT: dict[str, tuple[Callable[[], predict_pb2.PredictRequest], grpc.StatusCode, str]] = {
    "no model_spec": (lambda: predict_pb2.PredictRequest(), grpc.StatusCode.INVALID_ARGUMENT,
                      "ModelSpec"),
    "empty model name": (lambda: _edit("profiler", lambda r: _name(r, "")),
                         grpc.StatusCode.INVALID_ARGUMENT, "model_spec.name"),
    "unknown model": (lambda: _edit("profiler", lambda r: _name(r, "nosuch")),
                      grpc.StatusCode.NOT_FOUND, "nosuch"),
    "unknown version": (lambda: make_request("similarity", version=99),
                        grpc.StatusCode.NOT_FOUND, "99"),
    "unknown label": (lambda: make_request("similarity", version_label="gold"),
                      grpc.StatusCode.INVALID_ARGUMENT, "gold"),
    "empty label": (lambda: _edit("similarity", lambda r: _label(r, "")),
                    grpc.StatusCode.INVALID_ARGUMENT, "version_label"),
    "unknown signature": (lambda: make_request("profiler", signature="nope"),
                          grpc.StatusCode.FAILED_PRECONDITION, "nope"),
    "unknown input": (lambda: _edit("profiler", _set("bogus", tf.make_tensor_proto(["x"]))),
                      grpc.StatusCode.INVALID_ARGUMENT, "bogus"),
    "missing input": (lambda: _edit("similarity", lambda r: r.inputs.pop("right")),
                      grpc.StatusCode.INVALID_ARGUMENT, "right"),
    "float for a string input": (
        lambda: _edit("profiler", _set("posts", tf.make_tensor_proto([1.0, 2.0]))),
        grpc.StatusCode.INVALID_ARGUMENT, "posts"),
    "int64 for an int32 input": (
        lambda: _edit("profiler", _set("posts", tf.make_tensor_proto([[3, 4]], tf.int64)),
                      signature="ids"),
        grpc.StatusCode.INVALID_ARGUMENT, "posts"),
    "unsupported dtype": (lambda: _edit("headline", _set("aux", tf.make_tensor_proto(
        np.zeros((3, 5), np.complex64)))), grpc.StatusCode.INVALID_ARGUMENT, "aux"),
    "rank too high": (lambda: _edit("profiler", _set("posts", tf.make_tensor_proto([["a"]]))),
                      grpc.StatusCode.INVALID_ARGUMENT, "posts"),
    "wrong trailing dim": (lambda: _edit("headline", _set("aux", tf.make_tensor_proto(
        np.zeros((3, 4), np.float32)))), grpc.StatusCode.INVALID_ARGUMENT, "aux"),
    "batch sizes differ": (lambda: _edit("headline", _set("aux", tf.make_tensor_proto(
        np.zeros((2, 5), np.float32)))), grpc.StatusCode.INVALID_ARGUMENT, "aux"),
    "empty batch": (lambda: _edit("profiler", _set("posts", tf.make_tensor_proto(
        np.zeros(0, object), tf.string))), grpc.StatusCode.INVALID_ARGUMENT, "posts"),
    "tensor_content of the wrong size": (
        lambda: _edit("headline", _set("aux", _aux([3, 5], tensor_content=b"\0" * 7))),
        grpc.StatusCode.INVALID_ARGUMENT, "aux"),
    "more float_val than the shape holds": (
        lambda: _edit("headline", _set("aux", _aux([3, 5], float_val=[0.5] * 16))),
        grpc.StatusCode.INVALID_ARGUMENT, "aux"),
    "negative dim": (lambda: _edit("headline", _set("aux", _aux([-3, 5], float_val=[0.5]))),
                     grpc.StatusCode.INVALID_ARGUMENT, "aux"),
    "shape claiming 2^40 values": (
        lambda: _edit("headline", _set("aux", _aux([1 << 35, 32], float_val=[0.5]))),
        grpc.StatusCode.INVALID_ARGUMENT, "aux"),
    "NaN": (lambda: _edit("headline", _set("aux", _aux([3, 5], float_val=[float("nan")]))),
            grpc.StatusCode.INVALID_ARGUMENT, "aux"),
    "unknown output alias": (
        lambda: _edit("profiler", lambda r: r.output_filter.append("height")),
        grpc.StatusCode.INVALID_ARGUMENT, "height"),
    "repeated output alias": (
        lambda: _edit("profiler", lambda r: r.output_filter.extend(["age", "age"])),
        grpc.StatusCode.INVALID_ARGUMENT, "age"),
}


def test_bad_input_gets_a_clear_status_and_the_server_keeps_serving(stub: Any,
                                                                   gateway: Any) -> None:
    rejected = gateway.metric("multihead_requests_total", protocol="tfserving",
                              code="INVALID_ARGUMENT")
    problems = []
    for case, (build, code, word) in BAD_INPUT.items():
        error = rpc_error(lambda b=build: stub.Predict(b(), TIMEOUT_S))
        if error.code() in BAD_CODES or error.code() is not code or word not in error.details():
            problems.append(f"{case}: {error.code().name} {error.details()!r}")
        assert len(error.details()) <= 1024 + len("...TRUNCATED"), case
    assert not problems, "\n".join(problems)
    # A message is cut at 1024 characters, as TF Serving cuts it.
    long_alias = "x" * 3000
    error = rpc_error(lambda: stub.Predict(
        _edit("profiler", _set(long_alias, tf.make_tensor_proto(["a"]))), TIMEOUT_S))
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert len(error.details()) == 1024 + len("...TRUNCATED")
    assert error.details().endswith("...TRUNCATED")
    # Rejections are counted under protocol="tfserving", whether the core saw them or not.
    invalid = sum(code is grpc.StatusCode.INVALID_ARGUMENT for _, code, _ in BAD_INPUT.values())
    assert gateway.metric("multihead_requests_total", protocol="tfserving",
                          code="INVALID_ARGUMENT") - rejected == invalid + 1
    served = gateway.metric("multihead_requests_total", protocol="tfserving", code="OK")
    assert as_numpy(stub.Predict(make_request("profiler"), TIMEOUT_S))["age"].shape == (3,)
    assert gateway.metric("multihead_requests_total", protocol="tfserving", model="profiler",
                          code="OK") >= 1
    assert gateway.metric("multihead_requests_total", protocol="tfserving", code="OK") == \
        served + 1


# -- README ---------------------------------------------------------------------------------

README_BLOCK = re.compile(r"<!-- tfserving-grpc-example:begin -->\s*```python\n(.*?)```", re.S)


def test_readme_snippet_runs_unchanged(gateway: Any, capsys: pytest.CaptureFixture[str]) -> None:
    if gateway.backend != "embedded":
        pytest.skip("the README example runs once, against the default runtime")
    match = README_BLOCK.search((REPO_ROOT / "README.md").read_text())
    assert match, "README.md has no tfserving-grpc-example block"
    code = match.group(1)
    assert code.count("localhost:9000") == 1
    exec(compile(code.replace("localhost:9000", gateway.grpc_target), "README", "exec"), {})
    printed = capsys.readouterr().out
    assert re.search(r"age \[[-0-9.e ]+\]", printed), printed
    assert re.search(r"income_label \[b'", printed), printed


# -- in process: API keys, reflection, a foreign SavedModel ------------------------------------


def test_api_keys_reflection_and_half_plus_two_in_process(tmp_path: Path) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    from serving.config import Settings
    from serving.grpc.server import serve
    from serving.rest import build_service

    class HalfPlusTwo(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"y": 0.5 * x + 2.0}

    module = HalfPlusTwo()
    tf.saved_model.save(module, str(tmp_path / "half_plus_two" / "123"),
                        signatures={"serving_default": module.serve})
    settings = Settings(model_dir=str(tmp_path), api_keys=("s3cret",), poll_interval_s=0.2,
                        host="127.0.0.1", grpc_port=free_port())
    service = build_service(settings)
    service.start()
    server = None
    try:
        assert service.wait_ready(60), service.readiness()
        server = serve(settings, service)
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as ch:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(ch)
            models = model_service_pb2_grpc.ModelServiceStub(ch)
            request = predict_pb2.PredictRequest()
            request.model_spec.name = "half_plus_two"
            request.inputs["x"].CopyFrom(tf.make_tensor_proto([1.0, 2.0, 5.0]))
            for metadata in [(), (("authorization", "Bearer nope"),)]:
                for call in (lambda m=metadata: stub.Predict(request, 10, metadata=m),
                             lambda m=metadata: models.GetModelStatus(
                                 status_request("half_plus_two"), 10, metadata=m)):
                    error = rpc_error(call)
                    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
                    assert "authorization" in error.details()
            auth = (("authorization", "Bearer s3cret"),)
            response = stub.Predict(request, 10, metadata=auth)
            assert list(response.outputs["y"].float_val) == [2.5, 3.0, 4.5]
            assert tf.make_ndarray(response.outputs["y"]).tolist() == [2.5, 3.0, 4.5]
            assert response.model_spec.version.value == 123
            status = models.GetModelStatus(status_request("half_plus_two"), 10, metadata=auth)
            assert [s.version for s in status.model_version_status] == [123]
            meta = stub.GetModelMetadata(metadata_request("half_plus_two", "signature_def"),
                                         10, metadata=auth)
            sig_map = get_model_metadata_pb2.SignatureDefMap()
            meta.metadata["signature_def"].Unpack(sig_map)
            x = sig_map.signature_def["serving_default"].inputs["x"]
            assert x.dtype == types_pb2.DT_FLOAT
            assert [d.size for d in x.tensor_shape.dim] == [-1]
            # probes and reflection stay open, and reflection lists TF Serving's services
            health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(),
                                                          timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            answers = reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
            names = {s.name for a in answers for s in a.list_services_response.service}
            assert {"tensorflow.serving.PredictionService",
                    "tensorflow.serving.ModelService"} <= names
    finally:
        if server is not None:
            server.stop(0)
        service.stop()
