"""The v2 routes' part of /openapi.json (merged by serving/rest/openapi.py).

Only the JSON form of infer is described: the binary tensor data extension
(`Inference-Header-Content-Length`) is a body the document cannot type, so it is
named in the description instead.
"""

from __future__ import annotations

from typing import Any

_ERR = {"400": "Bad input: the message names the field (inputs[0].shape, ...).",
        "404": "Unknown model or version.",
        "413": "Request body over max_request_bytes.",
        "503": "Model not loaded yet, or runtime unreachable."}
_VERSION = {"name": "version", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
            "description": "model version as a string, e.g. \"1\""}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _op(summary: str, op_id: str, ok: str, errors: list[str],
        params: list[dict[str, Any]] | None = None, body: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary, "operationId": op_id, "tags": ["Open Inference Protocol v2"],
        "responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": _ref(ok)}}}},
    }
    for code in errors:
        op["responses"][code] = {"description": _ERR[code], "content": {
            "application/json": {"schema": _ref("V2Error")}}}
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _ref(body)}}}
    return op


def paths(model_param: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "/v2": {"get": _op("OIP server metadata: name, version, extensions.",
                           "v2_server_metadata", "V2ServerMetadata", [])},
        "/v2/health/live": {"get": _op("OIP liveness: {\"live\": true}.", "v2_live",
                                       "V2Live", [])},
        "/v2/health/ready": {"get": _op("OIP readiness: {\"ready\": true}, or 503.",
                                        "v2_ready", "V2Ready", ["503"])},
    }
    for base, extra, tag in (("/v2/models/{model_name}", [], ""),
                             ("/v2/models/{model_name}/versions/{version}", [_VERSION],
                              "_by_version")):
        params = [model_param, *extra]
        which = "a version" if extra else "the newest AVAILABLE version"
        out[base] = {"get": _op(f"OIP model metadata of {which}.", "v2_metadata" + tag,
                                "V2ModelMetadata", ["400", "404", "503"], params)}
        out[base + "/ready"] = {"get": _op(f"OIP model readiness of {which}.",
                                           "v2_model_ready" + tag, "V2ModelReady",
                                           ["400", "404", "503"], params)}
        out[base + "/config"] = {"get": _op(
            f"Triton model configuration (JSON of inference.ModelConfig) of {which}.",
            "v2_config" + tag, "V2ModelConfig", ["400", "404", "503"], params)}
        infer = _op(f"OIP infer on {which}. JSON tensors here; the binary tensor data "
                    "extension (Inference-Header-Content-Length header, "
                    "parameters.binary_data_size) is accepted too.", "v2_infer" + tag,
                    "V2InferResponse", ["400", "404", "413", "503"], params, "V2InferRequest")
        out[base + "/infer"] = {"post": infer}
    return out


def schemas() -> dict[str, Any]:
    string = {"type": "string"}
    shape = {"type": "array", "items": {"type": "integer", "format": "int64"}}
    params = {"type": "object", "additionalProperties": True}
    tensor_meta = {"type": "object", "required": ["name", "datatype", "shape"],
                   "properties": {"name": string, "datatype": string, "shape": shape}}
    return {
        "V2Error": {"type": "object", "required": ["error"], "properties": {"error": string}},
        "V2Live": {"type": "object", "properties": {"live": {"type": "boolean"}}},
        "V2Ready": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        "V2ModelReady": {"type": "object", "properties": {"name": string,
                                                          "ready": {"type": "boolean"}}},
        "V2ServerMetadata": {"type": "object", "required": ["name", "version", "extensions"],
                             "properties": {"name": string, "version": string, "extensions": {
                                 "type": "array", "items": string}}},
        "V2ModelMetadata": {"type": "object", "required": ["name", "platform", "inputs",
                                                           "outputs"],
                            "properties": {"name": string, "platform": string,
                                           "versions": {"type": "array", "items": string},
                                           "inputs": {"type": "array", "items": tensor_meta},
                                           "outputs": {"type": "array", "items": tensor_meta}}},
        "V2ModelConfig": {"type": "object", "description": "inference.ModelConfig "
                          "(Triton model_config.proto) as JSON, proto field names",
                          "properties": {"name": string, "platform": string,
                                         "max_batch_size": {"type": "integer"},
                                         "input": {"type": "array", "items": {"type": "object"}},
                                         "output": {"type": "array",
                                                    "items": {"type": "object"}}}},
        "V2InferRequest": {"type": "object", "required": ["inputs"], "properties": {
            "id": string,
            "parameters": {"type": "object", "additionalProperties": True, "properties": {
                "signature_name": {"type": "string", "description": "default serving_default"},
                "binary_data_output": {"type": "boolean"}}},
            "inputs": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["name", "shape", "datatype"], "properties": {
                    "name": string, "shape": shape,
                    "datatype": {"type": "string", "enum": [
                        "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16",
                        "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES"]},
                    "parameters": params,
                    "data": {"description": "row-major values, flat or nested"}}}},
            "outputs": {"type": "array", "items": {"type": "object", "required": ["name"],
                                                   "properties": {"name": string,
                                                                  "parameters": params}}}}},
        "V2InferResponse": {"type": "object", "required": ["model_name", "outputs"],
                            "properties": {
                                "model_name": string, "model_version": string, "id": string,
                                "outputs": {"type": "array", "items": {
                                    "type": "object", "required": ["name", "datatype", "shape"],
                                    "properties": {"name": string, "datatype": string,
                                                   "shape": shape, "parameters": params,
                                                   "data": {"type": "array", "items": {}}}}}}},
    }
