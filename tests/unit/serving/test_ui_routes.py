"""The playground and docs routes of the real Flask app (serving/ui): files, headers,
the MULTIHEAD_UI off switch and the open paths under MULTIHEAD_API_KEYS. The backend is
never started: these routes serve static files only. The pages themselves run in a real
browser in tests/browser/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from serving.config import Settings
from serving.rest import build_service, create_app
from serving.ui import STATIC_DIR, swagger_dist


def client(tmp_path: Path, **overrides: object):
    settings = Settings(model_dir=str(tmp_path), **overrides)
    return create_app(settings, build_service(settings)).test_client()


PAGES = ["/", "/docs", "/ui/playground.js", "/ui/playground.css", "/ui/docs.js",
         "/ui/favicon.svg", "/docs/vendor/swagger-ui-bundle.js", "/docs/vendor/swagger-ui.css"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_and_assets_carry_a_strict_csp(tmp_path: Path, path: str) -> None:
    r = client(tmp_path).get(path)
    assert r.status_code == 200, r.data[:200]
    csp = dict(part.strip().split(" ", 1) for part in r.headers["Content-Security-Policy"]
               .split(";"))
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["img-src"] == "'self' data: blob:"
    assert "unsafe" not in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_html_has_no_inline_script_style_or_remote_url() -> None:
    for page in ("index.html", "docs.html"):
        html = (STATIC_DIR / page).read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), page  # every script is a file
        assert "<style" not in html and "style=" not in html, page
        assert not re.search(r"(src|href)=\"(https?:)?//", html), page  # nothing remote


def test_docs_serve_the_locked_swagger_ui_files(tmp_path: Path) -> None:
    c = client(tmp_path)
    r = c.get("/docs/vendor/swagger-ui-bundle.js")
    assert r.data == (swagger_dist() / "swagger-ui-bundle.js").read_bytes()
    assert r.mimetype == "text/javascript"
    # Only what /docs uses: not the package's demo page (it points at petstore.swagger.io).
    r = c.get("/docs/vendor/index.html")
    assert r.status_code == 404 and r.json["code"] == "NOT_FOUND"
    assert "index.html" in r.json["error"]


def test_static_paths_cannot_leave_the_folder(tmp_path: Path) -> None:
    c = client(tmp_path)
    for path in ("/ui/../__init__.py", "/ui/%2e%2e/__init__.py", "/ui/nope.js"):
        r = c.get(path)
        assert r.status_code == 404, path
        assert r.json["code"] == "NOT_FOUND"


@pytest.mark.parametrize("path", ["/", "/docs", "/ui/playground.js",
                                  "/docs/vendor/swagger-ui-bundle.js"])
def test_ui_off_is_the_json_404(tmp_path: Path, path: str) -> None:
    r = client(tmp_path, ui=False).get(path)
    assert r.status_code == 404
    assert r.json == {"error": f"No route matches GET {path}; GET /openapi.json lists the API.",
                      "code": "NOT_FOUND"}


def test_multihead_ui_env_switch() -> None:
    assert Settings.from_env({}).ui is True
    assert Settings.from_env({"MULTIHEAD_UI": "false"}).ui is False


def test_pages_load_without_a_key_while_the_api_needs_one(tmp_path: Path) -> None:
    c = client(tmp_path, api_keys=("secret",))
    for path in PAGES:
        assert c.get(path).status_code == 200, path
    assert c.get("/v1/models").status_code == 401
    # A path that merely starts like an open one is not open.
    assert c.get("/uiX").status_code == 401
    assert c.get("/docsX").status_code == 401


def test_model_listing_carries_the_cards_units_for_the_page() -> None:
    from serving.core.tasks import list_heads
    from serving.protocols.multihead.rest import head_json
    from serving.types import ModelCard

    card = {"heads": [{"name": "price", "kind": "regression", "labels": None, "unit": "EUR"},
                      {"name": "match", "kind": "binary", "labels": ["no", "yes"]}]}
    assert [head_json(h) for h in list_heads(ModelCard.from_json(card), ["price", "match"])] == [
        {"name": "price", "kind": "regression", "labels": None, "unit": "EUR"},
        {"name": "match", "kind": "binary", "labels": ["no", "yes"]}]
