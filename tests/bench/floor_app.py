"""The framework floor: an empty route on the gateway's gunicorn + Flask settings.

`POST /v1/models/<name>:predict` answers a constant body without reading the
request, so a load point against it measures what gunicorn and Flask alone cost
per request (accept, parse, route, respond) with the very same bytes on the wire
as the gateway gets. gunicorn runs it with tests/bench/floor_gunicorn.conf.py,
which takes every plain setting (worker class, workers, threads, keep-alive...)
from serving/gunicorn.conf.py and none of its hooks.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

from flask import Flask

ANSWER = b'{"predictions": []}'
GATEWAY_CONF = Path(__file__).resolve().parents[2] / "serving" / "gunicorn.conf.py"
_NOT_COPIED = {"bind", "proc_name", "pidfile", "raw_env", "config", "wsgi_app"}


def gateway_settings() -> dict[str, object]:
    """The plain (non-callable) gunicorn settings of serving/gunicorn.conf.py.

    The file is executed with this process's MULTIHEAD_* environment (the bench
    gives the floor the gateway's), so a change of worker class, workers, threads
    or keep-alive there moves the floor with it; its hooks (backend, gRPC server,
    metrics) are not taken."""
    from gunicorn.config import KNOWN_SETTINGS

    names = {s.name for s in KNOWN_SETTINGS} - _NOT_COPIED
    namespace = runpy.run_path(str(GATEWAY_CONF))
    return {k: v for k, v in namespace.items() if k in names and not callable(v)}


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    @app.post("/v1/models/<name>:predict")
    def predict(name: str) -> Any:
        return ANSWER, 200, {"Content-Type": "application/json"}

    return app
