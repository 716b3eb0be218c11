"""Every REST route of the gateway against the real gunicorn server, 2 workers.

Predictions are compared, head by head, with a direct in-process call of the
same signature of the same SavedModel (`tf.saved_model.load`), within 1e-5.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from tests.integration.conftest import (
    MODELS,
    SAMPLES,
    assert_outputs_equal,
    rows_to_columns,
)

pytestmark = pytest.mark.slow


def test_probes_answer_json(gateway):
    assert gateway.get("/healthz").json() == {"status": "ok"}
    ready = gateway.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    metrics = gateway.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE multihead_inflight_requests gauge" in metrics.text
    doc = gateway.get("/openapi.json")
    assert doc.status_code == 200 and doc.json()["openapi"].startswith("3.")


def test_list_models_describes_every_model(gateway, gateway_repo):
    models = {m["name"]: m for m in gateway.get("/v1/models").json()["models"]}
    assert set(MODELS) <= set(models)
    for name in MODELS:
        assert any(v["state"] == "AVAILABLE" for v in models[name]["versions"])
        assert {i["name"] for i in models[name]["inputs"]} == set(SAMPLES[name])
        assert models[name]["heads"]
    assert models["similarity"]["labels"] == {"stable": gateway_repo.stable,
                                              "canary": gateway_repo.canary}


def test_model_status_is_tf_serving_json(gateway):
    body = gateway.get("/v1/models/profiler").json()
    (entry,) = body["model_version_status"]
    assert isinstance(entry["version"], str) and int(entry["version"]) >= 1
    assert entry["state"] == "AVAILABLE"
    assert entry["status"] == {"error_code": "OK", "error_message": ""}
    # TF Serving matches paths case-insensitively and percent-decodes names.
    assert gateway.get("/V1/Models/profiler").json() == body
    assert gateway.get("/v1/models/%70rofiler").json() == body


@pytest.mark.parametrize("model", MODELS)
def test_metadata_is_tf_serving_json(gateway, model):
    body = gateway.get(f"/v1/models/{model}/metadata").json()
    assert body["model_spec"]["name"] == model
    assert body["model_spec"]["signature_name"] == ""
    assert body["model_spec"]["version"].isdigit()
    sigs = body["metadata"]["signature_def"]["signature_def"]
    assert {"serving_default", "ids"} <= set(sigs)
    default = sigs["serving_default"]
    assert set(default["inputs"]) == set(SAMPLES[model])
    assert default["method_name"] == "tensorflow/serving/predict"
    for name, info in default["inputs"].items():
        expected = "DT_FLOAT" if name == "aux" else "DT_STRING"
        assert info["dtype"] == expected
        assert info["tensor_shape"]["unknown_rank"] is False
        assert info["tensor_shape"]["dim"][0] == {"size": "-1", "name": ""}
        assert info["name"].endswith(":0") or ":" in info["name"]
    assert all(info["dtype"] == "DT_INT32" or name == "aux"
               for name, info in sigs["ids"]["inputs"].items())


@pytest.mark.parametrize("model", MODELS)
def test_row_predict_equals_direct_call(gateway, reference, model):
    sample = SAMPLES[model]
    n = len(next(iter(sample.values())))
    instances = [{k: v[i] for k, v in sample.items()} for i in range(n)]
    resp = gateway.post(f"/v1/models/{model}:predict", {"instances": instances})
    assert resp.status_code == 200, resp.text
    want = reference(model, sample)
    got = rows_to_columns(resp.json()["predictions"],
                          single_output=next(iter(want)) if len(want) == 1 else None)
    assert_outputs_equal(got, want)


@pytest.mark.parametrize("model", MODELS)
def test_columnar_predict_equals_direct_call(gateway, reference, model):
    sample = SAMPLES[model]
    resp = gateway.post(f"/v1/models/{model}:predict",
                        {"inputs": sample, "signature_name": "serving_default"})
    assert resp.status_code == 200, resp.text
    want = reference(model, sample)
    outputs = resp.json()["outputs"]
    got = outputs if len(want) > 1 else {next(iter(want)): outputs}
    assert_outputs_equal(got, want)


def test_single_input_row_format_is_bare_values(gateway, reference):
    posts = SAMPLES["profiler"]["posts"]
    resp = gateway.post("/v1/models/profiler:predict", {"instances": posts})
    assert resp.status_code == 200, resp.text
    assert_outputs_equal(rows_to_columns(resp.json()["predictions"]),
                         reference("profiler", {"posts": posts}))


def test_ids_signature_pads_ragged_token_rows(gateway, reference):
    left, right = [[5, 6, 7], [8, 9]], [[5, 6], [10, 11, 12, 13]]
    resp = gateway.post("/v1/models/similarity:predict",
                        {"signature_name": "ids", "inputs": {"left": left, "right": right}})
    assert resp.status_code == 200, resp.text
    want = reference("similarity", {"left": [[5, 6, 7], [8, 9, 0]],
                                    "right": [[5, 6, 0, 0], [10, 11, 12, 13]]},
                     signature="ids")
    assert_outputs_equal({"similarity": resp.json()["outputs"]}, want)


def test_heads_filter_keeps_named_heads(gateway, reference):
    posts = SAMPLES["profiler"]["posts"]
    want = reference("profiler", {"posts": posts})
    resp = gateway.post("/v1/models/profiler:predict",
                        {"instances": posts, "heads": ["age", "gender"]})
    assert resp.status_code == 200, resp.text
    got = rows_to_columns(resp.json()["predictions"])
    # A classification head brings its _label output along.
    assert_outputs_equal(got, {k: want[k] for k in ("age", "gender", "gender_label")})
    # One named head is still keyed by its name: the client asked for it by name.
    resp = gateway.post("/v1/models/profiler:predict", {"inputs": posts, "heads": ["age"]})
    assert resp.json()["outputs"].keys() == {"age"}
    np.testing.assert_allclose(resp.json()["outputs"]["age"], want["age"], atol=1e-5)


def test_b64_strings_equal_plain_text(gateway):
    left, right = SAMPLES["similarity"]["left"], SAMPLES["similarity"]["right"]
    plain = gateway.post("/v1/models/similarity:predict",
                         {"inputs": {"left": left, "right": right}}).json()["outputs"]
    encoded = [{"b64": base64.b64encode(t.encode()).decode()} for t in left]
    via_b64 = gateway.post("/v1/models/similarity:predict",
                           {"inputs": {"left": encoded, "right": right}}).json()["outputs"]
    np.testing.assert_allclose(via_b64, plain, atol=1e-6)


def test_versions_and_labels(gateway, gateway_repo, reference):
    stable, canary = gateway_repo.stable, gateway_repo.canary
    status = gateway.get("/v1/models/similarity").json()["model_version_status"]
    assert {e["version"] for e in status} == {str(stable), str(canary)}
    assert all(e["state"] == "AVAILABLE" for e in status)
    for path, version in [(f"/versions/{stable}", stable), (f"/versions/{canary}", canary),
                          ("/labels/stable", stable), ("/labels/canary", canary),
                          ("/Labels/canary", canary), ("", canary)]:
        meta = gateway.get(f"/v1/models/similarity{path}/metadata")
        assert meta.status_code == 200, (path, meta.text)
        assert meta.json()["model_spec"]["version"] == str(version), path
        if path:
            (entry,) = gateway.get(f"/v1/models/similarity{path}").json()[
                "model_version_status"]
            assert entry["version"] == str(version)
        resp = gateway.post(f"/v1/models/similarity{path}:predict",
                            {"inputs": SAMPLES["similarity"]})
        assert resp.status_code == 200, resp.text
        assert_outputs_equal({"similarity": resp.json()["outputs"]},
                             reference("similarity", SAMPLES["similarity"], version=version))
    task = gateway.post("/v1/similarity", {"pairs": [["a b", "a b"]], "label": "stable"})
    assert task.json()["model_version"] == stable
    assert gateway.get("/v1/models/similarity/versions/999").status_code == 404
    unknown_label = gateway.get("/v1/models/similarity/labels/nope")
    assert unknown_label.status_code == 400 and "nope" in unknown_label.json()["error"]


def test_similarity_endpoint_matches_predict(gateway, reference):
    left, right = SAMPLES["similarity"]["left"], SAMPLES["similarity"]["right"]
    pairs = [list(p) for p in zip(left, right, strict=True)]
    resp = gateway.post("/v1/similarity", {"pairs": pairs})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert isinstance(body["model_version"], int)
    want = reference("similarity", {"left": left, "right": right},
                     version=body["model_version"])["similarity"]
    np.testing.assert_allclose(body["scores"], want, atol=1e-5)
    assert all(0.0 <= s <= 1.0 for s in body["scores"])


def test_profile_endpoint_reports_every_head(gateway, reference):
    authors = [p.split("\n") for p in SAMPLES["profiler"]["posts"]]
    resp = gateway.post("/v1/profile", {"authors": authors})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    want = reference("profiler", {"posts": ["\n".join(a) for a in authors]})
    assert len(body["profiles"]) == len(authors)
    for i, prof in enumerate(body["profiles"]):
        assert prof["age"] == pytest.approx(float(want["age"][i]), abs=1e-4)
        dist = prof["income"]["distribution"]
        assert sum(dist.values()) == pytest.approx(1.0, abs=1e-4)
        assert prof["income"]["label"] == max(dist, key=dist.get)
        assert prof["income"]["label"] == want["income_label"][i].decode()
        assert prof["income"]["probability"] == pytest.approx(dist[prof["income"]["label"]])
        assert prof["gender"]["label"] == want["gender_label"][i].decode()
        assert 0.5 <= prof["gender"]["probability"] <= 1.0


def test_answer_endpoint_ranks_answers(gateway):
    resp = gateway.post("/v1/answer", {"text": SAMPLES["qa"]["text"][0],
                                       "question": SAMPLES["qa"]["question"][0], "top_k": 3})
    assert resp.status_code == 200, resp.text
    answers = resp.json()["answers"]
    assert len(answers) == 3
    scores = [a["score"] for a in answers]
    assert scores == sorted(scores, reverse=True)
    assert all(isinstance(a["answer"], str) and a["answer"] for a in answers)
    # The top answer is the model's own argmax label.
    predicted = gateway.post("/v1/models/qa:predict", {"instances": [
        {"text": SAMPLES["qa"]["text"][0], "question": SAMPLES["qa"]["question"][0]}]})
    assert answers[0]["answer"] == predicted.json()["predictions"][0]["answer_label"]


def test_router_errors_are_json(gateway):
    missing = gateway.get("/v2/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND" and "/v2/nothing/here" in missing.json()["error"]
    wrong = gateway.client.put("/healthz")
    assert wrong.status_code == 405 and wrong.json()["code"] == "UNIMPLEMENTED"
    assert "GET" in wrong.headers["allow"]
    assert gateway.get("/v1/models/qa:predict").status_code == 405


def test_half_plus_two_and_api_keys_in_process(tmp_path):
    """TF Serving's classic model answers as TF Serving does; bearer keys guard the API
    but not the probes. In-process app over the real embedded runtime."""
    import tensorflow as tf

    from serving.config import Settings
    from serving.rest import build_service, create_app

    class HalfPlusTwo(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def serve(self, x):
            return {"y": 0.5 * x + 2.0}

    module = HalfPlusTwo()
    tf.saved_model.save(module, str(tmp_path / "half_plus_two" / "123"),
                        signatures={"serving_default": module.serve})
    settings = Settings(model_dir=str(tmp_path), api_keys=("s3cret",), poll_interval_s=0.2)
    service = build_service(settings)
    service.start()
    try:
        assert service.wait_ready(60), service.readiness()
        client = create_app(settings, service).test_client()
        assert client.get("/readyz").status_code == 200  # probes stay open
        assert client.get("/metrics").status_code == 200
        denied = client.post("/v1/models/half_plus_two:predict", json={"instances": [1.0]})
        assert denied.status_code == 401 and denied.json["code"] == "UNAUTHENTICATED"
        assert denied.headers["WWW-Authenticate"] == "Bearer"
        wrong = client.get("/v1/models/half_plus_two",
                           headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        auth = {"Authorization": "Bearer s3cret"}
        ok = client.post("/v1/models/half_plus_two:predict",
                         json={"instances": [1.0, 2.0, 5.0]}, headers=auth)
        assert ok.status_code == 200 and ok.json == {"predictions": [2.5, 3.0, 4.5]}
        cols = client.post("/v1/models/half_plus_two/versions/123:predict",
                           json={"inputs": [1.0, 2.0]}, headers=auth)
        assert cols.json == {"outputs": [2.5, 3.0]}
        meta = client.get("/v1/models/half_plus_two/metadata", headers=auth).json
        assert meta["model_spec"] == {"name": "half_plus_two", "signature_name": "",
                                      "version": "123"}
        x = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]["x"]
        assert x["dtype"] == "DT_FLOAT"
        assert x["tensor_shape"] == {"dim": [{"size": "-1", "name": ""}],
                                     "unknown_rank": False}
    finally:
        service.stop()


def test_diagram_route_serves_the_export_picture(gateway, gateway_repo):
    resp = gateway.get("/v1/models/similarity/labels/stable/diagram")
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    version = gateway_repo.path / "similarity" / str(gateway_repo.stable)
    assert resp.content == (version / "assets.extra" / "model.png").read_bytes()
    missing = gateway.get("/v1/models/nosuchmodel/diagram")
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
