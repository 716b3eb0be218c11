"""A protocol-faithful TensorFlow Serving stand-in for tests (tensorflow_model_server is
not installable here).

It is a grpc server built on TF Serving's own generated servicers
(`prediction_service_pb2_grpc.PredictionServiceServicer`,
`model_service_pb2_grpc.ModelServiceServicer`) that serves SavedModels in TF
Serving's layout (`NAME/VERSION/`): the newest version by default (TF Serving's
default policy, latest 1), or what an optional model config file says
(`model_version_policy`, `version_labels`). New versions are picked up by a 1 s
poll, like `--file_system_poll_wait_seconds=1`.

- GetModelMetadata answers the real `SignatureDefMap` parsed from `saved_model.pb`.
- Predict runs the signature (`tf.saved_model.load`), echoes model_spec with the
  version and the resolved signature name, honours output_filter, and encodes
  outputs in typed fields as TF Serving does (`Tensor::AsProtoField`).
- Errors use TF Serving's codes and message forms; each check cites its source
  file in tensorflow/serving (or tensorflow/tensorflow where TF raises it).
- ModelService.HandleReloadConfigRequest replaces the model config as ServerCore::
  ReloadConfig does, in its order: its checks, the label rule (a label names only an
  AVAILABLE version, `--allow-version-labels-for-unavailable-models` as TF Serving's flag),
  then loading what is new and unloading what the config no longer lists; UNKNOWN when a
  model new to the config did not become available.
- `--enable-batching` merges concurrent Predicts of one signature into one call, as
  TF Serving's `--enable_batching` does (it uses the gateway's own batcher with TF
  Serving's parameter names: max_batch_size 64, batch_timeout_micros 0, one batch
  thread), so `python -m tests.bench.batching_layer` can compare batching in the
  gateway with batching in the model server.

Run it as a process so that tests can kill and restart it:

    python -m tests.fakes.tfserving_fake --model-dir models --port 8500

It prints `listening on 127.0.0.1:PORT` once the models are loaded (TF Serving,
too, opens its ports only after the first load). `start_fake_tfserving` does
that from a test and returns a handle (`FakeTFServing`). Where TF Serving is only the
runtime behind the gateway and never dies, `InProcessTFServing` runs the same servers in
the test's own process, without an interpreter and TensorFlow to start.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Any

from tests.processes import REPO_ROOT, stop_process, subprocess_env

READY_PREFIX = "listening on "
HELD_PREFIX = "loaded, held"


class FakeTFServing:
    """Handle on a stand-in process: `.address` ("127.0.0.1:PORT"), `.port`, `.stop()`.

    `prepare()` starts the next process ahead, held after loading its models with its
    port still closed; `start()` then only opens the port: a test that takes TF Serving
    down and up need not wait for an interpreter and TensorFlow to start each time."""

    def __init__(self, model_dir: str | os.PathLike[str], port: int = 0,
                 model_config: str | os.PathLike[str] | None = None,
                 predict_delay_s: float = 0.0, startup_timeout_s: float = 120.0,
                 enable_batching: bool = False) -> None:
        self.model_dir = str(model_dir)
        self.enable_batching = enable_batching
        self.port = port
        self.model_config = str(model_config) if model_config else None
        self.predict_delay_s = predict_delay_s
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[str] | None = None
        self._held: subprocess.Popen[str] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="tfserving-fake-", suffix=".log",
                                                delete=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _spawn(self, hold: bool) -> subprocess.Popen[str]:
        cmd = [sys.executable, "-m", "tests.fakes.tfserving_fake", "--model-dir", self.model_dir,
               "--port", str(self.port), "--predict-delay-s", str(self.predict_delay_s)]
        if self.enable_batching:
            cmd.append("--enable-batching")
        if self.model_config:
            cmd += ["--model-config", self.model_config]
        if hold:
            cmd.append("--hold")
        return subprocess.Popen(cmd, cwd=REPO_ROOT, env=subprocess_env(), text=True,
                                stdin=subprocess.PIPE if hold else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=self._log,
                                start_new_session=True)

    def _expect(self, process: subprocess.Popen[str], prefix: str) -> str:
        line = _wait_for_line(process, prefix, self.startup_timeout_s)
        if line is None:
            stop_process(process, kill=True)
            raise RuntimeError(f"TF Serving stand-in did not start: {self.log_tail()}")
        return line

    def prepare(self) -> FakeTFServing:
        """Start the next process now, returning at once: it loads its models and holds
        its port closed until `start()`."""
        if self._held is None:
            self._held = self._spawn(hold=True)
        return self

    def start(self) -> FakeTFServing:
        """Open TF Serving's port (on `self.port`; 0 picks a free one): the prepared
        process's once it has loaded, else a new one's; returns once it listens."""
        if self._held is not None:
            process, self._held = self._held, None
            self._expect(process, HELD_PREFIX)
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        else:
            process = self._spawn(hold=False)
        self.process = process
        self.port = int(self._expect(process, READY_PREFIX).rsplit(":", 1)[1])
        return self

    def stop(self, kill: bool = False) -> None:
        """Stop the process: SIGTERM (graceful) or SIGKILL (a crash); idempotent."""
        process, self.process = self.process, None
        stop_process(process, kill=kill, grace_s=10)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return Path(self._log.name).read_text()[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> FakeTFServing:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        held, self._held = self._held, None
        stop_process(held, kill=True)
        Path(self._log.name).unlink(missing_ok=True)


def start_fake_tfserving(model_dir: str | os.PathLike[str], port: int = 0,
                         model_config: str | os.PathLike[str] | None = None,
                         predict_delay_s: float = 0.0) -> FakeTFServing:
    """Start the stand-in on `model_dir`; use the handle as a context manager or `.stop()` it."""
    return FakeTFServing(model_dir, port, model_config, predict_delay_s).start()


def _wait_for_line(process: subprocess.Popen[str], prefix: str, timeout_s: float) -> str | None:
    """The child's first stdout line starting with `prefix`, or None (exit or timeout)."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(remaining):
                return None
            line = process.stdout.readline()  # the child writes whole, flushed lines
            if not line:
                return None
            if line.startswith(prefix):
                return line.strip()
    return None


# --------------------------------------------------------------------------------------
# The server side (runs in the stand-in process; imports TensorFlow lazily).

_NO_PLATFORM = ("Illegal setting neither ModelServerConfig::model_type (deprecated) nor "
                "ModelServerConfig::model_platform.")


class _ServingError(Exception):
    def __init__(self, code_name: str, message: str) -> None:
        super().__init__(message)
        self.code_name = code_name
        self.message = message


class _Servable:
    def __init__(self, name: str, version: int, path: Path) -> None:
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2

        self.name, self.version, self.path = name, version, path
        saved_model = saved_model_pb2.SavedModel()
        saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
        # The SignatureDefMap TF Serving reports is the MetaGraphDef's, init op included.
        self.signature_defs = saved_model.meta_graphs[0].signature_def
        self.loaded = tf.saved_model.load(str(path))


class ModelStore:
    """The servables the stand-in serves, by model and version, plus version labels.

    Like TF Serving's ServerCore it holds one model config: the file's (re-read when it
    changes, like --model_config_file_poll_wait_seconds) or the last one
    HandleReloadConfigRequest accepted (`reload`).
    """

    def __init__(self, model_dir: Path, model_config: str | None = None,
                 allow_labels_for_unavailable: bool = False) -> None:
        self.model_dir = model_dir
        self.model_config = model_config
        self.allow_labels_for_unavailable = allow_labels_for_unavailable
        self.servables: dict[str, dict[int, _Servable]] = {}
        self.loading: dict[str, set[int]] = {}
        self.ended: dict[str, set[int]] = {}  # unloaded versions stay listed as END
        self.labels: dict[str, dict[str, int]] = {}
        # The W3C `traceparent` metadata of every Predict, in order ("" when none came):
        # what a tracing test reads to see the gateway's context arrive (TF Serving itself
        # takes it from the call's metadata the same way when built with tracing).
        self.traceparents: list[str] = []
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()  # one sync at a time: the poller's or a reload's
        self._stop = threading.Event()
        self._stored: Any = None  # ServerCore::config_
        self._source: Any = None  # what the file system source polls
        self._file_mtime: float | None = None

    def _read_file(self) -> None:
        """The config file, when it changed since it was last read."""
        if not self.model_config:
            return
        mtime = os.stat(self.model_config).st_mtime
        if mtime == self._file_mtime:
            return
        from google.protobuf import text_format
        from tensorflow_serving.config import model_server_config_pb2

        config = model_server_config_pb2.ModelServerConfig()
        text_format.Parse(Path(self.model_config).read_text(), config)
        self._file_mtime = mtime
        self._stored = self._source = config
        with self._lock:
            self.labels = {e.name: dict(e.version_labels)
                           for e in config.model_config_list.config}

    def _config(self) -> list[tuple[str, Path, Any]]:
        """(name, base path, version policy or None) for every model to serve."""
        if self._source is None:
            return [(d.name, d, None) for d in sorted(self.model_dir.iterdir())
                    if d.is_dir() and not d.name.startswith(".")]
        models = []
        for entry in self._source.model_config_list.config:
            base = Path(entry.base_path)
            base = base if base.is_absolute() else self.model_dir / base
            models.append((entry.name, base, entry.model_version_policy))
        return models

    @staticmethod
    def _wanted(base: Path, policy: Any) -> list[int]:
        # Version directories are integers; anything else (.tmp-export-*) is ignored,
        # as FileSystemStoragePathSource does.
        versions = sorted(int(p.name) for p in base.iterdir()
                          if p.is_dir() and p.name.isdigit() and (p / "saved_model.pb").exists())
        if policy is None or policy.WhichOneof("policy_choice") in (None, "latest"):
            keep = policy.latest.num_versions if policy is not None and \
                policy.HasField("latest") and policy.latest.num_versions else 1
            return versions[-keep:]
        if policy.WhichOneof("policy_choice") == "all":
            return versions
        return [v for v in versions if v in set(policy.specific.versions)]

    def sync(self) -> None:
        """Load wanted versions that are not loaded; unload the rest, and every version of
        a model the config no longer lists."""
        with self._sync_lock:
            self._read_file()
            configured = self._config()
            for name, base, policy in configured:
                try:
                    wanted = self._wanted(base, policy)
                except OSError:
                    wanted = []
                with self._lock:
                    have = self.servables.setdefault(name, {})
                    new = [v for v in wanted if v not in have]
                    self.loading.setdefault(name, set()).update(new)
                for version in new:
                    servable = _Servable(name, version, base / str(version))
                    with self._lock:
                        have[version] = servable
                        self.loading[name].discard(version)
                self._end(name, keep=wanted)
            names = {name for name, _, _ in configured}
            for name in [n for n in list(self.servables) if n not in names]:
                self._end(name, keep=[])

    def _end(self, name: str, keep: list[int]) -> None:
        with self._lock:
            have = self.servables.get(name, {})
            ended = self.ended.setdefault(name, set())
            ended.difference_update(have)
            for version in [v for v in have if v not in keep]:
                del have[version]
                ended.add(version)

    def reload(self, config: Any) -> None:
        """HandleReloadConfigRequest (model_servers/model_service_impl.cc) and
        ServerCore::ReloadConfig (model_servers/server_core.cc), in their order."""
        if config.WhichOneof("config") != "model_config_list":
            raise _ServingError("INVALID_ARGUMENT", (
                "ServerModelConfig type not supported by HandleReloadConfigRequest. Only "
                "ModelConfigList is currently supported"))
        names: set[str] = set()
        for model in config.model_config_list.config:  # ValidateModelConfigList
            if model.name in names:
                raise _ServingError("INVALID_ARGUMENT", f"Illegal to list model {model.name} "
                                                        "multiple times in config list")
            names.add(model.name)
        for model in config.model_config_list.config:
            if "://" not in model.base_path and not os.path.isabs(model.base_path):
                raise _ServingError("INVALID_ARGUMENT", (
                    f"Expected model {model.name} to have an absolute path or URI; got "
                    f"base_path()={model.base_path}"))
        old = {m.name for m in self._stored.model_config_list.config} if self._stored else set()
        for model in config.model_config_list.config:  # ValidateNoModelsChangePlatforms
            if model.name in old and not model.model_platform:
                raise _ServingError("INVALID_ARGUMENT", _NO_PLATFORM)
        self._stored = config  # stored before the labels are checked, as ServerCore does
        labels = self._check_labels(config)  # UpdateModelVersionLabelMap
        for model in config.model_config_list.config:  # CreateStoragePathRoutes
            if not model.model_platform:
                raise _ServingError("INVALID_ARGUMENT", _NO_PLATFORM)
            if model.model_platform != "tensorflow":
                raise _ServingError("INVALID_ARGUMENT", f"Model {model.name} requests "
                                    f"unsupported platform {model.model_platform}")
        with self._lock:
            self.labels = labels
        new_models = names - old
        self._source = config
        self.sync()
        with self._lock:  # WaitUntilModelsAvailable: only models new to the config
            missing = sorted(n for n in new_models if not self.servables.get(n))
        if missing:
            raise _ServingError("UNKNOWN", f"{len(missing)} model(s) did not become "
                                "available: {" + "".join(f"{{name: {n} version: -1}}, "
                                                          for n in missing) + "}")

    def _check_labels(self, config: Any) -> dict[str, dict[str, int]]:
        labels: dict[str, dict[str, int]] = {}
        with self._lock:
            for model in config.model_config_list.config:
                available = set(self.servables.get(model.name, {}))
                current = self.labels.get(model.name, {})
                for label, version in model.version_labels.items():
                    allowed = self.allow_labels_for_unavailable and \
                        current.get(label, version) == version
                    if not allowed and version not in available:
                        raise _ServingError("FAILED_PRECONDITION", (
                            f"Request to assign label to version {version} of model "
                            f"{model.name}, which is not currently available for inference"))
                    labels.setdefault(model.name, {})[label] = version
        return labels

    def start_polling(self) -> None:
        def loop() -> None:
            while not self._stop.wait(1.0):
                try:
                    self.sync()
                except Exception as exc:  # noqa: BLE001 - keep serving what is loaded
                    print(f"poll failed: {exc}", file=sys.stderr)

        threading.Thread(target=loop, daemon=True).start()

    def stop_polling(self) -> None:
        self._stop.set()

    def get(self, spec: Any) -> _Servable:
        """The servable a ModelSpec asks for (server_core.cc GetServableHandle)."""
        if not spec.name:
            # tensorflow_serving/model_servers/server_core.cc ServableRequestFromModelSpec
            raise _ServingError("INVALID_ARGUMENT", "ModelSpec has no name specified.")
        with self._lock:
            versions = self.servables.get(spec.name, {})
            choice = spec.WhichOneof("version_choice")
            if choice == "version_label":
                label = self.labels.get(spec.name, {}).get(spec.version_label)
                if label is None:
                    # server_core.cc GetModelVersionForLabel
                    raise _ServingError("INVALID_ARGUMENT", "Unrecognized servable version "
                                                            f"label: {spec.version_label}")
                request = f"Specific({spec.name}, {label})"
                servable = versions.get(label)
            elif choice == "version":
                request = f"Specific({spec.name}, {spec.version.value})"
                servable = versions.get(spec.version.value)
            else:
                request = f"Latest({spec.name})"
                servable = versions[max(versions)] if versions else None
        if servable is None:
            # core/basic_manager.cc GetUntypedServableHandle; ServableRequest::DebugString
            raise _ServingError("NOT_FOUND", f"Servable not found for request: {request}")
        return servable


def _tf_type_name(dtype: int) -> str:
    # DataTypeString spellings (tensorflow/core/framework/types.cc).
    import tensorflow as tf

    name = tf.dtypes.as_dtype(dtype).name
    return {"float32": "float", "float64": "double", "float16": "half"}.get(name, name)


def _as_proto_field(array: Any, proto: Any) -> None:
    """numpy -> TensorProto in typed fields, as Tensor::AsProtoField writes them."""
    import numpy as np
    import tensorflow as tf

    array = np.asarray(array)
    proto.dtype = tf.dtypes.as_dtype(array.dtype if array.dtype.kind not in "OSU"
                                     else tf.string).as_datatype_enum
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    flat = array.ravel()
    field = {"f": "float_val", "b": "bool_val"}.get(array.dtype.kind)
    if array.dtype.kind in "OSU":
        proto.string_val.extend(x.encode() if isinstance(x, str) else bytes(x) for x in flat)
    elif array.dtype == np.float64:
        proto.double_val.extend(flat.tolist())
    elif array.dtype == np.int64:
        proto.int64_val.extend(flat.tolist())
    elif field is None:
        proto.int_val.extend(flat.tolist())
    else:
        getattr(proto, field).extend(flat.tolist())


def _predict(store: ModelStore, request: Any, delay_s: float, batcher: Any = None) -> Any:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    servable = store.get(request.model_spec)
    if delay_s:
        time.sleep(delay_s)
    # tensorflow_serving/servables/tensorflow/predict_util.cc RunPredict
    name = request.model_spec.signature_name or "serving_default"
    if name not in servable.signature_defs:
        raise _ServingError("FAILED_PRECONDITION", f'Serving signature key "{name}" not found.')
    signature = servable.signature_defs[name]
    sent, expected = sorted(request.inputs), sorted(signature.inputs)
    if len(sent) != len(expected):
        # predict_util.cc VerifyRequestInputsSize
        raise _ServingError("INVALID_ARGUMENT", (
            f"input size does not match signature: {len(sent)}!={len(expected)} "
            f"len({{{','.join(sent)}}}) != len({{{','.join(expected)}}}). "
            f"Sent extra: {{{','.join(sorted(set(sent) - set(expected)))}}}. "
            f"Missing but required: {{{','.join(sorted(set(expected) - set(sent)))}}}."))
    feeds = {}
    for index, alias in enumerate(expected):
        info = signature.inputs[alias]
        if alias not in request.inputs:
            # tensorflow/cc/saved_model/util.cc GetInputValues
            raise _ServingError("INVALID_ARGUMENT", (
                f"Signature input alias: {alias}(feed name: {info.name}) not found in request "
                f"and no default value provided. Inputs expected to be in the request "
                f"{{{','.join(sent)}}}, or default input alias set: "))
        proto = request.inputs[alias]
        try:
            value = tf.make_ndarray(proto)
        except Exception:  # noqa: BLE001 - any parse failure is TF's "tensor parsing error"
            raise _ServingError("INVALID_ARGUMENT", f"tensor parsing error: {alias}") from None
        if proto.dtype != info.dtype:
            # tensorflow/core/framework/function.cc FunctionCallFrame::SetArgs
            raise _ServingError("INVALID_ARGUMENT", (
                f"Expects arg[{index}] to be {_tf_type_name(info.dtype)} but "
                f"{_tf_type_name(proto.dtype)} is provided"))
        feeds[alias] = value
    aliases = list(request.output_filter)
    for alias in aliases:
        if alias not in signature.outputs:
            # predict_util.cc PreProcessPrediction
            raise _ServingError("INVALID_ARGUMENT", (
                f"output tensor alias not found in signature: {alias} Outputs expected to be "
                f"in the set {{{','.join(sorted(signature.outputs))}}}."))
    if len(set(aliases)) != len(aliases):
        dup = next(a for a in aliases if aliases.count(a) > 1)
        raise _ServingError("INVALID_ARGUMENT", f"duplicate output tensor alias: {dup}")
    fn = servable.loaded.signatures[name]
    dtypes = {alias: tf.dtypes.as_dtype(signature.inputs[alias].dtype) for alias in feeds}

    def run(arrays: dict[str, Any], timeout_s: float = 0.0) -> dict[str, Any]:
        out = fn(**{k: tf.constant(v, dtype=dtypes[k]) for k, v in arrays.items()})
        return {k: v.numpy() for k, v in out.items()}

    sizes = {len(v) for v in feeds.values() if getattr(v, "ndim", 0) >= 1}
    try:
        if batcher is not None and len(sizes) == 1:
            key = (servable.name, servable.version, name, tuple(aliases),
                   tuple((k, v.shape[1:]) for k, v in sorted(feeds.items())))
            outputs = batcher.submit(key, feeds, sizes.pop(), run, time.monotonic() + 30)
        else:
            outputs = run(feeds)
    except tf.errors.OpError as exc:
        raise _ServingError(_code_name(exc.error_code), exc.message) from None
    except (TypeError, ValueError) as exc:  # shape/rank not accepted by the function
        raise _ServingError("INVALID_ARGUMENT", str(exc)) from None
    response = predict_pb2.PredictResponse()
    response.model_spec.name = request.model_spec.name
    response.model_spec.version.value = servable.version
    response.model_spec.signature_name = name
    for alias in aliases or sorted(signature.outputs):
        _as_proto_field(outputs[alias], response.outputs[alias])
    return response


def _code_name(error_code: int) -> str:
    import grpc

    return next((c.name for c in grpc.StatusCode if c.value[0] == error_code), "UNKNOWN")


def _metadata(store: ModelStore, request: Any) -> Any:
    from tensorflow_serving.apis import get_model_metadata_pb2

    # tensorflow_serving/servables/tensorflow/get_model_metadata_impl.cc
    if not request.HasField("model_spec"):
        raise _ServingError("INVALID_ARGUMENT", "Missing ModelSpec")
    if not request.metadata_field:
        raise _ServingError("INVALID_ARGUMENT",
                            "GetModelMetadataRequest must specify at least one metadata_field")
    for field in request.metadata_field:
        if field != "signature_def":
            raise _ServingError("INVALID_ARGUMENT", f"Metadata field {field} is not supported")
    servable = store.get(request.model_spec)
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    for key, value in servable.signature_defs.items():
        sig_map.signature_def[key].CopyFrom(value)
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    response.metadata["signature_def"].Pack(sig_map)
    return response


def _status(store: ModelStore, request: Any) -> Any:
    from tensorflow_serving.apis import get_model_status_pb2

    # tensorflow_serving/model_servers/get_model_status_impl.cc
    if not request.HasField("model_spec"):
        raise _ServingError("INVALID_ARGUMENT", "Missing ModelSpec")
    spec = request.model_spec
    with store._lock:
        states = {v: "END" for v in store.ended.get(spec.name, set())}
        states.update({v: "AVAILABLE" for v in store.servables.get(spec.name, {})})
        states.update({v: "LOADING" for v in store.loading.get(spec.name, set())})
    if spec.WhichOneof("version_choice") == "version":
        version = spec.version.value
        if version not in states:
            raise _ServingError("NOT_FOUND",
                                f"Could not find version {version} of model {spec.name}")
        states = {version: states[version]}
    elif not states:
        raise _ServingError("NOT_FOUND", f"Could not find any versions of model {spec.name}")
    response = get_model_status_pb2.GetModelStatusResponse()
    state_enum = get_model_status_pb2.ModelVersionStatus.State
    # Newest first: ServableStateMonitor::VersionMap is ordered by std::greater
    # (tensorflow_serving/core/servable_state_monitor.h).
    for version, state in sorted(states.items(), reverse=True):
        response.model_version_status.add(version=version, state=state_enum.Value(state))
    return response


def _reload(store: ModelStore, request: Any) -> Any:
    from tensorflow_serving.apis import model_management_pb2

    store.reload(request.config)
    return model_management_pb2.ReloadConfigResponse()  # status OK


def add_servicers(server: Any, store: ModelStore, predict_delay_s: float = 0.0,
                  batcher: Any = None) -> None:
    import grpc
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    def guarded(fn: Any, traced: bool = False) -> Any:
        def method(self: Any, request: Any, context: Any) -> Any:
            if traced:
                parent = dict(context.invocation_metadata()).get("traceparent", "")
                store.traceparents.append(parent)
                if parent:
                    print(f"Predict traceparent={parent}", file=sys.stderr, flush=True)
            try:
                return fn(request)
            except _ServingError as exc:
                error = exc
            # Cut at 1024 characters, as ToGRPCStatus does (model_servers/grpc_status_util.cc).
            message = error.message if len(error.message) <= 1024 else \
                error.message[:1024] + "...TRUNCATED"
            context.abort(getattr(grpc.StatusCode, error.code_name), message)
        return method

    class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
        Predict = guarded(lambda request: _predict(store, request, predict_delay_s, batcher),
                          traced=True)
        GetModelMetadata = guarded(lambda request: _metadata(store, request))

    class ModelService(model_service_pb2_grpc.ModelServiceServicer):
        GetModelStatus = guarded(lambda request: _status(store, request))
        HandleReloadConfigRequest = guarded(lambda request: _reload(store, request))

    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(), server)


def batching_for(enabled: bool) -> Any:
    """The batcher that merges concurrent Predicts (TF Serving's --enable_batching), or None."""
    if not enabled:
        return None
    from serving.config import Settings
    from serving.core.batching import Batcher

    return Batcher(Settings(max_batch_size=64, batch_timeout_micros=0, num_batch_threads=1))


def grpc_server(store: ModelStore, host: str, port: int, predict_delay_s: float = 0.0,
                batcher: Any = None) -> tuple[Any, int]:
    """A started gRPC server serving `store` on host:port (0: a free port); (server, port)."""
    import grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[
        ("grpc.max_receive_message_length", 2**31 - 1),
        ("grpc.max_send_message_length", 2**31 - 1),
        # A second stand-in on a port still held must fail, not share it.
        ("grpc.so_reuseport", 0),
    ])
    add_servicers(server, store, predict_delay_s=predict_delay_s, batcher=batcher)
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"cannot bind {host}:{port}")
    server.start()
    return server, bound


class InProcessTFServing:
    """The stand-in's gRPC server in the calling process, with `FakeTFServing`'s handle
    (`.address`, `.port`, `.start()`, `.stop()`, context manager): no interpreter or
    TensorFlow start-up, for tests that never need TF Serving's process to die (those use
    `FakeTFServing`). Loads the models in `start()`, then polls like the process does."""

    def __init__(self, model_dir: str | os.PathLike[str], port: int = 0,
                 model_config: str | os.PathLike[str] | None = None,
                 predict_delay_s: float = 0.0) -> None:
        self.model_dir = Path(model_dir)
        self.port = port
        self.model_config = str(model_config) if model_config else None
        self.predict_delay_s = predict_delay_s
        self._store: ModelStore | None = None
        self._server: Any = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def store(self) -> ModelStore:
        """What the running stand-in saw (`store.traceparents`)."""
        assert self._store is not None, "start() first"
        return self._store

    def start(self) -> InProcessTFServing:
        store = ModelStore(self.model_dir, self.model_config)
        store.sync()  # ports open once the first versions are loaded, as in the process
        self._server, self.port = grpc_server(store, "127.0.0.1", self.port,
                                              self.predict_delay_s)
        store.start_polling()
        self._store = store
        return self

    def stop(self, kill: bool = False) -> None:
        store, server, self._store, self._server = self._store, None, None, None
        if store is not None:
            store.stop_polling()
        if server is not None:
            server.stop(0 if kill else 1.0).wait(10)

    def __enter__(self) -> InProcessTFServing:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--port", type=int, default=8500)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model-config", default=None,
                        help="TF Serving model config file (text ModelServerConfig)")
    parser.add_argument("--predict-delay-s", type=float, default=0.0,
                        help="sleep this long in every Predict (deadline tests)")
    parser.add_argument("--enable-batching", action="store_true",
                        help="merge concurrent Predicts, as TF Serving's --enable_batching")
    parser.add_argument("--hold", action="store_true",
                        help="after loading, wait for a line on stdin before opening the port")
    parser.add_argument("--allow-version-labels-for-unavailable-models", action="store_true",
                        help="TF Serving's flag of that name")
    args = parser.parse_args(argv)

    import tensorflow as tf  # after argparse: --help should not pay for TensorFlow

    # Tests share two cores with the gateway: keep the stand-in's pools small.
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)

    store = ModelStore(Path(args.model_dir), args.model_config,
                       args.allow_version_labels_for_unavailable_models)
    store.sync()  # TF Serving, too, opens its ports once the first versions are loaded
    if args.hold:
        print(HELD_PREFIX, flush=True)
        if not sys.stdin.readline():  # the test is gone
            return
    try:
        server, port = grpc_server(store, args.host, args.port, args.predict_delay_s,
                                   batching_for(args.enable_batching))
    except OSError as exc:
        raise SystemExit(str(exc)) from None
    store.start_polling()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(f"{READY_PREFIX}{args.host}:{port}", flush=True)
    parent = os.getppid()
    # A test process killed by a timeout cannot stop us: exit when it is gone.
    while not stopped.wait(1.0):
        if os.getppid() != parent:
            break
    store.stop_polling()
    server.stop(1.0).wait()


if __name__ == "__main__":
    main()
