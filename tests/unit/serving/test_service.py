"""InferenceService end to end in-process: listing, predict, heads, tasks, metrics."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest

from serving.core import tasks
from serving.core.calls import ModelRef
from serving.errors import DeadlineExceeded, InvalidInput
from tests.unit.serving.conftest import install, origin, predict_call

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def service(exports: dict, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from serving.backends.embedded import EmbeddedBackend
    from serving.core.service import InferenceService
    from serving.metrics import Metrics
    from tests.unit.serving.conftest import settings_for

    repo = str(tmp_path_factory.mktemp("service-repo"))
    install(exports["pairs_v1"], repo, "pairs", 1)
    for name in ("similarity", "profiler", "qa"):
        shutil.copytree(os.path.join(exports["tasks"], name), os.path.join(repo, name))
    settings = settings_for(repo, max_batch_size=8)
    svc = InferenceService(settings, EmbeddedBackend(settings), Metrics())
    svc.start()
    assert svc.backend.wait_ready(60), svc.readiness()
    yield svc
    svc.stop()


PAIRS = {"left": ["ab", "c"], "right": ["c", "abcd"], "aux": [[1, 2, 3, 4, 5], [0] * 5]}


def sample(svc, name: str, labels: dict) -> float:  # noqa: ANN001
    return svc.metrics.registry.get_sample_value(name, labels) or 0.0


def test_list_models_payload(service) -> None:  # noqa: ANN001
    from serving.protocols.multihead.rest import model_json

    models = {m["name"]: m for m in map(model_json, service.list_models())}
    assert sorted(models) == ["pairs", "profiler", "qa", "similarity"]
    pairs = models["pairs"]
    assert pairs["versions"] == [{"version": 1, "state": "AVAILABLE"}]
    assert pairs["signatures"] == ["ids", "serving_default"]
    assert pairs["description"].startswith("Test model")
    assert [i["name"] for i in pairs["inputs"]] == ["left", "right", "aux"]  # the card's order
    left = pairs["inputs"][0]
    assert left["dtype"] == "DT_STRING" and left["shape"] == [-1] and left["max_tokens"] == 8
    assert "truncated" in left["truncation"]
    assert pairs["inputs"][2]["shape"] == [-1, 5]
    assert pairs["heads"][2] == {"name": "kind", "kind": "multiclass",
                                 "labels": ["left", "right", "neither"]}


def test_predict_heads_and_filter(service) -> None:  # noqa: ANN001
    full = service.predict(origin(), predict_call("pairs", PAIRS))
    assert sorted(full.outputs) == ["kind", "kind_label", "match", "match_label", "size"]
    assert full.outputs["size"].tolist() == [2 + 1 + 15, 1 + 4]
    assert full.outputs["match_label"].tolist() == [b"yes", b"no"]
    only = service.predict(origin(), predict_call("pairs", PAIRS, heads=("kind",)))
    assert sorted(only.outputs) == ["kind", "kind_label"]
    np.testing.assert_array_equal(only.outputs["kind"], full.outputs["kind"])
    # The ids signature sees the same lengths as token counts and agrees.
    ids = service.predict(origin(), predict_call("pairs", signature="ids", inputs={
        "left": [[5, 6], [7]], "right": [[1], [2, 3, 4, 9]], "aux": PAIRS["aux"]}))
    np.testing.assert_allclose(ids.outputs["size"], full.outputs["size"])
    assert ids.outputs["kind_label"].tolist() == full.outputs["kind_label"].tolist()


def test_head_metrics_and_request_counts(service) -> None:  # noqa: ANN001
    labels = {"model": "pairs", "head": "match", "label": "yes"}
    before_yes = sample(service, "multihead_head_predictions_total", labels)
    before_ok = sample(service, "multihead_requests_total", {
        "model": "pairs", "version": "1", "protocol": "multihead", "transport": "grpc",
        "code": "OK"})
    before_size = sample(service, "multihead_head_value_count", {"model": "pairs", "head": "size"})
    service.predict(origin("multihead", "grpc"), predict_call("pairs", PAIRS))
    assert sample(service, "multihead_head_predictions_total", labels) == before_yes + 1
    assert sample(service, "multihead_head_value_count", {
        "model": "pairs", "head": "size"}) == before_size + 2
    assert sample(service, "multihead_requests_total", {
        "model": "pairs", "version": "1", "protocol": "multihead", "transport": "grpc",
        "code": "OK"}) == before_ok + 1
    with pytest.raises(InvalidInput):
        service.predict(origin(), predict_call("pairs", {**PAIRS, "aux": [[0] * 4] * 2}))
    assert sample(service, "multihead_requests_total", {
        "model": "pairs", "version": "1", "protocol": "multihead", "transport": "rest",
        "code": "INVALID_ARGUMENT"}) >= 1
    assert sample(service, "multihead_inflight_requests", {}) == 0
    assert sample(service, "multihead_backend_duration_seconds_count", {
        "model": "pairs", "backend": "embedded"}) >= 1


def test_deadline_already_passed(service) -> None:  # noqa: ANN001
    with pytest.raises(DeadlineExceeded):
        service.predict(origin(timeout_s=0), predict_call("pairs", PAIRS))


def test_similarity_task(service) -> None:  # noqa: ANN001
    version, scores = similarity(service, [["abc", "xyz"], ["a", "abcd"]])
    assert version == 1
    assert scores[0] == pytest.approx(0.5)  # equal lengths: sigmoid(0)
    assert scores[1] == pytest.approx(1 / (1 + math.exp(0.1 * 9)), rel=1e-5)


def test_profile_task(service) -> None:  # noqa: ANN001
    from serving.protocols.multihead.rest import profile_json

    version, profiles = profile(service, [["hi"], ["a" * 30, "b" * 29]])
    short, long = map(profile_json, profiles)
    assert version == 1
    assert short["age"] == pytest.approx(20.2) and long["age"] == pytest.approx(26.0)
    assert set(short["income"]["distribution"]) == {"low", "lower-middle", "upper-middle",
                                                     "high"}
    assert sum(short["income"]["distribution"].values()) == pytest.approx(1.0, rel=1e-5)
    assert short["income"]["probability"] == max(short["income"]["distribution"].values())
    assert short["gender"]["label"] == "female" and long["gender"]["label"] == "male"
    assert short["gender"]["probability"] > 0.5 and long["gender"]["probability"] > 0.5


def test_answer_task(service) -> None:  # noqa: ANN001
    version, answers = answer(service, "a long text here", "why?", top_k=3)
    assert version == 1 and len(answers) == 3
    scores = [p for _, p in answers]
    assert scores == sorted(scores, reverse=True)
    assert answers[0][0] == "paris"  # the longest input dominates in the toy model
    assert len(answer(service, "t", "q", top_k=50)[1]) == 4  # capped at the label count


def similarity(svc, pairs, model: str = "similarity"):  # noqa: ANN001, ANN201
    return svc.similarity(origin(), tasks.SimilarityTask(ModelRef(model), pairs))


def profile(svc, authors):  # noqa: ANN001, ANN201
    return svc.profile(origin(), tasks.ProfileTask(ModelRef("profiler"), authors))


def answer(svc, text, question, top_k=tasks.DEFAULT_TOP_K):  # noqa: ANN001, ANN201
    return svc.answer(origin(), tasks.AnswerTask(ModelRef("qa"), text, question, top_k))


@pytest.mark.parametrize("call,words", [
    (lambda s: similarity(s, []), "Field 'pairs' must be a non-empty list"),
    (lambda s: similarity(s, [["a"]]), "Field 'pairs[0]' must be a list of two strings"),
    (lambda s: similarity(s, [["a", 1]]), "Field 'pairs[0]'"),
    (lambda s: similarity(s, [["a", "b"]] * 9), "at most 8 (max_batch_size)"),
    (lambda s: profile(s, [[]]), "Field 'authors[0]' must be a non-empty list of post strings"),
    (lambda s: profile(s, "posts"), "Field 'authors' must be a non-empty list"),
    (lambda s: answer(s, "", "q"), "Field 'text' must be a non-empty string"),
    (lambda s: answer(s, "t", None), "Field 'question' must be a non-empty string"),
    (lambda s: answer(s, "t", "q", top_k=0), "Field 'top_k' must be a positive integer"),
    (lambda s: answer(s, "t", "q", top_k=True), "Field 'top_k'"),
    (lambda s: similarity(s, [["a", "b"]], model="pairs"), "Missing input 'aux'"),
])
def test_task_bad_input(service, call, words: str) -> None:  # noqa: ANN001
    with pytest.raises(InvalidInput) as err:
        call(service)
    assert words in err.value.message
