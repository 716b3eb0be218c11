"""Model management in one process (the embedded runtime on tiny exports): the OIP model
repository extension over REST and gRPC (tritonclient's own calls), TF Serving's
HandleReloadConfigRequest (its generated stub), their rules, codes and messages, who may
call them, and how a change that some worker does not apply is answered.

The multi-worker behaviour (every gunicorn worker applies a change; a label moved under
load) is tests/integration/test_model_management.py.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import text_format
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from serving.applied import WorkerBoard
from serving.auth import key_id
from serving.config import Settings
from serving.core.management import VersionPolicy
from serving.core.service import InferenceService
from serving.errors import Unavailable
from serving.lifecycle import StartedBoard
from serving.metrics import Metrics
from tests.integration.conftest import free_port
from tests.unit.serving.conftest import install, origin, predict_call

pytestmark = pytest.mark.timeout(180)
ADMIN, INFERENCE = "admin-secret", "inference-secret"
BEARER = {"Authorization": f"Bearer {ADMIN}"}


@dataclass
class Managed:
    service: InferenceService
    settings: Settings
    repo: Path
    config: Path

    def text(self) -> str:
        return self.config.read_text()


def config_for(repo: Path, pairs_versions: tuple[int, ...] = (1,),
               labels: dict[str, int] | None = None) -> str:
    versions = " ".join(f"versions: {v}" for v in pairs_versions)
    label_text = "".join(f' version_labels {{ key: "{k}" value: {v} }}'
                         for k, v in (labels or {}).items())
    pairs = (f'name: "pairs" base_path: "{repo / "pairs"}" model_platform: "tensorflow" '
             f"model_version_policy {{ specific {{ {versions} }} }}{label_text}")
    return f"model_config_list {{ config {{ {pairs} }} }}\n"


@pytest.fixture
def repo(exports: dict, tmp_path: Path) -> Path:
    """pairs v1 (bias 0) and v2 (bias 100), half_plus_two v1: versions that answer apart."""
    root = tmp_path / "models"
    install(exports["pairs_v1"], str(root), "pairs", 1)
    install(exports["pairs_v2"], str(root), "pairs", 2)
    install(exports["half_plus_two"], str(root), "half_plus_two", 1)
    return root


@pytest.fixture
def managed(repo: Path, tmp_path: Path) -> Iterator[Any]:
    """managed(**settings) -> a started service in explicit mode over `repo`, whose
    config file serves pairs v1 only (labels as given)."""
    started: list[InferenceService] = []

    def make(labels: dict[str, int] | None = None, board: Any = None,
             **overrides: Any) -> Managed:
        config = tmp_path / "models.config"
        config.write_text(config_for(repo, labels=labels))
        values = {"model_dir": str(repo), "model_config": str(config),
                  "model_control_mode": "explicit", "admin_keys": (ADMIN,),
                  "poll_interval_s": 0.2, "batch_timeout_micros": 0, **overrides}
        settings = Settings(**values)
        from serving.backends.embedded import EmbeddedBackend

        service = InferenceService(settings, EmbeddedBackend(settings), Metrics(), board=board)
        service.start()
        started.append(service)
        assert service.wait_ready(60), service.readiness()
        return Managed(service, settings, repo, config)

    yield make
    for service in started:
        service.stop()


def changes(service: InferenceService, action: str, protocol: str, code: str) -> float:
    return service.metrics.registry.get_sample_value(
        "multihead_model_changes_total",
        {"action": action, "protocol": protocol, "code": code}) or 0.0


def pairs_inputs() -> dict[str, Any]:
    return {"left": ["ab"], "right": ["c"], "aux": [[0.0] * 5]}


def size_of(service: InferenceService, **ref: Any) -> float:
    result = service.predict(origin(), predict_call("pairs", pairs_inputs(), **ref))
    return float(result.outputs["size"][0])


# -- OIP REST (Flask's client) -----------------------------------------------------------


def test_a_config_written_during_the_first_load_is_applied_before_ready(repo: Path,
                                                                       tmp_path: Path) -> None:
    # A starting worker's first scan loads what the file said when it read it; a change
    # made meanwhile on a sibling worker waits only for the workers that serve already, so
    # the worker applies the file as it is now before it says it is ready (the poller's
    # next scan would be an hour away here).
    from serving.backends.embedded import EmbeddedBackend

    config = tmp_path / "models.config"
    config.write_text(config_for(repo))
    backend = EmbeddedBackend(Settings(model_dir=str(repo), model_config=str(config),
                                       model_control_mode="explicit", poll_interval_s=3600))
    first_scan = threading.Event()
    backend.add_config_listener(lambda digest, problems: first_scan.set())
    backend.start()
    try:
        assert first_scan.wait(60)
        assert backend.list_models() == ["pairs"]
        config.write_text(config_for(repo).removesuffix(" }\n") + (
            f' config {{ name: "half_plus_two" base_path: "{repo / "half_plus_two"}" '
            'model_platform: "tensorflow" } }\n'))
        assert backend.wait_ready(60), backend.readiness()
        assert backend.list_models() == ["half_plus_two", "pairs"]
        assert [s.state for s in backend.model_status("half_plus_two")] == ["AVAILABLE"]
    finally:
        backend.stop()


def test_index_load_unload_over_rest(managed: Any, caplog: pytest.LogCaptureFixture) -> None:
    m = managed()
    from serving.rest import create_app

    client = create_app(m.settings, m.service).test_client()
    index = client.post("/v2/repository/index", headers=BEARER)  # tritonclient: empty body
    assert index.status_code == 200
    assert index.get_json() == [
        {"name": "half_plus_two", "state": "UNAVAILABLE", "reason": "not loaded"},
        {"name": "pairs", "version": "1", "state": "READY", "reason": ""}]
    assert client.post("/v2/repository/index", headers=BEARER, json={"ready": True}) \
        .get_json() == [{"name": "pairs", "version": "1", "state": "READY", "reason": ""}]
    assert "model_repository" in client.get("/v2").get_json()["extensions"]

    caplog.set_level(logging.INFO, "serving.management")
    load = client.post("/v2/repository/models/half_plus_two/load", headers=BEARER)
    assert (load.status_code, load.get_json()) == (200, {"name": "half_plus_two", "load": True})
    result = m.service.predict(origin(), predict_call("half_plus_two", {"x": [2.0]}))
    assert result.outputs["y"].tolist() == [3.0]
    assert 'name: "half_plus_two"' in m.text() and f"{m.repo}/half_plus_two" in m.text()

    unload = client.post("/v2/repository/models/half_plus_two/unload", headers=BEARER,
                         json={"parameters": {"unload_dependents": False}})
    assert unload.status_code == 200
    assert "half_plus_two" not in m.text()
    missing = client.post("/v2/models/half_plus_two/infer", headers=BEARER, json={"inputs": [
        {"name": "x", "shape": [1], "datatype": "FP32", "data": [1.0]}]})
    assert missing.status_code == 404
    # TF Serving's status monitor keeps the END state of what it unloaded; so does GetModelStatus.
    assert [(s.version, s.state) for s in m.service.model_status("half_plus_two")] == \
        [(1, "END")]
    assert {"name": "half_plus_two", "version": "1", "state": "UNAVAILABLE",
            "reason": "unloaded"} in client.post("/v2/repository/index", headers=BEARER).get_json()
    # Who (a key id, never the key) and what, logged and counted.
    lines = [r.getMessage() for r in caplog.records]
    assert any(key_id(f"Bearer {ADMIN}") in line and "load 'half_plus_two'" in line
               and line.endswith("-> OK") for line in lines), lines
    assert not any(ADMIN in line for line in lines)
    assert changes(m.service, "load", "v2", "OK") == 1
    assert changes(m.service, "unload", "v2", "OK") == 1


def test_load_with_a_config_override_sets_the_policy_and_labels(managed: Any) -> None:
    m = managed(labels={"stable": 1})
    from serving.rest import create_app

    client = create_app(m.settings, m.service).test_client()
    assert size_of(m.service, label="stable") == pytest.approx(3.0)  # v1: 2 + 1 + 0
    # tritonclient's load_model("pairs", config=...): both versions; a label may name only
    # a version that is AVAILABLE already (TF Serving's rule), so the canary comes next.
    for config in ({"version_policy": {"specific": {"versions": [1, 2]}}},
                   {"parameters": {"version_labels": {"string_value": "stable=1,canary=2"}}}):
        loaded = client.post("/v2/repository/models/pairs/load", headers=BEARER,
                             json={"parameters": {"config": json.dumps(config)}})
        assert loaded.status_code == 200, loaded.get_json()
    assert size_of(m.service, label="canary") == pytest.approx(103.0)  # v2: bias 100
    assert size_of(m.service, label="stable") == pytest.approx(3.0)
    # Moving the label only: the policy stays.
    moved = client.post("/v2/repository/models/pairs/load", headers=BEARER, json={
        "parameters": {"config": json.dumps({"parameters": {
            "version_labels": {"string_value": "stable=2"}}})}})
    assert moved.status_code == 200
    assert size_of(m.service, label="stable") == pytest.approx(103.0)
    assert size_of(m.service, version=1) == pytest.approx(3.0)
    assert "canary" not in m.text()


BAD_REQUESTS = [
    ("/v2/repository/models/nope/load", None, 404, "holds no such model"),
    ("/v2/repository/models/.hidden/load", None, 400, "one non-empty directory name"),
    ("/v2/repository/models/pairs/load", {"parameters": {"config": "{"}}, 400,
     "parameters.config must be the JSON of an inference.ModelConfig"),
    ("/v2/repository/models/pairs/load", {"parameters": {"config": 7}}, 400,
     "parameters.config must be a string"),
    ("/v2/repository/models/pairs/load", {"parameters": {"file:1/model.savedmodel": "eA=="}},
     400, "no override files"),
    ("/v2/repository/models/pairs/load",
     {"parameters": {"config": json.dumps({"name": "other"})}}, 400, "is not the model"),
    ("/v2/repository/models/pairs/load", {"parameters": {"config": json.dumps(
        {"version_policy": {"latest": {"num_versions": 0}}})}}, 400, "at least 1"),
    ("/v2/repository/models/pairs/load", {"parameters": {"config": json.dumps(
        {"parameters": {"version_labels": {"string_value": "stable:1"}}})}}, 400,
     "'label=version,...'"),
    # TF Serving's label rule: version 2 is not served (the policy serves 1 only).
    ("/v2/repository/models/pairs/load", {"parameters": {"config": json.dumps(
        {"parameters": {"version_labels": {"string_value": "stable=2"}}})}}, 400,
     "Request to assign label to version 2 of model pairs, which is not currently "
     "available for inference"),
    ("/v2/repository/index", [], 400, "must be a JSON object"),
    ("/v2/repository/index", {"ready": "yes"}, 400, "ready must be true or false"),
    ("/v2/repository/models/pairs/unload", {"parameters": {"unload_dependents": 1}}, 400,
     "unload_dependents must be true or false"),
]


def test_bad_management_requests_name_the_field(managed: Any) -> None:
    m = managed()
    before = m.text()
    from serving.rest import create_app

    client = create_app(m.settings, m.service).test_client()
    for path, body, status, words in BAD_REQUESTS:
        response = client.post(path, headers=BEARER, **({} if body is None else {"json": body}))
        assert response.status_code == status, (path, body, response.get_json())
        assert words in response.get_json()["error"], (path, body)
        assert m.text() == before  # a refused change changes nothing


def test_a_version_that_fails_to_load_fails_the_load(managed: Any, repo: Path) -> None:
    broken = repo / "broken" / "1"
    broken.mkdir(parents=True)
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    m = managed()
    from serving.rest import create_app

    response = create_app(m.settings, m.service).test_client().post(
        "/v2/repository/models/broken/load", headers=BEARER)
    # Triton answers a failed load with 400 ("failed to load 'm' ..."); the config stands,
    # as TF Serving's does, and the index says why.
    assert response.status_code == 400
    assert response.get_json()["error"].startswith("failed to load 'broken': worker ")
    assert "version 1: Loading" in response.get_json()["error"]
    assert changes(m.service, "load", "v2", "UNKNOWN") == 1
    [entry] = [e for e in m.service.management.index() if e.name == "broken"]
    assert entry.state == "UNAVAILABLE" and "Loading" in entry.reason


def test_poll_mode_indexes_but_refuses_changes(managed: Any) -> None:
    m = managed(model_control_mode="poll")
    from serving.rest import create_app

    client = create_app(m.settings, m.service).test_client()
    assert client.post("/v2/repository/index", headers=BEARER).status_code == 200
    refused = client.post("/v2/repository/models/half_plus_two/load", headers=BEARER)
    # Triton: UNSUPPORTED (501) "explicit model load / unload is not allowed if polling is
    # enabled".
    assert refused.status_code == 501
    assert "not allowed if polling is enabled" in refused.get_json()["error"]
    assert "model_repository" not in client.get("/v2").get_json()["extensions"]
    assert changes(m.service, "load", "v2", "UNIMPLEMENTED") == 1


# -- who may call them -------------------------------------------------------------------

MANAGEMENT_ROUTES = ("/v2/repository/index", "/v2/repository/models/pairs/load",
                     "/v2/repository/models/pairs/unload", "/V2/Repository/Index")


@pytest.mark.parametrize("admin_keys,header,status,code", [
    ((), f"Bearer {ADMIN}", 403, "closed"),
    ((ADMIN,), None, 401, "must be 'Bearer <admin key>'"),
    ((ADMIN,), f"Bearer {INFERENCE}", 403, "is an API key"),
    ((ADMIN,), "Bearer guess", 401, "is not valid"),
])
def test_rest_management_needs_an_admin_key(managed: Any, admin_keys: tuple, header: Any,
                                            status: int, code: str) -> None:
    m = managed(admin_keys=admin_keys, api_keys=(INFERENCE,))
    from serving.rest import create_app

    client = create_app(m.settings, m.service).test_client()
    for path in MANAGEMENT_ROUTES:
        response = client.post(path, headers={"Authorization": header} if header else {})
        assert response.status_code == status, path
        assert code in response.get_json()["error"], path
    assert "pairs" in m.text()
    # Inference keys still open inference; an admin key does too.
    for key in (INFERENCE, *admin_keys):
        assert client.get("/v1/models/pairs", headers={
            "Authorization": f"Bearer {key}"}).status_code == 200


# -- gRPC: tritonclient and TF Serving's generated stub ----------------------------------


@pytest.fixture
def grpc_gateway(managed: Any) -> Iterator[Any]:
    """gateway(**settings) -> (Managed, target) with the gateway's gRPC server in-process."""
    from serving.grpc.server import serve

    servers = []

    def make(**overrides: Any) -> tuple[Managed, str]:
        m = managed(grpc_port=free_port(), host="127.0.0.1", **overrides)
        servers.append(serve(m.settings, m.service))
        return m, f"127.0.0.1:{m.settings.grpc_port}"

    yield make
    for server in servers:
        server.stop(0)


def reload_request(text: str) -> model_management_pb2.ReloadConfigRequest:
    request = model_management_pb2.ReloadConfigRequest()
    text_format.Parse(text, request.config)
    return request


def test_tritonclient_grpc_and_tf_serving_stub(grpc_gateway: Any) -> None:
    import tritonclient.grpc as triton

    m, target = grpc_gateway(labels={"stable": 1})
    client = triton.InferenceServerClient(target)
    headers = {"authorization": f"Bearer {ADMIN}"}
    assert "model_repository" in client.get_server_metadata(headers=headers).extensions
    index = client.get_model_repository_index(headers=headers, as_json=True)["models"]
    assert {"name": "half_plus_two", "state": "UNAVAILABLE", "reason": "not loaded"} in index
    client.load_model("half_plus_two", headers=headers)
    assert client.is_model_ready("half_plus_two", headers=headers)
    client.load_model("pairs", headers=headers, config=json.dumps(
        {"version_policy": {"all": {}}}))
    client.unload_model("half_plus_two", headers=headers)
    assert not client.is_model_ready("half_plus_two", headers=headers)

    stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(target))
    metadata = [("authorization", f"Bearer {ADMIN}")]
    moved = reload_request(config_for(m.repo, (1, 2), {"stable": 2, "canary": 1}))
    response = stub.HandleReloadConfigRequest(moved, metadata=metadata)
    assert response.status.error_code == 0
    assert size_of(m.service, label="stable") == pytest.approx(103.0)
    status = stub.GetModelStatus(get_model_status_pb2.GetModelStatusRequest(
        model_spec={"name": "pairs"}), metadata=metadata)
    assert [(s.version, s.state) for s in status.model_version_status] == [(2, 30), (1, 30)]
    assert changes(m.service, "reload_config", "tfserving", "OK") == 1
    assert changes(m.service, "load", "v2", "OK") == 2


@pytest.mark.parametrize("text,code,message", [
    ("", grpc.StatusCode.INVALID_ARGUMENT, "ServerModelConfig type not supported by "
     "HandleReloadConfigRequest. Only ModelConfigList is currently supported"),
    ('model_config_list { config { name: "a" base_path: "/a" model_platform: "tensorflow" } '
     'config { name: "a" base_path: "/b" model_platform: "tensorflow" } }',
     grpc.StatusCode.INVALID_ARGUMENT, "Illegal to list model a multiple times in config list"),
    ('model_config_list { config { name: "a" base_path: "rel/a" model_platform: "tensorflow" } }',
     grpc.StatusCode.INVALID_ARGUMENT,
     "Expected model a to have an absolute path or URI; got base_path()=rel/a"),
    ('model_config_list { config { name: "a" base_path: "/a" } }',
     grpc.StatusCode.INVALID_ARGUMENT, "Illegal setting neither ModelServerConfig::model_type"),
    ('model_config_list { config { name: "a" base_path: "/a" model_platform: "onnx" } }',
     grpc.StatusCode.INVALID_ARGUMENT, "Model a requests unsupported platform onnx"),
    ("LABEL 2", grpc.StatusCode.FAILED_PRECONDITION,
     "Request to assign label to version 2 of model pairs, which is not currently available "
     "for inference"),
    ("NEW MODEL WITHOUT VERSIONS", grpc.StatusCode.UNKNOWN,
     "1 model(s) did not become available: {{name: ghost due to error: worker "),
])
def test_reload_config_answers_tf_servings_codes(grpc_gateway: Any, text: str,
                                                code: grpc.StatusCode, message: str) -> None:
    m, target = grpc_gateway()
    if text == "LABEL 2":  # pairs serves v1 only: v2 is not AVAILABLE
        text = config_for(m.repo, (1,), {"canary": 2})
    elif text == "NEW MODEL WITHOUT VERSIONS":
        (m.repo / "ghost").mkdir()
        text = config_for(m.repo).replace("} }\n", f'}} config {{ name: "ghost" base_path: '
                                                   f'"{m.repo / "ghost"}" model_platform: '
                                                   '"tensorflow" } }\n')
    before = m.text()
    stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(target))
    with pytest.raises(grpc.RpcError) as err:
        stub.HandleReloadConfigRequest(reload_request(text), metadata=[
            ("authorization", f"Bearer {ADMIN}")])
    assert err.value.code() == code
    assert message in err.value.details()
    if code != grpc.StatusCode.UNKNOWN:  # refused before anything changed
        assert m.text() == before


def test_labels_for_unavailable_versions_as_tf_servings_flag_allows(grpc_gateway: Any) -> None:
    m, target = grpc_gateway(labels={"stable": 1},
                             allow_version_labels_for_unavailable_models=True)
    stub = model_service_pb2_grpc.ModelServiceStub(grpc.insecure_channel(target))
    metadata = [("authorization", f"Bearer {ADMIN}")]
    # A new label may name a version that is not AVAILABLE yet (it loads with this config).
    stub.HandleReloadConfigRequest(reload_request(
        config_for(m.repo, (1, 2), {"stable": 1, "canary": 2})), metadata=metadata)
    assert size_of(m.service, label="canary") == pytest.approx(103.0)
    # Moving an existing label still needs an AVAILABLE version (v2 leaves the policy).
    with pytest.raises(grpc.RpcError) as err:
        stub.HandleReloadConfigRequest(reload_request(
            config_for(m.repo, (1,), {"stable": 3})), metadata=metadata)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


GRPC_MANAGEMENT = ("RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload",
                   "HandleReloadConfigRequest")


def _call_management(target: str, method: str, metadata: list) -> None:
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    channel = grpc.insecure_channel(target)
    if method == "HandleReloadConfigRequest":
        model_service_pb2_grpc.ModelServiceStub(channel).HandleReloadConfigRequest(
            model_management_pb2.ReloadConfigRequest(
                config=model_server_config_pb2.ModelServerConfig()), metadata=metadata)
        return
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    request = {"RepositoryIndex": service_pb2.RepositoryIndexRequest(),
               "RepositoryModelLoad": service_pb2.RepositoryModelLoadRequest(model_name="x"),
               "RepositoryModelUnload": service_pb2.RepositoryModelUnloadRequest(
                   model_name="x")}[method]
    getattr(stub, method)(request, metadata=metadata)


@pytest.mark.parametrize("admin_keys,key,code", [
    ((), ADMIN, grpc.StatusCode.PERMISSION_DENIED),
    ((ADMIN,), None, grpc.StatusCode.UNAUTHENTICATED),
    ((ADMIN,), INFERENCE, grpc.StatusCode.PERMISSION_DENIED),
    ((ADMIN,), "guess", grpc.StatusCode.UNAUTHENTICATED),
])
def test_grpc_management_needs_an_admin_key(grpc_gateway: Any, admin_keys: tuple, key: Any,
                                            code: grpc.StatusCode) -> None:
    m, target = grpc_gateway(admin_keys=admin_keys, api_keys=(INFERENCE,))
    metadata = [("authorization", f"Bearer {key}")] if key else []
    for method in GRPC_MANAGEMENT:
        with pytest.raises(grpc.RpcError) as err:
            _call_management(target, method, metadata)
        assert err.value.code() == code, method
    assert "pairs" in m.text()


# -- every worker, or an answer naming those that did not ---------------------------------


def test_a_worker_that_does_not_apply_the_change_is_named(managed: Any,
                                                          tmp_path: Path) -> None:
    """Two 'workers' serve: this process and a pid whose record never comes (as a worker
    that hangs would); the change is written, this process applies it, the call answers
    UNAVAILABLE naming the other within its deadline."""
    board_dir = tmp_path / "board"
    board_dir.mkdir()
    started = StartedBoard(str(board_dir))
    silent = os.getpid() + 100000  # never records anything
    started.mark(os.getpid())
    started.mark(silent)
    m = managed(board=WorkerBoard(started))
    done = threading.Event()
    with pytest.raises(Unavailable) as err:
        try:
            m.service.management.load(origin("v2", timeout_s=1.0), "test", "half_plus_two")
        finally:
            done.set()
    assert f"worker(s) {silent} had not applied it" in err.value.message
    assert 'name: "half_plus_two"' in m.text()
    assert m.service.resolve("half_plus_two").version == 1  # this worker did apply it
    assert changes(m.service, "load", "v2", "UNAVAILABLE") == 1
    # Once the silent worker is gone (its marker removed by the master), calls return.
    started.forget(silent)
    m.service.management.unload(origin("v2"), "test", "half_plus_two")


def test_a_restart_serves_what_management_changed(managed: Any) -> None:
    """The change lives in the config file: a new process (a restart, or the new workers of
    a HUP, which build their service the same way) reads it at start-up."""
    m = managed(labels={"stable": 1})
    m.service.management.load(origin("v2"), "test", "half_plus_two")
    m.service.management.load(origin("v2"), "test", "pairs", VersionPolicy("all"), None)
    m.service.management.load(origin("v2"), "test", "pairs", None, {"stable": 2})
    m.service.stop()
    from serving.backends.embedded import EmbeddedBackend

    again = InferenceService(m.settings, EmbeddedBackend(m.settings), Metrics())
    again.start()
    try:
        assert again.wait_ready(60), again.readiness()
        assert size_of(again, label="stable") == pytest.approx(103.0)
        assert again.resolve("half_plus_two").version == 1
    finally:
        again.stop()
