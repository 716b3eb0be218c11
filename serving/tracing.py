"""OpenTelemetry tracing of the predict path; off unless the standard `OTEL_*` variables
turn it on, and then configured by them alone, as the OpenTelemetry SDK documents them.

On when `OTEL_TRACES_EXPORTER=otlp` or `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, unless `OTEL_SDK_DISABLED=true` or
`OTEL_TRACES_EXPORTER=none`. `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` picks OTLP over
gRPC (`grpc`, the Python SDK's default) or HTTP (`http/protobuf`); the rest is the SDK's own
reading of the environment: the exporter's endpoint, headers, timeout and TLS; the
resource (`OTEL_SERVICE_NAME`, default `multihead-gateway`, `OTEL_RESOURCE_ATTRIBUTES`); the
sampler (`OTEL_TRACES_SAMPLER[_ARG]`, default parent-based always-on); the batch span
processor (`OTEL_BSP_*`). Off, nothing is built: no exporter, no thread, and the predict
path tests one `None`.

Each worker builds its own provider after fork (`build_service` runs in the worker). What
a request yields (serving/core/service.py):

    predict (SERVER, child of the client's W3C `traceparent` when it sent one)
      decode   wire message to checked arrays (resolve and signature pick included)
      queue    from reaching the batcher to its model call starting
      model    the model call it rode in; the span of the batch's first request links
               every request of the merged batch, the others link to it; with the
               `tfserving` backend its context travels to TF Serving in the gRPC metadata
      encode   from the core's answer to the transport's answer built
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from serving.request_context import RequestRecord

DEFAULT_SERVICE_NAME = "multihead-gateway"
TRACER_NAME = "multihead.gateway"
PROTOCOLS = ("grpc", "http/protobuf")
_W3C = TraceContextTextMapPropagator()


def enabled(environ: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces (see the module docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = [e.strip() for e in environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    if "none" in exporters:
        return False
    return "otlp" in exporters or bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                                       or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def otlp_protocol(environ: Mapping[str, str]) -> str:
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc").strip()
    if protocol not in PROTOCOLS:
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL must be one of {', '.join(PROTOCOLS)} "
                         f"for traces; got {protocol!r}")
    return protocol


def from_env(environ: Mapping[str, str] | None = None) -> Tracing | None:
    """The process's tracing, or None when the environment does not ask for it."""
    environ = os.environ if environ is None else environ
    if not enabled(environ):
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if otlp_protocol(environ) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    named = environ.get("OTEL_SERVICE_NAME") or \
        "service.name=" in environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    provider = TracerProvider(resource=Resource.create(
        {} if named else {"service.name": DEFAULT_SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(provider)


class Tracing:
    """Spans of the predict path from one `TracerProvider` (tests hand in their own, with
    the SDK's in-memory exporter)."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(TRACER_NAME)

    def begin(self, record: RequestRecord) -> RequestTrace:
        """Open the request's span under the client's trace context, if it sent one."""
        parent = _W3C.extract({"traceparent": record.traceparent,
                               "tracestate": record.tracestate}) if record.traceparent else None
        span = self.tracer.start_span("predict", context=parent, kind=trace.SpanKind.SERVER,
                                      attributes={"multihead.protocol": record.protocol,
                                                  "multihead.transport": record.transport})
        record.trace = RequestTrace(self.tracer, span)
        return record.trace

    def model_call(self, records: Sequence[RequestRecord], batch_size: int) -> ModelCall:
        """The spans of one model call: one per traced request that rides in it."""
        traced = [r.trace for r in records if r.trace is not None]
        return ModelCall(self.tracer, traced, batch_size)

    def shutdown(self) -> None:
        """Export what is queued, stop the exporter thread."""
        self.provider.shutdown()


@dataclass(eq=False)
class RequestTrace:
    tracer: trace.Tracer
    span: trace.Span
    queued_ns: int = 0       # reached the batcher
    answered_ns: int = 0     # the core answered

    def context(self) -> Any:
        return trace.set_span_in_context(self.span)

    @contextmanager
    def stage(self, name: str) -> Iterator[trace.Span]:
        """A child span around a block; an exception escaping it marks the span."""
        with self.tracer.start_as_current_span(name, context=self.context(),
                                               end_on_exit=True) as span:
            yield span

    def finish(self, record: RequestRecord) -> None:
        now = time.time_ns()
        if self.answered_ns:
            self.tracer.start_span("encode", context=self.context(),
                                   start_time=self.answered_ns).end(end_time=now)
        span = self.span
        span.set_attributes({"multihead.request_id": record.id, "multihead.model": record.model,
                             "multihead.version": record.version,
                             "multihead.status": record.code or "OK",
                             "multihead.batch_size": record.batch_size})
        if record.code and record.code != "OK":
            span.set_status(trace.Status(trace.StatusCode.ERROR, record.code))
        span.end(end_time=now)


class ModelCall:
    """The `queue` and `model` spans of the requests riding in one model call."""

    def __init__(self, tracer: trace.Tracer, riders: list[RequestTrace], batch_size: int
                 ) -> None:
        self._tracer = tracer
        self._riders = riders
        self._batch_size = batch_size
        self._spans: list[trace.Span] = []

    @contextmanager
    def running(self) -> Iterator[None]:
        """Around the backend call: the batch's span is current, so an outgoing call (TF
        Serving's Predict) carries its context."""
        if not self._riders:
            yield
            return
        start = time.time_ns()
        for rider in self._riders:
            if rider.queued_ns:
                self._tracer.start_span("queue", context=rider.context(),
                                        start_time=rider.queued_ns).end(end_time=start)
        first, *others = self._riders
        attributes = {"multihead.batch_size": self._batch_size,
                      "multihead.batch_requests": len(self._riders)}
        batch = self._tracer.start_span(
            "model", context=first.context(), start_time=start, attributes=attributes,
            links=[trace.Link(r.span.get_span_context()) for r in self._riders])
        spans = [batch] + [self._tracer.start_span(
            "model", context=r.context(), start_time=start, attributes=attributes,
            links=[trace.Link(batch.get_span_context())]) for r in others]
        try:
            with trace.use_span(batch, end_on_exit=False, record_exception=True,
                                set_status_on_exception=True):
                yield
        finally:
            end = time.time_ns()
            for span in spans:
                span.end(end_time=end)


def outgoing_metadata() -> tuple[tuple[str, str], ...]:
    """W3C trace context of the current span as gRPC metadata; () when none is current."""
    if not trace.get_current_span().get_span_context().is_valid:
        return ()
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return tuple(carrier.items())
