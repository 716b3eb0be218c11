"""The real gateway (gunicorn, 2 workers) configured by OTEL_* alone: a client's
traceparent on every protocol and transport comes back, over OTLP/gRPC, as the parent of
the request's span at a receiver built here from the official opentelemetry-proto service
stubs; every line the master and the workers write is one JSON object, the access lines
carry the requests' ids; and a skewed stream's drift shows in /metrics, pooled over both
workers.

One gateway start (~20-40 s on 2 cores) serves the three checks.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from serving import drift
from tests.integration.conftest import SAMPLES, Gateway, metric_value, start_gateway
from tests.protocol_calls import CALLS, Target, call

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
DRIFT_WINDOW = 400
SKEWED = 240


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP/gRPC trace endpoint that keeps what it is sent."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict[str, str], Any]] = []  # (resource attributes, span)
        self.arrived = threading.Condition()

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        with self.arrived:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value
                            for a in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    self.spans.extend((resource, s) for s in scope.spans)
            self.arrived.notify_all()
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait_for(self, check: Any, timeout_s: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: check(self.spans), timeout=timeout_s)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, int]]:
    servicer = Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(0)


@pytest.fixture(scope="module")
def traced_gateway(source_models: Path, receiver: tuple[Receiver, int],
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    repo = tmp_path_factory.mktemp("observed")  # the three models the tests call
    for name in ("headline", "profiler", "similarity"):
        (repo / name).symlink_to(source_models / name, target_is_directory=True)
    _, port = receiver
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
           "OTEL_SERVICE_NAME": "multihead-under-test", "OTEL_BSP_SCHEDULE_DELAY": "100",
           "MULTIHEAD_DRIFT_WINDOW": str(DRIFT_WINDOW), "MULTIHEAD_LOG_FORMAT": "json",
           "MULTIHEAD_BATCH_TIMEOUT_MICROS": "0"}
    with start_gateway(repo, "embedded", workers=2, env=env) as gw:
        yield gw


def traceparent(n: int) -> tuple[str, bytes, bytes]:
    trace_id, span_id = (0x4BF92F3577B34DA6A3CE929D0E0E4736 + n).to_bytes(16, "big"), \
        (0x00F067AA0BA902B7 + n).to_bytes(8, "big")
    return f"00-{trace_id.hex()}-{span_id.hex()}-01", trace_id, span_id


def test_a_client_traceparent_comes_back_over_otlp_on_every_protocol(
        traced_gateway: Gateway, receiver: tuple[Receiver, int]) -> None:
    servicer, _ = receiver
    inputs = {k: np.asarray(v, dtype=object if k == "headline" else np.float32)[:1]
              for k, v in SAMPLES["headline"].items()}

    def post(path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        response = traced_gateway.post(path, body, headers=headers)
        return response.status_code, response.headers

    sent = {}
    with grpc.insecure_channel(traced_gateway.grpc_target) as channel:
        grpc.channel_ready_future(channel).result(timeout=60)
        target = Target(post, channel, "headline", inputs)
        for n, (protocol, transport) in enumerate(CALLS):
            header, trace_id, span_id = traceparent(n)
            rid = f"e2e-{protocol}-{transport}"
            assert call(target, protocol, transport,
                        {"traceparent": header, "X-Request-ID": rid}) == rid
            sent[(trace_id, span_id)] = (protocol, transport, rid)

    def requests(spans: list[tuple[dict[str, str], Any]]) -> dict[tuple[bytes, bytes], Any]:
        return {(s.trace_id, s.parent_span_id): (resource, s) for resource, s in spans
                if s.name == "predict"}

    assert servicer.wait_for(lambda spans: set(sent) <= set(requests(spans)), 30), \
        f"received {len(servicer.spans)} spans:\n{traced_gateway.log()}"
    got = requests(servicer.spans)
    for key, (protocol, transport, rid) in sent.items():
        resource, span = got[key]
        attrs = {a.key: a.value for a in span.attributes}
        assert resource["service.name"] == "multihead-under-test"
        assert (attrs["multihead.protocol"].string_value, attrs["multihead.transport"]
                .string_value, attrs["multihead.request_id"].string_value) == \
            (protocol, transport, rid)
        children = {s.name for _, s in servicer.spans if s.trace_id == key[0]
                    and s.parent_span_id == span.span_id}
        assert children == {"decode", "queue", "model", "encode"}, (protocol, transport)


def test_every_line_is_json_and_access_lines_carry_the_ids(traced_gateway: Gateway) -> None:
    rid = "e2e-log-line"
    assert traced_gateway.post("/v1/models/profiler:predict",
                               {"instances": SAMPLES["profiler"]["posts"][:1]},
                               headers={"X-Request-ID": rid}).status_code == 200
    deadline = time.monotonic() + 10
    while True:
        lines = traced_gateway.log_path.read_text().splitlines()
        docs = [json.loads(line) for line in lines if line.startswith("{")]
        access = [d for d in docs if d["logger"] == "serving.access" and d["id"] == rid]
        if access or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    # Lines that are not JSON would be the old text shape; every gateway line is JSON
    # (the master's "Booting worker" included).
    assert [line for line in lines if line.strip() and not line.startswith("{")] == []
    assert any(d["logger"] == "gunicorn.error" and "Booting worker" in d["message"]
               for d in docs)
    # One line per request: gunicorn's own access line would repeat it without its id.
    assert [d for d in docs if d["logger"] == "gunicorn.access"] == []
    (line,) = access
    assert (line["protocol"], line["transport"], line["model"], line["status"],
            line["code"], line["batch_size"]) == ("tfserving", "rest", "profiler", 200, "OK", 1)
    assert line["latency_ms"] > 0 and line["version"].isdigit()


def test_drift_of_a_skewed_stream_is_pooled_over_the_workers(traced_gateway: Gateway) -> None:
    from tests.unit.serving.test_drift import profiler_stream

    posts = profiler_stream(skewed=True, n=SKEWED)
    for i in range(0, SKEWED, 20):  # new connections: the kernel spreads them over workers
        with traced_gateway.client.__class__(base_url=traced_gateway.http_url) as client:
            assert client.post("/v1/models/profiler:predict",
                               json={"instances": posts[i:i + 20]}).status_code == 200

    def pooled() -> tuple[float, float, str]:
        text = traced_gateway.get("/metrics").text
        return (metric_value(text, "multihead_drift_head_window", model="profiler", head="age"),
                metric_value(text, "multihead_batch_size_sum", model="profiler"), text)

    # Every profiler example the workers ran (this test's and earlier ones', under the
    # window size) is in the pooled window once each worker published (drift.PUBLISH_S).
    deadline = time.monotonic() + 10 * drift.PUBLISH_S
    window, examples, text = pooled()
    while window != examples and time.monotonic() < deadline:
        time.sleep(0.1)
        window, examples, text = pooled()
    assert window == examples and SKEWED <= examples <= DRIFT_WINDOW
    assert metric_value(text, "multihead_drift_head_psi", model="profiler", head="age") > 0.25
    report = traced_gateway.get("/v1/drift").json()
    (age,) = [r for r in report["heads"] if (r["model"], r["head"]) == ("profiler", "age")]
    assert age["count"] == examples and age["psi"] > report["threshold"]
