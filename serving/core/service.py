"""The transport-free dataplane: every protocol's predict takes this one path.

    room (wire) -> PredictCall(model, decoder, signature, output filter) + Origin
    core:  resolve the version once -> pick the signature (one rule) -> run the room's
           decoder against it -> validate names, dtypes, shapes, caps (one check) ->
           resolve the output filter (one rule) -> batch -> call the backend ->
           count the outcome, rejections included, in one place (`_outcome`)
    room (wire) <- PredictResult

The typed tasks (similarity, profile, answer) build their PredictCall from their
arguments (serving/core/tasks.py) and take the same path. A room may hand over its call
as a thunk (`lambda: PredictCall(...)`): its wire parsing then runs inside the counting,
so a body that is not even JSON is counted like any other rejected request (anchors:
TF Serving's http_rest_api_handler.cc passes a signature callback into its JSON decoder;
KServe's protocol/dataplane.py is decode -> infer -> encode). Every error is a
`serving.errors` type.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from serving.backends import repository
from serving.backends.base import Backend, ModelVersion, SignatureSpec, VersionStatus
from serving.config import Settings
from serving.core import batching, tasks
from serving.core.admission import Admission
from serving.core.batching import Arrivals, Batcher
from serving.core.calls import ModelRef, Origin, PredictCall, PredictResult
from serving.core.management import Board, ModelManager, SingleProcess
from serving.core.signatures import default_signature, pick_signature
from serving.core.validation import SignaturePlan, Validated, build_plan, resolve_filter, validate
from serving.drift import DriftMonitor
from serving.drift import report as drift_report
from serving.errors import GatewayError, NotFound
from serving.metrics import Metrics
from serving.request_context import RequestRecord
from serving.types import ModelInfo, Profile, ScoredAnswer

if TYPE_CHECKING:
    from serving.tracing import Tracing

log = logging.getLogger(__name__)
UNKNOWN_MODEL = "_unknown"  # the metric label of a name the gateway does not serve
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Outcome:
    """What is known of a request when it ends: the metric labels of its count."""

    model: str = ""
    version: str = ""
    code: str = "OK"
    shed: str = ""  # why it was dropped before its model ran, if it was


class InferenceService:
    def __init__(self, settings: Settings, backend: Backend, metrics: Metrics,
                 tracing: Tracing | None = None, board: Board | None = None) -> None:
        self.settings = settings
        self.backend = backend
        self.metrics = metrics
        self.tracing = tracing  # None: tracing off (serving/tracing.py)
        self.drift = DriftMonitor(metrics, settings.drift_window,
                                  lambda mv: repository.read_vocabulary(self.version_folder(mv)))
        # Load, unload, relabel (serving/core/management.py); `board`: how this process
        # learns that its sibling workers applied a change (serving/applied.py).
        self.management = ModelManager(settings, backend, metrics,
                                       board if board is not None else SingleProcess())
        # Requests of this process on their way to the batcher; the transports count them
        # (serving/core/batching.py, Arrivals).
        self.arrivals = Arrivals()
        self.admission = Admission(settings.max_queue_wait_s)
        self._plans: dict[tuple[str, int, str], SignaturePlan] = {}
        self._plans_lock = threading.Lock()
        self._batcher = (Batcher(settings, self.arrivals,
                                 on_batch=lambda key, n: metrics.record_batch(key[0], n))
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
        self.drift.stop()
        if self.tracing is not None:
            self.tracing.shutdown()

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

    def signature(self, mv: ModelVersion, name: str = "") -> SignatureSpec:
        """The signature that serves `name` ("" = the default) of `mv`."""
        return pick_signature(mv, name)

    def available_versions(self, name: str) -> list[int]:
        return sorted(s.version for s in self.backend.model_status(name)
                      if s.state == "AVAILABLE")

    def version_folder(self, mv: ModelVersion) -> str:
        """Where a version's files are: the runtime's own path, else the repository's."""
        info = getattr(self.backend, "version_info", None)
        try:
            folder = info(mv.name, mv.version).get("path") if info is not None else None
        except KeyError:  # unloaded since it was resolved: the repository's layout then
            folder = None
        return folder or repository.version_path(self.settings.model_dir, mv.name, mv.version)

    def diagram(self, name: str, version: int | None = None, label: str | None = None) -> bytes:
        """The PNG architecture picture of the resolved version (repository.DIAGRAM_FILE)."""
        mv = self.backend.resolve(name, version, label)
        path = os.path.join(self.version_folder(mv), repository.DIAGRAM_FILE)
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            raise NotFound(f"Model '{mv.name}' version {mv.version} has no diagram: its export "
                           f"lacks {repository.DIAGRAM_FILE}.") from None

    def drift_report(self) -> dict[str, list[dict[str, Any]]]:
        """Every head's and text input's pooled live and training distributions with their
        PSI (serving/drift.py), from what `/metrics` would show now."""
        self.drift.flush()  # this worker's newest counts; the others' are at most 1 s old
        return drift_report(self.metrics.collect())

    def list_models(self) -> list[ModelInfo]:
        out = []
        for name in self.backend.list_models():
            try:
                statuses = tuple(self.backend.model_status(name))
            except NotFound:  # removed between the two calls
                continue
            try:
                mv = self.backend.resolve(name)
                spec = default_signature(mv)
            except GatewayError:  # no AVAILABLE version: what the status says, nothing more
                out.append(ModelInfo(name, statuses))
                continue
            out.append(ModelInfo(
                name, statuses, labels=dict(mv.labels),
                inputs=tasks.list_inputs(mv.card, spec),
                heads=tasks.list_heads(mv.card, list(spec.outputs)),
                signatures=tuple(sorted(mv.signatures)),
                description=mv.card.description if mv.card is not None else
                "SavedModel without a model card; described from its signatures."))
        return out

    # -- the one predict path --------------------------------------------------------
    def predict(self, origin: Origin, call: PredictCall | Callable[[], PredictCall]
                ) -> PredictResult:
        """Run one predict; `call` may be a thunk that parses the wire message."""
        return self._serve(origin, call, lambda c: c, lambda c, result: result)

    def similarity(self, origin: Origin, task: tasks.SimilarityTask | Callable[[], Any]
                   ) -> tuple[int, list[float]]:
        """Similarity score (0..1) for each [left, right] pair."""
        return self._task(origin, task, tasks.similarity_call, tasks.similarity_scores)

    def profile(self, origin: Origin, task: tasks.ProfileTask | Callable[[], Any]
                ) -> tuple[int, list[Profile]]:
        """Per author: age in years, income band and gender with probabilities."""
        return self._task(origin, task, tasks.profile_call, tasks.profiles)

    def answer(self, origin: Origin, task: tasks.AnswerTask | Callable[[], Any]
               ) -> tuple[int, list[ScoredAnswer]]:
        """The top_k most likely answer words with their probabilities, best first."""
        return self._task(origin, task, tasks.answer_call, tasks.answers)

    def _task(self, origin: Origin, task: Any, to_call: Callable[[Any, int], PredictCall],
              read: Callable[[Any, PredictResult], R]) -> tuple[int, R]:
        def answer(t: Any, result: PredictResult) -> tuple[int, R]:
            return result.version, read(t, result)

        return self._serve(origin, task, lambda t: to_call(t, self.settings.max_batch_size),
                           answer)

    def _serve(self, origin: Origin, request: Any, to_call: Callable[[Any], PredictCall],
               answer: Callable[[Any, PredictResult], T]) -> T:
        record = origin.record
        traced = self.tracing.begin(record) if self.tracing is not None else None
        try:
            with self._outcome(origin) as outcome:
                with traced.stage("decode") if traced is not None else nullcontext():
                    if callable(request):
                        request = request()  # the room's wire parsing, counted like the rest
                    outcome.model = getattr(request, "model", ModelRef("")).name
                    call = to_call(request)
                    outcome.model = call.model.name
                    self.admission.check(origin, "before the call started")
                    mv = self.backend.resolve(call.model.name, call.model.version,
                                              call.model.label)
                    outcome.model, outcome.version = mv.name, str(mv.version)
                    spec = pick_signature(mv, call.signature)
                    plan = self._plan(mv, spec)
                    checked = validate(plan, call.decode(plan), self.settings.max_batch_size)
                    wanted = resolve_filter(plan, call.outputs)
                outputs = self._run(mv, plan, checked, wanted, origin)
                if traced is not None:
                    traced.span.set_attribute("multihead.signature", spec.name)
                    traced.answered_ns = time.time_ns()
                return answer(request, PredictResult(mv.name, mv.version, spec.name, outputs,
                                                     mv.card, spec))
        finally:
            if not record.transport_bound:  # no transport answers it: its span ends here
                record.finish_trace()

    @contextmanager
    def _outcome(self, origin: Origin) -> Iterator[_Outcome]:
        """The one place a request is counted, whatever ended it."""
        started = time.perf_counter()
        outcome = _Outcome()
        self.metrics.inflight.inc()
        try:
            yield outcome
        except GatewayError as exc:
            outcome.code, outcome.shed = exc.code, exc.shed
            raise
        except Exception as exc:
            outcome.code = "INTERNAL"
            log.exception("predict on model %s failed", outcome.model or "?")
            raise GatewayError(f"Internal error while serving model "
                               f"'{outcome.model or '?'}'.") from exc
        finally:
            self.metrics.inflight.dec()
            model = self._model_label(outcome)
            self.metrics.record_request(model, outcome.version, origin.protocol,
                                        origin.transport, outcome.code,
                                        time.perf_counter() - started)
            if outcome.shed:
                self.metrics.record_shed(model, outcome.shed)
            record = origin.record  # what the access line and the span say
            record.model, record.version, record.code = model, outcome.version, outcome.code

    def _model_label(self, outcome: _Outcome) -> str:
        """Client-chosen names stay out of label values: a name the gateway does not serve
        is counted as UNKNOWN_MODEL."""
        if outcome.version:
            return outcome.model
        try:
            return outcome.model if outcome.model in self.backend.list_models() \
                else UNKNOWN_MODEL
        except Exception:  # counting must never turn a 4xx into a 500
            log.exception("could not list models to label a rejected request")
            return UNKNOWN_MODEL

    def _plan(self, mv: ModelVersion, spec: SignatureSpec) -> SignaturePlan:
        key = (mv.name, mv.version, spec.name)
        plan = self._plans.get(key)
        if plan is None or plan.spec is not spec:  # a re-loaded version has new specs
            plan = build_plan(mv, spec)
            with self._plans_lock:
                self._plans[key] = plan
        return plan

    def _run(self, mv: ModelVersion, plan: SignaturePlan, checked: Validated,
             wanted: tuple[str, ...], origin: Origin) -> dict[str, np.ndarray]:
        def runner(arrays: dict[str, np.ndarray], timeout_s: float) -> dict[str, np.ndarray]:
            # Once per model call: for a merged batch the head counts of all its requests
            # are recorded together (the same totals, a fraction of the updates).
            riders: tuple[RequestRecord, ...] = batching.riders() or (origin.record,)
            size = len(next(iter(arrays.values()))) if arrays else 1
            for rider in riders:
                rider.batch_size = size
            t0 = time.perf_counter()
            try:
                if self.tracing is None:
                    outputs = self.backend.predict(mv, plan.signature, arrays, wanted,
                                                   timeout_s)
                else:
                    with self.tracing.model_call(riders, size).running():
                        outputs = self.backend.predict(mv, plan.signature, arrays, wanted,
                                                       timeout_s)
            finally:
                self.metrics.record_backend_call(mv.name, self.backend.name,
                                                 time.perf_counter() - t0)
            tasks.record_heads(self.metrics, mv.name, mv.card, outputs)
            self.drift.record(mv, outputs, arrays)
            return outputs

        deadline = origin.deadline
        if origin.record.trace is not None:
            origin.record.trace.queued_ns = time.time_ns()
        if self._batcher is not None and plan.batchable and checked.batch_size is not None:
            key = (mv.name, mv.version, plan.signature, wanted, checked.shape_key)
            return self._batcher.submit(
                key, checked.arrays, checked.batch_size, runner, deadline.at, plan.padded,
                tag=origin.record,
                admit=lambda: self.admission.check(origin, "before its batch ran", False))
        remaining = self.admission.check(origin, "before the model ran", False)
        self.metrics.record_batch(mv.name, checked.batch_size or 1)
        return runner(checked.arrays, remaining)
