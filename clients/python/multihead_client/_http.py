"""REST transport (httpx): TF Serving's REST API and the gateway's extensions.

Every call is a request spec built by a function below, sent by the sync or async
transport (one pooled httpx client each, so connections are reused), and a parser
that turns the JSON into the SDK's result types. Errors go through
`_errors.from_http` / `_errors.from_transport` only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from . import _codec
from ._errors import ServerError, from_http, from_transport
from ._ops import PredictArgs, TaskSpec
from ._types import (
    Answer,
    Head,
    ModelInfo,
    ModelMetadata,
    ModelVersion,
    Profile,
    ScoredAnswer,
    SignatureInfo,
    TensorSpec,
)

Request = tuple[str, str, Any]  # method, path, JSON body (None for GET)


class BareOutput:
    """A predict response whose single output came back without its name (TF Serving's
    columnar form for one-output signatures); the client resolves the name."""

    def __init__(self, array: Any) -> None:
        self.array = array


def _model_path(model: str, version: int | None = None, label: str | None = None) -> str:
    path = f"/v1/models/{quote(model, safe='')}"
    if version is not None:
        path += f"/versions/{version}"
    elif label is not None:
        path += f"/labels/{quote(label, safe='')}"
    return path


def _heads(items: Any) -> tuple[Head, ...]:
    out = []
    for h in items or ():
        if isinstance(h, str):
            out.append(Head(h))
        else:
            out.append(Head(str(h["name"]), str(h.get("kind", "")),
                            tuple(str(x) for x in h.get("labels") or ())))
    return tuple(out)


def _model_info(d: dict[str, Any]) -> ModelInfo:
    versions = []
    for v in d.get("versions") or ():
        if isinstance(v, dict):
            versions.append(ModelVersion(int(v["version"]), str(v.get("state", "UNKNOWN"))))
        else:
            versions.append(ModelVersion(int(v), "AVAILABLE"))
    raw_labels = d.get("version_labels") or d.get("labels") or {}
    labels = {str(k): int(v) for k, v in raw_labels.items()}
    inputs = tuple(i if isinstance(i, str) else str(i["name"]) for i in d.get("inputs") or ())
    return ModelInfo(str(d["name"]), tuple(versions), inputs, _heads(d.get("heads")), labels)


def _spec(info: dict[str, Any]) -> TensorSpec:
    shape = info.get("tensor_shape") or {}
    dims = None if shape.get("unknown_rank") else tuple(
        None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in shape.get("dim") or ())
    return TensorSpec(_codec.dtype_name(str(info.get("dtype", "DT_INVALID"))), dims)


def _metadata(d: dict[str, Any]) -> ModelMetadata:
    spec = d.get("model_spec") or {}
    sigs = ((d.get("metadata") or {}).get("signature_def") or {}).get("signature_def") or {}
    signatures = {
        name: SignatureInfo({k: _spec(v) for k, v in (s.get("inputs") or {}).items()},
                            {k: _spec(v) for k, v in (s.get("outputs") or {}).items()})
        for name, s in sigs.items()}
    version = spec.get("version")
    card = d.get("model_card")
    return ModelMetadata(str(spec.get("name", "")), None if version is None else int(version),
                         signatures, _heads(d.get("heads")),
                         card if isinstance(card, dict) else None)


def _predict_request(a: PredictArgs) -> Request:
    body: dict[str, Any] = {"inputs": {k: _codec.to_json(v) for k, v in a.inputs.items()}}
    if a.heads:
        body["heads"] = list(a.heads)
    if a.signature:
        body["signature_name"] = a.signature
    return "POST", _model_path(a.model, a.version, a.label) + ":predict", body


def _predict_result(d: dict[str, Any], a: PredictArgs) -> Any:
    outputs = d["outputs"]
    if isinstance(outputs, dict) and set(outputs) != {"b64"}:
        return {k: _codec.from_json(v) for k, v in outputs.items()}
    if len(a.heads) == 1:
        return {a.heads[0]: _codec.from_json(outputs)}
    return BareOutput(_codec.from_json(outputs))


def _task(spec: TaskSpec) -> dict[str, Any]:
    """The task endpoints' optional model/version/label fields."""
    return {k: v for k, v in zip(("model", "version", "label"), spec, strict=True)
            if v is not None}


# op name -> (request builder, result parser); both transports share these.
OPS: dict[str, tuple[Callable[..., Request], Callable[..., Any]]] = {
    "similarity": (
        lambda spec, pairs: ("POST", "/v1/similarity",
                             {"pairs": [list(p) for p in pairs], **_task(spec)}),
        lambda d, *_: ([float(s) for s in d["scores"]], int(d.get("model_version") or 0))),
    "profile": (
        lambda spec, authors: ("POST", "/v1/profile", {"authors": authors, **_task(spec)}),
        lambda d, *_: [Profile.from_dict(p, d.get("model_version")) for p in d["profiles"]]),
    "answer": (
        lambda spec, text, question, top_k: (
            "POST", "/v1/answer",
            {"text": text, "question": question, "top_k": top_k, **_task(spec)}),
        lambda d, *_: Answer(tuple(ScoredAnswer(str(x["answer"]), float(x["score"]))
                                   for x in d["answers"]), d.get("model_version"))),
    "predict": (_predict_request, _predict_result),
    "models": (lambda: ("GET", "/v1/models", None),
               lambda d: [_model_info(m) for m in d["models"]]),
    "metadata": (lambda model, version=None, label=None:
                 ("GET", _model_path(model, version, label) + "/metadata", None),
                 lambda d, *_: _metadata(d)),
}


def _parse(op: str, response: httpx.Response, args: tuple[Any, ...]) -> Any:
    if response.status_code >= 400:
        raise from_http(response.status_code, response.content, response.headers)
    try:
        return OPS[op][1](response.json(), *args)
    except (ValueError, KeyError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        raise ServerError(f"unexpected {op} response from the server: {exc!r}") from exc


def _content(body: Any) -> bytes | None:
    # allow_nan: TF Serving accepts NaN/Infinity literals; the server decides.
    return None if body is None else json.dumps(body).encode("utf-8")


class HttpTransport:
    """Synchronous REST transport over one pooled `httpx.Client`."""

    def __init__(self, base_url: str, *, api_key: str | None, verify: bool | str,
                 timeout: float) -> None:
        self._client = httpx.Client(base_url=base_url, headers=_headers(api_key),
                                    verify=verify, timeout=timeout)

    def call(self, op: str, *args: Any, timeout: float) -> Any:
        """Run one op; raises only MultiheadError."""
        method, path, body = OPS[op][0](*args)
        try:
            response = self._client.request(method, path, content=_content(body),
                                            timeout=timeout)
        except httpx.HTTPError as exc:
            raise from_transport(exc, timeout) from exc
        return _parse(op, response, args)

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()


class AsyncHttpTransport:
    """Asynchronous REST transport over one pooled `httpx.AsyncClient`."""

    def __init__(self, base_url: str, *, api_key: str | None, verify: bool | str,
                 timeout: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, headers=_headers(api_key),
                                         verify=verify, timeout=timeout)

    async def call(self, op: str, *args: Any, timeout: float) -> Any:
        """Run one op; raises only MultiheadError."""
        method, path, body = OPS[op][0](*args)
        try:
            response = await self._client.request(method, path, content=_content(body),
                                                  timeout=timeout)
        except httpx.HTTPError as exc:
            raise from_transport(exc, timeout) from exc
        return _parse(op, response, args)

    async def close(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "User-Agent": "multihead-client"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers
