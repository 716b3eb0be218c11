"""`GET /v1/models/NAME[/versions/V | /labels/L]/diagram`: the model's architecture picture.

Every export writes `assets.extra/model.png` (`keras.utils.plot_model(...,
show_shapes=True)`, training/export.py); this blueprint serves that file of the
resolved version (the newest AVAILABLE one, the given version, or the label's)
as `image/png`, so a user can see a model's inputs, layers and heads. The file
is found by the core (InferenceService.diagram) in the version's directory. A
version whose export has no diagram (a foreign SavedModel, graphviz missing at
export time) is a 404 naming the file.

Mounted with the multihead protocol's REST routes (serving/protocols/multihead).
"""

from __future__ import annotations

from flask import Blueprint, Response

from serving.rest.context import service

diagram_bp = Blueprint("diagram", __name__)


def _diagram(name: str, version: int | None = None, label: str | None = None) -> Response:
    resp = Response(service().diagram(name, version, label), status=200, mimetype="image/png")
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
