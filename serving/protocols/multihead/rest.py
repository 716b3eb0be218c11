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
from serving.types import ClassScore, HeadInfo, InputInfo, ModelInfo, Profile

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
    return json_response({"models": [model_json(m) for m in service().list_models()]})


# -- the typed core values as this API's JSON ---------------------------------------------


def model_json(m: ModelInfo) -> dict[str, Any]:
    return {"name": m.name,
            "versions": [{"version": v.version, "state": v.state} for v in m.versions],
            "labels": dict(m.labels), "inputs": [input_json(i) for i in m.inputs],
            "heads": [head_json(h) for h in m.heads], "signatures": list(m.signatures),
            "description": m.description}


def input_json(i: InputInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"name": i.name, "dtype": i.dtype, "kind": i.kind,
                           "shape": None if i.shape is None else list(i.shape)}
    if i.max_tokens:
        out["max_tokens"] = i.max_tokens
        out["truncation"] = (f"text longer than {i.max_tokens} tokens is truncated by the "
                             "model; it is not rejected")
    if i.description:
        out["description"] = i.description
    return out


def head_json(h: HeadInfo) -> dict[str, Any]:
    # `unit` (a regression head's, e.g. years, EUR) only where the card names one.
    return {"name": h.name, "kind": h.kind, "labels": list(h.labels) or None,
            **({"unit": h.unit} if h.unit else {})}


def profile_json(p: Profile) -> dict[str, Any]:
    return {"age": p.age, "income": _score_json(p.income), "gender": _score_json(p.gender)}


def _score_json(s: ClassScore) -> dict[str, Any]:
    return {"label": s.label, "probability": s.probability, "distribution": dict(s.distribution)}


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
    return json_response({"profiles": [profile_json(p) for p in profiles],
                          "model_version": served})


def answer() -> Response:
    body = json_object()
    model, version, label = _task_spec(body, "qa")
    served, answers = service().answer(body.get("text"), body.get("question"),
                                       top_k=body.get("top_k", tasks.DEFAULT_TOP_K),
                                       model=model, version=version, label=label,
                                       protocol=PROTOCOL, transport="rest")
    return json_response({"answers": [{"answer": a.answer, "score": a.score} for a in answers],
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
