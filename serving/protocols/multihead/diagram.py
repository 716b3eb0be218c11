"""`GET /v1/models/NAME[/versions/V | /labels/L]/diagram`: the model's architecture picture.

Every export writes `assets.extra/model.png` (`keras.utils.plot_model(...,
show_shapes=True)`, training/export.py); this blueprint serves that file of the
resolved version (the newest AVAILABLE one, the given version, or the label's)
as `image/png`, so a user can see a model's inputs, layers and heads. The file
is found in the version's directory: the runtime's own path when it reports one
(the embedded backend's `version_info`), else `MODEL_DIR/NAME/VERSION`. A
version whose export has no diagram (a foreign SavedModel, graphviz missing at
export time) is a 404 naming the file.

Register with `app.register_blueprint(diagram_bp)` in `create_app`.
"""

from __future__ import annotations

import os

from flask import Blueprint, Response, current_app

from serving.errors import NotFound

diagram_bp = Blueprint("diagram", __name__)

DIAGRAM_FILE = os.path.join("assets.extra", "model.png")


def _version_dir(name: str, version: int) -> str:
    service = current_app.extensions["multihead"]
    info = getattr(service.backend, "version_info", None)
    if info is not None:
        try:
            path = info(name, version).get("path")
        except (KeyError, LookupError):
            path = None
        if path:
            return str(path)
    settings = current_app.config["MULTIHEAD_SETTINGS"]
    return os.path.join(os.path.abspath(settings.model_dir), name, str(version))


def _diagram(name: str, version: int | None = None, label: str | None = None) -> Response:
    service = current_app.extensions["multihead"]
    mv = service.resolve(name, version, label)  # NotFound / InvalidInput / Unavailable
    path = os.path.join(_version_dir(mv.name, mv.version), DIAGRAM_FILE)
    try:
        with open(path, "rb") as f:
            body = f.read()
    except OSError:
        raise NotFound(f"Model '{mv.name}' version {mv.version} has no diagram: its export "
                       f"lacks {DIAGRAM_FILE}.") from None
    resp = Response(body, status=200, mimetype="image/png")
    resp.headers["Cache-Control"] = "public, max-age=3600"  # a version never changes
    return resp


@diagram_bp.get("/v1/models/<name>/diagram")
def model_diagram(name: str) -> Response:
    return _diagram(name)


@diagram_bp.get("/v1/models/<name>/versions/<int:version>/diagram")
def version_diagram(name: str, version: int) -> Response:
    return _diagram(name, version=version)


@diagram_bp.get("/v1/models/<name>/labels/<label>/diagram")
def label_diagram(name: str, label: str) -> Response:
    return _diagram(name, label=label)
