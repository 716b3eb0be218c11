"""Optional bearer-token auth: on when `settings.api_keys` is non-empty.

Probes (/healthz, /readyz), the Prometheus scrape (/metrics) and the API
description (/openapi.json) stay open so that kubelets, Prometheus and client
generators need no secret; so do the playground and the API docs pages and their
static files (serving/ui/): they hold no secret, and the key a user types into the
page is sent by the page itself as `Authorization: Bearer`.
"""

from __future__ import annotations

import hmac

from flask import Flask, request

from serving.errors import Unauthenticated
from serving.ui import ASSET_PREFIXES, PAGE_PATHS

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"}) | PAGE_PATHS
OPEN_PREFIXES = ASSET_PREFIXES


def install_auth(app: Flask, api_keys: tuple[str, ...]) -> None:
    if not api_keys:
        return
    keys = tuple(k.encode() for k in api_keys)

    @app.before_request
    def _require_key() -> None:
        if request.path in OPEN_PATHS or request.path.startswith(OPEN_PREFIXES):
            return
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the Authorization header must be 'Bearer <api key>'")
        given = token.strip().encode()
        # compare_digest against every key, so timing says nothing about which matched
        if not any([hmac.compare_digest(given, k) for k in keys]):
            raise Unauthenticated("the API key in the Authorization header is not valid")
