"""The REST transport: `create_app(settings)` builds the Flask app that hosts the
protocols' REST routes (serving/protocols/: TF Serving's API, OIP v2, the typed task
API), beside the transport's own probes, auth, OpenAPI, playground and error shape.

Nothing is bound or loaded at import time; gunicorn calls the factory in each
worker after fork (`serving/gunicorn.conf.py` then starts the service's backend),
and tests build apps with their own settings or service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response

from serving.config import Settings

if TYPE_CHECKING:
    from serving.core.service import InferenceService

EXTENSION_KEY = "multihead"
METRICS_KEY = "multihead.metrics"


def create_app(settings: Settings | None = None,
               service: InferenceService | None = None) -> Flask:
    """A Flask app serving `service` (built from `settings` when not given, not started)."""
    from serving import protocols
    from serving.rest.access import install_request_records
    from serving.rest.auth import Gate, install_auth, open_paths
    from serving.rest.errors import json_response, register_error_handlers
    from serving.rest.fast import FastPath
    from serving.rest.openapi import build_openapi
    from serving.rest.probes import register_probes
    from serving.ui import register_ui

    settings = settings if settings is not None else Settings.from_env()
    if settings.problem():
        raise ValueError(settings.problem())
    app = Flask(__name__)
    # Larger bodies get werkzeug's 413, turned into the JSON error shape.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.config["MULTIHEAD_SETTINGS"] = settings
    if service is None:
        service = build_service(settings)
    app.extensions[EXTENSION_KEY] = service
    app.extensions[METRICS_KEY] = getattr(service, "metrics", None)
    rooms = protocols.rooms(settings.protocols)
    unlocked = open_paths(p for room in rooms for p in room.rest_open_paths)

    gate = Gate(settings, unlocked, (p for room in rooms for p in room.rest_admin_prefixes))
    register_error_handlers(app)
    install_request_records(app, settings.access_log)
    install_auth(app, gate)

    def openapi_json() -> Response:
        # Built per call: cheap, and the examples name the models served right now.
        try:
            names = service.backend.list_models()
        except Exception:  # the document must not depend on a reachable runtime
            names = []
        return json_response(build_openapi(settings, rooms, unlocked, names))

    app.add_url_rule("/openapi.json", "openapi", openapi_json, methods=["GET"])
    register_probes(app)
    register_ui(app, settings)  # / and /docs; nothing when settings.ui is off
    for room in rooms:
        blueprint = room.rest_blueprint(settings)
        if blueprint is not None:
            app.register_blueprint(blueprint)
    # The rooms' hot routes skip Flask's request machinery (serving/rest/fast.py).
    app.wsgi_app = FastPath(app.wsgi_app, service, settings, gate,  # type: ignore[method-assign]
                            [r for room in rooms for r in room.rest_fast_routes(settings)])
    return app


def build_service(settings: Settings) -> InferenceService:
    """Backend + metrics + service (+ tracing when the OTEL_* environment asks for it) from
    settings; the backend starts on `service.start()`."""
    from serving import tracing
    from serving.applied import board_for_this_worker
    from serving.backends.factory import create_backend
    from serving.core.service import InferenceService
    from serving.metrics import Metrics

    return InferenceService(settings, create_backend(settings), Metrics(), tracing.from_env(),
                            board_for_this_worker())
