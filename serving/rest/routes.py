"""REST views: parse, call `InferenceService`, serialize. Nothing else lives here.

TF Serving's model paths are matched the way its handler does
(tensorflow_serving/model_servers/http_rest_api_handler.cc: case-insensitive
regexes, percent-decoded model names and labels, a version that does not fit
int64 is a 400); every other path is an ordinary Flask route.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import PathConverter

from serving.config import Settings
from serving.core.service import InferenceService, PredictCall
from serving.errors import GatewayError, InvalidInput, PayloadTooLarge
from serving.rest import codec
from serving.rest.errors import error_response, json_response

EXTENSION_KEY = "multihead"
log = logging.getLogger(__name__)
INT64_MAX = 2**63 - 1

_SPEC = r"/v1/models/([^/:]+)(?:/versions/(\d+)|/labels/([^/:]+))?"
PREDICT_RE = re.compile(_SPEC + r":(predict|classify|regress)", re.IGNORECASE)
STATUS_RE = re.compile(_SPEC + r"(/metadata)?", re.IGNORECASE)
LIST_RE = re.compile(r"/v1/models/?", re.IGNORECASE)
_INT_DTYPES = ("DT_INT8", "DT_INT16", "DT_INT32", "DT_INT64")


def register_routes(app: Flask) -> None:
    app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    app.add_url_rule("/readyz", "readyz", readyz, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
    app.add_url_rule("/v1/models", "list_models", list_models, methods=["GET"])
    app.add_url_rule("/v1/similarity", "similarity", similarity, methods=["POST"])
    app.add_url_rule("/v1/profile", "profile", profile, methods=["POST"])
    app.add_url_rule("/v1/answer", "answer", answer, methods=["POST"])
    # Every TF Serving model path, in any letter case, goes through one matcher.
    app.url_map.converters["tfmodels"] = ModelPathConverter
    app.add_url_rule("/<tfmodels:_rest>", "model_path", model_path, methods=["GET", "POST"])


class ModelPathConverter(PathConverter):
    """`v1/models...` in any letter case (werkzeug's routing is case-sensitive)."""

    regex = "[Vv]1/[Mm][Oo][Dd][Ee][Ll][Ss](?:/.*)?"


def service() -> InferenceService:
    return current_app.extensions[EXTENSION_KEY]


def settings() -> Settings:
    return current_app.config["MULTIHEAD_SETTINGS"]


# -- probes and metadata ------------------------------------------------------------------


def healthz() -> Response:
    return json_response({"status": "ok"})


def readyz() -> Response:
    reasons = service().readiness()
    if not reasons:
        return json_response({"status": "ready"})
    return error_response("The gateway is not ready: " + "; ".join(reasons) + ".", "UNAVAILABLE",
                          503, reasons=reasons)


def metrics() -> Response:
    collector = current_app.extensions.get("multihead.metrics") or service().metrics
    body, content_type = collector.exposition()
    return Response(body, status=200, content_type=content_type)


def list_models() -> Response:
    return json_response({"models": service().list_models()})


def model_path(_rest: str) -> Response:
    path = _raw_path()
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
    if LIST_RE.fullmatch(path):
        if method != "GET":
            raise MethodNotAllowed(valid_methods=["GET", "HEAD"])
        return list_models()
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
        body = codec.parse_predict_body(_body())
        mv = svc.resolve(name, version, label)
        sig = svc.signature(mv, body.signature_name)
        inputs, form = codec.decode_inputs(body, sig, padded=_padded_inputs(mv, sig))
        heads = codec.parse_heads(body)
    except (GatewayError, HTTPException) as exc:
        # The service counts what reaches it; count here what the codec turned away.
        if isinstance(exc, GatewayError):
            code = exc.code
        else:
            code = "RESOURCE_EXHAUSTED" if exc.code == 413 else "INVALID_ARGUMENT"
        _count_rejected(svc, name, code, time.perf_counter() - started)
        raise
    result = svc.predict(
        PredictCall(model=name, version=version, label=label, signature=body.signature_name,
                    inputs=inputs, output_filter=heads, protocol="rest"),
        timeout_s=settings().request_timeout_s)
    return json_response(codec.encode_outputs(result.outputs, form, keyed=bool(heads)))


def _count_rejected(svc: InferenceService, name: str, code: str, seconds: float) -> None:
    try:
        # Client-chosen names stay out of label values, as in the service.
        model = name if name in svc.backend.list_models() else "_unknown"
        svc.metrics.record_request(model, "", "rest", code, seconds)
    except Exception:  # counting must never turn a 4xx into a 500
        log.exception("could not count a rejected request")


def _padded_inputs(mv: Any, sig: Any) -> frozenset[str]:
    """Token-id inputs the model card declares as padded: ragged rows get zero-padded."""
    declared = {i.get("name") for i in (mv.card or {}).get("id_inputs", []) or []
                if isinstance(i, dict) and i.get("padded_sequence")}
    return frozenset(n for n, t in sig.inputs.items() if n in declared and t.dtype in _INT_DTYPES)


# -- typed task endpoints -----------------------------------------------------------------


def similarity() -> Response:
    body = _json_object()
    pairs = body.get("pairs")
    if not isinstance(pairs, list) or not pairs:
        raise InvalidInput("pairs must be a non-empty list of [left, right] text pairs.")
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(t, str) for t in pair)):
            raise InvalidInput(f"pairs[{i}] must be a list of two strings [left, right].")
    model, version, label = _task_spec(body, "similarity")
    served, scores = service().similarity([tuple(p) for p in pairs], model=model,
                                          version=version, label=label, protocol="rest")
    return json_response({"scores": [float(s) for s in scores], "model_version": served})


def profile() -> Response:
    body = _json_object()
    authors = body.get("authors")
    if not isinstance(authors, list) or not authors:
        raise InvalidInput("authors must be a non-empty list with one list of posts per author.")
    for i, posts in enumerate(authors):
        if not (isinstance(posts, list) and posts and all(isinstance(p, str) for p in posts)):
            raise InvalidInput(f"authors[{i}] must be a non-empty list of post strings.")
    model, version, label = _task_spec(body, "profiler")
    served, profiles = service().profile(authors, model=model, version=version, label=label,
                                         protocol="rest")
    return json_response({"profiles": profiles, "model_version": served})


def answer() -> Response:
    body = _json_object()
    for field in ("text", "question"):
        if not isinstance(body.get(field), str) or not body[field].strip():
            raise InvalidInput(f"{field} must be a non-empty string.")
    top_k = body.get("top_k", 5)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 1000:
        raise InvalidInput("top_k must be an integer from 1 to 1000.")
    model, version, label = _task_spec(body, "qa")
    served, answers = service().answer(body["text"], body["question"], top_k=top_k,
                                       model=model, version=version, label=label,
                                       protocol="rest")
    return json_response({"answers": [{"answer": a, "score": float(s)} for a, s in answers],
                          "model_version": served})


def _task_spec(body: dict[str, Any], default_model: str) -> tuple[str, int | None, str | None]:
    """Optional `model`, `version`, `label` fields shared by the task endpoints."""
    model = body.get("model", default_model)
    if not isinstance(model, str) or not model:
        raise InvalidInput("model must be a non-empty string naming a served model.")
    version = body.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)
                                or not 0 <= version <= INT64_MAX):
        raise InvalidInput("version must be a non-negative integer.")
    label = body.get("label")
    if label is not None and (not isinstance(label, str) or not label):
        raise InvalidInput("label must be a non-empty string.")
    if version is not None and label is not None:
        raise InvalidInput("Give at most one of version and label.")
    return model, version, label


# -- request helpers ----------------------------------------------------------------------


def _body() -> bytes:
    # Flask's MAX_CONTENT_LENGTH turns an oversized body into werkzeug's 413 here.
    data = request.get_data(cache=False)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        # A chunked body: werkzeug stops reading at the limit without a word, so a larger
        # body would arrive cut. One more byte from the server's stream tells.
        if request.environ["wsgi.input"].read(1):
            raise PayloadTooLarge(f"The request body is larger than the limit of {limit} "
                                  "bytes (max_request_bytes).")
    return data


def _json_object() -> dict[str, Any]:
    body = codec.loads(_body())
    if not isinstance(body, dict):
        raise InvalidInput(f"The request body must be a JSON object, got {codec.kind_of(body)}.")
    return body


def _raw_path() -> str:
    """The path as the client sent it, so that %2F inside a name is not a separator."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return urlsplit(raw).path if raw else request.path


def _spec(m: re.Match[str]) -> tuple[str, int | None, str | None]:
    name = unquote(m.group(1))
    version = None
    if m.group(2) is not None:
        version = int(m.group(2))
        if version > INT64_MAX:
            raise InvalidInput(f"The version {m.group(2)} in the URL does not fit in int64.")
    label = unquote(m.group(3)) if m.group(3) is not None else None
    return name, version, label
