"""A generated barrage of malformed requests against the real gateway, on every model
runtime of the session `gateway` fixture (embedded, tfserving).

The cases are built by construction from what the gateway says it serves: REST
cases from `GET /v1/models/NAME/metadata` (every signature, every input), gRPC cases
from `GetModelMetadata`, the vocabulary sizes from the model card. Every input gets
wrong dtypes, wrong ranks, huge shapes, lone surrogates, 400-digit numbers,
NaN/Infinity, empty values; every request gets unknown, missing and surrogate
names; the `ids` signature gets token ids outside the vocabulary. REST sends row
and columnar :predict bodies and the task endpoints; gRPC sends Predict and the task
RPCs, and raw bytes that are no protobuf message through a generic channel; TF
Serving's gRPC API (tensorflow.serving.PredictionService) gets claimed shapes,
dtypes and token ids; raw sockets send broken HTTP (bad chunk sizes, Content-Length
with chunked, oversized headers, a TLS ClientHello, an oversized body written before
the answer is read, a request line that stalls).

A case fails when it gets a 5xx / INTERNAL / UNKNOWN, hangs, gets an error that is
not the JSON shape {"error": sentence, "code": gRPC code name}, or is accepted
although it must be rejected. The test asserts no case fails, then that the
gateway still answers good requests.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import grpc
import httpx
import pytest

from serving.protocols.multihead._gen import gateway_pb2 as pb
from serving.protocols.multihead._gen import gateway_pb2_grpc
from tests.integration.conftest import GATEWAY_ENV, SAMPLES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MAX_BYTES = int(GATEWAY_ENV["MULTIHEAD_MAX_REQUEST_BYTES"])
REQUEST_TIMEOUT_S = 30.0       # the session gateway's REQUEST_TIMEOUT_S (default)
CALL_TIMEOUT_S = 20.0          # longer than this is a hang
BIG = "1" + "0" * 400          # an integer literal of 401 digits
SURROGATE = '"\\ud800"'        # a JSON string holding a lone surrogate
DT = pb.DataType


@dataclass(frozen=True)
class Outcome:
    case: str
    failure: str  # "" when the case passed


# -- REST ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestCase:
    name: str
    path: str
    body: str                  # raw JSON text (may hold NaN, 400-digit numbers, \ud800)
    reject: bool = True        # must get a 4xx; otherwise a 2xx is fine too


def _leaf(dtype: str) -> Any:
    return {"DT_STRING": "hello world", "DT_BOOL": True}.get(
        dtype, 2 if dtype.startswith(("DT_INT", "DT_UINT")) else 0.5)


def _example(dtype: str, dims: list[int], first: str | None = None) -> str:
    """One example (no batch dim) as JSON text; `first` replaces its first leaf."""
    def build(rest: list[int]) -> Any:
        if not rest:
            return _leaf(dtype)
        return [build(rest[1:]) for _ in range(rest[0] if rest[0] > 0 else 2)]

    value = build(dims)
    text = json.dumps(value)
    if first is None:
        return text
    leaf = json.dumps(_leaf(dtype))
    return text.replace(leaf, first, 1)


def _trailing(info: dict[str, Any]) -> list[int]:
    dims = [int(d["size"]) for d in info["tensor_shape"]["dim"]]
    return dims[1:]


def _rest_bodies(inputs: dict[str, dict[str, Any]], sig: str, target: str,
                 raw: str, form: str, extra: str = "") -> str:
    """A :predict body with input `target` set to `raw` (one example, or the column)."""
    fields = []
    for name, info in sorted(inputs.items()):
        value = raw if name == target else _example(info["dtype"], _trailing(info))
        fields.append(f"{json.dumps(name)}: {value if form == 'row' else '[' + value + ']'}")
    inner = "{" + ", ".join(fields) + "}"
    key = "instances" if form == "row" else "inputs"
    wrapped = f"[{inner}]" if form == "row" else inner
    sig_field = f', "signature_name": {json.dumps(sig)}' if sig != "serving_default" else ""
    return "{" + f'"{key}": {wrapped}{sig_field}{extra}' + "}"


def _column_body(inputs: dict[str, dict[str, Any]], sig: str, target: str, column: str) -> str:
    fields = []
    for name, info in sorted(inputs.items()):
        value = column if name == target else "[" + _example(info["dtype"], _trailing(info)) + "]"
        fields.append(f"{json.dumps(name)}: {value}")
    sig_field = f', "signature_name": {json.dumps(sig)}' if sig != "serving_default" else ""
    return '{"inputs": {' + ", ".join(fields) + "}" + sig_field + "}"


def _input_mutations(dtype: str, dims: list[int], vocab: int | None,
                     ids_input: bool) -> list[tuple[str, str, bool]]:
    """(name, one example as JSON text, must reject) for one input."""
    ex = _example(dtype, dims)
    string = dtype == "DT_STRING"
    out = [
        ("rank+1", f"[{ex}]", True),
        ("deep", "[" * 40 + json.dumps(_leaf(dtype)) + "]" * 40, True),
        ("empty-list", "[]", bool(string or not dims or not ids_input)),
        ("surrogate", _example(dtype, dims, SURROGATE), True),
        ("surrogate-pair-ok", _example(dtype, dims, '"\\ud83d\\ude00"'), not string),
        ("big-int", _example(dtype, dims, BIG), True),
        ("big-negative", _example(dtype, dims, "-" + BIG), True),
        ("float-literal-overflow", _example(dtype, dims, "1e400"), string),
        ("nan", _example(dtype, dims, "NaN"), string),
        ("infinity", _example(dtype, dims, "Infinity"), string),
        ("minus-infinity", _example(dtype, dims, "-Infinity"), string),
        ("null", _example(dtype, dims, "null"), True),
        ("bool", _example(dtype, dims, "true"), True),
        ("object", _example(dtype, dims, '{"a": 1}'), True),
        ("bad-b64", _example(dtype, dims, '{"b64": "!!not base64"}'), True),
        ("string", _example(dtype, dims, '"text"'), not string),
        ("number", _example(dtype, dims, "3"), string),
    ]
    if dims:
        out.append(("rank-1", json.dumps(_leaf(dtype)), True))
    if string:
        out += [("empty-string", '""', False), ("long-string", json.dumps("w " * 50_000), False),
                ("control-chars", json.dumps("\x00\x01\x1b[31m"), False)]
    if ids_input:
        out += [("id-negative", _example(dtype, dims, "-1"), True),
                ("id-int32-max", _example(dtype, dims, str(2**31 - 1)), True),
                ("id-int32-over", _example(dtype, dims, str(2**31)), True),
                ("id-too-many-tokens", json.dumps([2] * 20_000), True)]
        if vocab:
            out += [("id-vocab", _example(dtype, dims, str(vocab)), True),
                    ("id-vocab+1000", _example(dtype, dims, str(vocab + 1000)), True)]
    return out


def rest_cases(client: httpx.Client, vocab: dict[tuple[str, str], int]) -> list[RestCase]:
    cases: list[RestCase] = []
    for model in sorted(m["name"] for m in client.get("/v1/models").json()["models"]):
        meta = client.get(f"/v1/models/{model}/metadata").json()
        sigs = meta["metadata"]["signature_def"]["signature_def"]
        path = f"/v1/models/{model}:predict"
        for sig, sig_def in sorted(sigs.items()):
            inputs = sig_def["inputs"]
            for target, info in sorted(inputs.items()):
                ids_input = sig == "ids" and info["dtype"].startswith("DT_INT")
                dims = _trailing(info)
                for what, raw, reject in _input_mutations(info["dtype"], dims,
                                                          vocab.get((model, target)), ids_input):
                    for form in ("row", "columnar"):
                        cases.append(RestCase(f"rest {model}/{sig} {target} {what} {form}", path,
                                              _rest_bodies(inputs, sig, target, raw, form),
                                              reject))
                many = "[" + ", ".join([_example(info["dtype"], dims)] * 1000) + "]"
                for what, column in (("column-empty", "[]"), ("column-scalar", '"x"'),
                                     ("column-over-max-batch", many),
                                     ("column-surrogate", f"[{SURROGATE}]")):
                    cases.append(RestCase(f"rest {model}/{sig} {target} {what}", path,
                                          _column_body(inputs, sig, target, column)))
                others = {k: v for k, v in inputs.items() if k != target}
                if others:
                    cases.append(RestCase(f"rest {model}/{sig} missing {target}", path,
                                          _rest_bodies(others, sig, "", "", "row")))
            good = _rest_bodies(inputs, sig, "", "", "row")
            cases.append(RestCase(f"rest {model}/{sig} unknown-top-level-key", path,
                                  good[:-1] + ', "instances_x": 1}', reject=False))
            for what, extra in (
                                ("heads-surrogate", f', "heads": [{SURROGATE}]'),
                                ("heads-unknown", ', "heads": ["no_such_head"]'),
                                ("heads-empty", ', "heads": []'),
                                ("heads-not-list", ', "heads": "x"'),
                                ("both-forms", ', "inputs": {}')):
                cases.append(RestCase(f"rest {model}/{sig} {what}", path,
                                      good[:-1] + extra + "}"))
            for what, name in (("surrogate", SURROGATE), ("unknown", '"no_such_input"')):
                body = good.replace('[{', "[{" + name + ': "x", ', 1)
                cases.append(RestCase(f"rest {model}/{sig} input-name-{what}", path, body))
        base = _rest_bodies(sigs["serving_default"]["inputs"], "serving_default", "", "", "row")
        for what, sig_raw in (("surrogate", SURROGATE), ("unknown", '"no_such_signature"'),
                              ("number", "5"), ("big", BIG)):
            cases.append(RestCase(f"rest {model} signature-{what}", path,
                                  base[:-1] + f', "signature_name": {sig_raw}' + "}"))
        for what, bad_path in (("unknown-model", "/v1/models/no_such_model:predict"),
                               ("surrogate-model", "/v1/models/%ED%A0%80:predict"),
                               ("version-missing", f"/v1/models/{model}/versions/999999:predict"),
                               ("version-huge", f"/v1/models/{model}/versions/{BIG}:predict"),
                               ("label-surrogate", f"/v1/models/{model}/labels/%ED%A0%80:predict"),
                               ("classify", f"/v1/models/{model}:classify")):
            cases.append(RestCase(f"rest {model} {what}", bad_path, base))
        for what, body in (("not-json", "{not json"), ("empty-body", ""), ("array", "[1]"),
                           ("neither-form", "{}"), ("nan-body", "NaN"),
                           ("surrogate-key", "{" + SURROGATE + ": 1}"),
                           ("deep-body", "[" * 100_000 + "]" * 100_000)):
            cases.append(RestCase(f"rest {model} {what}", path, body))
    return cases + task_cases()


def task_cases() -> list[RestCase]:
    bodies = {
        "/v1/similarity": ['{"pairs": [[%s, "b"]]}', '{"pairs": [["a", "b"]], "model": %s}',
                           '{"pairs": [["a", "b"]], "label": %s}',
                           '{"pairs": [["a", "b"]], "version": %s}', '{"pairs": %s}',
                           '{"pairs": [%s]}'],
        "/v1/profile": ['{"authors": [[%s]]}', '{"authors": [["a"]], "model": %s}',
                        '{"authors": [["a"]], "version": %s}', '{"authors": %s}',
                        '{"authors": [%s]}'],
        "/v1/answer": ['{"text": %s, "question": "q"}', '{"text": "t", "question": %s}',
                       '{"text": "t", "question": "q", "top_k": %s}',
                       '{"text": "t", "question": "q", "model": %s}',
                       '{"text": "t", "question": "q", "label": %s}'],
    }
    values = {"surrogate": SURROGATE, "big": BIG, "nan": "NaN", "inf": "-Infinity",
              "null": "null", "empty-list": "[]", "object": '{"a": 1}', "bool": "false",
              "negative": "-1", "empty-string": '""'}
    many = {"/v1/similarity": '{"pairs": [' + ", ".join(['["a", "b"]'] * 1000) + "]}",
            "/v1/profile": '{"authors": [' + ", ".join(['["a"]'] * 1000) + "]}"}
    cases = [RestCase(f"task {path} over-max-batch", path, body) for path, body in many.items()]
    for path, templates in bodies.items():
        for template in templates:
            for what, raw in values.items():
                field = re.findall(r'"(\w+)": [\[]*%s', template)[0]
                cases.append(RestCase(f"task {path} {field}={what}", path,
                                      template % raw, reject=_task_rejects(template, what)))
        for what, body in (("not-object", "[]"), ("empty", "{}"), ("not-json", "{")):
            cases.append(RestCase(f"task {path} {what}", path, body))
    return cases


def _task_rejects(template: str, what: str) -> bool:
    # An empty string is still text where the field holds one of several texts, and a
    # null version or label means "not given".
    if what == "empty-string" and template.startswith(('{"pairs": [[', '{"authors"')):
        return False
    return not (what == "null" and ('"version"' in template or '"label"' in template))


def check_rest(client: httpx.Client, case: RestCase) -> Outcome:
    try:
        resp = client.post(case.path, content=case.body.encode("utf-8"),
                           headers={"Content-Type": "application/json"})
    except httpx.TimeoutException:
        return Outcome(case.name, "hang (no answer within the client timeout)")
    except httpx.HTTPError as exc:
        return Outcome(case.name, f"transport error {type(exc).__name__}: {exc}")
    return Outcome(case.name, _judge_http(resp.status_code, resp.headers.get("content-type", ""),
                                          resp.content, case.reject))


def _judge_http(status: int, content_type: str, body: bytes, reject: bool) -> str:
    if status >= 500:
        return f"{status}: {body[:200]!r}"
    if 200 <= status < 300:
        return f"accepted with {status} although it must be rejected" if reject else ""
    if not content_type.startswith("application/json"):
        return f"{status} with content-type {content_type!r}: {body[:120]!r}"
    try:
        payload = json.loads(body)
    except ValueError:
        return f"{status} with a body that is not JSON: {body[:120]!r}"
    if not (isinstance(payload, dict) and isinstance(payload.get("error"), str)
            and isinstance(payload.get("code"), str) and len(payload["error"]) >= 10):
        return f"{status} without the error shape: {payload!r:.200}"
    if payload["code"] in ("INTERNAL", "UNKNOWN"):
        return f"{status} with code {payload['code']}"
    return ""


# -- gRPC ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrpcCase:
    name: str
    call: Callable[[], Any]
    reject: bool = True


_VALUE_FIELD = {DT.DATA_TYPE_STRING: "string_values", DT.DATA_TYPE_FLOAT32: "float_values",
                DT.DATA_TYPE_FLOAT64: "double_values", DT.DATA_TYPE_INT32: "int32_values",
                DT.DATA_TYPE_INT64: "int64_values", DT.DATA_TYPE_BOOL: "bool_values"}
_GOOD_VALUE = {DT.DATA_TYPE_STRING: b"hello world", DT.DATA_TYPE_FLOAT32: 0.5,
               DT.DATA_TYPE_FLOAT64: 0.5, DT.DATA_TYPE_INT32: 2, DT.DATA_TYPE_INT64: 2,
               DT.DATA_TYPE_BOOL: True}


def _tensor(dtype: int, shape: list[int], values: list[Any] | None = None,
            field: str | None = None) -> pb.Tensor:
    t = pb.Tensor(dtype=dtype, shape=shape)
    if values is None:
        n = 1
        for d in shape:
            n *= d
        values = [_GOOD_VALUE[dtype]] * n
    getattr(t, field or _VALUE_FIELD[dtype]).extend(values)
    return t


def _good_shape(info: pb.TensorInfo) -> list[int]:
    return [1] + [d if d > 0 else 2 for d in list(info.shape)[1:]]


def _grpc_mutations(info: pb.TensorInfo, vocab: int | None,
                    ids_input: bool) -> list[tuple[str, pb.Tensor, bool]]:
    dt, shape = info.dtype, _good_shape(info)
    other = DT.DATA_TYPE_INT64 if dt == DT.DATA_TYPE_STRING else DT.DATA_TYPE_STRING
    field = _VALUE_FIELD[dt]
    wrong_field = "int32_values" if field != "int32_values" else "float_values"
    out = [
        ("wrong-dtype", _tensor(other, shape), True),
        ("unspecified-dtype", pb.Tensor(dtype=DT.DATA_TYPE_UNSPECIFIED, shape=shape), True),
        ("dtype-out-of-enum", pb.Tensor(dtype=999, shape=shape), True),
        ("values-in-wrong-field", _tensor(dt, shape, [1] * _n(shape), wrong_field), True),
        ("rank+1", _tensor(dt, [*shape, 1]), True),
        ("rank-0", _tensor(dt, [], [_GOOD_VALUE[dt]]), True),
        ("shape-2^62-no-values", _tensor(dt, [2**62], []), True),
        ("shape-2^62x0", _tensor(dt, [2**62, 0], []), True),
        ("shape-2^62x2^62x0", _tensor(dt, [2**62, 2**62, 0], []), True),
        ("shape-2^31x2^31", _tensor(dt, [2**31, 2**31], []), True),
        ("shape-negative", _tensor(dt, [-1], []), True),
        ("shape-rank-40", _tensor(dt, [1] * 40), True),
        ("too-few-values", _tensor(dt, [3, *shape[1:]], [_GOOD_VALUE[dt]]), True),
        ("too-many-values", _tensor(dt, shape, [_GOOD_VALUE[dt]] * (_n(shape) + 3)), True),
        ("empty-batch", _tensor(dt, [0, *shape[1:]], []), True),
        ("over-max-batch", _tensor(dt, [1000, *shape[1:]]), True),
    ]
    if dt == DT.DATA_TYPE_STRING:
        out += [("surrogate-bytes", _tensor(dt, shape, [b"\xed\xa0\x80"] * _n(shape)), False),
                ("invalid-utf8", _tensor(dt, shape, [b"\xff\xfe\x00"] * _n(shape)), False),
                ("empty-string", _tensor(dt, shape, [b""] * _n(shape)), False)]
    if dt in (DT.DATA_TYPE_FLOAT32, DT.DATA_TYPE_FLOAT64):
        for what, v in (("nan", float("nan")), ("inf", float("inf")), ("max", 3.4e38)):
            out.append((what, _tensor(dt, shape, [v] * _n(shape)), False))
        # Integers for a float input are converted (as over REST), so this may pass.
        out.append(("int64-max-as-int64", _tensor(DT.DATA_TYPE_INT64, shape,
                                                  [2**63 - 1] * _n(shape)), False))
    if ids_input:
        bad = [-1, -(2**31), 2**31 - 1] + ([vocab, vocab + 1000] if vocab else [])
        for v in bad:
            out.append((f"id-{v}", _tensor(dt, shape, [v] * _n(shape)), True))
        out.append(("id-int64-max", _tensor(DT.DATA_TYPE_INT64, shape,
                                            [2**63 - 1] * _n(shape)), True))
        out.append(("id-too-many-tokens", _tensor(dt, [1, 20_000]), True))
    return out


def _n(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def grpc_cases(stub: gateway_pb2_grpc.GatewayStub, channel: grpc.Channel,
               vocab: dict[tuple[str, str], int]) -> list[GrpcCase]:
    cases: list[GrpcCase] = []
    models = sorted(m.name for m in stub.ListModels(pb.ListModelsRequest(), timeout=30).models)
    for model in models:
        meta = stub.GetModelMetadata(pb.GetModelMetadataRequest(
            model_spec=pb.ModelSpec(name=model)), timeout=30)
        for sig, sig_info in sorted(meta.signatures.items()):
            good = {n: _tensor(i.dtype, _good_shape(i)) for n, i in sig_info.inputs.items()}

            def predict(inputs: dict[str, pb.Tensor], sig: str = sig, model: str = model,
                        **extra: Any) -> Callable[[], Any]:
                spec = extra.pop("spec", {"name": model, "signature_name": sig})
                request = pb.PredictRequest(model_spec=pb.ModelSpec(**spec), inputs=inputs,
                                            **extra)
                return lambda: stub.Predict(request, timeout=CALL_TIMEOUT_S)

            for target, info in sorted(sig_info.inputs.items()):
                ids_input = sig == "ids" and info.dtype in (DT.DATA_TYPE_INT32,
                                                            DT.DATA_TYPE_INT64)
                for what, tensor, reject in _grpc_mutations(info, vocab.get((model, target)),
                                                            ids_input):
                    cases.append(GrpcCase(f"grpc {model}/{sig} {target} {what}",
                                          predict({**good, target: tensor}), reject))
                others = {k: v for k, v in good.items() if k != target}
                cases.append(GrpcCase(f"grpc {model}/{sig} missing {target}", predict(others)))
            for what, name in (("unknown", "no_such_input"), ("empty", ""),
                               ("odd-unicode", "\u202e\ufeff\U0010ffff")):
                cases.append(GrpcCase(f"grpc {model}/{sig} input-name-{what}",
                                      predict({**good, name: good[next(iter(good))]})))
            for what, heads in (("unknown", ["no_such_head"]), ("odd-unicode", ["\u202e\x00"])):
                cases.append(GrpcCase(f"grpc {model}/{sig} output-filter-{what}",
                                      predict(good, output_filter=heads)))
        good = {n: _tensor(i.dtype, _good_shape(i))
                for n, i in meta.signatures["serving_default"].inputs.items()}
        for what, spec in (("unknown-signature", {"name": model, "signature_name": "nope\x00"}),
                           ("unknown-model", {"name": "no_such_model\u202e"}),
                           ("empty-model", {"name": ""}),
                           ("version-negative", {"name": model, "version": -5}),
                           ("version-huge", {"name": model, "version": 2**63 - 1}),
                           ("label-unknown", {"name": model, "version_label": "\U0001f600"})):
            request = pb.PredictRequest(model_spec=pb.ModelSpec(**spec), inputs=good)
            cases.append(GrpcCase(f"grpc {model} {what}",
                                  lambda r=request: stub.Predict(r, timeout=CALL_TIMEOUT_S)))
            meta_request = pb.GetModelMetadataRequest(model_spec=pb.ModelSpec(**spec))
            cases.append(GrpcCase(f"grpc {model} metadata {what}",
                                  lambda r=meta_request: stub.GetModelMetadata(
                                      r, timeout=CALL_TIMEOUT_S)))
    return cases + grpc_task_cases(stub) + raw_grpc_cases(channel)


def grpc_task_cases(stub: gateway_pb2_grpc.GatewayStub) -> list[GrpcCase]:
    def sim(**kw: Any) -> Callable[[], Any]:
        return lambda: stub.Similarity(pb.SimilarityRequest(**kw), timeout=CALL_TIMEOUT_S)

    def prof(**kw: Any) -> Callable[[], Any]:
        return lambda: stub.Profile(pb.ProfileRequest(**kw), timeout=CALL_TIMEOUT_S)

    def ans(**kw: Any) -> Callable[[], Any]:
        return lambda: stub.Answer(pb.AnswerRequest(**kw), timeout=CALL_TIMEOUT_S)

    pair = pb.SentencePair(left="a", right="b")
    odd = "\u202e\x00\U0010ffff"
    return [
        GrpcCase("grpc Similarity empty", sim()),
        GrpcCase("grpc Similarity over-max-batch", sim(pairs=[pair] * 1000)),
        GrpcCase("grpc Similarity unknown-model", sim(pairs=[pair],
                                                      model_spec=pb.ModelSpec(name=odd))),
        GrpcCase("grpc Similarity wrong-model", sim(pairs=[pair],
                                                    model_spec=pb.ModelSpec(name="qa"))),
        GrpcCase("grpc Similarity version-negative",
                 sim(pairs=[pair], model_spec=pb.ModelSpec(name="similarity", version=-1))),
        GrpcCase("grpc Similarity odd-text", sim(pairs=[pb.SentencePair(left=odd, right="")]),
                 reject=False),
        GrpcCase("grpc Profile empty", prof()),
        GrpcCase("grpc Profile empty-author", prof(authors=[pb.Posts()])),
        GrpcCase("grpc Profile over-max-batch", prof(authors=[pb.Posts(posts=["a"])] * 1000)),
        GrpcCase("grpc Profile wrong-model", prof(authors=[pb.Posts(posts=["a"])],
                                                  model_spec=pb.ModelSpec(name="similarity"))),
        GrpcCase("grpc Profile odd-text", prof(authors=[pb.Posts(posts=[odd])]), reject=False),
        GrpcCase("grpc Answer empty", ans()),
        GrpcCase("grpc Answer blank-question", ans(text="t", question="  ")),
        GrpcCase("grpc Answer top_k-negative", ans(text="t", question="q", top_k=-3)),
        GrpcCase("grpc Answer top_k-huge", ans(text="t", question="q", top_k=2**31 - 1),
                 reject=False),
        GrpcCase("grpc Answer wrong-model", ans(text="t", question="q",
                                                model_spec=pb.ModelSpec(name="profiler"))),
        GrpcCase("grpc Answer label-unknown", ans(text="t", question="q", model_spec=pb.ModelSpec(
            name="qa", version_label="nope"))),
        GrpcCase("grpc Answer odd-text", ans(text=odd * 1000, question=odd), reject=False),
    ]


# Bytes that are no valid message of any request type: not protobuf at all, a
# truncated field, a string field holding invalid UTF-8 (a CESU-8 surrogate), a
# length prefix far beyond the message, a wrong wire type, a group never closed.
RAW_BAD = {
    "garbage": b"\xff\xff\xff\xff",
    "truncated": b"\x0a\x05ab",
    "invalid-utf8-in-string": b"\x0a\x05\x0a\x03\xed\xa0\x80",
    "huge-length": b"\x0a\xff\xff\xff\xff\x0f",
    "varint-overlong": b"\x08" + b"\xff" * 11,
    "open-group": b"\x0b",
}
RAW_METHODS = ("Predict", "GetModelMetadata", "ListModels", "Similarity", "Profile", "Answer")
TFS_RAW_METHODS = ("/tensorflow.serving.PredictionService/Predict",
                   "/tensorflow.serving.PredictionService/GetModelMetadata",
                   "/tensorflow.serving.ModelService/GetModelStatus")


def raw_grpc_cases(channel: grpc.Channel) -> list[GrpcCase]:
    cases = []
    methods = [f"/multihead.v1.Gateway/{m}" for m in RAW_METHODS] + \
        ["/grpc.health.v1.Health/Check", *TFS_RAW_METHODS]
    for method in methods:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        for what, raw in RAW_BAD.items():
            if method.endswith("ListModels") and what == "invalid-utf8-in-string":
                continue  # ListModelsRequest has no string field: the bytes are unknown fields
            cases.append(GrpcCase(f"grpc raw {method} {what}",
                                  lambda c=call, r=raw: c(r, timeout=CALL_TIMEOUT_S)))
    return cases


def tfserving_grpc_cases(channel: grpc.Channel, rest_meta: dict[str, Any],
                         vocab: dict[tuple[str, str], int]) -> list[GrpcCase]:
    """TF Serving's own gRPC API on the gateway (tensorflow.serving.PredictionService):
    claimed shapes, dtypes and token ids, built from the REST metadata's signatures."""
    from tensorflow.core.framework import tensor_pb2, types_pb2
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    enum = {"DT_STRING": types_pb2.DT_STRING, "DT_FLOAT": types_pb2.DT_FLOAT,
            "DT_INT32": types_pb2.DT_INT32, "DT_INT64": types_pb2.DT_INT64}
    typed = {types_pb2.DT_STRING: ("string_val", b"hello world"),
             types_pb2.DT_FLOAT: ("float_val", 0.5), types_pb2.DT_INT32: ("int_val", 2),
             types_pb2.DT_INT64: ("int64_val", 2)}

    def proto(dtype: int, dims: list[int], values: list[Any] | None = None) -> Any:
        t = tensor_pb2.TensorProto(dtype=dtype)
        for d in dims:
            t.tensor_shape.dim.add(size=d)
        field, good = typed.get(dtype, ("float_val", 0.5))
        getattr(t, field).extend([good] * _n(dims) if values is None else values)
        return t

    cases = []
    for model, sigs in sorted(rest_meta.items()):
        for sig, sig_def in sorted(sigs.items()):
            good = {}
            for name, info in sig_def["inputs"].items():
                dims = [1] + [d if d > 0 else 2 for d in _trailing(info)]
                good[name] = (enum.get(info["dtype"], types_pb2.DT_FLOAT), dims)
            for target, (dtype, dims) in sorted(good.items()):
                mutations = [
                    ("shape-2^62-no-values", proto(dtype, [2**62], [])),
                    ("shape-2^62x0", proto(dtype, [2**62, 0], [])),
                    ("shape-2^31x2^31", proto(dtype, [2**31, 2**31], [])),
                    ("shape-rank-40", proto(dtype, [1] * 40)),
                    ("dtype-invalid", proto(types_pb2.DT_INVALID, dims, [])),
                    ("dtype-resource", proto(types_pb2.DT_RESOURCE, dims, [])),
                    ("content-too-short", tensor_pb2.TensorProto(
                        dtype=types_pb2.DT_FLOAT, tensor_content=b"\x00\x01\x02",
                        tensor_shape={"dim": [{"size": 4}]})),
                    ("too-many-values", proto(dtype, dims, [typed[dtype][1]] * (_n(dims) + 5))),
                    ("rank+1", proto(dtype, [*dims, 1])),
                ]
                if sig == "ids" and dtype in (types_pb2.DT_INT32, types_pb2.DT_INT64):
                    bad = [-1, 2**31 - 1] + ([vocab[(model, target)]]
                                             if (model, target) in vocab else [])
                    mutations += [(f"id-{v}", proto(dtype, dims, [v] * _n(dims))) for v in bad]
                for what, tensor in mutations:
                    request = predict_pb2.PredictRequest()
                    request.model_spec.name = model
                    request.model_spec.signature_name = sig
                    for name, (dt, ds) in good.items():
                        request.inputs[name].CopyFrom(tensor if name == target else proto(dt, ds))
                    cases.append(GrpcCase(
                        f"tfs-grpc {model}/{sig} {target} {what}",
                        lambda r=request: stub.Predict(r, timeout=CALL_TIMEOUT_S)))
    return cases


def check_grpc(case: GrpcCase) -> Outcome:
    started = time.monotonic()
    try:
        case.call()
    except grpc.RpcError as exc:
        code, details = exc.code(), exc.details() or ""
        if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
            return Outcome(case.name, f"{code.name}: {details[:200]}")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and \
                time.monotonic() - started >= CALL_TIMEOUT_S - 1:
            return Outcome(case.name, "hang (no answer before the deadline)")
        if code == grpc.StatusCode.UNAVAILABLE:
            return Outcome(case.name, f"UNAVAILABLE: {details[:200]}")
        if len(details) < 10:
            return Outcome(case.name, f"{code.name} without a sentence: {details!r}")
        return Outcome(case.name, "")
    return Outcome(case.name, "accepted (OK) although it must be rejected" if case.reject else "")


# -- raw HTTP -----------------------------------------------------------------------------


def _exchange(address: tuple[str, int], data: bytes, wait_s: float = CALL_TIMEOUT_S) -> bytes:
    """Send `data`, then read until the server closes; b"<hang>" if it does not."""
    with socket.create_connection(address, timeout=wait_s) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the answer may already be waiting
        chunks = []
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return b"<hang>"
            except OSError as exc:
                chunks.append(f"<{type(exc).__name__}>".encode())
                break
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
        return b"".join(chunks) + b"<hang>"


def _judge_raw(reply: bytes, want: int) -> str:
    if reply.endswith(b"<hang>"):
        return f"hang: the connection was not closed ({reply[:80]!r})"
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        return f"no HTTP answer: {reply[:120]!r}"
    status = int(parts[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.decode("latin-1").partition(":") for line in lines[1:])}
    if status != want:
        return f"status {status}, expected {want}: {reply[:200]!r}"
    return _judge_http(status, headers.get("content-type", ""), body, True)


def raw_http_cases(address: tuple[str, int]) -> list[tuple[str, Callable[[], str]]]:
    path = "/v1/models/profiler:predict"
    body = b'{"instances": ["hello world"]}'
    head = (f"POST {path} HTTP/1.1\r\nHost: test\r\n"
            "Content-Type: application/json\r\n").encode()
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n"
    client_hello = bytes.fromhex("16030100f4010000f00303") + bytes(32) + b"\x00\x00\x02\x13\x01"
    raw = {
        "invalid chunk size": (chunked + b"zz\r\n" + body + b"\r\n0\r\n\r\n", 400),
        "chunk size 10^16": (chunked + b"%x\r\n" % 10**16 + body, 413),
        "chunk without terminator": (chunked + b"%x\r\n" % len(body) + body + b"XX", 400),
        "chunks over the limit": (chunked + (b"%x\r\n" % 500_000 + b"x" * 500_000 + b"\r\n") * 3
                                  + b"0\r\n\r\n", 413),
        "content-length with chunked": (head + b"Content-Length: 5\r\nTransfer-Encoding: "
                                        b"chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        "content-length not a number": (head + b"Content-Length: 1e3\r\n\r\n" + body, 400),
        "431 one huge header": (head + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n", 431),
        "431 too many headers": (head + b"".join(b"X-%d: a\r\n" % i for i in range(200))
                                 + b"\r\n", 431),
        "TLS ClientHello": (client_hello, 400),
        "garbage request line": (b"\x00\x01\x02 GARBAGE\r\n\r\n", 400),
        "unsupported transfer coding": (head + b"Transfer-Encoding: bogus\r\n\r\n", 400),
    }
    cases: list[tuple[str, Callable[[], str]]] = [
        (f"http {name}", lambda d=data, w=want: _judge_raw(_exchange(address, d), w))
        for name, (data, want) in raw.items()]

    def over_limit_http_client() -> str:
        # http.client writes the whole body before it reads: the 413 must still arrive.
        conn = http.client.HTTPConnection(*address, timeout=CALL_TIMEOUT_S)
        try:
            conn.request("POST", path, body=b"x" * (3 * MAX_BYTES),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            status, ctype, data = resp.status, resp.getheader("content-type") or "", resp.read()
        except OSError as exc:
            return f"the 413 was lost: {type(exc).__name__}: {exc}"
        finally:
            conn.close()
        if status != 413:
            return f"status {status}, expected 413"
        return _judge_http(status, ctype, data, True)

    def over_limit_httpx() -> str:
        try:
            resp = httpx.post(f"http://{address[0]}:{address[1]}{path}",
                              content=b"[" * (2 * MAX_BYTES), timeout=CALL_TIMEOUT_S)
        except httpx.HTTPError as exc:
            return f"the 413 was lost: {type(exc).__name__}: {exc}"
        if resp.status_code != 413:
            return f"status {resp.status_code}, expected 413"
        return _judge_http(413, resp.headers.get("content-type", ""), resp.content, True)

    cases += [("http over-limit body, http.client", over_limit_http_client),
              ("http over-limit body, httpx", over_limit_httpx)]
    return cases


class StalledRequest(threading.Thread):
    """Half a request line, then silence: must be answered 408 and closed in time."""

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.failure = "did not finish"
        self.seconds = 0.0

    def run(self) -> None:
        started = time.monotonic()
        reply = _exchange(self.address, b"POST /v1/models/profiler:pre",
                          wait_s=REQUEST_TIMEOUT_S + 15)
        self.seconds = time.monotonic() - started
        self.failure = _judge_raw(reply, 408)


# -- the test -----------------------------------------------------------------------------


def _vocabularies(stub: gateway_pb2_grpc.GatewayStub) -> dict[tuple[str, str], int]:
    """(model, id input) -> vocab_size from the model card (id_inputs, else inputs)."""
    out = {}
    for info in stub.ListModels(pb.ListModelsRequest(), timeout=30).models:
        meta = stub.GetModelMetadata(pb.GetModelMetadataRequest(
            model_spec=pb.ModelSpec(name=info.name)), timeout=30)
        card = json.loads(meta.model_card_json or "{}")
        texts = {i.get("name"): i for i in card.get("inputs", [])}
        for item in card.get("id_inputs", []):
            size = item.get("vocab_size") or texts.get(item.get("name"), {}).get("vocab_size")
            if size and item.get("padded_sequence"):
                out[(info.name, item["name"])] = int(size)
    return out


def _run(items: list[Any], check: Callable[[Any], Outcome]) -> list[Outcome]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(check, items))


def test_bad_input_barrage_gets_no_5xx(gateway: Any, channel: grpc.Channel) -> None:
    started = time.monotonic()
    split = urlsplit(gateway.http_url)
    address = (split.hostname or "127.0.0.1", split.port or 80)
    stalled = StalledRequest(address)
    stalled.start()  # runs beside the barrage; checked at the end

    stub = gateway_pb2_grpc.GatewayStub(channel)
    vocab = _vocabularies(stub)
    assert vocab, "the model cards give no vocabulary size for any id input"
    client = httpx.Client(base_url=gateway.http_url, timeout=CALL_TIMEOUT_S)
    try:
        rest = rest_cases(client, vocab)
        grpc_list = grpc_cases(stub, channel, vocab)
        rest_meta = {m["name"]: client.get(f"/v1/models/{m['name']}/metadata").json()[
            "metadata"]["signature_def"]["signature_def"]
            for m in client.get("/v1/models").json()["models"]}
        tfs_list = tfserving_grpc_cases(channel, rest_meta, vocab)
        raw = raw_http_cases(address)
        outcomes = {
            "rest": _run(rest, lambda c: check_rest(client, c)),
            "grpc": _run(grpc_list, check_grpc),
            "tfserving-grpc": _run(tfs_list, check_grpc),
            "http": _run(raw, lambda item: Outcome(item[0], item[1]())),
        }
    finally:
        client.close()
    stalled.join(REQUEST_TIMEOUT_S + 20)
    outcomes["http"].append(Outcome("http stalled request line", stalled.failure))

    failed = [o for group in outcomes.values() for o in group if o.failure]
    counts = {k: len(v) for k, v in outcomes.items()}
    print(f"\nbad-input barrage on {gateway.backend}: "
          + ", ".join(f"{k} {n} cases" for k, n in counts.items())
          + f", {len(failed)} failed, {time.monotonic() - started:.1f} s "
          f"(stalled request closed after {stalled.seconds:.1f} s)")
    assert not failed, f"{len(failed)} of {sum(counts.values())} bad requests failed:\n" + \
        "\n".join(f"- {o.case}: {o.failure}" for o in failed[:40])
    # Hundreds of cases, or the barrage silently shrank.
    assert counts["rest"] >= 500 and counts["grpc"] >= 200 and counts["http"] >= 12 \
        and counts["tfserving-grpc"] >= 100, counts

    # The gateway still serves good requests, on both protocols, on every model.
    for model, sample in SAMPLES.items():
        resp = gateway.post(f"/v1/models/{model}:predict", {"inputs": sample})
        assert resp.status_code == 200, resp.text
        inputs = {}
        for name, values in sample.items():
            if name == "aux":
                inputs[name] = _tensor(DT.DATA_TYPE_FLOAT32, [len(values), len(values[0])],
                                       [float(x) for row in values for x in row])
            else:
                inputs[name] = _tensor(DT.DATA_TYPE_STRING, [len(values)],
                                       [v.encode() for v in values])
        reply = stub.Predict(pb.PredictRequest(model_spec=pb.ModelSpec(name=model),
                                               inputs=inputs), timeout=30)
        assert reply.outputs and all(t.shape[0] == 3 for t in reply.outputs.values())
