"""Open Inference Protocol v2 over REST: the `/v2` blueprint.

Routes (kserve docs/predict-api/v2/required_api.md, Triton's model-configuration
and binary-data extensions, triton-inference-server/server docs/protocol/
extension_model_configuration.md and extension_binary_data.md):

    GET  /v2                                   server metadata
    GET  /v2/health/live | /v2/health/ready    {"live": true} / {"ready": true}, 200 / 503
    GET  /v2/models/M[/versions/V]             model metadata
    GET  /v2/models/M[/versions/V]/ready       {"name", "ready"}, 200 / 404 / 503
    GET  /v2/models/M[/versions/V]/config      the JSON of inference.ModelConfig
    POST /v2/models/M[/versions/V]/infer       JSON or binary tensor data
    POST /v2/repository/index                  Triton's model repository extension
    POST /v2/repository/models/M/load          (extension_model_repository.md), behind
    POST /v2/repository/models/M/unload        an admin key (serving/auth.py)

No Content-Type is required: tritonclient sends none. A body is binary exactly when
`Inference-Header-Content-Length` is present (Triton src/http_server.cc does the
same). Errors are `{"error": sentence}` with the status of the `serving.errors`
type (404 unknown model / version, 503 not ready, 400 bad input), in `_error` only.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from serving.auth import key_id
from serving.config import Settings
from serving.core.service import InferenceService
from serving.errors import GatewayError, InvalidInput, quote
from serving.protocols.v2 import SERVER_NAME, codec, config, extensions, infer, server_version
from serving.protocols.v2 import repository as repo
from serving.rest.context import body, origin, service, settings

log = logging.getLogger(__name__)
HEADER_LENGTH = "Inference-Header-Content-Length"


def rest_blueprint(settings: Settings) -> Blueprint:
    bp = Blueprint("v2", __name__, url_prefix="/v2")
    bp.add_url_rule("", "server_metadata", server_metadata, methods=["GET"])
    bp.add_url_rule("/health/live", "live", live, methods=["GET"])
    bp.add_url_rule("/health/ready", "ready", ready, methods=["GET"])
    for suffix, tag in (("", ""), ("/versions/<version>", "_by_version")):
        base = "/models/<model>" + suffix
        bp.add_url_rule(base, "metadata" + tag, model_metadata, methods=["GET"])
        bp.add_url_rule(base + "/ready", "model_ready" + tag, model_ready, methods=["GET"])
        bp.add_url_rule(base + "/config", "config" + tag, model_config, methods=["GET"])
        bp.add_url_rule(base + "/infer", "infer" + tag, model_infer, methods=["POST"])
    bp.add_url_rule("/repository/index", "repository_index", repository_index,
                    methods=["POST"])
    bp.add_url_rule("/repository/models/<model>/load", "repository_load", repository_load,
                    methods=["POST"])
    bp.add_url_rule("/repository/models/<model>/unload", "repository_unload",
                    repository_unload, methods=["POST"])
    bp.register_error_handler(GatewayError, _error)
    bp.register_error_handler(HTTPException, _http_error)
    return bp


def _service() -> InferenceService:
    return service()


def _json(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status=status,
                    mimetype="application/json")


# -- errors: the one place for v2 REST -------------------------------------------------------


def _error(exc: GatewayError) -> Response:
    # Triton answers 400 for its UNKNOWN (a model that failed to load); http_server.cc
    # HttpCodeFromError.
    status = 400 if exc.code == "UNKNOWN" else exc.status
    if status >= 500:
        log.warning("%s %s -> %s: %s", request.method, request.path, exc.code, exc.message)
    # Every GatewayError's message is already safe to encode (serving/errors.py).
    response = _json({"error": exc.message}, status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _encodable(text: str) -> bool:
    """False for text UTF-8 cannot write (a lone surrogate from a "\\ud800" escape)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 405:
        message = f"Method {request.method} is not allowed on {request.path}."
    elif status == 413:
        message = (f"The request body is larger than the limit of "
                   f"{request.max_content_length} bytes (max_request_bytes).")
    else:
        message = (exc.description or exc.name).split("\n")[0]
    response = _json({"error": message}, status)
    for key, value in exc.get_headers():
        if key.lower() == "allow":
            response.headers[key] = value
    return response


# -- health and metadata -------------------------------------------------------------------


def server_metadata() -> Response:
    return _json({"name": SERVER_NAME, "version": server_version(),
                  "extensions": extensions(settings())})


def live() -> Response:
    return _json({"live": True})


def ready() -> Response:
    reasons = _service().readiness()
    if reasons:
        return _json({"ready": False, "error": "The gateway is not ready: "
                      + "; ".join(reasons) + "."}, 503)
    return _json({"ready": True})


def model_ready(model: str, version: str | None = None) -> Response:
    mv = infer.resolve(_service(), model, version)  # 404 unknown, 503 not loaded
    return _json({"name": mv.name, "ready": True})


def model_metadata(model: str, version: str | None = None) -> Response:
    svc = _service()
    mv = infer.resolve(svc, model, version)
    return _json(config.metadata(mv, svc.available_versions(model), svc.signature(mv)))


def model_config(model: str, version: str | None = None) -> Response:
    svc = _service()
    mv = infer.resolve(svc, model, version)
    cfg = config.model_config(mv, svc.signature(mv), settings().max_batch_size)
    return _json(config.config_json(cfg))


# -- the model repository extension ----------------------------------------------------------


def _optional_object(where: str = "The request body") -> dict[str, Any]:
    """The body as a JSON object; an empty body is {} (tritonclient sends none)."""
    raw = body()
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{where} is not valid JSON: {str(exc).splitlines()[0][:160]}.") \
            from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{where} must be a JSON object.")
    return value


def _who() -> str:
    return key_id(request.headers.get("Authorization"))


def repository_index() -> Response:
    ready = _optional_object().get("ready", False)
    if not isinstance(ready, bool):
        raise InvalidInput("ready must be true or false.")
    return _json(repo.index_json(_service().management.index(ready)))


def repository_load(model: str) -> Response:
    params = _params(_optional_object(), "")
    cfg = None
    for key, value in params.items():
        if key == repo.CONFIG_PARAMETER:
            if not isinstance(value, str):
                raise InvalidInput("parameters.config must be a string holding the JSON of an "
                                   "inference.ModelConfig.")
            cfg = value
        else:
            raise InvalidInput(f"parameters.{quote(key)[1:-1]} is not supported by this "
                               "gateway's load (only parameters.config; no override files).")
    policy, labels = repo.load_options(model, cfg, "parameters.config")
    _service().management.load(origin(infer.PROTOCOL), _who(), model, policy, labels)
    return _json({"name": model, "load": True})


def repository_unload(model: str) -> Response:
    params = _params(_optional_object(), "")
    if not isinstance(params.get(repo.UNLOAD_DEPENDENTS, False), bool):
        raise InvalidInput("parameters.unload_dependents must be true or false.")
    # No model depends on another here (no ensembles): with or without dependents is one.
    _service().management.unload(origin(infer.PROTOCOL), _who(), model)
    return _json({"name": model, "unload": True})


# -- infer ---------------------------------------------------------------------------------


def model_infer(model: str, version: str | None = None) -> Response:
    parsed: dict[str, Any] = {}

    def decode() -> infer.Request:
        # The transport's bounded reader: an over-limit body is a 413 on every protocol.
        header, binary = _split_body(body(), request.headers.get(HEADER_LENGTH))
        parsed.update(header)
        return _decode_request(header, binary)

    answer = infer.infer(_service(), origin(infer.PROTOCOL), model, version, decode)
    return _encode_answer(answer, parsed)


def _split_body(raw: bytes, header_length: str | None) -> tuple[dict[str, Any], memoryview]:
    if header_length is None:
        size = len(raw)
    else:
        text = header_length.strip()
        if not text.isascii() or not text.isdigit() or int(text) > len(raw):
            raise InvalidInput(f"The {HEADER_LENGTH} header must be an integer from 1 to "
                               f"the body's {len(raw)} bytes; got '{header_length[:40]}'.")
        size = int(text)
        if size == 0:
            raise InvalidInput(f"{HEADER_LENGTH}: 0 (a raw binary request without a JSON "
                               "header) is not supported; send the JSON header first.")
    try:
        header = orjson.loads(raw[:size])
    except orjson.JSONDecodeError as exc:
        hint = "" if header_length is not None else (
            f" (a binary body needs the {HEADER_LENGTH} header)")
        raise InvalidInput(f"The request body is not valid JSON{hint}: "
                           f"{str(exc).splitlines()[0][:160]}.") from None
    if not isinstance(header, dict):
        raise InvalidInput("The request body must be a JSON object with an 'inputs' list.")
    return header, memoryview(raw)[size:]


def _params(obj: dict[str, Any], where: str) -> dict[str, Any]:
    value = obj.get("parameters", {})
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}parameters must be a JSON object.")
    return value


def _bool_param(params: dict[str, Any], key: str, where: str) -> bool | None:
    value = params.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidInput(f"{where}parameters.{key} must be true or false.")
    return value


def _decode_request(header: dict[str, Any], binary: memoryview) -> infer.Request:
    req_id = header.get("id", "")
    if not isinstance(req_id, str) or not _encodable(req_id):
        raise InvalidInput("id must be a string of valid UTF-8 text.")
    params = _params(header, "")
    _bool_param(params, "binary_data_output", "")
    signature = infer.signature_name(params.get(infer.SIGNATURE_PARAMETER),
                                     f"parameters.{infer.SIGNATURE_PARAMETER}")
    inputs = header.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("inputs must be a non-empty list of tensors "
                           "({name, shape, datatype, data}).")
    decoded, offset = [], 0
    for i, item in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where} must be an object {{name, shape, datatype, data}}.")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{where}.name must be a non-empty string.")
        dt = codec.dtype_for(item.get("datatype"), f"{where}.datatype")
        shape = codec.check_shape(item.get("shape"), f"{where}.shape")
        size = _params(item, f"{where}.").get("binary_data_size")
        if size is not None:
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise InvalidInput(f"{where}.parameters.binary_data_size must be a "
                                   "non-negative integer.")
            if "data" in item:
                raise InvalidInput(f"{where} has both data and parameters.binary_data_size; "
                                   "give one.")
            if offset + size > len(binary):
                raise InvalidInput(f"{where}.parameters.binary_data_size {size} runs past the "
                                   f"end of the body ({len(binary) - offset} binary bytes "
                                   "left).")
            array = codec.from_raw(binary[offset:offset + size], dt, shape,
                                   f"{where} binary data (input '{name[:80]}')")
            offset += size
        else:
            if "data" not in item:
                raise InvalidInput(f"{where} needs data (or parameters.binary_data_size with "
                                   "the binary tensor data extension).")
            array = codec.from_json(item["data"], dt, shape, f"{where}.data")
        decoded.append(infer.Input(name, dt.oip or "", array, where))
    if offset != len(binary):
        raise InvalidInput(f"The body has {len(binary) - offset} bytes after the JSON header "
                           "that no input's parameters.binary_data_size accounts for.")
    return infer.Request(decoded, _requested(header), signature, req_id)


def _requested(header: dict[str, Any]) -> list[str]:
    outputs = header.get("outputs")
    if outputs is None:
        return []
    if not isinstance(outputs, list):
        raise InvalidInput("outputs must be a list of {name, parameters} objects.")
    names = []
    for j, item in enumerate(outputs):
        where = f"outputs[{j}]"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput(f"{where} must be an object with a string name.")
        params = _params(item, f"{where}.")
        _bool_param(params, "binary_data", f"{where}.")
        if params.get("classification") not in (None, 0):
            raise InvalidInput(f"{where}.parameters.classification is not supported by this "
                               "gateway (the classification extension is not offered).")
        names.append(item["name"])
    return names


def _binary_choice(header: dict[str, Any]) -> dict[str, bool]:
    """Per requested output: binary or JSON. A per-output `binary_data` wins over the
    request's `binary_data_output` (not the other way round: kserve PR #5908)."""
    default = bool(header.get("parameters", {}).get("binary_data_output", False))
    choice: dict[str, bool] = {"": default}
    for item in header.get("outputs") or []:
        flag = item.get("parameters", {}).get("binary_data")
        choice[item["name"]] = default if flag is None else flag
    return choice


def _encode_answer(answer: infer.Answer, header: dict[str, Any]) -> Response:
    choice = _binary_choice(header)
    outputs, blobs = [], []
    for out in answer.outputs:
        entry: dict[str, Any] = {"name": out.name, "datatype": out.datatype,
                                 "shape": list(out.array.shape)}
        if choice.get(out.name, choice[""]):
            blob = codec.to_raw(out.array, out.datatype)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = codec.to_json(out.array, out.datatype, f"outputs '{out.name}'")
        outputs.append(entry)
    body: dict[str, Any] = {"model_name": answer.model, "model_version": str(answer.version)}
    if header.get("id"):
        body["id"] = header["id"]
    body["outputs"] = outputs
    head = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return Response(head, status=200, mimetype="application/json")
    response = Response(b"".join([head, *blobs]), status=200,
                        mimetype="application/octet-stream")
    response.headers[HEADER_LENGTH] = str(len(head))
    return response
