"""GET /openapi.json: an OpenAPI 3.0 description of the REST API, built here from code.

The model paths are generated for the three ways TF Serving names a model
(`/v1/models/NAME`, `.../versions/N`, `.../labels/L`) so that the document and
the router in routes.py cannot drift apart on those variants.
"""

from __future__ import annotations

from typing import Any

from serving.config import Settings

_ERROR_CODES = {"400": "Bad input: the message names the field and what was expected.",
                "404": "Unknown model or version, or no such route.",
                "413": "Request body over max_request_bytes.",
                "429": "Batch queue full.",
                "503": "Model runtime not ready or unreachable.",
                "504": "Deadline passed."}

_MODEL_VARIANTS: list[tuple[str, list[dict[str, Any]], str]] = [
    ("/v1/models/{model_name}", [], "the newest AVAILABLE version"),
    ("/v1/models/{model_name}/versions/{version}",
     [{"name": "version", "in": "path", "required": True,
       "schema": {"type": "integer", "format": "int64", "minimum": 0}}], "a version by number"),
    ("/v1/models/{model_name}/labels/{label}",
     [{"name": "label", "in": "path", "required": True,
       "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_.-]+$"}}],
     "the version a label points at"),
]
_MODEL_NAME = {"name": "model_name", "in": "path", "required": True,
               "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_.-]+$"}}


def build_openapi(settings: Settings, model_names: list[str] | None = None) -> dict[str, Any]:
    """The document; `model_names` (the models served now) become path examples."""
    model_param = dict(_MODEL_NAME)
    if model_names:
        model_param["schema"] = {**_MODEL_NAME["schema"], "example": model_names[0]}
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("Liveness probe: 200 while the process runs.", "Status")},
        "/readyz": {"get": _op("Readiness: 200 when every configured model has an AVAILABLE "
                               "version, else 503 with the reasons.", "Status", errors=["503"])},
        "/metrics": {"get": {"summary": "Prometheus exposition of every worker's metrics.",
                             "operationId": "metrics",
                             "responses": {"200": {"description": "text exposition format",
                                                   "content": {"text/plain": {
                                                       "schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": _op("This document.", None)},
        "/v1/models": {"get": _op("Extension: every model with its versions, inputs and heads.",
                                  "ModelList")},
        "/v1/similarity": {"post": _op("Similarity score (0..1) for each text pair.",
                                       "SimilarityResponse", "SimilarityRequest",
                                       errors=list(_ERROR_CODES))},
        "/v1/profile": {"post": _op("Author profile (age, income band, gender) from posts.",
                                    "ProfileResponse", "ProfileRequest",
                                    errors=list(_ERROR_CODES))},
        "/v1/answer": {"post": _op("Answer words for a question about a text, best first.",
                                   "AnswerResponse", "AnswerRequest",
                                   errors=list(_ERROR_CODES))},
        "/v1/drift": {"get": _op("Extension: each head's and text input's live distribution "
                                 "(every worker pooled) beside its validation-split one, with "
                                 "the population stability index.", "DriftReport")},
    }
    for base, params, which in _MODEL_VARIANTS:
        params = [model_param, *params]
        tag = base.rsplit("/", 1)[-1].strip("{}")
        paths[base] = {"get": _op(f"TF Serving model status of {which}.", "ModelStatus",
                                  errors=["400", "404"], params=params,
                                  op_id=f"status_by_{tag}")}
        paths[base + "/metadata"] = {"get": _op(
            f"TF Serving metadata (signature_def map) of {which}.", "ModelMetadata",
            errors=["400", "404"], params=params, op_id=f"metadata_by_{tag}")}
        paths[base + "/diagram"] = {"get": {
            "summary": f"Architecture picture (plot_model) of {which}.",
            "operationId": f"diagram_by_{tag}", "parameters": params,
            "responses": {"200": {"description": "PNG image", "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                **{c: {"description": _ERROR_CODES[c], "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}}
                   for c in ("400", "404")}}}}
        paths[base + ":predict"] = {"post": _op(
            f"TF Serving predict on {which}: row (instances) or columnar (inputs) format.",
            "PredictResponse", "PredictRequest", errors=list(_ERROR_CODES), params=params,
            op_id=f"predict_by_{tag}")}
    schemas = _schemas(settings)
    from serving import protocols

    if "v2" in protocols.chosen(settings.protocols):
        # The v2 room describes its own routes (serving/protocols/v2/openapi.py).
        from serving.protocols.v2 import openapi as v2_openapi

        paths.update(v2_openapi.paths(model_param))
        schemas.update(v2_openapi.schemas())
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "multihead gateway", "version": "1",
                 "description": "TF Serving-compatible REST API for multi-head models, with "
                                "extensions. Every error is {\"error\": sentence, \"code\": "
                                f"gRPC code name}}. Bodies over {settings.max_request_bytes} "
                                "bytes get 413."},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if settings.api_keys:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
        for open_path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/drift"):
            paths[open_path]["get"]["security"] = []
    return doc


def _op(summary: str, response: str | None, request: str | None = None,
        errors: list[str] | None = None, params: list[dict[str, Any]] | None = None,
        op_id: str | None = None) -> dict[str, Any]:
    ok_schema = {"$ref": f"#/components/schemas/{response}"} if response else {"type": "object"}
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": op_id or summary.split(":")[0].split(".")[0].lower().replace(" ", "_"),
        "responses": {"200": {"description": "OK",
                              "content": {"application/json": {"schema": ok_schema}}}},
    }
    for code in errors or []:
        op["responses"][code] = {"description": _ERROR_CODES[code],
                                 "content": {"application/json": {
                                     "schema": {"$ref": "#/components/schemas/Error"}}}}
    if request:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{request}"}}}}
    if params:
        op["parameters"] = params
    return op


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": props, **extra}
    if required:
        schema["required"] = required
    return schema


def _schemas(settings: Settings) -> dict[str, Any]:
    text_list = {"type": "array", "items": {"type": "string"}}
    spec_fields = {"model": {"type": "string", "description": "served model name"},
                   "version": {"type": "integer", "format": "int64", "minimum": 0},
                   "label": {"type": "string"}}
    max_batch = settings.max_batch_size
    status_entry = _obj({"version": {"type": "string"}, "state": {
        "type": "string", "enum": ["UNKNOWN", "START", "LOADING", "AVAILABLE", "UNLOADING", "END"]},
        "status": _obj({"error_code": {"type": "string"}, "error_message": {"type": "string"}})})
    return {
        "Error": _obj({"error": {"type": "string", "description": "one sentence naming the field"},
                       "code": {"type": "string", "description": "gRPC code name"}},
                      ["error", "code"]),
        "Status": _obj({"status": {"type": "string"}}),
        "ModelList": _obj({"models": {"type": "array", "items": {"type": "object"}}}, ["models"]),
        "ModelStatus": _obj({"model_version_status": {"type": "array", "items": status_entry}},
                            ["model_version_status"]),
        "ModelMetadata": _obj({"model_spec": _obj({"name": {"type": "string"},
                                                   "signature_name": {"type": "string"},
                                                   "version": {"type": "string"}}),
                               "metadata": _obj({"signature_def": {"type": "object"}})},
                              ["model_spec", "metadata"]),
        "PredictRequest": _obj({
            "signature_name": {"type": "string", "description": "default serving_default"},
            "instances": {"type": "array", "minItems": 1, "maxItems": max_batch, "items": {},
                          "description": "row format: one value (or object keyed by input "
                                         "name) per example"},
            "inputs": {"description": "columnar format: one value, or an object input name "
                                      "-> batched value"},
            "heads": {**text_list, "minItems": 1,
                      "description": "extension: keep only these outputs (answer keyed by "
                                     "name)"}},
            description="Exactly one of instances or inputs. Binary strings as {\"b64\": ...}."),
        "PredictResponse": _obj({"predictions": {"description": "row format answer"},
                                 "outputs": {"description": "columnar format answer"}}),
        "SimilarityRequest": _obj({"pairs": {"type": "array", "minItems": 1,
                                             "maxItems": max_batch,
                                             "items": {**text_list, "minItems": 2,
                                                       "maxItems": 2}},
                                   **spec_fields}, ["pairs"]),
        "SimilarityResponse": _obj({"scores": {"type": "array", "items": {"type": "number"}},
                                    "model_version": {"type": "integer"}},
                                   ["scores", "model_version"]),
        "ProfileRequest": _obj({"authors": {"type": "array", "minItems": 1,
                                            "maxItems": max_batch,
                                            "items": {**text_list, "minItems": 1}},
                                **spec_fields}, ["authors"]),
        "ProfileResponse": _obj({"profiles": {"type": "array", "items": _obj({
            "age": {"type": "number"},
            "income": _obj({"label": {"type": "string"}, "probability": {"type": "number"},
                            "distribution": {"type": "object",
                                             "additionalProperties": {"type": "number"}}}),
            "gender": _obj({"label": {"type": "string"}, "probability": {"type": "number"}})})},
            "model_version": {"type": "integer"}}, ["profiles", "model_version"]),
        "AnswerRequest": _obj({"text": {"type": "string", "minLength": 1},
                               "question": {"type": "string", "minLength": 1},
                               "top_k": {"type": "integer", "minimum": 1, "maximum": 1000,
                                         "default": 5},
                               **spec_fields}, ["text", "question"]),
        "DriftReport": _obj({
            "threshold": {"type": "number"}, "min_count": {"type": "integer"},
            "heads": {"type": "array", "items": _obj({
                "model": {"type": "string"}, "version": {"type": "string"},
                "head": {"type": "string"}, "bins": text_list,
                "training": {"type": "array", "items": {"type": "number"}},
                "live": {"type": "array", "items": {"type": "number"}},
                "count": {"type": "integer"}, "psi": {"type": "number", "nullable": True}})},
            "inputs": {"type": "array", "items": {"type": "object"}}},
            ["threshold", "min_count", "heads", "inputs"]),
        "AnswerResponse": _obj({"answers": {"type": "array", "items": _obj(
            {"answer": {"type": "string"}, "score": {"type": "number"}})},
            "model_version": {"type": "integer"}}, ["answers", "model_version"]),
    }
