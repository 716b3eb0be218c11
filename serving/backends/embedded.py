"""The embedded runtime: TensorFlow in-process, loading a TF Serving model repository.

Every SavedModel under `settings.model_dir/NAME/VERSION/` (integer VERSION dirs
holding a `saved_model.pb`; `.tmp-export-*` and other names are ignored, as TF
Serving ignores them) is loaded with `tf.saved_model.load` and its signatures
are called directly. A background thread polls the repository every
`poll_interval_s`: a new version goes START -> LOADING -> (warm-up) -> AVAILABLE;
a version that disappears or leaves the version policy goes UNLOADING -> END.
Requests hold a reference to the version they resolved (`EmbeddedModelVersion.
handle`), so unloading never fails a request in flight: the TF objects are freed
when the last reference drops.

TensorFlow is imported in `start()` only: gunicorn forks workers from a master
that must never initialise TF.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from serving.backends import repository
from serving.backends.base import Backend, ConfigListener, ModelVersion, VersionStatus
from serving.backends.model_config import (
    DEFAULT_POLICY,
    ModelConfigError,
    ModelEntry,
    check_version_labels,
    read_snapshot,
)
from serving.backends.signature_call import SignatureCall
from serving.config import Settings
from serving.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    GatewayError,
    InvalidInput,
    NotFound,
    Unavailable,
)

log = logging.getLogger(__name__)
StateListener = Callable[[str, int, str], None]


@dataclass(frozen=True)
class EmbeddedModelVersion(ModelVersion):
    """A ModelVersion that carries its loaded runtime, so a request keeps it alive."""

    handle: Any = field(default=None, compare=False, repr=False)


class _Loaded:
    """The loaded SavedModel and a call for each of its signatures."""

    def __init__(self, obj: Any, functions: Mapping[str, Any]) -> None:
        self.obj = obj
        self.calls = {name: SignatureCall(fn) for name, fn in functions.items()}


@dataclass
class _Version:
    version: int
    path: str
    state: str = "START"
    error_code: str = "OK"
    error_message: str = ""
    fingerprint: tuple = ()  # of the files the last load attempt saw
    seen: tuple = ()  # of the files the last scan saw (a retry waits until they settle)
    mv: EmbeddedModelVersion | None = None
    warmup_requests: int = 0


@dataclass
class _Model:
    entry: ModelEntry
    versions: dict[int, _Version] = field(default_factory=dict)


class EmbeddedBackend(Backend):
    name = "embedded"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.RLock()
        self._models: dict[str, _Model] = {}
        self._listeners: list[StateListener] = []
        self._stop = threading.Event()
        self._scanned = threading.Event()
        self._thread: threading.Thread | None = None
        self._config_digest: str | None = None
        self._config_entries: dict[str, ModelEntry] | None = None
        self._config_error = ""
        self._explicit = settings.model_control_mode == "explicit"
        self._retired: dict[str, list[VersionStatus]] = {}  # models no longer configured
        self._scan_lock = threading.Lock()  # one scan at a time: the poller's or a caller's
        self._config_listeners: list[ConfigListener] = []

    # -- lifecycle ---------------------------------------------------------------
    def add_state_listener(self, listener: StateListener) -> None:
        """`listener(model, version, state)` is called on every version state change."""
        self._listeners.append(listener)

    def start(self) -> None:
        if self._thread is not None:
            return
        _configure_tensorflow(self._settings)
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll_loop, name="multihead-model-poller",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=30)
        with self._lock:
            for name, model in list(self._models.items()):
                for v in list(model.versions.values()):
                    self._unload(name, v)

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until the first repository scan is over; True when the backend is ready.

        The first scan loads every version it finds, one after another, so when it ends
        the initial load is over: every model has an AVAILABLE version, or `readiness()`
        names the ones that failed (later scans retry them). If the config file changed
        while that scan loaded what it said before, it is applied now: a management call
        on a sibling worker waits only for the workers that serve already
        (serving/applied.py), so a worker must not start serving a config it replaced.
        """
        if self._scanned.wait(timeout) and self._config_changed():
            self.apply_config()
        return not self.readiness()

    def _config_changed(self) -> bool:
        """The model config file no longer holds what the last scan applied."""
        if not self._settings.model_config:
            return False
        try:
            return read_snapshot(self._settings.model_config,
                                 missing_ok=self._explicit).digest != self._config_digest
        except ModelConfigError:
            return False  # the poller reports it

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.apply_config()
            except Exception:  # keep polling: one bad scan must not end hot reload
                log.exception("model repository scan failed")
            finally:
                self._scanned.set()
            self._stop.wait(self._settings.poll_interval_s)

    # -- model management ----------------------------------------------------------
    def add_config_listener(self, listener: ConfigListener) -> None:
        self._config_listeners.append(listener)

    def apply_config(self) -> str:
        """One scan now, in the caller's thread (after the poller's scan, if one runs):
        when it returns, this process serves what the config file says."""
        with self._scan_lock:  # listeners too: what they record comes in scan order
            self.poll_once()
            digest = self._config_digest or ""
            problems = self.load_problems()
            for listener in self._config_listeners:
                try:
                    listener(digest, problems)
                except Exception:
                    log.exception("config listener failed")
        return digest

    def reconfigure(self, current: Mapping[str, ModelEntry],
                    new: Mapping[str, ModelEntry], timeout_s: float) -> None:
        """TF Serving's label rule against the versions this process serves; the new
        versions themselves load when the file is applied (`apply_config`)."""
        with self._lock:
            available = {name: {v for v, ver in model.versions.items()
                                if ver.state == "AVAILABLE"}
                         for name, model in self._models.items()}
        check_version_labels(current, new, available,
                             self._settings.allow_version_labels_for_unavailable_models)

    def load_problems(self) -> dict[str, list[str]]:
        """Per configured model: wanted versions whose load failed, or why none serves."""
        problems: dict[str, list[str]] = {}
        with self._lock:
            for name, model in self._models.items():
                failed = [f"version {v.version}: {v.error_message}"
                          for v in sorted(model.versions.values(), key=lambda v: v.version)
                          if v.state == "END" and v.error_code != "OK"]
                if not any(v.state == "AVAILABLE" for v in model.versions.values()):
                    failed = failed or [f"no version to load under {model.entry.base_path}"]
                if failed:
                    problems[name] = failed
        return problems

    # -- repository scan ---------------------------------------------------------
    def poll_once(self) -> None:
        """One scan: load new versions, unload removed ones, refresh version labels."""
        entries = self._entries()
        for name, entry in entries.items():
            if self._stop.is_set():
                return
            on_disk = repository.version_dirs(entry.base_path)
            wanted = entry.policy.select(on_disk)
            with self._lock:
                model = self._models.setdefault(name, _Model(entry))
                model.entry = entry
                self._retired.pop(name, None)
            for v in sorted(wanted, reverse=True):  # newest first: ready sooner
                path = on_disk[v]
                current = model.versions.get(v)
                fp = repository.fingerprint(path)
                if current is None or (current.state == "END" and (
                        current.error_code == "OK" or _retry_due(current, fp))):
                    self._load(name, model, _Version(v, path, fingerprint=fp, seen=fp))
                elif current.state == "END":
                    current.seen = fp
            self._unload_unwanted(name, model, wanted)
            self._refresh_labels(name, model)
        with self._lock:
            gone = [n for n in self._models if n not in entries]
        for name in gone:
            for ver in list(self._models[name].versions.values()):
                self._unload(name, ver)
            with self._lock:
                # TF Serving's status monitor keeps reporting the END states of a model
                # that left the config (get_model_status_impl.cc); so does this runtime.
                self._retired[name] = [VersionStatus(v.version, "END", v.error_code,
                                                     v.error_message)
                                       for v in sorted(self._models[name].versions.values(),
                                                       key=lambda v: -v.version)]
                del self._models[name]

    def _unload_unwanted(self, name: str, model: _Model, wanted: Sequence[int]) -> None:
        """Unload versions the policy no longer wants, never the last one serving.

        As TF Serving's AvailabilityPreservingPolicy (tensorflow_serving/core/
        availability_preserving_policy.cc): while no wanted version is AVAILABLE (still
        loading, or a half-copied one that failed), the newest unwanted AVAILABLE version
        keeps serving; it goes once a wanted one is AVAILABLE.
        """
        keep: int | None = None
        if not any(ver.state == "AVAILABLE" for v, ver in model.versions.items() if v in wanted):
            serving = [v for v, ver in model.versions.items()
                       if v not in wanted and ver.state == "AVAILABLE"]
            keep = max(serving, default=None)
        for v, ver in list(model.versions.items()):
            if v not in wanted and v != keep and ver.state != "END":
                self._unload(name, ver)

    def _entries(self) -> dict[str, ModelEntry]:
        root = os.path.abspath(self._settings.model_dir)
        path = self._settings.model_config
        if not path:
            names = repository.model_names(root)
            return {n: ModelEntry(n, os.path.join(root, n), DEFAULT_POLICY) for n in names}
        try:
            snapshot = read_snapshot(path, missing_ok=self._explicit)
            if snapshot.digest != self._config_digest:
                entries = dict(snapshot.entries)
                for n, e in list(entries.items()):
                    if not e.base_path or not os.path.isdir(e.base_path):
                        # A config written for the TF Serving pod (base_path /models/x)
                        # still works against a local repository.
                        entries[n] = replace(e, base_path=os.path.join(root, n))
                self._config_entries, self._config_digest = entries, snapshot.digest
            self._config_error = ""
        except ModelConfigError as exc:
            self._config_error = str(exc)
            log.error("model config not used: %s", exc)
        return dict(self._config_entries or {})

    def _set_state(self, name: str, ver: _Version, state: str) -> None:
        ver.state = state
        for listener in self._listeners:
            try:
                listener(name, ver.version, state)
            except Exception:
                log.exception("version state listener failed")

    def _load(self, name: str, model: _Model, ver: _Version) -> None:
        with self._lock:
            model.versions[ver.version] = ver
        self._set_state(name, ver, "START")
        self._set_state(name, ver, "LOADING")
        started = time.monotonic()
        try:
            loaded, specs, card, warmed = _load_export(ver.path)
        except Exception as exc:
            ver.error_code = "UNKNOWN"
            ver.error_message = f"Loading {ver.path} failed: {_first_line(exc)}"
            log.error("model %s version %d: %s", name, ver.version, ver.error_message)
            self._set_state(name, ver, "END")
            return
        with self._lock:
            ver.warmup_requests = warmed
            ver.mv = EmbeddedModelVersion(name=name, version=ver.version, signatures=specs,
                                          card=card, handle=loaded)
            self._set_state(name, ver, "AVAILABLE")
        log.info("model %s version %d AVAILABLE in %.2fs (%d warm-up requests)", name,
                 ver.version, time.monotonic() - started, warmed)

    def _unload(self, name: str, ver: _Version) -> None:
        if ver.state == "END":
            return
        self._set_state(name, ver, "UNLOADING")
        with self._lock:
            ver.mv = None  # in-flight requests still hold their own reference
        self._set_state(name, ver, "END")
        log.info("model %s version %d unloaded", name, ver.version)

    def _refresh_labels(self, name: str, model: _Model) -> None:
        with self._lock:
            labels = {lbl: v for lbl, v in model.entry.version_labels.items()
                      if (ver := model.versions.get(v)) is not None and ver.state == "AVAILABLE"}
            for ver in model.versions.values():
                if ver.mv is not None and dict(ver.mv.labels) != labels:
                    ver.mv = replace(ver.mv, labels=labels)

    # -- queries -----------------------------------------------------------------
    def readiness(self) -> list[str]:
        if self._thread is None:
            return ["the model runtime has not started"]
        if self._config_error:
            return [self._config_error]
        if not self._scanned.is_set():
            return ["the model repository is still being scanned"]
        reasons = []
        with self._lock:
            # In explicit mode an empty config is a choice, not a fault (Triton's rule).
            if not self._models and not self._explicit:
                reasons.append(f"no models found in {os.path.abspath(self._settings.model_dir)}")
            for name, model in sorted(self._models.items()):
                if not any(v.state == "AVAILABLE" for v in model.versions.values()):
                    detail = "; ".join(f"version {v.version} {v.state}"
                                       + (f": {v.error_message}" if v.error_message else "")
                                       for v in sorted(model.versions.values(),
                                                       key=lambda v: v.version))
                    reasons.append(f"model '{name}' has no AVAILABLE version"
                                   + (f" ({detail})" if detail else ""))
        return reasons

    def list_models(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def _model(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is not None:
            return model
        if self._thread is None:
            raise Unavailable("The model runtime has not started.")
        # A model that exists but is not loaded yet is UNAVAILABLE, not NOT_FOUND: a
        # client may retry it (TF Serving too answers only once its models are loaded).
        if not self._scanned.is_set():
            raise Unavailable(f"Model '{name}' is not loaded yet: the model repository is "
                              "still being scanned.")
        if self._in_repository(name):
            raise Unavailable(f"Model '{name}' is in the model repository but not loaded "
                              "yet.")
        if self._explicit and name in repository.model_names(self._settings.model_dir):
            raise NotFound(f"Model '{name}' is not loaded (model control mode explicit): "
                           "load it through the model repository API.")
        raise NotFound(f"Model '{name}' not found.")

    def _in_repository(self, name: str) -> bool:
        """Whether the config names `name`, or (without a config) the repository holds a
        directory of that name that the next scan will pick up."""
        if self._settings.model_config:
            return name in (self._config_entries or {})
        if not name or name.startswith(".") or os.path.basename(name) != name:
            return False
        try:
            return os.path.isdir(os.path.join(os.path.abspath(self._settings.model_dir), name))
        except (OSError, ValueError):  # a name no file system can hold (NUL, lone surrogate)
            return False

    def model_status(self, name: str, version: int | None = None,
                     label: str | None = None) -> list[VersionStatus]:
        with self._lock:
            if name not in self._models and name in self._retired and label is None:
                statuses = [s for s in self._retired[name]
                            if version is None or s.version == version]
                if not statuses:
                    raise NotFound(f"Version {version} of model '{name}' not found.")
                return statuses
            model = self._model(name)
            if label is not None:
                version = self._label_version(name, model, label)
            vers = sorted(model.versions.values(), key=lambda v: -v.version)
            if version is not None:
                vers = [v for v in vers if v.version == version]
                if not vers:
                    raise NotFound(f"Version {version} of model '{name}' not found.")
            return [VersionStatus(v.version, v.state, v.error_code, v.error_message)
                    for v in vers]

    def _label_version(self, name: str, model: _Model, label: str) -> int:
        labels = model.entry.version_labels
        if label not in labels:
            known = ", ".join(sorted(labels)) or "none"
            raise InvalidInput(f"Unknown version label '{label}' for model '{name}'; "
                               f"known labels: {known}.")
        return labels[label]

    def resolve(self, name: str, version: int | None = None,
                label: str | None = None) -> ModelVersion:
        with self._lock:
            model = self._model(name)
            if label is not None:
                v = self._label_version(name, model, label)
                ver = model.versions.get(v)
                if ver is None or ver.mv is None:
                    raise Unavailable(f"Version label '{label}' of model '{name}' points at "
                                      f"version {v}, which is not AVAILABLE.")
                return ver.mv
            if version is not None:
                ver = model.versions.get(version)
                if ver is not None and ver.mv is not None:
                    return ver.mv
                if ver is not None and ver.state in ("START", "LOADING"):
                    raise Unavailable(f"Version {version} of model '{name}' is still loading.")
                raise NotFound(f"Version {version} of model '{name}' not found.")
            available = [v for v in model.versions.values() if v.mv is not None]
            if not available:
                raise Unavailable(f"Model '{name}' has no AVAILABLE version yet.")
            return max(available, key=lambda v: v.version).mv

    def version_info(self, name: str, version: int) -> dict[str, Any]:
        """Loader details of one version (path, warm-up requests replayed), for tests/ops."""
        with self._lock:
            ver = self._model(name).versions[version]
            return {"path": ver.path, "state": ver.state, "warmup_requests": ver.warmup_requests}

    def predict(self, model: ModelVersion, signature: str,
                inputs: Mapping[str, np.ndarray], output_filter: Sequence[str] = (),
                timeout_s: float | None = None) -> dict[str, np.ndarray]:
        handle = getattr(model, "handle", None)
        if handle is None:  # a ModelVersion not from this backend: look it up
            handle = self.resolve(model.name, model.version).handle
        if timeout_s is not None and timeout_s <= 0:
            raise DeadlineExceeded("The request deadline passed before the model ran.")
        return _call(handle, model.name, signature, inputs, output_filter)


def _call(handle: _Loaded, model: str, signature: str, inputs: Mapping[str, np.ndarray],
          output_filter: Sequence[str]) -> dict[str, np.ndarray]:
    import tensorflow as tf

    call = handle.calls.get(signature)
    if call is None:
        raise FailedPrecondition(f"Signature '{signature}' not found in model '{model}'.")
    try:
        result = call(inputs)
    except (tf.errors.InvalidArgumentError, TypeError, ValueError) as exc:
        # The graph rejected values validation could not foresee: still the client's input.
        raise InvalidInput(f"Model '{model}' rejected the input: {_first_line(exc)}") from None
    except tf.errors.ResourceExhaustedError as exc:
        raise GatewayError(f"Model '{model}' ran out of memory: {_first_line(exc)}") from None
    wanted = set(output_filter)
    return {k: v.numpy() for k, v in result.items() if not wanted or k in wanted}


def _load_export(path: str) -> tuple[_Loaded, dict, dict | None, int]:
    import tensorflow as tf

    from serving.backends.savedmodel_meta import (
        read_signature_specs,
        read_warmup_requests,
        specs_from_functions,
    )

    obj = tf.saved_model.load(path)
    functions = dict(obj.signatures)
    try:
        specs = read_signature_specs(path)
        specs = {k: s for k, s in specs.items() if k in functions}
    except Exception as exc:  # an odd pb layout: describe from the loaded functions
        log.warning("reading signature defs of %s failed (%s); using loaded functions",
                    path, _first_line(exc))
        specs = specs_from_functions(functions)
    loaded = _Loaded(obj, functions)
    card = repository.read_card(path)
    warmup = read_warmup_requests(path)
    for i, (sig, arrays) in enumerate(warmup):
        if sig not in functions:
            raise ValueError(f"warm-up request {i} names unknown signature '{sig}'")
        try:
            _call(loaded, os.path.basename(os.path.dirname(path)), sig, arrays, ())
        except GatewayError as exc:
            raise ValueError(f"warm-up request {i} failed: {exc.message}") from None
    return loaded, specs, card, len(warmup)


def _configure_tensorflow(settings: Settings) -> None:
    import tensorflow as tf

    # Must precede the first TF op. TensorFlow's own default is a pool of every core in
    # every worker: with 2 workers on 2 cores, four pools of spinning threads contend for
    # two cores, and a batch-1 call costs ~650 us instead of ~450 (make bench).
    per_process = pool_size(settings.workers)
    inter = settings.tensorflow_inter_op_parallelism or per_process
    intra = settings.tensorflow_intra_op_parallelism or per_process
    try:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    except RuntimeError as exc:  # TF already initialised in this process
        log.warning("thread pool sizes not applied: %s", exc)


def pool_size(workers: int) -> int:
    """TensorFlow threads per pool for one of `workers` processes sharing this machine."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, cpus // max(workers, 1))


def _retry_due(ver: _Version, fp: tuple) -> bool:
    """Whether a version whose load failed should be loaded again.

    Only when its files differ from those the failed attempt saw, and only once they
    are the same as at the previous scan: a copy still in progress is left alone for
    one more poll interval instead of being loaded (and failing) at every scan.
    """
    return ver.error_code != "OK" and fp != ver.fingerprint and fp == ver.seen


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0][:500]
