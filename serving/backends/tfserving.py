"""The `tfserving` backend: TensorFlow Serving over its gRPC API (tensorflow-serving-api).

What it serves: the models named by the model config file (MULTIHEAD_MODEL_CONFIG,
TF Serving's own text format, also the source of version labels) or, without one,
the model directories of MULTIHEAD_MODEL_DIR when the gateway can read the
repository TF Serving loads; a model asked for by name that TF Serving serves is
added on first use. A background poll (every POLL_INTERVAL_S) asks
`ModelService.GetModelStatus` for every model and reads the signatures of each
newly AVAILABLE version once with `GetModelMetadata` (the model card, which TF
Serving's metadata lacks, comes from `assets.extra/model_card.json` when the
repository is shared). The same poll is the readiness check: TF Serving
unreachable, or a model without an AVAILABLE version, means not ready, and the
next successful poll makes the gateway ready again without a restart.

Calls carry a deadline (the request's budget) and are retried with exponential
backoff on UNAVAILABLE only; TF Serving's status codes map to `serving.errors`.

A TF Serving that stops answering without closing its connections (a hung process, a full
GPU queue) must not park every gateway thread until each call's deadline: the calls of
each worker are bounded (`tfserving_max_inflight`, beyond which a call is refused at once),
and when the status poll gets no answer within STATUS_TIMEOUT_S while nothing else was
answered either, the runtime is taken for hung: readiness says so, the calls in flight are
cancelled and fail with UNAVAILABLE, new ones are refused at once, until a poll is
answered again (serving/backends/runtime_guard.py).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import errors
from serving.backends import repository
from serving.backends.base import Backend, ConfigListener, ModelVersion, VersionStatus
from serving.backends.model_config import (
    ModelConfigError,
    ModelEntry,
    read_snapshot,
    to_proto,
)
from serving.backends.runtime_guard import RuntimeGuard
from serving.backends.savedmodel_meta import signature_spec
from serving.config import Settings
from serving.tensor_proto import array_to_proto, proto_to_array
from serving.tracing import outgoing_metadata
from serving.types import DEFAULT_SIGNATURE

log = logging.getLogger(__name__)

# TF Serving itself accepts messages up to INT32_MAX (model_servers/server.cc,
# SetMaxMessageSize); the gateway already limits what clients send.
MAX_MESSAGE_BYTES = 2**31 - 1
RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.4)  # backoff between attempts on UNAVAILABLE
# TF Serving answers a status call from memory in well under a millisecond; one that takes
# this long, while no other call was answered for as long either, comes from a runtime that
# is not answering.
STATUS_TIMEOUT_S = 2.0
UNREACHABLE_POLL_S = 0.25  # how often an unreachable TF Serving is asked again
_NOT_ANSWERED = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                 grpc.StatusCode.CANCELLED)
_STATE_NAMES = get_model_status_pb2.ModelVersionStatus.State
_ERROR_CODE_ENUM = (get_model_status_pb2.ModelVersionStatus.DESCRIPTOR.fields_by_name["status"]
                    .message_type.fields_by_name["error_code"].enum_type)
# What TF Serving's HandleReloadConfigRequest answers (model_service_impl.cc, server_core.cc)
# reaches the management client with TF Serving's own code and sentence.
RELOAD_CODES: dict[grpc.StatusCode, type[errors.GatewayError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidInput,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.UNKNOWN: errors.Unknown,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.UNIMPLEMENTED: errors.Unimplemented,
}

@dataclass(frozen=True)
class _Newest(ModelVersion):
    """A version resolved as "the newest AVAILABLE" (no version or label asked for)."""

    @classmethod
    def of(cls, mv: ModelVersion) -> _Newest:
        return mv if isinstance(mv, _Newest) else cls(
            **{f.name: getattr(mv, f.name) for f in dataclasses.fields(mv)})


@dataclass
class _Model:
    statuses: list[VersionStatus] = field(default_factory=list)
    versions: dict[int, ModelVersion] = field(default_factory=dict)  # AVAILABLE, described
    problem: str = ""  # why this model is not servable ("" when it is)


class TFServingBackend(Backend):
    name = "tfserving"

    def __init__(self, settings: Settings, models: Sequence[str] = ()) -> None:
        self._settings = settings
        self._addr = settings.tfserving_addr
        self._configured = tuple(models)
        self._discovered: set[str] = set()  # served by TF Serving, found by a lookup
        self._labels: dict[str, dict[str, int]] = {}
        self._models: dict[str, _Model] = {}
        self._reachable: bool | None = None  # None: not polled yet
        self._unreachable_why = ""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._polled = threading.Event()  # the first poll is over
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._channel: grpc.Channel | None = None
        self._guard = RuntimeGuard(settings.tfserving_max_inflight, f"TF Serving at {self._addr}")
        self._explicit = settings.model_control_mode == "explicit"
        self._config_digest = ""
        self._config_entries: dict[str, ModelEntry] = {}
        self._config_listeners: list[ConfigListener] = []
        self._refresh_lock = threading.Lock()  # one full refresh at a time
        # Explicit mode: the gateway's config file is the truth, so TF Serving gets it again
        # whenever it (re)appears or forgets a model (a restart reads its own start-up file).
        self._resync = self._explicit

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._channel = grpc.insecure_channel(self._addr, options=[
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            # grpc's default reconnect backoff grows to 120 s; TF Serving coming back
            # must be noticed within a second or two.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.min_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 1000),
            ("grpc.enable_retries", 0),  # retries are ours: UNAVAILABLE only, within the deadline
        ])
        self._predict_stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._model_stub = model_service_pb2_grpc.ModelServiceStub(self._channel)
        self._thread = threading.Thread(target=self._poll_loop, name="tfserving-poll",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    # -- model list and status ---------------------------------------------------------
    def _model_names(self) -> list[str]:
        names = set(self._configured) | self._discovered
        if self._settings.model_config:
            # The same parser the embedded runtime uses (TF Serving's own protos).
            try:
                snapshot = read_snapshot(self._settings.model_config, missing_ok=self._explicit)
                entries = dict(snapshot.entries)
                self._config_digest, self._config_entries = snapshot.digest, entries
            except ModelConfigError as exc:
                log.warning("MULTIHEAD_MODEL_CONFIG not used: %s", exc)
                entries = {}
            names.update(entries)
            self._labels = {n: dict(e.version_labels) for n, e in entries.items()}
        else:
            # The repository is TF Serving's, not necessarily visible here.
            root = self._settings.model_dir
            names.update(n for n in repository.model_names(root)
                         if repository.version_dirs(os.path.join(root, n)))
        return sorted(names)

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.apply_config()
            except Exception:  # noqa: BLE001 - the poller must survive anything
                log.exception("TF Serving poll failed")
            finally:
                self._polled.set()
            self._wake.wait(self._settings.poll_interval_s if self._reachable else
                            min(self._settings.poll_interval_s, UNREACHABLE_POLL_S))
            self._wake.clear()

    # -- model management --------------------------------------------------------------
    def add_config_listener(self, listener: ConfigListener) -> None:
        self._config_listeners.append(listener)

    def apply_config(self) -> str:
        """Re-read the config file (models, labels) and TF Serving's statuses now."""
        with self._refresh_lock:  # listeners too: what they record comes in refresh order
            self.refresh()
            digest, problems = self._config_digest, self.load_problems()
            for listener in self._config_listeners:
                try:
                    listener(digest, problems)
                except Exception:  # noqa: BLE001 - a listener must not stop the poller
                    log.exception("config listener failed")
        return digest

    def reconfigure(self, current: Mapping[str, ModelEntry],
                    new: Mapping[str, ModelEntry], timeout_s: float) -> None:
        """Hand `new` to TF Serving's own HandleReloadConfigRequest: TF Serving applies its
        rules (labels, platforms, models that must become available) and the gateway
        follows its answer, its code and its message."""
        request = model_management_pb2.ReloadConfigRequest()
        request.config.CopyFrom(to_proto(new))
        self._call(self._model_stub.HandleReloadConfigRequest, request,
                   time.monotonic() + timeout_s, passthrough=RELOAD_CODES)

    def load_problems(self) -> dict[str, list[str]]:
        with self._lock:
            return {name: [m.problem] if m.problem else
                    [f"version {s.version}: {s.error_message}" for s in m.statuses
                     if s.error_code != "OK"]
                    for name, m in self._models.items()
                    if m.problem or any(s.error_code != "OK" for s in m.statuses)}

    def _resync_config(self) -> None:
        """Explicit mode: give TF Serving the gateway's config file again (at start, after
        TF Serving was unreachable, or when it lost a configured model)."""
        if not self._resync or not self._config_digest:
            return
        try:
            # Read again just before: a management call of another worker may have written
            # (and handed TF Serving) a newer file since this refresh began.
            snapshot = read_snapshot(self._settings.model_config, missing_ok=True)
            self.reconfigure({}, snapshot.entries, STATUS_TIMEOUT_S * 5)
            pushed = snapshot.digest
            # Still the file? Else a newer one may have reached TF Serving before ours: the
            # next refresh sends the file again.
            self._resync = read_snapshot(self._settings.model_config,
                                         missing_ok=True).digest != pushed
        except (ModelConfigError, errors.GatewayError) as exc:
            log.warning("TF Serving at %s did not take the gateway's model config: %s",
                        self._addr, exc)
            return
        log.info("TF Serving at %s took the gateway's model config", self._addr)

    def refresh(self, names: Sequence[str] | None = None) -> None:
        """Ask TF Serving for the status of every model; describe new AVAILABLE versions."""
        if names is None:
            names = self._model_names()
            with self._lock:  # models no longer configured are no longer served
                for gone in set(self._models) - set(names):
                    del self._models[gone]
            if self._reachable:
                self._resync_config()
        for name in names:
            try:
                statuses = self._fetch_status(name, None, timeout_s=STATUS_TIMEOUT_S)
            except errors.DeadlineExceeded:
                # The runtime's last answer may have come just after this call started (a
                # prediction sent before it hung): let the silence run its full length now
                # rather than decide a whole poll later.
                self._stopping.wait(max(0.0, STATUS_TIMEOUT_S - self._guard.silent_for()))
                silent = self._guard.silent_for()
                if silent < STATUS_TIMEOUT_S:
                    return  # slow to answer a status call, but answering predictions
                self._set_reachable(False, f"TF Serving at {self._addr} is not answering: "
                                           f"no call was answered for {silent:.1f} s")
                return
            except errors.Unavailable as exc:
                self._set_reachable(False, exc.message)
                return
            except errors.GatewayError as exc:
                self._set_reachable(True)
                if self._explicit and isinstance(exc, errors.NotFound):
                    self._resync = True
                with self._lock:
                    self._models[name] = _Model(problem=f"TF Serving at {self._addr} does not "
                                                        f"serve model '{name}': {exc.message}")
                continue
            self._set_reachable(True)
            with self._lock:
                known = dict(self._models.get(name, _Model()).versions)
            versions = {}
            for status in statuses:
                if status.state != "AVAILABLE":
                    continue
                mv = known.get(status.version)
                if mv is None:
                    try:
                        mv = self._describe(name, status.version)
                    except (errors.Unavailable, errors.DeadlineExceeded) as exc:
                        self._set_reachable(False, exc.message)
                        return
                    except errors.GatewayError as exc:
                        log.warning("cannot describe %s version %d: %s", name,
                                    status.version, exc.message)
                        continue
                if mv is not None:
                    labels = self._labels.get(name, {})
                    versions[status.version] = mv if mv.labels == labels else \
                        dataclasses.replace(mv, labels=labels)
            problem = "" if versions else (
                f"model '{name}' has no AVAILABLE version in TF Serving at {self._addr}"
                + (f" ({'; '.join(f'version {s.version} {s.state}' for s in statuses)})"
                   if statuses else ""))
            with self._lock:
                self._models[name] = _Model(statuses, versions, problem)

    def _set_reachable(self, reachable: bool, why: str = "") -> None:
        with self._lock:
            if reachable != self._reachable:
                log.warning("%s", why or f"TF Serving at {self._addr} is reachable")
                self._resync = self._resync or (self._explicit and not reachable)
            self._reachable = reachable
            self._unreachable_why = why
        if reachable:
            self._guard.close()
        else:
            self._guard.trip(why)

    def _describe(self, name: str, version: int) -> ModelVersion | None:
        """Signatures from TF Serving's metadata; the card from the shared repository."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = name
        request.model_spec.version.value = version
        try:
            response = self._call(self._predict_stub.GetModelMetadata, request,
                                  time.monotonic() + STATUS_TIMEOUT_S)
        except errors.NotFound:
            return None  # unloaded between the status and the metadata call
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(sig_map)
        signatures = {k: signature_spec(k, v) for k, v in sorted(sig_map.signature_def.items())
                      # the init op TF's exporter adds is not a servable signature
                      if not k.startswith("__")}
        card = repository.read_card(repository.version_path(self._settings.model_dir, name,
                                                             version))
        return ModelVersion(name=name, version=version, signatures=signatures, card=card,
                            labels=self._labels.get(name, {}))

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until the first poll is over and no model is still loading in TF Serving.

        Over means ready, or failed for good: TF Serving unreachable, or a model it does
        not serve or could not load (the poller goes on; readiness turns 200 when it can).
        """
        deadline = time.monotonic() + timeout
        self._polled.wait(timeout)
        while self.readiness() and self._loading() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.readiness()

    def _loading(self) -> bool:
        """TF Serving is reachable and loads a version of a model not yet servable."""
        with self._lock:
            return bool(self._reachable) and any(
                m.problem and any(s.state in ("START", "LOADING") for s in m.statuses)
                for m in self._models.values())

    def readiness(self) -> list[str]:
        with self._lock:
            if self._reachable is None:
                return [f"TF Serving at {self._addr} has not been reached yet"]
            if not self._reachable:
                return [self._unreachable_why]
            if not self._models:
                return ["no models: MULTIHEAD_MODEL_CONFIG lists none and MULTIHEAD_MODEL_DIR "
                        f"({self._settings.model_dir}) holds none"]
            return [m.problem for _, m in sorted(self._models.items()) if m.problem]

    def list_models(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def model_status(self, name: str, version: int | None = None,
                     label: str | None = None) -> list[VersionStatus]:
        if label is not None:
            self._lookup(name)
            version = self._label_version(name, label)
        try:
            return self._fetch_status(name, version, timeout_s=self._settings.request_timeout_s)
        except errors.NotFound:
            # Same messages as the embedded runtime; TF Serving's say the same in its words.
            if version is None:
                raise errors.NotFound(f"Model '{name}' not found.") from None
            raise errors.NotFound(f"Version {version} of model '{name}' not found.") from None

    def _fetch_status(self, name: str, version: int | None,
                      timeout_s: float) -> list[VersionStatus]:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = name
        if version is not None:
            request.model_spec.version.value = version
        response = self._call(self._model_stub.GetModelStatus, request,
                              time.monotonic() + timeout_s)
        return [VersionStatus(version=s.version, state=_STATE_NAMES.Name(s.state),
                              error_code=_ERROR_CODE_ENUM.values_by_number[s.status.error_code].name
                              if s.status.error_code in _ERROR_CODE_ENUM.values_by_number
                              else str(s.status.error_code),
                              error_message=s.status.error_message)
                # newest first, as TF Serving's ServableStateMonitor::VersionMap orders them
                for s in sorted(response.model_version_status, key=lambda s: -s.version)]

    # -- serving -----------------------------------------------------------------------
    def _lookup(self, name: str) -> _Model:
        """The model's state; Unavailable while TF Serving is unreachable, NotFound if unknown."""
        with self._lock:
            reachable, why = self._reachable, self._unreachable_why
            model = self._models.get(name)
        if reachable is False:
            raise errors.Shed(why, shed="runtime_unavailable")
        if model is None:
            # Perhaps a model TF Serving serves that no config here names: ask it once. In
            # explicit mode the config here is TF Serving's too: nothing else is served.
            try:
                if self._explicit:
                    raise errors.NotFound(name)
                statuses = self._fetch_status(name, None, timeout_s=STATUS_TIMEOUT_S)
                if all(s.state == "END" for s in statuses):  # unloaded: TF Serving's 404 too
                    raise errors.NotFound(name)
            except errors.NotFound:
                raise errors.NotFound(f"Model '{name}' not found.") from None
            self._discovered.add(name)
            self.refresh([name])
            with self._lock:
                model = self._models.get(name, _Model())
        return model

    def resolve(self, name: str, version: int | None = None,
                label: str | None = None) -> ModelVersion:
        model = self._lookup(name)
        if label is not None:
            version = self._label_version(name, label)
            if version not in model.versions:
                raise errors.Unavailable(f"Version label '{label}' of model '{name}' points at "
                                         f"version {version}, which is not AVAILABLE.")
        if version is None:
            if not model.versions:
                raise errors.Unavailable(f"Model '{name}' has no AVAILABLE version yet.")
            return _Newest.of(model.versions[max(model.versions)])
        if version in model.versions:
            return model.versions[version]
        if any(s.version == version and s.state in ("START", "LOADING") for s in model.statuses):
            raise errors.Unavailable(f"Version {version} of model '{name}' is still loading.")
        raise errors.NotFound(f"Version {version} of model '{name}' not found.")

    def _label_version(self, name: str, label: str) -> int:
        labels = self._labels.get(name)
        if labels is not None:
            if label not in labels:
                known = ", ".join(sorted(labels)) or "none"
                raise errors.InvalidInput(f"Unknown version label '{label}' for model '{name}'; "
                                          f"known labels: {known}.")
            return labels[label]
        # No config here: let TF Serving resolve the label (it knows its own config).
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = name
        request.model_spec.version_label = label
        response = self._call(self._predict_stub.GetModelMetadata, request,
                              time.monotonic() + STATUS_TIMEOUT_S)
        return response.model_spec.version.value

    def predict(self, model: ModelVersion, signature: str,
                inputs: Mapping[str, np.ndarray], output_filter: Sequence[str] = (),
                timeout_s: float | None = None) -> dict[str, np.ndarray]:
        request = predict_pb2.PredictRequest(output_filter=list(output_filter))
        request.model_spec.name = model.name
        request.model_spec.version.value = model.version
        request.model_spec.signature_name = signature or DEFAULT_SIGNATURE
        for name, array in inputs.items():
            request.inputs[name].CopyFrom(array_to_proto(array))
        budget = self._settings.request_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + budget
        # The model call's trace context, when traced, continues in TF Serving.
        metadata = outgoing_metadata()
        try:
            response = self._call(self._predict_stub.Predict, request, deadline, metadata)
        except errors.NotFound:
            # TF Serving unloads the old version as soon as a new one is AVAILABLE; a
            # request for "the newest" that raced that moves on to the new version.
            if not isinstance(model, _Newest):
                raise
            self.refresh([model.name])
            newer = self.resolve(model.name)
            if newer.version == model.version or \
                    newer.signatures.get(request.model_spec.signature_name) != \
                    model.signatures.get(request.model_spec.signature_name):
                raise
            request.model_spec.version.value = newer.version
            response = self._call(self._predict_stub.Predict, request, deadline, metadata)
        try:
            return {name: proto_to_array(proto, f"outputs['{name}']")
                    for name, proto in response.outputs.items()}
        except errors.InvalidInput as exc:  # TF Serving's answer, not the client's input
            raise errors.GatewayError(f"TF Serving returned a tensor the gateway cannot "
                                      f"decode: {exc.message}") from None

    def _call(self, method: Callable[..., Any], request: Any, deadline: float,
              metadata: tuple[tuple[str, str], ...] = (),
              passthrough: Mapping[grpc.StatusCode, type[errors.GatewayError]] | None = None
              ) -> Any:
        """One RPC with the remaining budget as its deadline; UNAVAILABLE is retried. Calls
        for requests go through the guard; the poller's (which watch it) do not.
        `passthrough`: codes whose TF Serving message reaches the client as it is."""
        polling = threading.current_thread() is self._thread
        for delay in (*RETRY_DELAYS_S, None):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise errors.DeadlineExceeded(
                    f"TF Serving at {self._addr} did not answer before the deadline.")
            try:
                if polling:
                    response = method(request, timeout=remaining, metadata=metadata or None)
                else:
                    response = self._guard.call(lambda r=remaining: method.future(
                        request, timeout=r, metadata=metadata or None))
                self._guard.answered()
                return response
            except grpc.RpcError as exc:
                code = exc.code()
                if code not in _NOT_ANSWERED:
                    self._guard.answered()  # an error of TF Serving's own is an answer
                if code is grpc.StatusCode.UNAVAILABLE:
                    if not polling:
                        self._wake.set()  # let the poller re-check readiness now
                    if delay is not None and time.monotonic() + delay < deadline:
                        time.sleep(delay)
                        continue
                if passthrough and code in passthrough:
                    raise passthrough[code](exc.details() or "") from None
                raise self._error(code, exc.details() or "") from None
        raise AssertionError("unreachable")

    def _error(self, code: grpc.StatusCode, details: str) -> errors.GatewayError:
        if code is grpc.StatusCode.UNAVAILABLE:
            return errors.Unavailable(f"TF Serving at {self._addr} is unreachable ({details}).")
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return errors.DeadlineExceeded(
                f"TF Serving at {self._addr} did not answer before the deadline.")
        mapped = {
            grpc.StatusCode.NOT_FOUND: errors.NotFound,
            grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidInput,
            grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
            grpc.StatusCode.RESOURCE_EXHAUSTED: errors.Overloaded,
        }.get(code)
        if mapped is not None:
            return mapped(details)
        return errors.GatewayError(f"TF Serving at {self._addr} failed ({code.name}): {details}")
