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


class Gate:
    """The REST transport's key check: which paths need a key, and whether a request has
    a good one (the Flask hook and the fast path, serving/rest/fast.py, both ask it)."""

    def __init__(self, api_keys: tuple[str, ...], open_paths: frozenset[str]) -> None:
        self._keys = ApiKeys(api_keys)
        self._open = open_paths

    def __bool__(self) -> bool:
        return bool(self._keys)

    def problem(self, path: str, authorization: str | None) -> str:
        """Why a request for `path` with this Authorization header is refused; "" if not."""
        if not self._keys or path in self._open or path.startswith(OPEN_PREFIXES):
            return ""
        return self._keys.problem(authorization, "the Authorization header")


def install_auth(app: Flask, gate: Gate) -> None:
    if not gate:
        return

    @app.before_request
    def _require_key() -> None:
        problem = gate.problem(request.path, request.headers.get("Authorization"))
        if problem:
            raise Unauthenticated(problem)
