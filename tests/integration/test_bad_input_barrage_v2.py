"""The bad-input barrage on the Open Inference Protocol v2 (REST JSON, REST binary, gRPC).

Built, like test_bad_input_barrage.py, by construction from what the gateway serves:
every input of every model's signature (v2 metadata; the `ids` signature through
`parameters.signature_name`) x wrong datatype, wrong or huge or negative shapes, data
that does not fit its shape, surrogates, 400-digit numbers, NaN, unknown and missing
names, bad requested outputs, binary sizes past the body, token ids out of range.
Each case must get a 4xx with `{"error": sentence}` (gRPC: a non-OK status other than
INTERNAL / UNKNOWN with a sentence), never a 5xx or a hang; then good requests still work.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
from tritonclient.grpc import service_pb2, service_pb2_grpc

from serving.protocols.multihead._gen import gateway_pb2_grpc
from tests.integration.test_bad_input_barrage import (
    BIG,
    CALL_TIMEOUT_S,
    SURROGATE,
    GrpcCase,
    Outcome,
    _run,
    _vocabularies,
    check_grpc,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
GOOD = {"BYTES": "hello world", "FP32": 0.5, "FP64": 0.5, "INT32": 2, "INT64": 2, "BOOL": True}
_NP = {"FP32": "<f4", "FP64": "<f8", "INT32": "<i4", "INT64": "<i8"}


@dataclass(frozen=True)
class V2Case:
    name: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _dims(shape: list[int]) -> list[int]:
    return [1] + [d if d > 0 else 2 for d in shape[1:]]


def _n(dims: list[int]) -> int:
    return int(np.prod(dims)) if dims else 1


def _tensor(name: str, datatype: str, dims: list[int], data: Any = None) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": dims,
            "data": [GOOD[datatype]] * _n(dims) if data is None else data}


def _signatures(client: httpx.Client, model: str) -> dict[str, list[dict[str, Any]]]:
    """signature -> inputs [{name, datatype, shape}] (serving_default from v2 metadata,
    the others from TF Serving's metadata, with their dtypes in OIP names)."""
    meta = client.get(f"/v2/models/{model}").json()
    sigs = {"serving_default": meta["inputs"]}
    tfs = client.get(f"/v1/models/{model}/metadata").json()["metadata"]["signature_def"][
        "signature_def"]
    oip = {"DT_STRING": "BYTES", "DT_FLOAT": "FP32", "DT_INT32": "INT32", "DT_INT64": "INT64",
           "DT_DOUBLE": "FP64"}
    for sig, sig_def in tfs.items():
        if sig != "serving_default":
            sigs[sig] = [{"name": n, "datatype": oip.get(i["dtype"], "FP32"),
                          "shape": [int(d["size"]) for d in i["tensor_shape"]["dim"]]}
                         for n, i in sorted(sig_def["inputs"].items())]
    return sigs


def _json_mutations(inp: dict[str, Any], ids_vocab: int | None) -> list[tuple[str, Any]]:
    name, dt, dims = inp["name"], inp["datatype"], _dims(inp["shape"])
    other = "FP32" if dt == "BYTES" else "BYTES"
    raw_text = {"surrogate-data": f'[{SURROGATE}]', "big-number": f"[{BIG}]",
                "nan": "[NaN]", "infinity": "[Infinity]"}
    out: list[tuple[str, Any]] = [
        ("datatype-other", _tensor(name, other, dims)),
        ("datatype-unknown", {**_tensor(name, dt, dims), "datatype": "FP33"}),
        ("datatype-null", {**_tensor(name, dt, dims), "datatype": None}),
        ("shape-negative", _tensor(name, dt, [-1, *dims[1:]], [])),
        ("shape-2^62", _tensor(name, dt, [2**62], [])),
        ("shape-2^62x0", _tensor(name, dt, [2**62, 0], [])),
        ("shape-rank-40", _tensor(name, dt, [1] * 40)),
        ("shape-string", {**_tensor(name, dt, dims), "shape": "1"}),
        ("shape-rank+1", _tensor(name, dt, [*dims, 1])),
        ("data-short", _tensor(name, dt, [2, *dims[1:]], [GOOD[dt]])),
        ("data-long", _tensor(name, dt, dims, [GOOD[dt]] * (_n(dims) + 3))),
        ("data-null", _tensor(name, dt, dims, None) | {"data": None}),
        ("data-objects", _tensor(name, dt, dims, [{"b64": "aGk="}] * _n(dims))),
        ("data-wrong-type", _tensor(name, dt, dims, [[True]] * _n(dims))),
        ("name-unknown", {**_tensor(name, dt, dims), "name": "no_such_input"}),
        ("name-surrogate", {**_tensor(name, dt, dims), "name": "\ud800"}),
        ("binary-size-past-body", {**_tensor(name, dt, dims), "data": None,
                                   "parameters": {"binary_data_size": 10**9}}),
        ("binary-size-negative", {**_tensor(name, dt, dims), "data": None,
                                  "parameters": {"binary_data_size": -4}}),
    ]
    if dt != "BYTES":
        out += [(what, (name, dt, dims, text)) for what, text in raw_text.items()]
    else:
        out += [("surrogate-data", (name, dt, dims, f"[{SURROGATE}]"))]
    if ids_vocab:
        out += [(f"id-{v}", _tensor(name, dt, dims, [v] * _n(dims)))
                for v in (-1, ids_vocab, 2**31 - 1)]
    return out


def _encode(body: dict[str, Any], target: str, raw: tuple | None) -> bytes:
    text = json.dumps(body, ensure_ascii=True)
    if raw is not None:  # literal JSON the json module would not write (NaN, 400 digits)
        name, dt, dims, data = raw
        marker = json.dumps(_tensor(name, dt, dims, ["@DATA@"]))
        text = text.replace(marker, marker.replace('["@DATA@"]', data))
    return text.encode()


def v2_rest_cases(client: httpx.Client, vocab: dict[tuple[str, str], int]) -> list[V2Case]:
    cases: list[V2Case] = []
    for model in sorted(m["name"] for m in client.get("/v1/models").json()["models"]):
        path = f"/v2/models/{model}/infer"
        for sig, inputs in sorted(_signatures(client, model).items()):
            params = {} if sig == "serving_default" else {"parameters": {"signature_name": sig}}
            good = {i["name"]: _tensor(i["name"], i["datatype"], _dims(i["shape"]))
                    for i in inputs}
            for inp in inputs:
                ids = vocab.get((model, inp["name"])) if sig == "ids" else None
                for what, mutated in _json_mutations(inp, ids):
                    raw = None
                    if isinstance(mutated, tuple):
                        raw, mutated = mutated, _tensor(mutated[0], mutated[1], mutated[2],
                                                         ["@DATA@"])
                    body = {**params, "inputs": [mutated if n == inp["name"] else t
                                                 for n, t in good.items()]}
                    cases.append(V2Case(f"v2 {model}/{sig} {inp['name']} {what}", path,
                                        _encode(body, inp["name"], raw)))
                cases.append(V2Case(f"v2 {model}/{sig} {inp['name']} missing", path, json.dumps(
                    {**params, "inputs": [t for n, t in good.items() if n != inp["name"]]})
                    .encode()))
                cases.append(V2Case(f"v2 {model}/{sig} {inp['name']} twice", path, json.dumps(
                    {**params, "inputs": [*good.values(), good[inp["name"]]]}).encode()))
            base = {**params, "inputs": list(good.values())}
            for what, extra in (("output-unknown", {"outputs": [{"name": "nope"}]}),
                                ("output-surrogate", {"outputs": [{"name": "\ud800"}]}),
                                ("outputs-not-list", {"outputs": {"name": "x"}}),
                                ("id-not-string", {"id": 5}),
                                ("parameters-not-object", {"parameters": [1]}),
                                ("signature-unknown", {"parameters": {"signature_name": "x"}}),
                                ("signature-surrogate",
                                 {"parameters": {"signature_name": "\ud800"}})):
                cases.append(V2Case(f"v2 {model}/{sig} {what}", path,
                                    json.dumps({**base, **extra}).encode()))
            # The binary extension: header lengths that do not fit the body.
            header = json.dumps({**params, "inputs": [
                {**t, "data": None, "parameters": {"binary_data_size": 4 * _n(t["shape"])}}
                for t in good.values()]}).encode()
            for what, hlen, tail in (("header-length-past-body", len(header) + 999, b""),
                                     ("header-length-negative", -1, b""),
                                     ("header-length-text", "abc", b""),
                                     ("binary-short", len(header), b"\x00\x01"),
                                     ("bytes-prefix-truncated", len(header),
                                      struct.pack("<I", 1000) + b"ab")):
                cases.append(V2Case(f"v2 {model}/{sig} binary {what}", path, header + tail,
                                    {"Inference-Header-Content-Length": str(hlen),
                                     "Content-Type": "application/octet-stream"}))
    cases.append(V2Case("v2 body not JSON", "/v2/models/profiler/infer", b"{nope"))
    cases.append(V2Case("v2 body surrogate", "/v2/models/profiler/infer",
                        b'{"inputs": [{"name": "\\ud800"}]}'))
    cases.append(V2Case("v2 version not a number", "/v2/models/profiler/versions/x/infer",
                        b'{"inputs": []}'))
    cases.append(V2Case("v2 version past int64", f"/v2/models/profiler/versions/{BIG}/infer",
                        b'{"inputs": []}'))
    return cases


def check_v2_rest(client: httpx.Client, case: V2Case) -> Outcome:
    try:
        resp = client.post(case.path, content=case.body, headers=case.headers)
    except httpx.TimeoutException:
        return Outcome(case.name, "hang (no answer within the client timeout)")
    except httpx.HTTPError as exc:
        return Outcome(case.name, f"transport error {type(exc).__name__}: {exc}")
    if resp.status_code >= 500 or resp.status_code < 400:
        return Outcome(case.name, f"{resp.status_code}: {resp.content[:200]!r}")
    try:
        payload = resp.json()
    except ValueError:
        return Outcome(case.name, f"{resp.status_code} without a JSON body: {resp.content[:120]!r}")
    if not (isinstance(payload, dict) and isinstance(payload.get("error"), str)
            and len(payload["error"]) >= 10):
        return Outcome(case.name, f"{resp.status_code} without the error shape: {payload!r:.200}")
    return Outcome(case.name, "")


def v2_grpc_cases(ch: grpc.Channel, client: httpx.Client,
                  vocab: dict[tuple[str, str], int]) -> list[GrpcCase]:
    stub = service_pb2_grpc.GRPCInferenceServiceStub(ch)
    cases: list[GrpcCase] = []

    def raw_of(dt: str, n: int, good: bool = True) -> bytes:
        if dt == "BYTES":
            return b"".join(struct.pack("<I", 5) + b"hello" for _ in range(n))
        return np.full(n, GOOD[dt], dtype=_NP.get(dt, "<f4")).tobytes()

    for model in sorted(m["name"] for m in client.get("/v1/models").json()["models"]):
        for sig, inputs in sorted(_signatures(client, model).items()):
            for target in inputs:
                ids = vocab.get((model, target["name"])) if sig == "ids" else None
                dims = _dims(target["shape"])
                mutations: list[tuple[str, list[Any], Any]] = [
                    ("datatype-other", ["FP32" if target["datatype"] == "BYTES" else "BYTES",
                                        dims], None),
                    ("datatype-unknown", ["FP33", dims], None),
                    ("shape-2^62", [target["datatype"], [2**62]], b""),
                    ("shape-2^62x0", [target["datatype"], [2**62, 0]], b""),
                    ("shape-rank+1", [target["datatype"], [*dims, 1]], None),
                    ("raw-short", [target["datatype"], dims], b"\x00\x01\x02"),
                ]
                if ids:
                    mutations += [(f"id-{v}", [target["datatype"], dims],
                                   np.full(_n(dims), v, "<i8" if target["datatype"] == "INT64"
                                           else "<i4").tobytes()) for v in (-1, ids)]
                for what, (dt, shape), raw in mutations:
                    request = service_pb2.ModelInferRequest(model_name=model)
                    if sig != "serving_default":
                        request.parameters["signature_name"].string_param = sig
                    for inp in inputs:
                        is_target = inp["name"] == target["name"]
                        idims = shape if is_target else _dims(inp["shape"])
                        idt = dt if is_target else inp["datatype"]
                        request.inputs.add(name=inp["name"], datatype=idt, shape=idims)
                        request.raw_input_contents.append(
                            raw if is_target and raw is not None else
                            raw_of(inp["datatype"], _n(idims) if _n(idims) < 10**6 else 0))
                    cases.append(GrpcCase(f"v2-grpc {model}/{sig} {target['name']} {what}",
                                          lambda r=request: stub.ModelInfer(
                                              r, timeout=CALL_TIMEOUT_S)))
            request = service_pb2.ModelInferRequest(model_name=model)
            request.inputs.add(name=inputs[0]["name"], datatype=inputs[0]["datatype"],
                               shape=[1]).contents.fp32_contents.append(1.0)
            request.raw_input_contents.append(b"\x00\x00\x80\x3f")
            cases.append(GrpcCase(f"v2-grpc {model}/{sig} contents and raw",
                                  lambda r=request: stub.ModelInfer(r, timeout=CALL_TIMEOUT_S)))
    # Bytes that are not a ModelInferRequest (a string field holding invalid UTF-8).
    infer = ch.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                request_serializer=lambda b: b, response_deserializer=lambda b: b)
    for what, raw in (("invalid-utf8-name", b"\x0a\x02\xff\xfe"), ("truncated", b"\x0a\x05ab"),
                      ("garbage", b"\xff" * 16)):
        cases.append(GrpcCase(f"v2-grpc raw {what}",
                              lambda r=raw: infer(r, timeout=CALL_TIMEOUT_S)))
    return cases


def test_v2_bad_input_barrage_gets_no_5xx(gateway: Any, channel: grpc.Channel) -> None:
    started = time.monotonic()
    vocab = _vocabularies(gateway_pb2_grpc.GatewayStub(channel))
    client = httpx.Client(base_url=gateway.http_url, timeout=CALL_TIMEOUT_S)
    try:
        rest = v2_rest_cases(client, vocab)
        grpc_list = v2_grpc_cases(channel, client, vocab)
        outcomes = {"v2-rest": _run(rest, lambda c: check_v2_rest(client, c)),
                    "v2-grpc": _run(grpc_list, check_grpc)}
        failed = [o for group in outcomes.values() for o in group if o.failure]
        counts = {k: len(v) for k, v in outcomes.items()}
        print(f"\nv2 bad-input barrage on {gateway.backend}: "
              + ", ".join(f"{k} {n} cases" for k, n in counts.items())
              + f", {len(failed)} failed, {time.monotonic() - started:.1f} s")
        assert not failed, f"{len(failed)} of {sum(counts.values())} bad requests failed:\n" + \
            "\n".join(f"- {o.case}: {o.failure}" for o in failed[:40])
        assert counts["v2-rest"] >= 300 and counts["v2-grpc"] >= 40, counts
        # Still serving, on both transports.
        good = {"inputs": [{"name": "posts", "datatype": "BYTES", "shape": [1],
                            "data": ["exam week on campus"]}]}
        assert client.post("/v2/models/profiler/infer", json=good).status_code == 200
        request = service_pb2.ModelInferRequest(model_name="profiler")
        request.inputs.add(name="posts", datatype="BYTES", shape=[1])
        request.raw_input_contents.append(struct.pack("<I", 4) + b"exam")
        reply = service_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request,
                                                                              timeout=30)
        assert reply.raw_output_contents
    finally:
        client.close()
