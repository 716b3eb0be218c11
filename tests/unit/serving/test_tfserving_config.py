"""serving.tfserving_config: the files TF Serving reads, parsed with TF Serving's protos."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving import tfserving_config as tfc
from serving.config import Settings

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "k8s" / "base" / "tfserving"

# The tensorflow-serving-api wheel ships neither BatchingParameters nor
# MonitoringConfig, so these are the messages copied verbatim (comments dropped)
# from tensorflow/serving @ 9d981c5c (2026-07):
# tensorflow_serving/servables/tensorflow/session_bundle_config.proto and
# tensorflow_serving/config/monitoring_config.proto, compiled here with protoc.
SESSION_BUNDLE_CONFIG = """
syntax = "proto3";
package tensorflow.serving;
import "google/protobuf/wrappers.proto";
message BatchingParameters {
  google.protobuf.Int64Value max_batch_size = 1;
  google.protobuf.Int64Value batch_timeout_micros = 2;
  google.protobuf.Int64Value max_enqueued_batches = 3;
  google.protobuf.Int64Value num_batch_threads = 4;
  google.protobuf.StringValue thread_pool_name = 5;
  google.protobuf.BoolValue enable_large_batch_splitting = 8;
  google.protobuf.Int64Value max_execution_batch_size = 9;
  repeated int64 allowed_batch_sizes = 6;
  bool pad_variable_length_inputs = 7;
}
"""
MONITORING_CONFIG = """
syntax = "proto3";
package tensorflow.serving;
message PrometheusConfig {
  bool enable = 1;
  string path = 2;
}
message MonitoringConfig {
  PrometheusConfig prometheus_config = 1;
}
"""


def _compile(tmp: Path, rel: str, source: str) -> ModuleType:
    proto = tmp / rel
    proto.parent.mkdir(parents=True, exist_ok=True)
    proto.write_text(source)
    # In a process of its own: grpc_tools' protoc crashes in a process that has
    # loaded TensorFlow (both carry protobuf's C++ runtime).
    code = ("import sys, pathlib, grpc_tools.protoc as p; "
            "inc = pathlib.Path(p.__file__).parent / '_proto'; "
            "sys.exit(p.main(['protoc', f'-I{sys.argv[1]}', f'-I{inc}', "
            "f'--python_out={sys.argv[1]}', sys.argv[2]]))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp), str(proto)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    generated = tmp / rel.replace(".proto", "_pb2.py")
    spec = importlib.util.spec_from_file_location("k8s_test_" + generated.stem, generated)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def protos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleType]:
    tmp = tmp_path_factory.mktemp("tfs_protos")
    return {
        "batching": _compile(tmp, "tensorflow_serving/servables/tensorflow/"
                             "session_bundle_config.proto", SESSION_BUNDLE_CONFIG),
        "monitoring": _compile(tmp, "tensorflow_serving/config/monitoring_config.proto",
                               MONITORING_CONFIG),
    }


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository layout: the generator reads only names, never the SavedModels."""
    layout = {"qa": [1, 2, 3], "profiler": [4], "headline": [1, 10, 2],
              "similarity": [], "price": [7]}
    for name, versions in layout.items():
        (tmp_path / "models" / name).mkdir(parents=True)
        for version in versions:
            vdir = tmp_path / "models" / name / str(version)
            vdir.mkdir()
            (vdir / "saved_model.pb").write_bytes(b"")
    # An export in flight and a stray file are not versions.
    (tmp_path / "models" / "qa" / ".tmp-export-abc").mkdir()
    (tmp_path / "models" / "qa" / "notes.txt").write_text("x")
    return tmp_path / "models"


def parse_models(path: Path) -> dict[str, model_server_config_pb2.ModelConfig]:
    config = text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
    return {c.name: c for c in config.model_config_list.config}


def run(*args: str) -> int:
    return tfc.main([str(a) for a in args])


def test_models_config_names_every_model_and_version(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("--model-dir", repo, "--out", out, "--base-path", "/models") == 0
    models = parse_models(out / "models.config")
    # similarity has no version yet: TF Serving would block start-up waiting for it.
    assert sorted(models) == ["headline", "price", "profiler", "qa"]
    for name, config in models.items():
        assert config.base_path == f"/models/{name}"
        assert config.model_platform == "tensorflow"
        assert config.model_version_policy.latest.num_versions == 2
    # Integer order, not string order: 10 is newer than 2.
    assert dict(models["headline"].version_labels) == {"stable": 2, "canary": 10}
    assert dict(models["qa"].version_labels) == {"stable": 2, "canary": 3}
    assert dict(models["profiler"].version_labels) == {"stable": 4}


def test_base_path_defaults_to_the_repository(repo: Path, tmp_path: Path) -> None:
    assert run("--model-dir", repo, "--out", tmp_path / "out") == 0
    models = parse_models(tmp_path / "out" / "models.config")
    assert models["qa"].base_path == str(repo.resolve() / "qa")


def test_all_policy_serves_every_version(repo: Path, tmp_path: Path) -> None:
    assert run("--model-dir", repo, "--out", tmp_path, "--version-policy", "all") == 0
    models = parse_models(tmp_path / "models.config")
    assert models["qa"].model_version_policy.WhichOneof("policy_choice") == "all"
    assert dict(models["qa"].version_labels) == {"stable": 2, "canary": 3}


def test_specific_policy_labels_only_served_versions(repo: Path, tmp_path: Path) -> None:
    assert run("--model-dir", repo, "--out", tmp_path, "--version-policy", "specific",
               "--versions", "1,3", "--models", "qa,profiler") == 0
    models = parse_models(tmp_path / "models.config")
    assert list(models["qa"].model_version_policy.specific.versions) == [1, 3]
    assert dict(models["qa"].version_labels) == {"stable": 1, "canary": 3}
    # Version 4 is not among the specific versions, so no label may name it.
    assert dict(models["profiler"].version_labels) == {}


def test_one_served_version_gets_stable_only(repo: Path, tmp_path: Path) -> None:
    assert run("--model-dir", repo, "--out", tmp_path, "--num-versions", "1") == 0
    models = parse_models(tmp_path / "models.config")
    assert dict(models["qa"].version_labels) == {"stable": 3}


def test_no_labels_flag(repo: Path, tmp_path: Path) -> None:
    assert run("--model-dir", repo, "--out", tmp_path, "--no-labels") == 0
    assert all(not c.version_labels for c in parse_models(tmp_path / "models.config").values())


def test_batching_config_parses_with_settings_defaults(repo: Path, tmp_path: Path,
                                                       protos: dict[str, ModuleType]) -> None:
    assert run("--model-dir", repo, "--out", tmp_path) == 0
    params = text_format.Parse((tmp_path / "batching.config").read_text(),
                               protos["batching"].BatchingParameters())
    defaults = Settings()
    assert params.max_batch_size.value == defaults.max_batch_size
    assert params.batch_timeout_micros.value == defaults.batch_timeout_micros
    assert params.max_enqueued_batches.value == defaults.max_enqueued_batches
    assert params.num_batch_threads.value == defaults.num_batch_threads
    assert params.pad_variable_length_inputs is True
    assert list(params.allowed_batch_sizes) == []


def test_batching_flags(repo: Path, tmp_path: Path, protos: dict[str, ModuleType]) -> None:
    assert run("--model-dir", repo, "--out", tmp_path, "--max-batch-size", "32",
               "--num-batch-threads", "8", "--allowed-batch-sizes", "4,16,32") == 0
    params = text_format.Parse((tmp_path / "batching.config").read_text(),
                               protos["batching"].BatchingParameters())
    assert params.max_batch_size.value == 32
    assert params.num_batch_threads.value == 8
    assert list(params.allowed_batch_sizes) == [4, 16, 32]


@pytest.mark.parametrize("args, message", [
    (["--allowed-batch-sizes", "8,4,64"], "allowed_batch_sizes must be increasing"),
    (["--allowed-batch-sizes", "4,8"], "ending with max_batch_size (64)"),
    (["--num-batch-threads", "0"], "num_batch_threads must be at least 1"),
    (["--version-policy", "specific"], "--versions is required"),
    (["--num-versions", "0"], "--num-versions must be at least 1"),
])
def test_bad_options_exit_2_with_one_sentence(repo: Path, tmp_path: Path, capsys,
                                              args: list[str], message: str) -> None:
    assert run("--model-dir", repo, "--out", tmp_path / "out", *args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_monitoring_config_parses(repo: Path, tmp_path: Path,
                                  protos: dict[str, ModuleType]) -> None:
    assert run("--model-dir", repo, "--out", tmp_path) == 0
    config = text_format.Parse((tmp_path / "monitoring.config").read_text(),
                               protos["monitoring"].MonitoringConfig())
    assert config.prometheus_config.enable is True
    assert config.prometheus_config.path == "/monitoring/prometheus/metrics"


def test_defaults_mode_lists_the_training_defaults(tmp_path: Path) -> None:
    from training.models import DEFAULT_MODELS

    assert run("--defaults", "--out", tmp_path) == 0
    models = parse_models(tmp_path / "models.config")
    assert list(models) == list(DEFAULT_MODELS)
    for name, config in models.items():
        assert config.base_path == f"/models/{name}"
        # Versions are unknown before training; a label would name nothing.
        assert not config.version_labels


def test_committed_kubernetes_files_are_the_generator_output(tmp_path: Path) -> None:
    assert run("--defaults", "--out", tmp_path) == 0
    for name in (tfc.MODELS_FILE, tfc.BATCHING_FILE, tfc.MONITORING_FILE):
        assert (COMMITTED / name).read_text() == (tmp_path / name).read_text(), (
            f"k8s/base/tfserving/{name} is stale: run `make k8s`")


def test_cli_runs_as_a_module(repo: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "serving.tfserving_config", "--model-dir",
                           str(repo), "--out", str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "skipping similarity" in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "batching.config", "models.config", "monitoring.config"]
    missing = subprocess.run([sys.executable, "-m", "serving.tfserving_config", "--model-dir",
                              str(tmp_path / "nope"), "--out", str(tmp_path / "x")], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert "is not a directory" in missing.stderr
