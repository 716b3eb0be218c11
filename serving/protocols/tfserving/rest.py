"""TF Serving's REST API: `/v1/models/NAME[/versions/V | /labels/L][:predict | /metadata]`.

Model paths are matched the way TF Serving's handler does
(tensorflow_serving/model_servers/http_rest_api_handler.cc: case-insensitive
regexes, percent-decoded model names and labels, a version that does not fit
int64 is a 400). Views parse, call the core, serialize; codec.py holds the JSON
tensor formats (util/json_tensor.cc).
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import PathConverter

from serving import dtypes
from serving.core.service import PredictCall
from serving.errors import GatewayError, InvalidInput
from serving.jsonio import all_finite
from serving.protocols.tfserving import codec
from serving.rest.context import body, raw_path, service, settings
from serving.rest.errors import json_response

PROTOCOL = "tfserving"
INT64_MAX = 2**63 - 1

_SPEC = r"/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?"
PREDICT_RE = re.compile(_SPEC + r":(predict|classify|regress)", re.IGNORECASE)
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
    svc = service()
    started = time.perf_counter()
    try:
        parsed = codec.parse_predict_body(body())
        mv = svc.resolve(name, version, label)
        sig = svc.signature(mv, parsed.signature_name)
        inputs, form = codec.decode_inputs(parsed, sig, padded=_padded_inputs(mv, sig))
        heads = codec.parse_heads(parsed)
    except (GatewayError, HTTPException) as exc:
        # The service counts what reaches it; count here what the codec turned away.
        if isinstance(exc, GatewayError):
            code = exc.code
        else:
            code = "RESOURCE_EXHAUSTED" if exc.code == 413 else "INVALID_ARGUMENT"
        svc.record_rejected(name, PROTOCOL, "rest", code, time.perf_counter() - started)
        raise
    result = svc.predict(
        PredictCall(model=name, version=version, label=label, signature=sig.name,
                    inputs=inputs, output_filter=heads, protocol=PROTOCOL, transport="rest",
                    resolved=mv),
        timeout_s=settings().request_timeout_s)
    return json_response(codec.encode_outputs(result.outputs, form, keyed=bool(heads)),
                         finite=all_finite(result.outputs.values()))


def _padded_inputs(mv: Any, sig: Any) -> frozenset[str]:
    """Token-id inputs the model card declares as padded: ragged rows get zero-padded."""
    declared = {n for n, c in mv.card.id_inputs.items() if c.padded_sequence} \
        if mv.card is not None else set()
    return frozenset(n for n, t in sig.inputs.items()
                     if n in declared and dtypes.BY_TF.get(t.dtype, dtypes.BY_TF["DT_FLOAT"]).kind
                     == "int")


def _spec(m: re.Match[str]) -> tuple[str, int | None, str | None]:
    name = unquote(m.group(1))
    version = None
    if m.group(2) is not None:
        version = int(m.group(2))
        if version > INT64_MAX:
            raise InvalidInput(f"The version {m.group(2)} in the URL does not fit in int64.")
    label = unquote(m.group(3)) if m.group(3) is not None else None
    return name, version, label
