"""The playground page (`GET /`) and the interactive API docs (`GET /docs`).

Both are static files shipped in this package (`static/`: plain HTML, CSS and JS, no
build step); the page calls the gateway's own REST API from the browser. The docs are
Swagger UI from the locked `swagger-ui-bundle` package's own files over
`/openapi.json`, so nothing is fetched from a CDN and the page works air-gapped.

Every response here carries a strict Content-Security-Policy: scripts and styles only
from this origin (no inline code), images from this origin or `data:`/`blob:` (the
diagram is fetched with the API key and shown as a blob URL). `settings.ui = False`
(`MULTIHEAD_UI=false`) registers none of these routes, so `/` and `/docs` are the
gateway's JSON 404. The paths are open under `MULTIHEAD_API_KEYS` (serving/rest/auth.py):
the page holds no secret; the key typed into it stays in the page's memory.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, send_from_directory

from serving.config import Settings
from serving.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent / "static"
# Paths the auth hook leaves open (serving/rest/auth.py imports these).
PAGE_PATHS = frozenset({"/", "/docs"})
ASSET_PREFIXES = ("/ui/", "/docs/vendor/")

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Only the files /docs needs from Swagger UI's dist folder (no source maps, no demo page).
SWAGGER_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"})


def swagger_dist() -> Path:
    """Where the locked swagger-ui-bundle keeps Swagger UI's dist files."""
    import swagger_ui_bundle

    return Path(str(swagger_ui_bundle.swagger_ui_path))


def _secure(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def build_ui_blueprint() -> Blueprint:
    bp = Blueprint("ui", __name__)

    @bp.get("/")
    def playground() -> Response:
        return send_from_directory(STATIC_DIR, "index.html", max_age=0)

    @bp.get("/ui/<path:filename>")
    def asset(filename: str) -> Response:
        # send_from_directory refuses paths that leave the folder (404).
        return send_from_directory(STATIC_DIR, filename, max_age=0)

    @bp.get("/docs")
    def docs() -> Response:
        return send_from_directory(STATIC_DIR, "docs.html", max_age=0)

    @bp.get("/docs/vendor/<filename>")
    def swagger_asset(filename: str) -> Response:
        if filename not in SWAGGER_FILES:
            raise NotFound(f"/docs/vendor/{filename} is not one of Swagger UI's served files.")
        return send_from_directory(swagger_dist(), filename, max_age=3600)

    bp.after_request(_secure)
    return bp


def register_ui(app: Flask, settings: Settings) -> None:
    """Mount the playground and the docs unless `settings.ui` is off."""
    if settings.ui:
        app.register_blueprint(build_ui_blueprint())
