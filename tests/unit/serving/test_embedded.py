"""The embedded runtime on real SavedModels: foreign models, hot reload, warm-up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serving.backends.embedded import EmbeddedBackend
from serving.errors import FailedPrecondition, GatewayError, InvalidInput, NotFound, Unavailable
from tests.processes import wait_until
from tests.unit.serving.conftest import export_pairs, install, origin, predict_call, settings_for

pytestmark = pytest.mark.timeout(120)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_half_plus_two_serves_like_tf_serving(exports: dict, make_service, tmp_path) -> None:
    repo = str(tmp_path)
    install(exports["half_plus_two"], repo, "half_plus_two", 123)
    # What TF Serving ignores, the runtime ignores: temp exports, non-integer dirs.
    os.makedirs(os.path.join(repo, "half_plus_two", ".tmp-export-abc"))
    shutil.copytree(exports["half_plus_two"], os.path.join(repo, "half_plus_two", "latest"))
    service = make_service(repo)
    assert [(s.version, s.state, s.error_code) for s in service.model_status("half_plus_two")] \
        == [(123, "AVAILABLE", "OK")]
    result = service.predict(origin(), predict_call("half_plus_two", {"x": [1.0, 2, 5.0]}))
    assert result.version == 123 and result.signature == "serving_default"
    assert result.outputs["y"].tolist() == [2.5, 3.0, 4.5]  # TF Serving's documented answer
    mv = service.resolve("half_plus_two")
    assert mv.card is None
    sig = service.signature(mv, "")
    x, y = sig.inputs["x"], sig.outputs["y"]
    assert (x.dtype, x.shape, x.tensor_name) == ("DT_FLOAT", (None,), "serving_default_x:0")
    assert (y.dtype, y.shape) == ("DT_FLOAT", (None,)) and y.tensor_name.endswith(":0")
    assert sig.method_name == "tensorflow/serving/predict"
    from serving.protocols.multihead.rest import model_json

    [listing] = map(model_json, service.list_models())
    assert listing["inputs"] == [{"name": "x", "dtype": "DT_FLOAT", "kind": "float",
                                  "shape": [-1]}]
    assert listing["heads"] == [{"name": "y", "kind": "output", "labels": None}]
    assert "without a model card" in listing["description"]


def test_lookup_errors(exports: dict, make_service, tmp_path) -> None:
    repo = str(tmp_path)
    install(exports["half_plus_two"], repo, "half_plus_two", 1)
    service = make_service(repo)
    x = {"x": [1.0]}
    with pytest.raises(NotFound, match="Model 'nope' not found"):
        service.predict(origin(), predict_call("nope", x))
    with pytest.raises(NotFound, match="Version 7 of model 'half_plus_two' not found"):
        service.predict(origin(), predict_call("half_plus_two", x, version=7))
    with pytest.raises(InvalidInput, match="Unknown version label 'stable'"):
        service.predict(origin(), predict_call("half_plus_two", x, label="stable"))
    with pytest.raises(FailedPrecondition, match="Signature 'ids' not found .* serving_default"):
        service.predict(origin(), predict_call("half_plus_two", signature="ids", inputs=x))
    with pytest.raises(NotFound):
        service.model_status("nope")
    # The client-chosen name never becomes a metric label value.
    assert service.metrics.registry.get_sample_value("multihead_requests_total", {
        "model": "_unknown", "version": "", "protocol": "multihead", "transport": "rest",
        "code": "NOT_FOUND"}) == 1


def test_hot_reload_without_failing_a_request(exports: dict, make_service, tmp_path) -> None:
    repo = str(tmp_path)
    install(exports["pairs_v1"], repo, "pairs", 1)
    service = make_service(repo)
    held = service.resolve("pairs", 1)  # a request that resolved v1 and is still running
    call = predict_call("pairs", {"left": ["ab"], "right": ["c"],
                                              "aux": np.zeros((1, 5))})
    stop, seen, errors = threading.Event(), [], []

    def client() -> None:
        while not stop.is_set():
            try:
                r = service.predict(origin(), call)
                seen.append((r.version, float(r.outputs["size"][0])))
            except Exception as exc:  # any failure is the bug this test looks for
                errors.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        wait_until(lambda: len(seen) > 5, 30)
        install(exports["pairs_v2"], repo, "pairs", 2)
        wait_until(lambda: seen[-1][0] == 2, 30)
        shutil.rmtree(os.path.join(repo, "pairs", "1"))
        wait_until(lambda: service.model_status("pairs", 1)[0].state == "END", 30)
        n = len(seen)
        wait_until(lambda: len(seen) > n + 5, 30)
    finally:
        stop.set()
        thread.join(30)
    assert errors == []
    assert {v for v, _ in seen} == {1, 2}
    assert {s for v, s in seen if v == 1} == {3.0} and {s for v, s in seen if v == 2} == {103.0}
    versions = [v for v, _ in seen]
    assert versions == sorted(versions)  # once v2 served, v1 never answered again
    with pytest.raises(NotFound):
        service.resolve("pairs", 1)
    # The unloaded version still finishes work for whoever holds it.
    out = service.backend.predict(held, "serving_default", {
        "left": np.array([b"ab"], object), "right": np.array([b"c"], object),
        "aux": np.zeros((1, 5), np.float32)})
    assert out["size"].tolist() == [3.0]
    gauge = service.metrics.registry.get_sample_value
    assert gauge("multihead_model_loaded", {"model": "pairs", "version": "1"}) == 0
    assert gauge("multihead_model_loaded", {"model": "pairs", "version": "2"}) == 1


def test_warm_up_runs_before_available(exports: dict, make_service, tmp_path) -> None:
    repo = str(tmp_path)
    install(exports["pairs_v1"], repo, "pairs", 1)
    settings = settings_for(repo)
    backend = EmbeddedBackend(settings)
    events = []
    backend.add_state_listener(lambda name, version, state: events.append(
        (state, backend.version_info(name, version)["warmup_requests"])))
    backend.start()
    try:
        assert backend.wait_ready(60), backend.readiness()
    finally:
        backend.stop()
    assert events[:3] == [("START", 0), ("LOADING", 0), ("AVAILABLE", 2)]


def test_failed_warm_up_or_load_keeps_version_out(tmp_path, make_service, exports) -> None:
    repo = str(tmp_path / "repo")
    bad_warmup = [("serving_default", {"nope": np.array([b"x"])})]
    export_pairs(str(tmp_path / "bad"), warmup=bad_warmup)
    install(str(tmp_path / "bad"), repo, "pairs", 1)
    install(exports["half_plus_two"], repo, "broken", 1)
    with open(os.path.join(repo, "broken", "1", "saved_model.pb"), "wb") as fh:
        fh.write(b"not a saved model")
    service = make_service(repo, wait=False)
    assert service.backend._scanned.wait(30)
    [status] = service.model_status("pairs")
    assert status.state == "END" and status.error_code == "UNKNOWN"
    assert "warm-up request 0 failed" in status.error_message
    assert "nope" in status.error_message
    [broken] = service.model_status("broken")
    assert broken.state == "END" and "Loading" in broken.error_message
    with pytest.raises(Unavailable, match="no AVAILABLE version"):
        service.resolve("pairs")
    reasons = service.readiness()
    assert any("model 'pairs' has no AVAILABLE version" in r for r in reasons), reasons
    # A repaired export (new files) is picked up by the next scan.
    shutil.rmtree(os.path.join(repo, "pairs", "1"))
    install(exports["pairs_v1"], repo, "pairs", 1)
    wait_until(lambda: service.model_status("pairs")[0].state == "AVAILABLE", 30)


def test_backend_does_not_import_tensorflow_before_start(tmp_path) -> None:
    code = ("import sys\n"
            "from serving.config import Settings\n"
            "from serving.backends.factory import create_backend\n"
            "from serving.core.service import InferenceService\n"
            "from serving.metrics import Metrics\n"
            f"s = Settings(model_dir={str(tmp_path)!r})\n"
            "svc = InferenceService(s, create_backend(s), Metrics())\n"
            "print(svc.readiness())\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "has not started" in proc.stdout


def test_unknown_backend_is_a_clear_error() -> None:
    from serving.backends.factory import create_backend
    from serving.config import Settings

    with pytest.raises(ValueError, match="MULTIHEAD_BACKEND must be one of"):
        create_backend(Settings(backend="onnx"))


def test_graph_errors_become_invalid_input(exports: dict, make_service, tmp_path) -> None:
    repo = str(tmp_path)
    install(exports["half_plus_two"], repo, "half_plus_two", 1)
    service = make_service(repo)
    mv = service.resolve("half_plus_two")
    # Bypass validation: strings for a float input reach the runtime, which refuses them.
    with pytest.raises(GatewayError) as err:
        service.backend.predict(mv, "serving_default", {"x": np.array([b"a"], object)})
    assert err.value.status == 400 and "half_plus_two" in err.value.message


def test_real_headline_export(make_service, model_repo, tmp_path) -> None:
    """A real export: card-driven listing, warm-up, padded ids, batched == unbatched."""
    repo = str(tmp_path)
    shutil.copytree(os.path.join(model_repo, "headline"), os.path.join(repo, "headline"))
    service = make_service(repo, batch_timeout_micros=20_000)
    [info] = service.list_models()
    listing = {"inputs": [{"name": i.name} for i in info.inputs],
               "versions": [{"version": v.version} for v in info.versions]}
    assert [i["name"] for i in listing["inputs"]] == ["headline", "aux"]
    version = listing["versions"][0]["version"]
    assert service.backend.version_info("headline", version)["warmup_requests"] >= 1
    calls = [predict_call("headline", signature="ids", inputs={
        "headline": [[5, 6, 7][:1 + i % 3]], "aux": [[0.1 * i] * 5]}) for i in range(6)]
    with ThreadPoolExecutor(len(calls)) as pool:
        batched = list(pool.map(lambda c: service.predict(origin(), c), calls))
    for call, got in zip(calls, batched, strict=True):
        want = service.backend.predict(service.resolve("headline"), "ids", {
            "headline": np.array(call.decode(None)["headline"], np.int32),
            "aux": np.array(call.decode(None)["aux"], np.float32)})
        for head in ("main_output", "aux_output"):
            np.testing.assert_allclose(got.outputs[head], want[head], rtol=1e-5, atol=1e-6)
    with pytest.raises(InvalidInput, match="Input 'headline' has a sequence of 25 tokens"):
        service.predict(origin(), predict_call("headline", signature="ids", inputs={
            "headline": [[3] * 25], "aux": [[0] * 5]}))


def test_flat_signature_calls_answer_as_tensorflows_own_call(model_repo, exports) -> None:
    """Every signature of the default models and of a foreign export is called flat
    (serving/backends/signature_call.py), with the same outputs as `fn(**tensors)`."""
    import tensorflow as tf

    from serving.backends.savedmodel_meta import read_warmup_requests
    from serving.backends.signature_call import SignatureCall

    paths = [os.path.join(model_repo, m, "1") for m in sorted(os.listdir(model_repo))]
    paths.append(exports["half_plus_two"])
    checked = 0
    for path in paths:
        loaded = tf.saved_model.load(path)
        requests = {sig: arrays for sig, arrays in read_warmup_requests(path)}
        if not requests:  # half_plus_two has no warm-up file
            requests = {"serving_default": {"x": np.array([1.0, 2.0, 5.0], np.float32)}}
        for sig, arrays in requests.items():
            call = SignatureCall(loaded.signatures[sig])
            assert call.flat, (path, sig)
            tensors = {k: tf.convert_to_tensor(v, dtype=call.dtypes[k]) for k, v in arrays.items()}
            want = loaded.signatures[sig](**tensors)
            got = call(arrays)
            assert got.keys() == want.keys()
            for name, value in want.items():
                np.testing.assert_array_equal(got[name].numpy(), value.numpy(), err_msg=name)
            checked += 1
    assert checked >= len(paths)
