"""Bearer-key auth on REST: inference routes need an API key when `settings.api_keys` is
set; management routes (a room's `REST_ADMIN_PREFIXES`, e.g. OIP's /v2/repository/) need
an admin key and are closed without `settings.admin_keys`.

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
from serving.config import Settings
from serving.ui import ASSET_PREFIXES, PAGE_PATHS

TRANSPORT_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
OPEN_PREFIXES = ASSET_PREFIXES
WHERE = "the Authorization header"


def open_paths(room_paths: Iterable[str]) -> frozenset[str]:
    """Every path that needs no key: the transport's, the UI's and the rooms' own."""
    return TRANSPORT_OPEN_PATHS | PAGE_PATHS | frozenset(room_paths)


def is_management(path: str, admin_prefixes: tuple[str, ...]) -> bool:
    # Case-folded: no spelling of a management path slips past as an inference one.
    return path.lower().startswith(admin_prefixes)


class Gate:
    """The REST transport's key check: which paths need a key or an admin key, and whether
    a request has it (the Flask hook and the fast path, serving/rest/fast.py, both ask)."""

    def __init__(self, settings: Settings, open_paths: frozenset[str],
                 admin_prefixes: Iterable[str] = ()) -> None:
        self._keys = ApiKeys(settings.api_keys, settings.admin_keys)
        self._open = open_paths
        self._admin = tuple(p.lower() for p in admin_prefixes)

    def __bool__(self) -> bool:
        return bool(self._keys) or bool(self._admin)

    def check(self, path: str, authorization: str | None) -> None:
        """Raise Unauthenticated or PermissionDenied unless this Authorization header
        opens `path`."""
        if is_management(path, self._admin):
            self._keys.check(authorization, WHERE, management=True)
        elif path not in self._open and not path.startswith(OPEN_PREFIXES):
            self._keys.check(authorization, WHERE)


def install_auth(app: Flask, gate: Gate) -> None:
    if not gate:
        return

    @app.before_request
    def _require_key() -> None:
        gate.check(request.path, request.headers.get("Authorization"))
