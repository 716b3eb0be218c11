"""Client behaviour against scripted loopback servers: what goes on the wire, what
comes back, client-side checks, auth, lifecycle."""

from __future__ import annotations

import asyncio

import multihead_client as mh
import numpy as np
import pytest
from multihead_client._proto import gateway_pb2 as pb

from .conftest import ScriptedHTTP, ok_similarity

PROFILE_JSON = {"profiles": [{"age": 31.5,
                              "income": {"label": "50-75k", "probability": 0.625,
                                         "distribution": {"<25k": 0.125, "50-75k": 0.625,
                                                          ">75k": 0.25}},
                              "gender": {"label": "female", "probability": 0.875}}],
                "model_version": 2}
PROFILE_PB = pb.ProfileResponse(model_version=2, profiles=[pb.Profile(
    age=31.5,
    income=pb.LabelledProbability(label="50-75k", probability=0.625,
                                  distribution={"<25k": 0.125, "50-75k": 0.625, ">75k": 0.25}),
    gender=pb.LabelledProbability(label="female", probability=0.875))])
ANSWER_JSON = {"answers": [{"answer": "mat", "score": 0.75}, {"answer": "hat", "score": 0.125}],
               "model_version": 1}
ANSWER_PB = pb.AnswerResponse(model_version=1, answers=[pb.ScoredAnswer(answer="mat", score=0.75),
                                                        pb.ScoredAnswer(answer="hat", score=0.125)])


def is_http(server) -> bool:
    return isinstance(server, ScriptedHTTP)


def test_typed_results_are_the_same_on_both_transports(server):
    server.script.extend([("ok", PROFILE_JSON if is_http(server) else PROFILE_PB),
                          ("ok", ANSWER_JSON if is_http(server) else ANSWER_PB)])
    with mh.Client(server.url) as client:
        profile = client.profile(["I love hiking", "Mortgage rates again"])
        answer = client.answer("The cat sat on the mat.", "Where did the cat sit?", top_k=2)
    assert profile == mh.Profile(31.5, mh.LabelProbability("50-75k", 0.625, {
        "<25k": 0.125, "50-75k": 0.625, ">75k": 0.25}), mh.LabelProbability("female", 0.875), 2)
    assert repr(profile) == (
        "Profile(age=31.5, income=LabelProbability(label='50-75k', probability=0.625, "
        "distribution={'50-75k': 0.625, '>75k': 0.25, '<25k': 0.125}), "
        "gender=LabelProbability(label='female', probability=0.875), model_version=2)")
    assert answer.best == "mat" and answer.score == 0.75
    assert repr(answer) == ("Answer(best='mat', answers=[('mat', 0.75), ('hat', 0.125)], "
                            "model_version=1)")
    if is_http(server):
        assert server.requests[0]["path"] == "/v1/profile"
        assert server.requests[0]["body"] == {"authors": [["I love hiking",
                                                           "Mortgage rates again"]]}
        assert server.requests[1]["body"] == {"text": "The cat sat on the mat.",
                                              "question": "Where did the cat sit?", "top_k": 2}
    else:
        assert [list(a.posts) for a in server.requests[0]["request"].authors] == [
            ["I love hiking", "Mortgage rates again"]]
        assert server.requests[1]["request"].top_k == 2


def test_predict_sends_named_inputs_and_decodes_heads(server):
    if is_http(server):
        server.script.append(("ok", {"outputs": {"age": [[30.5], [41.0]],
                                                 "income_label": ["low", "high"]}}))
    else:
        server.script.append(("ok", pb.PredictResponse(outputs={
            "age": pb.Tensor(dtype=pb.DATA_TYPE_FLOAT32, shape=[2, 1], float_values=[30.5, 41]),
            "income_label": pb.Tensor(dtype=pb.DATA_TYPE_STRING, shape=[2],
                                      string_values=[b"low", b"high"])})))
    with mh.Client(server.url) as client:
        out = client.predict("profiler", {"posts": ["a b", "c"]}, heads=["age", "income_label"],
                             version=3, signature="serving_default")
    np.testing.assert_allclose(out["age"], [[30.5], [41.0]])
    assert out["income_label"].dtype == object and list(out["income_label"]) == ["low", "high"]
    if is_http(server):
        req = server.requests[0]
        assert req["path"] == "/v1/models/profiler/versions/3:predict"
        assert req["body"] == {"inputs": {"posts": ["a b", "c"]},
                               "heads": ["age", "income_label"],
                               "signature_name": "serving_default"}
    else:
        req = server.requests[0]["request"]
        assert req.model_spec.name == "profiler" and req.model_spec.version == 3
        assert list(req.output_filter) == ["age", "income_label"]
        assert req.inputs["posts"].dtype == pb.DATA_TYPE_STRING
        assert list(req.inputs["posts"].string_values) == [b"a b", b"c"]


def test_bare_single_output_is_named_from_metadata(http_server):
    meta = {"model_spec": {"name": "similarity", "version": "1", "signature_name": ""},
            "metadata": {"signature_def": {"signature_def": {"serving_default": {
                "inputs": {"left": {"dtype": "DT_STRING", "tensor_shape": {
                    "dim": [{"size": "-1", "name": ""}], "unknown_rank": False}}},
                "outputs": {"similarity": {"dtype": "DT_FLOAT", "tensor_shape": {
                    "dim": [{"size": "-1"}, {"size": "1"}], "unknown_rank": False}}},
                "method_name": "tensorflow/serving/predict"}}}}}
    models = {"models": [{"name": "similarity", "versions": [{"version": 1,
                                                              "state": "AVAILABLE"}],
                          "inputs": ["left", "right"],
                          "heads": [{"name": "similarity", "kind": "binary", "labels": []}]}]}
    http_server.script.extend([("ok", {"outputs": [[0.5]]}), ("ok", meta), ("ok", models),
                               ("ok", {"outputs": [[0.25]]})])
    with mh.Client(http_server.url) as client:
        first = client.predict("similarity", {"left": ["a"], "right": ["b"]})
        second = client.predict("similarity", {"left": ["a"], "right": ["c"]})
    assert list(first) == ["similarity"] and first["similarity"].tolist() == [[0.5]]
    assert second["similarity"].tolist() == [[0.25]]
    assert len(http_server.requests) == 4  # the name lookup is cached


def test_version_label_and_model_name_are_quoted_in_paths(http_server):
    http_server.script.append(("ok", {"outputs": {"y": [1.0]}}))
    with mh.Client(http_server.url) as client:
        client.predict("my model", {"x": [1.0]}, label="canary/1")
    assert http_server.requests[0]["path"] == "/v1/models/my%20model/labels/canary%2F1:predict"


@pytest.mark.parametrize(("call", "match"), [
    (lambda c: c.similarity_many([]), "at least one"),
    (lambda c: c.similarity("", "b"), "must not be empty"),
    (lambda c: c.similarity(1, "b"), "must be a string"),
    (lambda c: c.similarity_many([("a",)]), r"pairs\[0\]"),
    (lambda c: c.similarity_many("ab"), "list of"),
    (lambda c: c.profile("one post, not a list"), "not a single string"),
    (lambda c: c.profile([]), "at least one post"),
    (lambda c: c.profile_many([["ok"], [None]]), r"authors\[1\]\[0\]"),
    (lambda c: c.answer("text", 42), "question must be a string"),
    (lambda c: c.answer("text", "q?", top_k=0), "top_k"),
    (lambda c: c.predict("m", {}), "non-empty dict"),
    (lambda c: c.predict("m", {"x": [[1, 2], [3]]}), "ragged"),
    (lambda c: c.predict("m", {"x": "text"}), "not a single string"),
    (lambda c: c.predict("m", {"x": [1]}, version=1, label="stable"), "not both"),
    (lambda c: c.predict("m", {"x": [1]}, version=-1), "non-negative integer"),
    (lambda c: c.metadata(""), "model must not be empty"),
    (lambda c: c.models(timeout=-1), "timeout"),
])
def test_obvious_mistakes_raise_invalid_input_before_any_call(server, call, match):
    with mh.Client(server.url) as client:
        with pytest.raises(mh.InvalidInput, match=match):
            call(client)
    assert server.requests == []


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://host", "http://", 42])
def test_bad_urls(url):
    with pytest.raises(mh.InvalidInput):
        mh.Client(url)


def test_api_key_is_sent_as_bearer_token(server):
    server.script.append(ok_similarity(server))
    with mh.Client(server.url, api_key="s3cret") as client:
        client.similarity("a", "b")
    headers = server.requests[0]["headers" if is_http(server) else "metadata"]
    assert headers["authorization"] == "Bearer s3cret"


def test_close_is_idempotent_and_closed_client_refuses_calls(server):
    client = mh.Client(server.url)
    assert repr(client) == f"Client({server.url!r}, timeout=5, retries=2)"
    with client:
        pass
    client.close()
    with pytest.raises(RuntimeError, match="closed"):
        client.models()


def test_connections_are_reused(http_server):
    http_server.script.extend([ok_similarity(http_server)] * 3)
    ports = set()
    with mh.Client(http_server.url) as client:
        for _ in range(3):
            client.similarity("a", "b")
            # httpx keeps one pooled connection open to the server
            pool = client._transport._client._transport._pool
            ports.update(id(c) for c in pool.connections)
    assert len(ports) == 1


@pytest.mark.parametrize("connections", [1, 3])
def test_grpc_calls_go_round_their_own_connections(grpc_server, connections):
    # Each channel opens its own connection (grpcio would share one among them), so the
    # calls reach more than one gateway worker; the server tells connections by peer.
    grpc_server.script.extend([ok_similarity(grpc_server)] * 2 * connections)
    with mh.Client(grpc_server.url, grpc_connections=connections) as client:
        for _ in range(2 * connections):
            client.similarity("a", "b")
    peers = [call["peer"] for call in grpc_server.requests]
    assert len(set(peers)) == connections, peers
    assert len(set(peers[:connections])) == connections, peers  # round robin


def test_async_grpc_calls_go_round_their_own_connections(grpc_server):
    grpc_server.script.extend([ok_similarity(grpc_server)] * 4)

    async def go():
        async with mh.AsyncClient(grpc_server.url, grpc_connections=2) as client:
            for _ in range(4):
                await client.similarity("a", "b")

    asyncio.run(go())
    assert len({call["peer"] for call in grpc_server.requests}) == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_grpc_connections_must_be_a_positive_integer(bad):
    with pytest.raises(mh.InvalidInput, match="grpc_connections"):
        mh.Client("grpc://127.0.0.1:9", grpc_connections=bad)


def test_async_client_same_results(server):
    server.script.extend([("ok", PROFILE_JSON if is_http(server) else PROFILE_PB),
                          ok_similarity(server)])

    async def go():
        client = mh.AsyncClient(server.url)
        try:
            return await client.profile_many([["x"]]), await client.similarity("a", "b")
        finally:
            await client.close()
            await client.close()

    profiles, score = asyncio.run(go())
    assert profiles[0].income.label == "50-75k" and score == pytest.approx(0.75)


def test_task_calls_can_pick_model_version_or_label(server):
    server.script.extend([ok_similarity(server), ok_similarity(server)])
    with mh.Client(server.url) as client:
        client.similarity("a", "b", label="canary")
        client.similarity_many([("a", "b")], model="similarity2", version=7)
    if is_http(server):
        assert server.requests[0]["body"] == {"pairs": [["a", "b"]], "label": "canary"}
        assert server.requests[1]["body"] == {"pairs": [["a", "b"]], "model": "similarity2",
                                              "version": 7}
    else:
        first, second = (c["request"].model_spec for c in server.requests)
        assert first.version_label == "canary" and first.name == ""  # server's default model
        assert second.name == "similarity2" and second.version == 7


def test_python_numbers_typed_for_grpc_exact_for_rest(server):
    if is_http(server):
        server.script.extend([("ok", {"outputs": {"y": [1.0]}})] * 2)
    else:
        ok = ("ok", pb.PredictResponse(outputs={"y": pb.Tensor(
            dtype=pb.DATA_TYPE_FLOAT32, shape=[1], float_values=[1.0])}))
        server.script.extend([ok, ok])
    with mh.Client(server.url) as client:
        client.predict("headline", {"aux": [[0.1, 2]], "ids": [[3, 4]]})
        client.predict("headline", {"aux": np.array([[0.1, 2]])})  # numpy keeps float64
    if is_http(server):
        assert server.requests[0]["body"]["inputs"] == {"aux": [[0.1, 2.0]], "ids": [[3, 4]]}
        assert server.requests[1]["body"]["inputs"] == {"aux": [[0.1, 2.0]]}
    else:
        first, second = (c["request"].inputs for c in server.requests)
        assert first["aux"].dtype == pb.DATA_TYPE_FLOAT32 and list(first["aux"].shape) == [1, 2]
        assert first["ids"].dtype == pb.DATA_TYPE_INT32
        assert second["aux"].dtype == pb.DATA_TYPE_FLOAT64
        assert list(second["aux"].double_values) == [0.1, 2.0]
