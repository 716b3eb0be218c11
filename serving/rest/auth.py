"""Optional bearer-token auth: on when `settings.api_keys` is non-empty.

The paths a transport or a protocol room declares open stay open: the probes
(/healthz, /readyz), the Prometheus scrape (/metrics) and the API description
(/openapi.json), so that kubelets, Prometheus and client generators need no secret; a
room's health routes (its `REST_OPEN_PATHS`, e.g. OIP's /v2/health/*); and the playground
and the API docs pages and their static files (serving/ui/): they hold no secret, and the
key a user types into the page is sent by the page itself as `Authorization: Bearer`.
The key check itself is serving/auth.py's, the same as gRPC's.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, request

from serving.auth import ApiKeys
from serving.errors import Unauthenticated
from serving.ui import ASSET_PREFIXES, PAGE_PATHS

TRANSPORT_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
OPEN_PREFIXES = ASSET_PREFIXES


def open_paths(room_paths: Iterable[str]) -> frozenset[str]:
    """Every path that needs no key: the transport's, the UI's and the rooms' own."""
    return TRANSPORT_OPEN_PATHS | PAGE_PATHS | frozenset(room_paths)


def install_auth(app: Flask, api_keys: tuple[str, ...], open_paths: frozenset[str]) -> None:
    keys = ApiKeys(api_keys)
    if not keys:
        return

    @app.before_request
    def _require_key() -> None:
        if request.path in open_paths or request.path.startswith(OPEN_PREFIXES):
            return
        problem = keys.problem(request.headers.get("Authorization"), "the Authorization header")
        if problem:
            raise Unauthenticated(problem)
