"""Tracing and request ids in-process: the spans of every protocol and transport (the SDK's
in-memory exporter), the links of a merged batch, the context sent on to TF Serving, the
OTLP/HTTP exporter the OTEL_* variables choose, and nothing at all when tracing is off."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from serving import tracing
from serving.request_context import RequestRecord
from tests.protocol_calls import CALLS, Target, call
from tests.unit.serving.conftest import install, origin, predict_call, settings_for

pytestmark = pytest.mark.timeout(120)
PAIRS = {"left": np.array(["ab", "c"], dtype=object),
         "right": np.array(["c", "abcd"], dtype=object),
         "aux": np.array([[1, 2, 3, 4, 5], [0] * 5], dtype=np.float32)}
STAGES = {"decode", "queue", "model", "encode"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def traceparent(n: int) -> tuple[str, int, int]:
    """A client's traceparent header (sampled), with its trace and span ids."""
    trace_id, span_id = 0x0AF7651916CD43DD8448EB211C80319C + n, 0xB7AD6B7169203330 + n
    return f"00-{trace_id:032x}-{span_id:016x}-01", trace_id, span_id


def in_memory() -> tuple[tracing.Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracing.Tracing(provider), exporter


@pytest.fixture(scope="module")
def repo(exports: dict, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("tracing-repo"))
    install(exports["pairs_v1"], root, "pairs", 1)
    shutil.copytree(os.path.join(exports["tasks"], "similarity"),
                    os.path.join(root, "similarity"))
    return root


@pytest.fixture(scope="module")
def gateway(repo: str) -> Iterator[tuple[Target, InMemorySpanExporter]]:
    """An in-process gateway (Flask test client + gRPC server) with in-memory tracing."""
    from serving.backends.embedded import EmbeddedBackend
    from serving.core.service import InferenceService
    from serving.grpc.server import serve
    from serving.metrics import Metrics
    from serving.rest import create_app

    settings = settings_for(repo, grpc_port=free_port(), batch_timeout_micros=0)
    traced, exporter = in_memory()
    service = InferenceService(settings, EmbeddedBackend(settings), Metrics(), traced)
    service.start()
    assert service.wait_ready(60), service.readiness()
    client = create_app(settings, service).test_client()
    server = serve(settings, service)

    def post(path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        response = client.post(path, json=body, headers=headers)
        return response.status_code, response.headers

    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield Target(post, channel, "pairs", PAIRS), exporter
    finally:
        server.stop(grace=0).wait(5)
        service.stop()


def spans_of(exporter: InMemorySpanExporter, trace_id: int) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


@pytest.mark.parametrize("protocol, transport", CALLS)
def test_a_client_traceparent_parents_the_request_span(gateway, protocol: str,
                                                       transport: str) -> None:  # noqa: ANN001
    target, exporter = gateway
    header, trace_id, client_span = traceparent(CALLS.index((protocol, transport)))
    rid = f"req-{protocol}-{transport}"
    echoed = call(target, protocol, transport, {"traceparent": header, "X-Request-ID": rid})
    assert echoed == rid
    spans = spans_of(exporter, trace_id)
    (request,) = [s for s in spans if s.name == "predict"]
    assert request.parent is not None and request.parent.span_id == client_span
    attrs = dict(request.attributes)
    model = "similarity" if (protocol, transport) == ("multihead", "rest") else "pairs"
    assert attrs == {"multihead.protocol": protocol, "multihead.transport": transport,
                     "multihead.model": model, "multihead.version": "1",
                     "multihead.signature": "serving_default", "multihead.status": "OK",
                     "multihead.request_id": rid,
                     "multihead.batch_size": 1 if model == "similarity" else 2}
    children = {s.name for s in spans if s.parent and s.parent.span_id == request.context.span_id}
    assert children == STAGES
    for span in spans:
        assert request.start_time <= span.start_time <= span.end_time <= request.end_time


def test_a_rejected_request_has_an_error_span_and_its_id(gateway) -> None:  # noqa: ANN001
    target, exporter = gateway
    header, trace_id, _ = traceparent(100)
    status, headers = target.post("/v1/models/pairs:predict", {"inputs": {"left": ["x"]}},
                                  {"traceparent": header})
    assert status == 400
    (request,) = [s for s in spans_of(exporter, trace_id) if s.name == "predict"]
    assert request.attributes["multihead.status"] == "INVALID_ARGUMENT"
    assert request.status.status_code.name == "ERROR"
    assert request.attributes["multihead.request_id"] == headers["X-Request-ID"]
    assert len(headers["X-Request-ID"]) == 32  # generated: none was sent


def test_oip_id_names_a_request_without_x_request_id(gateway) -> None:  # noqa: ANN001
    target, _ = gateway
    body = {"id": "oip-7", "inputs": [{"name": n, "shape": list(a.shape), "datatype":
            "BYTES" if a.dtype == object else "FP32", "data": a.ravel().tolist()}
            for n, a in PAIRS.items()]}
    status, headers = target.post("/v2/models/pairs/infer", body, {})
    assert status == 200 and headers["X-Request-ID"] == "oip-7"
    status, headers = target.post("/v2/models/pairs/infer", body, {"X-Request-ID": "mine"})
    assert headers["X-Request-ID"] == "mine"  # the transport's id wins


def test_one_json_access_line_per_request_with_its_id(gateway) -> None:  # noqa: ANN001
    import io
    import json
    import logging

    from serving import logs

    target, _ = gateway
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RequestIdFilter())
    handler.setFormatter(logs.JsonFormatter())
    access = logging.getLogger(logs.ACCESS_LOGGER)
    access.addHandler(handler)
    level = access.level
    access.setLevel(logging.INFO)  # as logs.logconfig sets it
    try:
        call(target, "tfserving", "rest", {"X-Request-ID": "line-1"})
        call(target, "v2", "grpc", {"X-Request-ID": "line-2"})
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(d["id"], d["protocol"], d["transport"], d["status"]) for d in lines] == [
        ("line-1", "tfserving", "rest", 200), ("line-2", "v2", "grpc", "OK")]
    for doc in lines:
        assert doc["model"] == "pairs" and doc["version"] == "1" and doc["batch_size"] == 2
        assert doc["latency_ms"] > 0 and doc["time"].endswith("Z")


def test_a_log_line_written_while_serving_carries_the_id() -> None:
    import logging

    from serving import logs, request_context

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "inside", None, None)
    token = request_context.enter(RequestRecord(id="abc"))
    try:
        logs.RequestIdFilter().filter(record)
    finally:
        request_context.leave(token)
    assert record.request_id == "abc"
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "outside", None, None)
    logs.RequestIdFilter().filter(outside)
    assert outside.request_id == ""


def test_a_merged_batch_links_every_request_that_rode_in_it(repo: str) -> None:
    from serving.backends.embedded import EmbeddedBackend
    from serving.core.service import InferenceService
    from serving.metrics import Metrics

    # A long batch timeout: the four concurrent requests meet in one model call.
    settings = settings_for(repo, batch_timeout_micros=500_000, max_batch_size=8)
    traced, exporter = in_memory()
    service = InferenceService(settings, EmbeddedBackend(settings), Metrics(), traced)
    service.start()
    try:
        assert service.wait_ready(60), service.readiness()
        origins = []
        for n in range(4):
            o = origin()
            o.record.traceparent = traceparent(200 + n)[0]
            origins.append(o)
        start = threading.Barrier(4)

        def one(o: Any) -> None:
            start.wait()
            service.predict(o, predict_call("pairs", PAIRS))

        threads = [threading.Thread(target=one, args=(o,)) for o in origins]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        service.stop()
    spans = exporter.get_finished_spans()
    requests = {s.context.span_id: s for s in spans if s.name == "predict"}
    assert len(requests) == 4
    batch = [s for s in spans if s.name == "model" and len(s.links) == 4]
    assert len(batch) == 1, [(s.name, len(s.links)) for s in spans]
    assert {link.context.span_id for link in batch[0].links} == set(requests)
    assert batch[0].attributes["multihead.batch_size"] == 8
    assert all(o.record.batch_size == 8 for o in origins)
    for request in requests.values():  # each request's own trace shows its model call
        mine = [s for s in spans if s.name == "model"
                and s.parent.span_id == request.context.span_id]
        assert len(mine) == 1
        assert mine[0] is batch[0] or [link.context.span_id for link in mine[0].links] == \
            [batch[0].context.span_id]


def test_the_model_call_context_reaches_tf_serving(repo: str) -> None:
    from serving.backends.tfserving import TFServingBackend
    from serving.core.service import InferenceService
    from serving.metrics import Metrics
    from tests.fakes.tfserving_fake import start_in_process

    server, store, address = start_in_process(repo)
    settings = settings_for(repo, backend="tfserving", tfserving_addr=address)
    traced, exporter = in_memory()
    service = InferenceService(settings, TFServingBackend(settings), Metrics(), traced)
    service.start()
    try:
        assert service.wait_ready(60), service.readiness()
        untraced = InferenceService(settings, service.backend, Metrics())
        untraced.predict(origin(), predict_call("pairs", PAIRS))
        assert store.traceparents == [""]  # off: nothing is sent
        o = origin()
        header, trace_id, _ = traceparent(300)
        o.record.traceparent = header
        service.predict(o, predict_call("pairs", PAIRS))
    finally:
        service.stop()
        server.stop(0)
    (model,) = [s for s in spans_of(exporter, trace_id) if s.name == "model"]
    version, sent_trace, sent_parent, flags = store.traceparents[-1].split("-")
    assert (int(sent_trace, 16), int(sent_parent, 16)) == (trace_id, model.context.span_id)


def test_off_unless_the_environment_asks() -> None:
    assert not tracing.enabled({})
    assert not tracing.enabled({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"})
    assert tracing.enabled({"OTEL_TRACES_EXPORTER": "otlp"})
    assert tracing.enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317"})
    assert tracing.enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert not tracing.enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
                                "OTEL_SDK_DISABLED": "true"})
    assert not tracing.enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
                                "OTEL_TRACES_EXPORTER": "none"})
    with pytest.raises(ValueError, match="http/json"):
        tracing.otlp_protocol({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"})


def exporter_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("OtelBatch")]


def test_no_exporter_thread_when_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from serving.config import Settings
    from serving.rest import build_service

    for key in list(os.environ):
        if key.startswith("OTEL_"):
            monkeypatch.delenv(key)
    before = exporter_threads()
    service = build_service(Settings(model_dir=str(tmp_path)))  # what each worker builds
    assert service.tracing is None and exporter_threads() == before
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    on = build_service(Settings(model_dir=str(tmp_path)))
    try:
        assert on.tracing is not None and len(exporter_threads()) == len(before) + 1
    finally:
        on.tracing.shutdown()


class _Receiver(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint: POST /v1/traces with an ExportTraceServiceRequest."""

    received: list[Any] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, trace_service_pb2.ExportTraceServiceRequest
                              .FromString(body)))
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def test_otlp_over_http_protobuf(monkeypatch: pytest.MonkeyPatch) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    for key, value in {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                       "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
                       "OTEL_SERVICE_NAME": "gateway-under-test",
                       "OTEL_BSP_SCHEDULE_DELAY": "50"}.items():
        monkeypatch.setenv(key, value)
    try:
        traced = tracing.from_env()
        assert traced is not None
        header, trace_id, client_span = traceparent(400)
        record = RequestRecord(traceparent=header, protocol="v2", transport="rest")
        traced.begin(record)
        record.finish_trace()
        traced.shutdown()  # flushes
    finally:
        server.shutdown()
    ((path, export),) = _Receiver.received
    assert path == "/v1/traces"
    (resource_spans,) = export.resource_spans
    service_name = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service_name["service.name"] == "gateway-under-test"
    (span,) = [s for scope in resource_spans.scope_spans for s in scope.spans]
    assert int.from_bytes(span.trace_id, "big") == trace_id
    assert int.from_bytes(span.parent_span_id, "big") == client_span
