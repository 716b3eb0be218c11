"""The gateway's gRPC API (multihead.v1.Gateway, health, reflection) through a real
channel against the real gunicorn gateway, on every model runtime of the session
`gateway` fixture (embedded, and tfserving in front of the TF Serving stand-in).

Predictions are compared with a direct in-process call of the same signature of
the same SavedModel, and the task RPCs with the REST task endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
import pytest
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from serving.protocols.multihead import codec
from serving.protocols.multihead._gen import gateway_pb2 as pb
from serving.protocols.multihead._gen import gateway_pb2_grpc
from tests.integration.conftest import MODELS, SAMPLES, assert_outputs_equal

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SERVICE = "multihead.v1.Gateway"
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> gateway_pb2_grpc.GatewayStub:
    return gateway_pb2_grpc.GatewayStub(channel)


def wire_inputs(model: str, sample: dict[str, list[Any]] | None = None) -> dict[str, pb.Tensor]:
    """SAMPLES[model] as wire tensors: text as bytes, `aux` as float32."""
    out = {}
    for name, values in (sample or SAMPLES[model]).items():
        if name == "aux":
            array = np.asarray(values, dtype=np.float32)
        else:
            array = np.array([v.encode() for v in values], dtype=object)
        out[name] = codec.to_tensor(array)
    return out


def predict_request(model: str, **spec: Any) -> pb.PredictRequest:
    request = pb.PredictRequest(model_spec=pb.ModelSpec(name=model, **spec))
    for name, tensor in wire_inputs(model).items():
        request.inputs[name].CopyFrom(tensor)
    return request


def decoded(response: pb.PredictResponse) -> dict[str, np.ndarray]:
    """Outputs as numpy; string outputs as text (what `assert_outputs_equal` compares)."""
    out = {}
    for name, tensor in response.outputs.items():
        array = codec.to_numpy(tensor)
        if array.dtype == object:
            array = np.vectorize(lambda b: b.decode(), otypes=[object])(array)
        out[name] = array
    return out


def newest(repo: Any, model: str) -> int:
    return max(int(p.name) for p in (repo.path / model).iterdir() if p.name.isdigit())


# -- health and reflection ----------------------------------------------------------------

def test_health_is_serving_once_models_are_loaded(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_S)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.RpcError) as info:
        health.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=TIMEOUT_S)
    assert info.value.code() is grpc.StatusCode.NOT_FOUND


def test_a_call_built_from_the_reflected_service(channel: grpc.Channel, reference: Any) -> None:
    database = ProtoReflectionDescriptorDatabase(channel)
    assert {SERVICE, "grpc.health.v1.Health"} <= set(database.get_services())
    pool = descriptor_pool.DescriptorPool(database)
    method = pool.FindServiceByName(SERVICE).FindMethodByName("Predict")
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    # Built from field names only: no generated stubs are involved on this side.
    request = request_cls()
    request.model_spec.name = "similarity"
    string_dtype = method.input_type.fields_by_name["inputs"].message_type \
        .fields_by_name["value"].message_type.fields_by_name["dtype"].enum_type \
        .values_by_name["DATA_TYPE_STRING"].number
    for name, texts in SAMPLES["similarity"].items():
        tensor = request.inputs[name]
        tensor.dtype = string_dtype
        tensor.shape.append(len(texts))
        tensor.string_values.extend(t.encode() for t in texts)
    call = channel.unary_unary(f"/{SERVICE}/{method.name}",
                               request_serializer=request_cls.SerializeToString,
                               response_deserializer=response_cls.FromString)
    response = call(request, timeout=TIMEOUT_S)
    scores = list(response.outputs["similarity"].float_values)
    want = reference("similarity", SAMPLES["similarity"], version=response.model_spec.version)
    np.testing.assert_allclose(scores, want["similarity"], atol=1e-5)


# -- Predict ------------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_predict_equals_direct_call(stub: Any, reference: Any, gateway_repo: Any,
                                    model: str) -> None:
    response = stub.Predict(predict_request(model), timeout=TIMEOUT_S)
    version = newest(gateway_repo, model)
    assert (response.model_spec.name, response.model_spec.version,
            response.model_spec.signature_name) == (model, version, "serving_default")
    assert_outputs_equal(decoded(response), reference(model, SAMPLES[model], version=version))


def test_output_filter_keeps_named_heads(stub: Any, reference: Any) -> None:
    request = predict_request("profiler")
    request.output_filter.extend(["age", "gender"])
    got = decoded(stub.Predict(request, timeout=TIMEOUT_S))
    want = reference("profiler", SAMPLES["profiler"])
    # As over REST, a classification head brings its _label output along.
    assert_outputs_equal(got, {k: want[k] for k in ("age", "gender", "gender_label")})


def test_ids_signature_with_int32_inputs(stub: Any, reference: Any) -> None:
    ids = np.array([[5, 6, 7, 0], [8, 9, 10, 11]], dtype=np.int32)
    request = pb.PredictRequest(model_spec=pb.ModelSpec(name="profiler", signature_name="ids"))
    codec.to_tensor(ids, out=request.inputs["posts"])
    response = stub.Predict(request, timeout=TIMEOUT_S)
    assert response.model_spec.signature_name == "ids"
    assert_outputs_equal(decoded(response),
                         reference("profiler", {"posts": ids}, signature="ids"))


def test_versions_and_labels(stub: Any, gateway_repo: Any, reference: Any) -> None:
    for spec, version in [({"version": gateway_repo.stable}, gateway_repo.stable),
                          ({"version_label": "stable"}, gateway_repo.stable),
                          ({"version_label": "canary"}, gateway_repo.canary),
                          ({}, gateway_repo.canary)]:
        response = stub.Predict(predict_request("similarity", **spec), timeout=TIMEOUT_S)
        assert response.model_spec.version == version, spec
        assert_outputs_equal(decoded(response),
                             reference("similarity", SAMPLES["similarity"], version=version))


# -- metadata and listing -----------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_metadata_describes_signatures_and_heads(stub: Any, gateway_repo: Any,
                                                 model: str) -> None:
    response = stub.GetModelMetadata(
        pb.GetModelMetadataRequest(model_spec=pb.ModelSpec(name=model)), timeout=TIMEOUT_S)
    assert (response.model_spec.name, response.model_spec.version) == (
        model, newest(gateway_repo, model))
    assert {"serving_default", "ids"} <= set(response.signatures)
    default = response.signatures["serving_default"]
    assert set(default.inputs) == set(SAMPLES[model])
    for name, info in default.inputs.items():
        want = pb.DATA_TYPE_FLOAT32 if name == "aux" else pb.DATA_TYPE_STRING
        assert (info.dtype, info.shape[0], info.unknown_rank) == (want, -1, False), name
    card = json.loads(response.model_card_json)
    assert card["name"] == model
    assert [h.name for h in response.heads] == [h["name"] for h in card["heads"]]
    assert {h.kind for h in response.heads} <= {"regression", "binary", "multiclass"}
    only_ids = stub.GetModelMetadata(pb.GetModelMetadataRequest(
        model_spec=pb.ModelSpec(name=model, signature_name="ids")), timeout=TIMEOUT_S)
    assert list(only_ids.signatures) == ["ids"]


def test_list_models(stub: Any, gateway_repo: Any) -> None:
    models = {m.name: m for m in stub.ListModels(pb.ListModelsRequest(),
                                                 timeout=TIMEOUT_S).models}
    assert set(MODELS) <= set(models)
    for name in MODELS:
        assert any(v.state == "AVAILABLE" for v in models[name].versions)
        assert set(models[name].inputs) == set(SAMPLES[name])
        assert models[name].heads
    assert dict(models["similarity"].version_labels) == {"stable": gateway_repo.stable,
                                                         "canary": gateway_repo.canary}
    assert {v.version for v in models["similarity"].versions} == {gateway_repo.stable,
                                                                 gateway_repo.canary}


# -- task RPCs: the same answers as the REST task endpoints -------------------------------

def test_similarity_matches_rest(stub: Any, gateway: Any) -> None:
    pairs = list(zip(SAMPLES["similarity"]["left"], SAMPLES["similarity"]["right"],
                     strict=True))
    reply = stub.Similarity(pb.SimilarityRequest(
        pairs=[pb.SentencePair(left=a, right=b) for a, b in pairs]), timeout=TIMEOUT_S)
    rest = gateway.post("/v1/similarity", {"pairs": [list(p) for p in pairs]}).json()
    assert reply.model_version == rest["model_version"]
    np.testing.assert_allclose(reply.scores, rest["scores"], atol=1e-6)


def test_profile_matches_rest(stub: Any, gateway: Any) -> None:
    authors = [p.split("\n") for p in SAMPLES["profiler"]["posts"]]
    reply = stub.Profile(pb.ProfileRequest(authors=[pb.Posts(posts=a) for a in authors]),
                         timeout=TIMEOUT_S)
    rest = gateway.post("/v1/profile", {"authors": authors}).json()
    assert reply.model_version == rest["model_version"]
    assert len(reply.profiles) == len(rest["profiles"]) == len(authors)
    for got, want in zip(reply.profiles, rest["profiles"], strict=True):
        assert got.age == pytest.approx(want["age"], abs=1e-4)
        for head in ("income", "gender"):
            part = getattr(got, head)
            assert part.label == want[head]["label"]
            assert part.probability == pytest.approx(want[head]["probability"], abs=1e-6)
            assert dict(part.distribution) == pytest.approx(want[head]["distribution"],
                                                            abs=1e-6)


def test_answer_matches_rest(stub: Any, gateway: Any) -> None:
    text, question = SAMPLES["qa"]["text"][0], SAMPLES["qa"]["question"][0]
    reply = stub.Answer(pb.AnswerRequest(text=text, question=question, top_k=3),
                        timeout=TIMEOUT_S)
    rest = gateway.post("/v1/answer", {"text": text, "question": question, "top_k": 3}).json()
    assert [a.answer for a in reply.answers] == [a["answer"] for a in rest["answers"]]
    np.testing.assert_allclose([a.score for a in reply.answers],
                               [a["score"] for a in rest["answers"]], atol=1e-6)
    default_k = stub.Answer(pb.AnswerRequest(text=text, question=question), timeout=TIMEOUT_S)
    assert len(default_k.answers) == 5


# -- errors: the gRPC column of the REST table --------------------------------------------

def _with(model: str, change: Callable[[pb.PredictRequest], Any], **spec: Any) -> Callable:
    def build() -> pb.PredictRequest:
        request = predict_request(model, **spec)
        change(request)
        return request
    return build


ERRORS = {
    "unknown model": (_with("qa", lambda r: setattr(r.model_spec, "name", "nope")),
                      grpc.StatusCode.NOT_FOUND, "nope"),
    "unknown version": (_with("qa", lambda r: None, version=999), grpc.StatusCode.NOT_FOUND,
                        "999"),
    "unknown label": (_with("similarity", lambda r: None, version_label="gold"),
                      grpc.StatusCode.INVALID_ARGUMENT, "gold"),
    "unknown signature": (_with("qa", lambda r: None, signature_name="nope"),
                          grpc.StatusCode.FAILED_PRECONDITION, "nope"),
    "missing input": (_with("qa", lambda r: r.inputs.pop("question")),
                      grpc.StatusCode.INVALID_ARGUMENT, "question"),
    "extra input": (_with("profiler", lambda r: r.inputs["extra"].CopyFrom(
        codec.to_tensor(np.array([b"x"], dtype=object)))),
        grpc.StatusCode.INVALID_ARGUMENT, "extra"),
    "wrong dtype": (_with("profiler", lambda r: r.inputs["posts"].CopyFrom(
        codec.to_tensor(np.array([1.0, 2.0], dtype=np.float32)))),
        grpc.StatusCode.INVALID_ARGUMENT, "posts"),
    "values do not fit the shape": (_with("profiler", lambda r: r.inputs["posts"].shape.append(
        7)), grpc.StatusCode.INVALID_ARGUMENT, "inputs['posts']"),
    "unknown output filter": (_with("profiler", lambda r: r.output_filter.append("height")),
                              grpc.StatusCode.INVALID_ARGUMENT, "height"),
    "no model name": (_with("qa", lambda r: r.model_spec.ClearField("name")),
                      grpc.StatusCode.INVALID_ARGUMENT,
                      "model_spec.name"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_have_the_rest_tables_codes(stub: Any, case: str) -> None:
    build, code, fragment = ERRORS[case]
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(build(), timeout=TIMEOUT_S)
    assert info.value.code() is code, info.value.details()
    assert fragment in info.value.details()


def test_task_rpc_errors(stub: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.Similarity(pb.SimilarityRequest(), timeout=TIMEOUT_S)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "pairs" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        stub.Answer(pb.AnswerRequest(text="x", question="y", top_k=-1), timeout=TIMEOUT_S)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "top_k" in \
        info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        stub.Profile(pb.ProfileRequest(authors=[pb.Posts()],
                                       model_spec=pb.ModelSpec(name="qa")), timeout=TIMEOUT_S)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_message_over_max_request_bytes_is_resource_exhausted(stub: Any) -> None:
    # The session gateway runs with MULTIHEAD_MAX_REQUEST_BYTES=1000000 (REST: 413).
    request = pb.PredictRequest(model_spec=pb.ModelSpec(name="profiler"))
    codec.to_tensor(np.array([b"x" * 1_100_000], dtype=object), out=request.inputs["posts"])
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(request, timeout=TIMEOUT_S)
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_grpc_requests_are_counted_under_protocol_grpc(stub: Any, gateway: Any) -> None:
    before = gateway.metric("multihead_requests_total", model="headline", protocol="multihead",
                            transport="grpc", code="OK")
    for _ in range(3):
        stub.Predict(predict_request("headline"), timeout=TIMEOUT_S)
    after = gateway.metric("multihead_requests_total", model="headline", protocol="multihead",
                           transport="grpc", code="OK")
    assert after - before == 3
