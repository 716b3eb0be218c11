"""The gateway's own probes and scrape, the same whichever protocols are mounted:
`/healthz` (the process runs), `/readyz` (every configured model has an AVAILABLE
version and the runtime answers), `/metrics` (Prometheus, every worker summed).

Under gunicorn the worker's event loop answers `GET /healthz` and `GET /readyz` itself,
from `probe_answer` (serving/gunicorn_worker.py), so a probe never waits for a thread
behind inference; the Flask views below give the same answers (tests, other servers).
Readiness never says "busy": overload is answered per request (503 with Retry-After), and
a pod taken out of its Service for being busy would only move its load onto the others.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app

from serving.errors import safe_text
from serving.jsonio import dumps
from serving.rest.context import service

PROBE_PATHS = ("/healthz", "/readyz")
# What the gateway promises a prober under any load (tests/integration/test_overload.py and
# test_hung_runtime.py hold it to this; k8s/base/gateway's probe timeouts leave room for it).
PROBE_ANSWER_S = 1.0


def register_probes(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])


def probe_answer(svc: Any, path: str) -> tuple[int, bytes]:
    """(HTTP status, JSON body) of the probe at `path` (one of PROBE_PATHS)."""
    if path == "/healthz":
        return 200, dumps({"status": "ok"})
    reasons = svc.readiness()
    if not reasons:
        return 200, dumps({"status": "ready"})
    return 503, dumps({"error": safe_text("The gateway is not ready: " + "; ".join(reasons)
                                          + "."),
                       "code": "UNAVAILABLE", "reasons": reasons})


def _probe_response(path: str) -> Response:
    status, body = probe_answer(service(), path)
    return Response(body, status=status, mimetype="application/json")


def healthz() -> Response:
    return _probe_response("/healthz")


def readyz() -> Response:
    return _probe_response("/readyz")


def metrics() -> Response:
    collector = current_app.extensions.get("multihead.metrics") or service().metrics
    body, content_type = collector.exposition()
    return Response(body, status=200, content_type=content_type)
