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


def install_auth(app: Flask, settings: Settings, open_paths: frozenset[str],
                 admin_prefixes: tuple[str, ...] = ()) -> None:
    keys = ApiKeys(settings.api_keys, settings.admin_keys)
    prefixes = tuple(p.lower() for p in admin_prefixes)
    if not keys and not prefixes:
        return

    @app.before_request
    def _require_key() -> None:
        path = request.path
        if is_management(path, prefixes):
            keys.check(request.headers.get("Authorization"), WHERE, management=True)
            return
        if path in open_paths or path.startswith(OPEN_PREFIXES):
            return
        keys.check(request.headers.get("Authorization"), WHERE)
