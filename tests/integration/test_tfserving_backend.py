"""The `tfserving` backend against the TF Serving stand-in (its gRPC server on loopback,
in this process: nothing here stops it), side by side with the embedded backend on the
same repository and model config: same models, versions, labels, signatures, cards,
outputs and errors.

Also: the stand-in answers TF Serving's status codes and messages; the backend
retries UNAVAILABLE (only) against a real gRPC server, and decodes both
TensorProto encodings.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import errors
from serving.backends.base import ModelVersion
from serving.backends.embedded import EmbeddedBackend
from serving.backends.tfserving import TFServingBackend, array_to_proto, proto_to_array
from serving.config import Settings
from tests.fakes import NO_BINARY_REASON, TFSERVING_BINARY, start_real_tfserving
from tests.fakes.tfserving_fake import InProcessTFServing
from tests.integration.conftest import MODELS, SAMPLES, add_version, versions_of
from tests.processes import wait_until

pytestmark = pytest.mark.slow


def wait_ready(backend: Any, timeout_s: float = 120.0) -> None:
    wait_until(lambda: not backend.readiness(), timeout_s, 0.1, what="ready",
               diagnose=lambda: "; ".join(backend.readiness()))


@pytest.fixture(scope="module", params=["stand-in", TFSERVING_BINARY])
def fake(request: pytest.FixtureRequest, gateway_repo: Any) -> Iterator[Any]:
    """TF Serving on the session repository: the stand-in, and the real server if present."""
    if request.param == TFSERVING_BINARY:
        if shutil.which(TFSERVING_BINARY) is None:
            pytest.skip(NO_BINARY_REASON)
        handle: Any = start_real_tfserving(gateway_repo.path, model_config=gateway_repo.config)
    else:
        handle = InProcessTFServing(gateway_repo.path, model_config=gateway_repo.config).start()
    with handle:
        yield handle


@pytest.fixture(scope="module")
def backends(gateway_repo: Any, fake: Any) -> Iterator[tuple[TFServingBackend, EmbeddedBackend]]:
    settings = Settings(model_dir=str(gateway_repo.path), model_config=str(gateway_repo.config),
                        tfserving_addr=fake.address, poll_interval_s=0.5)
    remote = TFServingBackend(settings.replace(backend="tfserving"))
    local = EmbeddedBackend(settings)
    remote.start()
    local.start()
    try:
        wait_ready(remote)
        wait_ready(local)
        yield remote, local
    finally:
        remote.stop()
        local.stop()


def inputs_for(model: str, signature: str) -> dict[str, np.ndarray]:
    if signature == "ids":
        ids = np.array([[5, 6, 7, 0], [8, 9, 10, 11], [2, 3, 0, 0]], dtype=np.int32)
        return {name: ids if name != "aux" else np.asarray(SAMPLES[model]["aux"], np.float32)
                for name in SAMPLES[model]}
    return {name: np.asarray(values, np.float32) if name == "aux"
            else np.array([v.encode() for v in values], dtype=object)
            for name, values in SAMPLES[model].items()}


def assert_same_arrays(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(want)
    for name, expected in want.items():
        if expected.dtype == object:
            assert got[name].tolist() == expected.tolist(), name
        else:
            assert got[name].dtype == expected.dtype, name
            np.testing.assert_allclose(got[name], expected, atol=1e-6, rtol=0, err_msg=name)


def test_models_versions_labels_and_descriptions_match(backends: Any) -> None:
    remote, local = backends
    assert remote.list_models() == local.list_models() and set(MODELS) <= set(
        remote.list_models())
    for name in remote.list_models():
        assert remote.model_status(name) == local.model_status(name), name
        mine, theirs = remote.resolve(name), local.resolve(name)
        assert (mine.version, dict(mine.labels)) == (theirs.version, dict(theirs.labels))
        # Signatures from TF Serving's metadata equal those read from saved_model.pb.
        assert dict(mine.signatures) == dict(theirs.signatures), name
        assert mine.card == theirs.card and mine.card.raw["name"] == name
    for label in ("stable", "canary"):
        assert remote.resolve("similarity", label=label).version == \
            local.resolve("similarity", label=label).version
        assert remote.model_status("similarity", label=label) == \
            local.model_status("similarity", label=label)


@pytest.mark.parametrize("signature", ["serving_default", "ids"])
@pytest.mark.parametrize("model", MODELS)
def test_outputs_equal_the_embedded_backends(backends: Any, model: str, signature: str) -> None:
    remote, local = backends
    mv = remote.resolve(model)
    arrays = inputs_for(model, signature)
    assert_same_arrays(remote.predict(mv, signature, arrays, timeout_s=30),
                       local.predict(local.resolve(model), signature, arrays, timeout_s=30))
    first = sorted(mv.signatures[signature].outputs)[:1]
    filtered = remote.predict(mv, signature, arrays, output_filter=first, timeout_s=30)
    assert list(filtered) == first


def test_older_version_through_all_policy(backends: Any, gateway_repo: Any) -> None:
    remote, local = backends
    arrays = inputs_for("similarity", "serving_default")
    mine = remote.resolve("similarity", version=gateway_repo.stable)
    theirs = local.resolve("similarity", version=gateway_repo.stable)
    assert mine.version == gateway_repo.stable
    assert_same_arrays(remote.predict(mine, "serving_default", arrays),
                       local.predict(theirs, "serving_default", arrays))


@pytest.mark.parametrize("call", [
    lambda b: b.resolve("nope"),
    lambda b: b.resolve("qa", version=999),
    lambda b: b.resolve("similarity", label="gold"),
    lambda b: b.model_status("nope"),
    lambda b: b.model_status("qa", version=999),
], ids=["model", "version", "label", "status-model", "status-version"])
def test_lookup_errors_match(backends: Any, call: Any) -> None:
    remote, local = backends
    with pytest.raises(errors.GatewayError) as mine:
        call(remote)
    with pytest.raises(errors.GatewayError) as theirs:
        call(local)
    assert (type(mine.value), mine.value.message) == (type(theirs.value), theirs.value.message)


def test_runtime_errors_map_to_gateway_errors(backends: Any) -> None:
    remote, _ = backends
    mv = remote.resolve("profiler")
    with pytest.raises(errors.FailedPrecondition, match='"nope" not found'):
        remote.predict(mv, "nope", inputs_for("profiler", "serving_default"))
    with pytest.raises(errors.InvalidInput, match="Expects arg"):
        remote.predict(mv, "", {"posts": np.array([1.0], np.float32)})
    with pytest.raises(errors.InvalidInput, match="alias not found"):
        remote.predict(mv, "", inputs_for("profiler", "serving_default"), output_filter=["x"])
    # A budget spent before the call: 0.1 ms could still be met by a quiet machine and
    # gRPC's millisecond timers (seen once), so the budget is 1 ns.
    with pytest.raises(errors.DeadlineExceeded, match="deadline"):
        remote.predict(mv, "", inputs_for("profiler", "serving_default"), timeout_s=1e-9)


def test_newest_follows_a_version_tf_serving_just_swapped(gateway_repo: Any,
                                                         tmp_path: Any) -> None:
    """TF Serving unloads the old version as soon as the new one is AVAILABLE; a call
    for "the newest" resolved just before moves on; one for that exact version does not."""
    repo = tmp_path / "models"
    shutil.copytree(gateway_repo.path / "profiler", repo / "profiler",
                    ignore=shutil.ignore_patterns(".tmp-export-*"))
    old = versions_of(repo, "profiler")[-1]
    with InProcessTFServing(repo).start() as fake:
        # poll_interval_s=60: after the first poll the backend's view goes stale on purpose
        backend = TFServingBackend(Settings(backend="tfserving", tfserving_addr=fake.address,
                                            model_dir=str(repo), poll_interval_s=60))
        backend.start()
        try:
            wait_ready(backend)
            newest_mv, exact_mv = backend.resolve("profiler"), backend.resolve("profiler", old)
            new = add_version(repo, "profiler")
            wait_until(lambda: [(s.version, s.state) for s in backend._fetch_status(
                "profiler", None, 10)][:2] == [(new, "AVAILABLE"), (old, "END")], 60, 0.1,
                what="the stand-in swapped versions")
            arrays = inputs_for("profiler", "serving_default")
            assert set(backend.predict(newest_mv, "serving_default", arrays)) >= {"age"}
            assert backend.resolve("profiler").version == new
            with pytest.raises(errors.NotFound):
                backend.predict(exact_mv, "serving_default", arrays)
        finally:
            backend.stop()


# -- the stand-in speaks TF Serving's protocol ------------------------------------------

def _raw_predict(**spec: Any) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = spec.pop("name", "profiler")
    if "version" in spec:
        request.model_spec.version.value = spec.pop("version")
    if "label" in spec:
        request.model_spec.version_label = spec.pop("label")
    request.model_spec.signature_name = spec.pop("signature", "")
    request.inputs["posts"].CopyFrom(array_to_proto(np.array([b"a b"], dtype=object)))
    return request


@pytest.mark.parametrize("request_, code, message", [
    (_raw_predict(name="nope"), "NOT_FOUND", "Servable not found for request: Latest(nope)"),
    (_raw_predict(version=999), "NOT_FOUND", "Servable not found for request: "
                                             "Specific(profiler, 999)"),
    (_raw_predict(label="gold"), "INVALID_ARGUMENT", "Unrecognized servable version label: gold"),
    (_raw_predict(signature="zz"), "FAILED_PRECONDITION", 'Serving signature key "zz" not found.'),
    (_raw_predict(signature="ids"), "INVALID_ARGUMENT",
     "Expects arg[0] to be int32 but string is provided"),
], ids=["model", "version", "label", "signature", "dtype"])
def test_stand_in_answers_tf_servings_codes_and_messages(fake: Any, request_: Any, code: str,
                                                         message: str) -> None:
    with grpc.insecure_channel(fake.address) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Predict(request_, timeout=30)
    assert (info.value.code().name, info.value.details()) == (code, message)


def test_stand_in_metadata_is_the_saved_models_signature_def_map(fake: Any,
                                                                  gateway_repo: Any) -> None:
    from tensorflow.core.protobuf import saved_model_pb2

    with grpc.insecure_channel(fake.address) as channel:
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = "qa"
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).GetModelMetadata(
            request, timeout=30)
        status_request = get_model_status_pb2.GetModelStatusRequest()
        status_request.model_spec.name = "similarity"
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            status_request, timeout=30)
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    assert response.metadata["signature_def"].Unpack(sig_map)
    version = response.model_spec.version.value
    saved = saved_model_pb2.SavedModel.FromString(
        (gateway_repo.path / "qa" / str(version) / "saved_model.pb").read_bytes())
    assert dict(sig_map.signature_def) == dict(saved.meta_graphs[0].signature_def)
    # newest first, every version of the `all {}` policy AVAILABLE
    assert [(s.version, s.state) for s in status.model_version_status] == [
        (gateway_repo.canary, get_model_status_pb2.ModelVersionStatus.AVAILABLE),
        (gateway_repo.stable, get_model_status_pb2.ModelVersionStatus.AVAILABLE)]


# -- retry policy against a real gRPC server ---------------------------------------------

class _Flaky(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Fails the first `failures` Predict calls with `code`, then answers y = [1.5]."""

    def __init__(self, failures: int, code: grpc.StatusCode) -> None:
        self.failures, self.code, self.calls = failures, code, 0
        self._lock = threading.Lock()

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self._lock:
            self.calls += 1
            fail = self.calls <= self.failures
        if fail:
            context.abort(self.code, "try again" if self.code is grpc.StatusCode.UNAVAILABLE
                          else "bad input x")
        response = predict_pb2.PredictResponse()
        response.outputs["y"].CopyFrom(array_to_proto(np.array([1.5], np.float32)))
        return response


@pytest.mark.parametrize("failures, code, calls, error", [
    (2, grpc.StatusCode.UNAVAILABLE, 3, None),
    (99, grpc.StatusCode.UNAVAILABLE, 5, errors.Unavailable),
    (1, grpc.StatusCode.INVALID_ARGUMENT, 1, errors.InvalidInput),
    (1, grpc.StatusCode.RESOURCE_EXHAUSTED, 1, errors.Overloaded),
], ids=["recovers", "gives-up", "no-retry-invalid", "no-retry-exhausted"])
def test_only_unavailable_is_retried(failures: int, code: grpc.StatusCode, calls: int,
                                     error: type | None) -> None:
    servicer = _Flaky(failures, code)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    backend = TFServingBackend(Settings(backend="tfserving", tfserving_addr=f"127.0.0.1:{port}",
                                        model_dir="/nonexistent", poll_interval_s=60))
    backend.start()
    try:
        mv = ModelVersion(name="m", version=1, signatures={})
        if error is None:
            out = backend.predict(mv, "", {"x": np.array([1.0], np.float32)}, timeout_s=10)
            assert out["y"].tolist() == [1.5]
        else:
            with pytest.raises(error) as info:
                backend.predict(mv, "", {"x": np.array([1.0], np.float32)}, timeout_s=10)
            assert "127.0.0.1" in info.value.message or "bad input" in info.value.message
        assert servicer.calls == calls
    finally:
        backend.stop()
        server.stop(0)


# -- TensorProto codec ---------------------------------------------------------------------

def test_tensor_proto_round_trip_and_typed_fields() -> None:
    import tensorflow as tf

    for array in (np.array([[1.5, 2.0]], np.float32), np.array([3, -4], np.int64),
                  np.array([True, False]), np.array([b"x", b"\xff"], dtype=object),
                  np.array([0.5], np.float16), np.array([[7]], np.int32)):
        proto = array_to_proto(array)
        assert tf.make_ndarray(proto).tolist() == array.tolist()  # TF reads what we write
        assert proto_to_array(proto).tolist() == array.tolist()
        # TF Serving answers in typed fields (Tensor::AsProtoField), not tensor_content.
        typed = tf.make_tensor_proto(array)
        assert proto_to_array(typed).tolist() == array.tolist()
    # A short typed field is filled with its last value, as TF does.
    filled = tf.make_tensor_proto(0.0, shape=[2, 2])
    filled.float_val[:] = [1.0, 2.0]
    filled.ClearField("tensor_content")
    assert proto_to_array(filled).tolist() == [[1.0, 2.0], [2.0, 2.0]]
