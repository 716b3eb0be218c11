"""TF Serving's REST API: `/v1/models/NAME[/versions/V | /labels/L][:predict | /metadata]`.

Model paths are matched the way TF Serving's handler does
(tensorflow_serving/model_servers/http_rest_api_handler.cc: case-insensitive
regexes, percent-decoded model names and labels, a version that does not fit
int64 is a 400). Views parse, call the core, serialize; codec.py holds the JSON
tensor formats (util/json_tensor.cc).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Response, request
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import PathConverter

from serving.core.calls import ModelRef, Origin, OutputFilter, PredictCall, check_version
from serving.core.service import InferenceService
from serving.errors import InvalidInput
from serving.jsonio import all_finite, dumps
from serving.protocols.tfserving import codec
from serving.rest.context import Exchange, body, origin, raw_path, service
from serving.rest.errors import json_response
from serving.rest.fast import FastRoute

PROTOCOL = "tfserving"

_SPEC = r"/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?"
PREDICT_RE = re.compile(_SPEC + r":(predict|classify|regress)", re.IGNORECASE)
PREDICT_ONLY_RE = re.compile(_SPEC + r":predict", re.IGNORECASE)
STATUS_RE = re.compile(_SPEC + r"(/metadata)?", re.IGNORECASE)


class ModelPathConverter(PathConverter):
    """`v1/models/...` in any letter case (werkzeug's routing is case-sensitive)."""

    regex = "[Vv]1/[Mm][Oo][Dd][Ee][Ll][Ss]/.+"


def blueprint() -> Blueprint:
    bp = Blueprint("tfserving", __name__)

    @bp.record_once
    def _converter(state: Any) -> None:
        state.app.url_map.converters["tfmodels"] = ModelPathConverter

    # Every TF Serving model path, in any letter case, goes through one matcher.
    bp.add_url_rule("/<tfmodels:_rest>", "model_path", model_path, methods=["GET", "POST"])
    return bp


def model_path(_rest: str) -> Response:
    path = raw_path()
    method = "GET" if request.method == "HEAD" else request.method
    if m := PREDICT_RE.fullmatch(path):
        if method != "POST":
            raise MethodNotAllowed(valid_methods=["POST"])
        name, version, label = _spec(m)
        if m.group(4).lower() != "predict":
            # TF Serving answers 400 for :classify/:regress on a predict-only signature.
            raise InvalidInput(f"The :{m.group(4).lower()} API needs a classification or "
                               f"regression signature; model '{name}' is served through "
                               ":predict.")
        return predict(name, version, label)
    if m := STATUS_RE.fullmatch(path):
        if method != "GET":
            raise MethodNotAllowed(valid_methods=["GET", "HEAD"])
        name, version, label = _spec(m)
        if m.group(4):
            return metadata(name, version, label)
        return model_status(name, version, label)
    raise NotFound()


def model_status(name: str, version: int | None, label: str | None) -> Response:
    statuses = service().model_status(name, version, label)
    return json_response({"model_version_status": [
        {"version": str(s.version), "state": s.state,
         "status": {"error_code": s.error_code, "error_message": s.error_message}}
        for s in statuses]})


def metadata(name: str, version: int | None, label: str | None) -> Response:
    mv = service().resolve(name, version, label)
    sigs = {sig_name: {"inputs": {n: _tensor_info(t) for n, t in sorted(sig.inputs.items())},
                       "outputs": {n: _tensor_info(t) for n, t in sorted(sig.outputs.items())},
                       "method_name": sig.method_name}
            for sig_name, sig in sorted(mv.signatures.items())}
    # The doubled key is TF Serving's: metadata is a map field -> Any(SignatureDefMap).
    return json_response({
        "model_spec": {"name": mv.name, "signature_name": "", "version": str(mv.version)},
        "metadata": {"signature_def": {"signature_def": sigs}},
    })


def _tensor_info(t: Any) -> dict[str, Any]:
    if t.shape is None:
        shape: dict[str, Any] = {"dim": [], "unknown_rank": True}
    else:
        shape = {"dim": [{"size": str(-1 if d is None else d), "name": ""} for d in t.shape],
                 "unknown_rank": False}
    return {"dtype": t.dtype, "tensor_shape": shape, "name": t.tensor_name}


# -- predict -----------------------------------------------------------------------------


def predict(name: str, version: int | None, label: str | None) -> Response:
    return Response(predict_json(service(), origin(PROTOCOL), body, name, version, label),
                    mimetype="application/json")


def predict_json(svc: InferenceService, where: Origin, read_body: Callable[[], bytes],
                 name: str, version: int | None, label: str | None) -> bytes:
    """The `:predict` answer's JSON: the Flask route's and the fast path's."""
    parsed: dict[str, codec.PredictBody] = {}  # the body, once the core has parsed it

    def call() -> PredictCall:  # run by the core, which counts a body that fails here
        request = parsed["body"] = codec.parse_predict_body(read_body())
        return PredictCall(ModelRef(name, version, label),
                           decode=lambda plan: codec.decode_inputs(request, plan),
                           signature=request.signature_name,
                           outputs=OutputFilter(request.heads))

    result = svc.predict(where, call)
    request = parsed["body"]
    return dumps(codec.encode_outputs(result.outputs, request.form, keyed=bool(request.heads)),
                 finite=all_finite(result.outputs.values()))


def fast_predict(exchange: Exchange, match: re.Match[str]) -> bytes:
    name, version, label = _spec(match)
    return predict_json(exchange.service, exchange.origin(PROTOCOL), exchange.body, name,
                        version, label)


def fast_routes() -> list[FastRoute]:
    """`POST {model path}:predict`, answered in front of Flask (serving/rest/fast.py)."""
    return [FastRoute("POST", PREDICT_ONLY_RE, fast_predict)]


def _spec(m: re.Match[str]) -> tuple[str, int | None, str | None]:
    name = unquote(m.group(1))
    version = check_version(m.group(2), "The version in the URL")
    label = unquote(m.group(3)) if m.group(3) is not None else None
    return name, version, label
