"""The gateway's Prometheus metrics (prefix `multihead_`), created once per registry.

`Metrics(registry)` never touches prometheus_client's global registry, so tests
and apps build as many as they like. Under gunicorn, `PROMETHEUS_MULTIPROC_DIR`
is set before Python starts: every worker writes its samples to that
directory, and `exposition()` merges them with a `MultiProcessCollector` on a
fresh registry, so `/metrics` counts all workers whichever one answers. Gauges
then need a `multiprocess_mode`: `livesum` for requests in flight, `livemax`
for loaded versions (a dead worker's samples drop out).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

PREFIX = "multihead"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
# Regression heads and label-less probabilities: ages in years, scores in 0..1.
VALUE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 40.0,
                 50.0, 60.0, 70.0, 80.0, 100.0, 1000.0)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get(
        "prometheus_multiproc_dir", "")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "requests", "Requests answered, by model, version, protocol (tfserving, v2, "
            "multihead), transport (rest, grpc) and gRPC code name.",
            ["model", "version", "protocol", "transport", "code"], namespace=PREFIX, registry=r)
        self.request_duration = Histogram(
            "request_duration_seconds", "Time from request to answer, validation and "
            "batching included.", ["model", "protocol", "transport"], namespace=PREFIX,
            registry=r,
            buckets=LATENCY_BUCKETS)
        self.backend_duration = Histogram(
            "backend_duration_seconds", "Time of one model runtime call (one merged batch).",
            ["model", "backend"], namespace=PREFIX, registry=r, buckets=LATENCY_BUCKETS)
        self.batch_size = Histogram(
            "batch_size", "Examples per model runtime call after micro-batching.", ["model"],
            namespace=PREFIX, registry=r, buckets=BATCH_BUCKETS)
        self.inflight = Gauge(
            "inflight_requests", "Predict requests being served now.", namespace=PREFIX,
            registry=r, multiprocess_mode="livesum")
        self.head_predictions = Counter(
            "head_predictions", "Predicted labels of classification heads.",
            ["model", "head", "label"], namespace=PREFIX, registry=r)
        self.head_value = Histogram(
            "head_value", "Predicted values of regression and label-less heads.",
            ["model", "head"], namespace=PREFIX, registry=r, buckets=VALUE_BUCKETS)
        self.shed = Counter(
            "shed_requests", "Requests dropped before their model ran, by reason: "
            "queue_time (waited past max_queue_wait_s), deadline (the client's or "
            "request_timeout_s passed), client_gone (connection closed, call cancelled), "
            "runtime_busy (tfserving_max_inflight calls in flight), runtime_unavailable (TF "
            "Serving down or not answering), connections (worker_connections reached; model '').",
            ["model", "reason"], namespace=PREFIX, registry=r)
        self.model_loaded = Gauge(
            "model_loaded", "1 while a model version is AVAILABLE in this worker.",
            ["model", "version"], namespace=PREFIX, registry=r, multiprocess_mode="livemax")
        # Drift (serving/drift.py): each worker's window as counts per bin, summed over the
        # live workers (livesum) into one pooled window; the card's proportions are the same
        # in every worker (livemax). The PSI gauges are computed from these at scrape time.
        self.drift_head_window = Gauge(
            "drift_head_window", "A head's recent predictions per bin (each worker's last "
            "drift_window, summed over workers).", ["model", "version", "head", "bin"],
            namespace=PREFIX, registry=r, multiprocess_mode="livesum")
        self.drift_head_training = Gauge(
            "drift_head_training_ratio", "A head's share of validation-split predictions per "
            "bin (the model card).", ["model", "version", "head", "bin"], namespace=PREFIX,
            registry=r, multiprocess_mode="livemax")
        self.drift_input_window = Gauge(
            "drift_input_window", "An input statistic's recent values per bin (sampled, each "
            "worker's last drift_window, summed over workers).",
            ["model", "version", "input", "statistic", "bin"], namespace=PREFIX, registry=r,
            multiprocess_mode="livesum")
        self.drift_input_training = Gauge(
            "drift_input_training_ratio", "An input statistic's validation-split share per "
            "bin (the model card).", ["model", "version", "input", "statistic", "bin"],
            namespace=PREFIX, registry=r, multiprocess_mode="livemax")
        self.model_changes = Counter(
            "model_changes", "Model management calls (load, unload, reload_config) by "
            "protocol and gRPC code name; who made each is in the gateway log.",
            ["action", "protocol", "code"], namespace=PREFIX, registry=r)
        self._children: dict[tuple, Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        # `labels()` validates and locks on every call (7 calls a request); the children
        # are the same objects each time, so the hot path looks them up once.
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def record_request(self, model: str, version: str, protocol: str, transport: str,
                       code: str, seconds: float | None = None) -> None:
        """Count one answered request (transports call this for requests the service
        never saw, e.g. a body that is not JSON)."""
        self.child(self.requests, model, version, protocol, transport, code).inc()
        if seconds is not None:
            self.child(self.request_duration, model, protocol, transport).observe(seconds)

    def record_shed(self, model: str, reason: str) -> None:
        self.child(self.shed, model, reason).inc()

    def record_batch(self, model: str, size: int) -> None:
        self.child(self.batch_size, model).observe(size)

    def record_backend_call(self, model: str, backend: str, seconds: float) -> None:
        self.child(self.backend_duration, model, backend).observe(seconds)

    def record_labels(self, model: str, head: str, labels: Iterable[str]) -> None:
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        for label, n in counts.items():
            self.child(self.head_predictions, model, head, label).inc(n)

    def record_values(self, model: str, head: str, values: Iterable[float]) -> None:
        hist = self.child(self.head_value, model, head)
        for v in values:
            hist.observe(float(v))

    def record_model_change(self, action: str, protocol: str, code: str) -> None:
        self.model_changes.labels(action, protocol, code).inc()

    def set_model_loaded(self, model: str, version: int, loaded: bool) -> None:
        self.model_loaded.labels(model, str(version)).set(1 if loaded else 0)

    def collect(self) -> list[Any]:
        """Every worker's metric families in multiprocess mode, else this registry's."""
        registry = self.registry
        if multiprocess_dir():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return list(registry.collect())

    def exposition(self) -> tuple[bytes, str]:
        """(body, content type) of `collect()`, plus the drift PSI gauges computed from
        the pooled windows (serving/drift.py)."""
        from serving.drift import psi_families

        families = self.collect()
        return generate_latest(_Families(families + psi_families(families))), \
            CONTENT_TYPE_LATEST


class _Families:
    """Collected families as a registry `generate_latest` can render."""

    def __init__(self, families: list[Any]) -> None:
        self._families = families

    def collect(self) -> list[Any]:
        return self._families
