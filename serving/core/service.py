"""The transport-free dataplane: REST views and gRPC methods parse, call this, serialize.

`InferenceService.predict` resolves the model version, looks up the signature,
validates the arrays against it (plans cached per version and signature: the
hot path does no spec parsing), merges concurrent calls through the batcher,
calls the backend, records metrics and returns the outputs by head name.
Every error is a `serving.errors` type.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from serving.backends import repository
from serving.backends.base import Backend, ModelVersion, SignatureSpec, VersionStatus
from serving.config import Settings
from serving.core import tasks
from serving.core.batching import Batcher
from serving.core.validation import SignaturePlan, Validated, build_plan, resolve_filter, validate
from serving.errors import DeadlineExceeded, FailedPrecondition, GatewayError, NotFound, quote
from serving.metrics import Metrics
from serving.types import ModelCard, ModelInfo, Profile, ScoredAnswer

log = logging.getLogger(__name__)
DEFAULT_SIGNATURE = "serving_default"


@dataclass(frozen=True)
class PredictCall:
    model: str
    version: int | None = None          # None: the label's, or the newest AVAILABLE
    label: str | None = None
    signature: str = ""                 # "" means serving_default
    inputs: Mapping[str, Any] = field(default_factory=dict)  # decoded from the wire
    output_filter: tuple[str, ...] = ()  # the "heads" extension / gRPC output_filter
    protocol: str = "multihead"         # metrics label: tfserving | v2 | multihead
    transport: str = "rest"             # metrics label: rest | grpc
    # A protocol that had to resolve the version itself (to check the input against the
    # signature first) hands it over, so a predict resolves its version once.
    resolved: ModelVersion | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PredictResult:
    model: str
    version: int
    signature: str                      # resolved name
    outputs: dict[str, np.ndarray]      # output name -> array, batch first
    card: ModelCard | None = None       # the version's model card, for formatting


class InferenceService:
    def __init__(self, settings: Settings, backend: Backend, metrics: Metrics) -> None:
        self.settings = settings
        self.backend = backend
        self.metrics = metrics
        self._plans: dict[tuple[str, int, str], SignaturePlan] = {}
        self._plans_lock = threading.Lock()
        self._batcher = (Batcher(settings, on_batch=lambda key, n: metrics.record_batch(key[0], n))
                         if settings.enable_batching else None)
        listen = getattr(backend, "add_state_listener", None)
        if listen is not None:
            listen(self._on_version_state)

    # -- lifecycle and status ------------------------------------------------------
    def start(self) -> None:
        self.backend.start()

    def stop(self) -> None:
        if self._batcher is not None:
            self._batcher.stop()
        self.backend.stop()

    def readiness(self) -> list[str]:
        return self.backend.readiness()

    def wait_ready(self, timeout: float) -> bool:
        """Block until the backend's initial load is over (see `Backend.wait_ready`)."""
        return self.backend.wait_ready(timeout)

    def _on_version_state(self, model: str, version: int, state: str) -> None:
        self.metrics.set_model_loaded(model, version, state == "AVAILABLE")
        if state == "END":
            with self._plans_lock:
                for key in [k for k in self._plans if k[:2] == (model, version)]:
                    del self._plans[key]

    def model_status(self, name: str, version: int | None = None,
                     label: str | None = None) -> list[VersionStatus]:
        return self.backend.model_status(name, version, label)

    def resolve(self, name: str, version: int | None = None,
                label: str | None = None) -> ModelVersion:
        return self.backend.resolve(name, version, label)

    def signature(self, mv: ModelVersion, name: str) -> SignatureSpec:
        name = name or DEFAULT_SIGNATURE
        spec = mv.signatures.get(name)
        if spec is None:
            raise FailedPrecondition(
                f"Signature {quote(name)} not found in model '{mv.name}' version {mv.version}; "
                f"it has: {', '.join(sorted(mv.signatures)) or 'none'}.")
        return spec

    def diagram(self, name: str, version: int | None = None, label: str | None = None) -> bytes:
        """The PNG architecture picture of the resolved version (repository.DIAGRAM_FILE)."""
        mv = self.backend.resolve(name, version, label)
        info = getattr(self.backend, "version_info", None)  # the runtime's own path, if any
        try:
            folder = info(mv.name, mv.version).get("path") if info is not None else None
        except KeyError:  # unloaded since it was resolved: the repository's layout then
            folder = None
        path = os.path.join(folder or repository.version_path(self.settings.model_dir, mv.name,
                                                              mv.version),
                            repository.DIAGRAM_FILE)
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            raise NotFound(f"Model '{mv.name}' version {mv.version} has no diagram: its export "
                           f"lacks {repository.DIAGRAM_FILE}.") from None

    def list_models(self) -> list[ModelInfo]:
        out = []
        for name in self.backend.list_models():
            try:
                statuses = tuple(self.backend.model_status(name))
            except NotFound:  # removed between the two calls
                continue
            try:
                mv = self.backend.resolve(name)
            except GatewayError:  # no AVAILABLE version: what the status says, nothing more
                out.append(ModelInfo(name, statuses))
                continue
            spec = mv.signatures.get(DEFAULT_SIGNATURE) or next(iter(mv.signatures.values()),
                                                                None)
            out.append(ModelInfo(
                name, statuses, labels=dict(mv.labels),
                inputs=tasks.list_inputs(mv.card, spec) if spec else (),
                heads=tasks.list_heads(mv.card, list(spec.outputs) if spec else []),
                signatures=tuple(sorted(mv.signatures)),
                description=mv.card.description if mv.card is not None else
                "SavedModel without a model card; described from its signatures."))
        return out

    # -- predict -------------------------------------------------------------------
    def _plan(self, mv: ModelVersion, spec: SignatureSpec) -> SignaturePlan:
        key = (mv.name, mv.version, spec.name)
        plan = self._plans.get(key)
        if plan is None or plan.spec is not spec:  # a re-loaded version has new specs
            plan = build_plan(mv, spec)
            with self._plans_lock:
                self._plans[key] = plan
        return plan

    def predict(self, call: PredictCall, timeout_s: float | None = None) -> PredictResult:
        started = time.perf_counter()
        timeout = self.settings.request_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        model_label, version_label, code = call.model, "", "OK"
        self.metrics.inflight.inc()
        try:
            mv = call.resolved or self.backend.resolve(call.model, call.version, call.label)
            version_label = str(mv.version)
            spec = self.signature(mv, call.signature)
            plan = self._plan(mv, spec)
            checked = validate(plan, call.inputs, self.settings.max_batch_size)
            wanted = resolve_filter(plan, call.output_filter)
            outputs = self._run(mv, plan, checked, wanted, deadline)
            return PredictResult(mv.name, mv.version, spec.name, outputs, mv.card)
        except GatewayError as exc:
            code = exc.code
            if not version_label and call.model not in self.backend.list_models():
                model_label = "_unknown"  # keep client-chosen names out of label values
            raise
        except Exception as exc:
            code = "INTERNAL"
            log.exception("predict on model %s failed", call.model)
            raise GatewayError(f"Internal error while serving model '{call.model}'.") from exc
        finally:
            self.metrics.inflight.dec()
            self.metrics.record_request(model_label, version_label, call.protocol,
                                        call.transport, code, time.perf_counter() - started)

    def record_rejected(self, model: str, protocol: str, transport: str, code: str,
                        seconds: float) -> None:
        """Count a request a protocol turned away before `predict` saw it."""
        try:
            # Client-chosen names stay out of label values, as in `predict`.
            label = model if model in self.backend.list_models() else "_unknown"
            self.metrics.record_request(label, "", protocol, transport, code, seconds)
        except Exception:  # counting must never turn a 4xx into a 500
            log.exception("could not count a rejected request")

    def _run(self, mv: ModelVersion, plan: SignaturePlan, checked: Validated,
             wanted: tuple[str, ...], deadline: float) -> dict[str, np.ndarray]:
        def runner(arrays: dict[str, np.ndarray], timeout_s: float) -> dict[str, np.ndarray]:
            # Once per model call: for a merged batch the head counts of all its requests
            # are recorded together (the same totals, a fraction of the updates).
            t0 = time.perf_counter()
            try:
                outputs = self.backend.predict(mv, plan.signature, arrays, wanted, timeout_s)
            finally:
                self.metrics.record_backend_call(mv.name, self.backend.name,
                                                 time.perf_counter() - t0)
            tasks.record_heads(self, mv.name, mv.card, outputs)
            return outputs

        if self._batcher is not None and plan.batchable and checked.batch_size is not None:
            key = (mv.name, mv.version, plan.signature, wanted, checked.shape_key)
            return self._batcher.submit(key, checked.arrays, checked.batch_size, runner,
                                        deadline, plan.padded)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("The request deadline passed before the model ran.")
        self.metrics.record_batch(mv.name, checked.batch_size or 1)
        return runner(checked.arrays, remaining)

    # -- typed tasks ---------------------------------------------------------------
    def similarity(self, pairs: Sequence[Sequence[str]], model: str = "similarity",
                   version: int | None = None, label: str | None = None,
                   protocol: str = "multihead", transport: str = "rest"
                   ) -> tuple[int, list[float]]:
        return tasks.similarity(self, pairs, model, version, label, protocol, transport)

    def profile(self, authors: Sequence[Sequence[str]], model: str = "profiler",
                version: int | None = None, label: str | None = None,
                protocol: str = "multihead", transport: str = "rest"
                ) -> tuple[int, list[Profile]]:
        return tasks.profile(self, authors, model, version, label, protocol, transport)

    def answer(self, text: str, question: str, top_k: int = 5, model: str = "qa",
               version: int | None = None, label: str | None = None,
               protocol: str = "multihead", transport: str = "rest"
               ) -> tuple[int, list[ScoredAnswer]]:
        return tasks.answer(self, text, question, top_k, model, version, label, protocol,
                            transport)
