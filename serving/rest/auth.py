"""Optional bearer-token auth: on when `settings.api_keys` is non-empty.

Probes (/healthz, /readyz), the Prometheus scrape (/metrics) and its drift view
(/v1/drift), and the API
description (/openapi.json) stay open so that kubelets, Prometheus and client
generators need no secret; so do the playground and the API docs pages and their
static files (serving/ui/): they hold no secret, and the key a user types into the
page is sent by the page itself as `Authorization: Bearer`.
"""

from __future__ import annotations

from flask import Flask, request

from serving.auth import ApiKeys
from serving.errors import Unauthenticated
from serving.ui import ASSET_PREFIXES, PAGE_PATHS

# The OIP v2 health routes are probes too (KServe and Triton leave them open); /v1/drift
# is the JSON view of the drift gauges /metrics already shows (the playground draws it).
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/v2/health/live",
                        "/v2/health/ready", "/v1/drift"}) | PAGE_PATHS
OPEN_PREFIXES = ASSET_PREFIXES


def install_auth(app: Flask, api_keys: tuple[str, ...]) -> None:
    keys = ApiKeys(api_keys)
    if not keys:
        return

    @app.before_request
    def _require_key() -> None:
        if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES):
            return
        problem = keys.problem(request.headers.get("Authorization"), "the Authorization header")
        if problem:
            raise Unauthenticated(problem)
