"""Model diagrams: every export has `assets.extra/model.png` (plot_model with shapes), and
`serving.protocols.multihead.diagram`'s blueprint serves the resolved version's file as image/png
(here in-process, over a real embedded runtime; through gunicorn in
test_price_serving.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.price_support import trained_price

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MODELS = ("qa", "profiler", "similarity", "headline")


def test_every_default_export_has_a_diagram(source_models: Path) -> None:
    for name in MODELS:
        versions = sorted((source_models / name).iterdir())
        picture = versions[-1] / "assets.extra" / "model.png"
        assert picture.read_bytes()[:8] == PNG_MAGIC, f"{name}: {picture}"


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator:
    from serving.config import Settings
    from serving.rest import build_service, create_app

    root = tmp_path_factory.mktemp("diagram-models")
    shutil.copytree(trained_price().model_dir / "price", root / "price")
    # The same export without its picture, served under another name.
    shutil.copytree(trained_price().model_dir / "price", root / "nodiagram")
    (root / "nodiagram" / "1" / "assets.extra" / "model.png").unlink()
    settings = Settings(model_dir=str(root))
    service = build_service(settings)
    app = create_app(settings, service)
    service.start()
    try:
        assert service.wait_ready(120), service.readiness()
        yield app.test_client()
    finally:
        service.stop()


def test_latest_and_explicit_version(client) -> None:
    want = (trained_price().model_dir / "price" / "1" / "assets.extra" / "model.png").read_bytes()
    for path in ("/v1/models/price/diagram", "/v1/models/price/versions/1/diagram"):
        r = client.get(path)
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.mimetype == "image/png"
        assert r.data == want and r.data[:8] == PNG_MAGIC


def test_unknown_model_and_version_are_404(client) -> None:
    r = client.get("/v1/models/nope/diagram")
    assert r.status_code == 404 and "nope" in r.get_json()["error"]
    r = client.get("/v1/models/price/versions/3/diagram")
    assert r.status_code == 404 and r.get_json()["code"] == "NOT_FOUND"


def test_export_without_diagram_is_404_naming_the_file(client) -> None:
    r = client.get("/v1/models/nodiagram/diagram")
    assert r.status_code == 404
    body = r.get_json()
    assert body["code"] == "NOT_FOUND" and "model.png" in body["error"]
    assert "version 1" in body["error"]


def test_unknown_label_is_400(client) -> None:
    r = client.get("/v1/models/price/labels/stable/diagram")
    assert r.status_code == 400, r.get_data(as_text=True)
