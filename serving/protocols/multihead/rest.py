"""The typed task API over REST: `/v1/similarity`, `/v1/profile`, `/v1/answer`, and the
model listing `/v1/models`. The task rules (what a pair, an author or top_k must be) live
in serving/core/tasks.py, the same on every protocol; a view only reads the JSON body."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from serving.core import tasks
from serving.core.calls import ModelRef
from serving.drift import DRIFT_THRESHOLD, MIN_COUNT
from serving.rest.context import json_object, origin, service
from serving.rest.errors import json_response
from serving.types import ClassScore, HeadInfo, InputInfo, ModelInfo, Profile

PROTOCOL = "multihead"


def blueprint() -> Blueprint:
    bp = Blueprint("multihead", __name__)
    bp.add_url_rule("/v1/models", "list_models", list_models, methods=["GET"])
    bp.add_url_rule("/v1/similarity", "similarity", similarity, methods=["POST"])
    bp.add_url_rule("/v1/profile", "profile", profile, methods=["POST"])
    bp.add_url_rule("/v1/answer", "answer", answer, methods=["POST"])
    bp.add_url_rule("/v1/drift", "drift", drift, methods=["GET"])
    return bp


def list_models() -> Response:
    return json_response({"models": [model_json(m) for m in service().list_models()]})


def drift() -> Response:
    """Per head and text input: live (every worker pooled) and validation-split proportions
    per bin, the pooled count and the PSI (serving/drift.py); the playground draws it."""
    return json_response({"threshold": DRIFT_THRESHOLD, "min_count": MIN_COUNT,
                          **service().drift_report()})


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
    served, scores = service().similarity(origin(PROTOCOL), lambda: tasks.SimilarityTask(
        *_task_args(json_object(), "similarity", "pairs")))
    return json_response({"scores": [float(s) for s in scores], "model_version": served})


def profile() -> Response:
    served, profiles = service().profile(origin(PROTOCOL), lambda: tasks.ProfileTask(
        *_task_args(json_object(), "profiler", "authors")))
    return json_response({"profiles": [profile_json(p) for p in profiles],
                          "model_version": served})


def answer() -> Response:
    def task() -> tasks.AnswerTask:
        body = json_object()
        return tasks.AnswerTask(_model_ref(body, "qa"), body.get("text"), body.get("question"),
                                body.get("top_k", tasks.DEFAULT_TOP_K))

    served, answers = service().answer(origin(PROTOCOL), task)
    return json_response({"answers": [{"answer": a.answer, "score": a.score} for a in answers],
                          "model_version": served})


def _task_args(body: dict[str, Any], default_model: str, field: str) -> tuple[ModelRef, Any]:
    return _model_ref(body, default_model), body.get(field)


def _model_ref(body: dict[str, Any], default_model: str) -> ModelRef:
    """The optional `model`, `version`, `label` fields shared by the task endpoints."""
    return ModelRef.check(body.get("model", default_model), body.get("version"),
                          body.get("label"))
