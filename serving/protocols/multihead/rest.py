"""The typed task API over REST: `/v1/similarity`, `/v1/profile`, `/v1/answer`, and the
model listing `/v1/models`. The task rules (what a pair, an author or top_k must be) live
in serving/core/tasks.py, the same on every protocol; a view only reads the JSON body."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from serving.core import tasks
from serving.errors import InvalidInput
from serving.rest.context import json_object, service
from serving.rest.errors import json_response

PROTOCOL = "multihead"
INT64_MAX = 2**63 - 1


def blueprint() -> Blueprint:
    bp = Blueprint("multihead", __name__)
    bp.add_url_rule("/v1/models", "list_models", list_models, methods=["GET"])
    bp.add_url_rule("/v1/similarity", "similarity", similarity, methods=["POST"])
    bp.add_url_rule("/v1/profile", "profile", profile, methods=["POST"])
    bp.add_url_rule("/v1/answer", "answer", answer, methods=["POST"])
    return bp


def list_models() -> Response:
    return json_response({"models": service().list_models()})


def similarity() -> Response:
    body = json_object()
    model, version, label = _task_spec(body, "similarity")
    served, scores = service().similarity(body.get("pairs"), model=model, version=version,
                                          label=label, protocol=PROTOCOL, transport="rest")
    return json_response({"scores": [float(s) for s in scores], "model_version": served})


def profile() -> Response:
    body = json_object()
    model, version, label = _task_spec(body, "profiler")
    served, profiles = service().profile(body.get("authors"), model=model, version=version,
                                         label=label, protocol=PROTOCOL, transport="rest")
    return json_response({"profiles": profiles, "model_version": served})


def answer() -> Response:
    body = json_object()
    model, version, label = _task_spec(body, "qa")
    served, answers = service().answer(body.get("text"), body.get("question"),
                                       top_k=body.get("top_k", tasks.DEFAULT_TOP_K),
                                       model=model, version=version, label=label,
                                       protocol=PROTOCOL, transport="rest")
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
