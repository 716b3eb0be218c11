"""The gateway's own probes and scrape, the same whichever protocols are mounted:
`/healthz` (the process runs), `/readyz` (every configured model has an AVAILABLE
version), `/metrics` (Prometheus, every worker summed)."""

from __future__ import annotations

from flask import Flask, Response, current_app

from serving.rest.context import service
from serving.rest.errors import error_response, json_response


def register_probes(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])


def healthz() -> Response:
    return json_response({"status": "ok"})


def readyz() -> Response:
    reasons = service().readiness()
    if not reasons:
        return json_response({"status": "ready"})
    return error_response("The gateway is not ready: " + "; ".join(reasons) + ".", "UNAVAILABLE",
                          503, reasons=reasons)


def metrics() -> Response:
    collector = current_app.extensions.get("multihead.metrics") or service().metrics
    body, content_type = collector.exposition()
    return Response(body, status=200, content_type=content_type)
