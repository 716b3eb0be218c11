"""Model management on the real gateway (gunicorn, 2 workers, explicit model control mode),
on both runtimes: unchanged tritonclient (HTTP and gRPC) repository calls and TF Serving's
generated stubs load, unload and move labels; every worker applies a change before the
call returns; a label moved under a 16-client load loses no request and every answer
matches the reference outputs of the version that served it.

The repository holds `pairs` v1 and v2 (tests/unit/serving/conftest.py's export: v2's
`size` head is v1's + 100, so an answer tells which version served it) and
`half_plus_two`. One gateway per runtime (about 15 s to start each, the TF Serving
stand-in 10 s more); the tests take about 40 s per runtime on 2 idle cores.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tests.integration.conftest import Gateway, start_gateway
from tests.unit.serving.conftest import export_half_plus_two, export_pairs

pytestmark = pytest.mark.slow
ADMIN, INFERENCE = "admin-key", "inference-key"
CLIENTS = 16
LEFT, RIGHT = ["ab", "hello"], ["c", "wor"]
AUX = [[0.1, 0.2, 0.3, 0.4, 0.5], [1.0, 0.0, 0.0, 0.0, 2.0]]


def pairs_config(repo: Path, versions: tuple[int, ...], labels: dict[str, int]) -> str:
    chosen = " ".join(f"versions: {v}" for v in versions)
    label_text = "".join(f' version_labels {{ key: "{k}" value: {v} }}'
                         for k, v in labels.items())
    model = (f'name: "pairs" base_path: "{repo / "pairs"}" model_platform: "tensorflow" '
             f"model_version_policy {{ specific {{ {chosen} }} }}{label_text}")
    return f"model_config_list {{ config {{ {model} }} }}\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("management")
    models = root / "models"
    export_pairs(str(models / "pairs" / "1"), bias=0.0)
    export_pairs(str(models / "pairs" / "2"), bias=100.0)
    export_half_plus_two(str(models / "half_plus_two" / "1"))
    return models


@pytest.fixture(scope="module")
def references(repo: Path) -> dict[int, dict[str, np.ndarray]]:
    """What each pairs version answers for the clients' inputs, called in-process."""
    out = {}
    for version in (1, 2):
        fn = tf.saved_model.load(str(repo / "pairs" / str(version))).signatures[
            "serving_default"]
        result = fn(left=tf.constant(LEFT), right=tf.constant(RIGHT),
                    aux=tf.constant(AUX, tf.float32))
        out[version] = {k: v.numpy() for k, v in result.items()}
    assert not np.allclose(out[1]["size"], out[2]["size"])
    return out


@dataclass
class Managed:
    gateway: Gateway
    backend: str
    repo: Path
    config: Path

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture(scope="module", params=["embedded", "tfserving"])
def managed(request: pytest.FixtureRequest, repo: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Managed]:
    folder = tmp_path_factory.mktemp(f"config-{request.param}")
    config = folder / "models.config"
    config.write_text(pairs_config(repo, (1, 2), {"stable": 1}))
    env = {"MULTIHEAD_MODEL_CONTROL_MODE": "explicit", "MULTIHEAD_MODEL_CONFIG": str(config),
           "MULTIHEAD_ADMIN_KEYS": ADMIN, "MULTIHEAD_API_KEYS": INFERENCE}
    with contextlib.ExitStack() as stack:
        if request.param == "tfserving":
            from tests.fakes.tfserving_fake import InProcessTFServing

            # TF Serving's own start-up file: a copy, so that what it serves later comes
            # from the gateway's HandleReloadConfigRequest, not from reading our file.
            own = folder / "tfserving.config"
            shutil.copy(config, own)
            fake = stack.enter_context(InProcessTFServing(repo, model_config=own).start())
            env["MULTIHEAD_TFSERVING_ADDR"] = fake.address
        gateway = stack.enter_context(start_gateway(repo, request.param, env=env))
        gateway.client.headers["Authorization"] = f"Bearer {INFERENCE}"
        yield Managed(gateway, request.param, repo, config)


def fresh(m: Managed, path: str, probes: int = 16) -> list[int]:
    """The status of `path` on `probes` fresh connections (so from every worker: the
    gateway spreads new connections over its workers)."""
    return [httpx.get(m.gateway.http_url + path, timeout=30,
                      headers={"Authorization": f"Bearer {INFERENCE}"}).status_code
            for _ in range(probes)]


def test_tritonclient_loads_and_unloads_on_every_worker(managed: Managed) -> None:
    import tritonclient.grpc as triton_grpc
    import tritonclient.http as triton_http
    from tritonclient.utils import InferenceServerException

    m = managed
    http = triton_http.InferenceServerClient(m.gateway.http_url.removeprefix("http://"))
    rpc = triton_grpc.InferenceServerClient(m.gateway.grpc_target)
    assert "model_repository" in http.get_server_metadata(headers=m.admin)["extensions"]
    index = http.get_model_repository_index(headers=m.admin)
    assert {"name": "half_plus_two", "state": "UNAVAILABLE", "reason": "not loaded"} in index
    assert {"name": "pairs", "version": "2", "state": "READY", "reason": ""} in index

    http.load_model("half_plus_two", headers=m.admin)  # returns once every worker serves it
    assert fresh(m, "/v2/models/half_plus_two/ready") == [200] * 16
    assert 'name: "half_plus_two"' in m.config.read_text()
    rpc.unload_model("half_plus_two", headers={"authorization": f"Bearer {ADMIN}"})
    assert fresh(m, "/v2/models/half_plus_two/ready") == [404] * 16
    assert [e["state"] for e in rpc.get_model_repository_index(
        headers={"authorization": f"Bearer {ADMIN}"}, as_json=True)["models"]
        if e["name"] == "half_plus_two"] == ["UNAVAILABLE"]
    # An inference key opens no management call, on either client.
    with pytest.raises(InferenceServerException) as err:
        http.load_model("half_plus_two", headers={"Authorization": f"Bearer {INFERENCE}"})
    assert err.value.status() == "403"
    with pytest.raises(InferenceServerException) as err:
        rpc.load_model("half_plus_two", headers={"authorization": f"Bearer {INFERENCE}"})
    assert err.value.status() == "StatusCode.PERMISSION_DENIED"


class Clients:
    """16 clients asking for pairs by the label `stable` in a loop, half over TF Serving's
    gRPC stub (whose answer names the version), half over its REST API (whose outputs
    do: v2 answers `size` + 100), each on its own connection."""

    def __init__(self, m: Managed, references: dict[int, dict[str, np.ndarray]]) -> None:
        self.m, self.references = m, references
        self.stop = threading.Event()
        self.records: list[tuple[float, float, int | None, str]] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._grpc if i % 2 else self._rest,
                                          daemon=True) for i in range(CLIENTS)]

    def __enter__(self) -> Clients:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(60)

    def _record(self, started: float, version: int | None, error: str) -> None:
        with self._lock:
            self.records.append((started, time.monotonic(), version, error))

    def _version_of(self, size: list[float]) -> int | None:
        return next((v for v, ref in self.references.items()
                     if np.allclose(size, ref["size"], atol=1e-4)), None)

    def _check(self, version: int | None, outputs: dict[str, Any]) -> str:
        if version not in self.references:
            return f"version {version}"
        ref = self.references[version]
        for name, want in ref.items():
            got = np.asarray(outputs[name])
            same = (got.astype(str).tolist() == want.astype(str).tolist()
                    if want.dtype == object else np.allclose(got, want, atol=1e-4))
            if not same:
                return f"{name} of version {version}: {got.tolist()} != {want.tolist()}"
        return ""

    def _grpc(self) -> None:
        request = predict_pb2.PredictRequest()
        request.model_spec.name, request.model_spec.version_label = "pairs", "stable"
        request.inputs["left"].CopyFrom(tf.make_tensor_proto(LEFT))
        request.inputs["right"].CopyFrom(tf.make_tensor_proto(RIGHT))
        request.inputs["aux"].CopyFrom(tf.make_tensor_proto(np.asarray(AUX, np.float32)))
        metadata = [("authorization", f"Bearer {INFERENCE}")]
        with grpc.insecure_channel(self.m.gateway.grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    reply = stub.Predict(request, timeout=30, metadata=metadata)
                except grpc.RpcError as exc:
                    self._record(started, None, f"grpc {exc.code().name}: {exc.details()}")
                    continue
                version = reply.model_spec.version.value
                outputs = {k: tf.make_ndarray(v) for k, v in reply.outputs.items()}
                outputs = {k: v.astype(str) if v.dtype == object else v
                           for k, v in outputs.items()}
                self._record(started, version, self._check(version, outputs))

    def _rest(self) -> None:
        body = {"inputs": {"left": LEFT, "right": RIGHT, "aux": AUX}}
        with httpx.Client(base_url=self.m.gateway.http_url, timeout=30, headers={
                "Authorization": f"Bearer {INFERENCE}"}) as client:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    reply = client.post("/v1/models/pairs/labels/stable:predict", json=body)
                except httpx.HTTPError as exc:
                    self._record(started, None, f"rest {type(exc).__name__}")
                    continue
                if reply.status_code != 200:
                    self._record(started, None, f"rest {reply.status_code}: {reply.text}")
                    continue
                outputs = reply.json()["outputs"]
                version = self._version_of(outputs["size"])
                self._record(started, version, self._check(version, outputs))

    def wait_for(self, count: int, after: float = 0.0, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while sum(1 for r in self.records if r[0] > after) < count:
            assert time.monotonic() < deadline, f"clients stalled: {self.records[-3:]}"
            time.sleep(0.02)


def reload(m: Managed, text: str) -> model_management_pb2.ReloadConfigResponse:
    request = model_management_pb2.ReloadConfigRequest()
    text_format.Parse(text, request.config)
    with grpc.insecure_channel(m.gateway.grpc_target) as channel:
        return model_service_pb2_grpc.ModelServiceStub(channel).HandleReloadConfigRequest(
            request, metadata=[("authorization", f"Bearer {ADMIN}")], timeout=60)


def test_a_label_moved_under_load_loses_no_request(managed: Managed,
                                                   references: dict) -> None:
    m = managed
    reload(m, pairs_config(m.repo, (1, 2), {"stable": 1}))
    with Clients(m, references) as clients:
        clients.wait_for(4 * CLIENTS)
        moved_at = time.monotonic()
        response = reload(m, pairs_config(m.repo, (1, 2), {"stable": 2}))
        applied_at = time.monotonic()
        clients.wait_for(4 * CLIENTS, after=applied_at)
    assert response.status.error_code == 0
    records = clients.records
    failed = [r for r in records if r[3]]
    summary = (f"{len(records)} answers, {sum(1 for r in records if r[2] == 1)} from v1, "
               f"{sum(1 for r in records if r[2] == 2)} from v2; move took "
               f"{applied_at - moved_at:.2f}s")
    print(f"label move under {CLIENTS} clients ({m.backend}): {summary}")
    assert not failed, f"{len(failed)} failed: {failed[:3]} ({summary})"
    # Before the move every answer came from v1; once the call returned, only from v2.
    assert {r[2] for r in records if r[1] < moved_at} == {1}, summary
    assert {r[2] for r in records if r[0] > applied_at} == {2}, summary
    with grpc.insecure_channel(m.gateway.grpc_target) as channel:
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "pairs"}),
            metadata=[("authorization", f"Bearer {INFERENCE}")], timeout=30)
    assert [(s.version, s.state) for s in status.model_version_status] == [(2, 30), (1, 30)]


def test_labels_follow_tf_servings_rules(managed: Managed) -> None:
    m = managed
    before = m.config.read_text()
    with pytest.raises(grpc.RpcError) as err:  # version 3 does not exist
        reload(m, pairs_config(m.repo, (1, 2), {"stable": 3}))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "Request to assign label to version 3 of model pairs" in err.value.details()
    assert m.config.read_text() == before


README_BLOCK = r"<!-- canary-{}:begin -->\s*```python\n(.*?)```"


def test_the_readme_canary_roll_outs_run(managed: Managed, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """README's two canary snippets, unchanged but for the address, the model and its path;
    the last test of the module (the snippets leave pairs at version 2 only)."""
    m = managed
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    monkeypatch.setenv("MULTIHEAD_ADMIN_KEY", ADMIN)
    for name in ("tritonclient", "tfserving"):
        # Where the snippets start: both versions served (the last one retired v1).
        reload(m, pairs_config(m.repo, (1, 2), {"stable": 2}))
        match = re.search(README_BLOCK.format(name), readme, re.S)
        assert match, f"README.md has no canary-{name} block"
        code = (match.group(1)
                .replace("localhost:8000", m.gateway.http_url.removeprefix("http://"))
                .replace("localhost:9000", m.gateway.grpc_target)
                .replace('os.path.abspath("models/similarity")', repr(str(m.repo / "pairs")))
                .replace('"similarity"', '"pairs"'))
        exec(compile(code, f"README canary-{name}", "exec"), {})
        assert "pairs" in m.config.read_text() and "versions: 1\n" not in m.config.read_text()
    assert "'state': 'READY'" in capsys.readouterr().out
