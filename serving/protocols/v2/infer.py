"""What an OIP infer, ready, metadata or config call means, for both transports.

The REST views and the gRPC servicer decode their wire format into `Request`
(arrays already built by serving/protocols/v2/codec.py), call `infer`, and render
the `Answer`. Here the request is checked against the signature so that every
message names the OIP field (`inputs[1].datatype`, `outputs[0].name`), then the
core runs it: resolution, validation, batching and metrics live there.

Requested outputs go to the core as `PredictCall.output_filter`, so the batcher
keys merged calls by them (kserve#3307 / MLServer#514 lose them); the core brings
`H_label` along for a head `H`, so the answer keeps exactly the requested names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from serving.core.service import InferenceService, PredictCall
from serving.dtypes import BY_TF
from serving.errors import GatewayError, InvalidInput, NotFound, Unavailable
from serving.protocols.v2.codec import oip_datatype
from serving.protocols.v2.config import DEFAULT_SIGNATURE, batchable, default_signature
from serving.types import ModelVersion, SignatureSpec

PROTOCOL = "v2"
INT64_MAX = 2**63 - 1
# The request parameter that chooses a signature (README "Open Inference Protocol v2").
SIGNATURE_PARAMETER = "signature_name"


@dataclass(frozen=True)
class Input:
    name: str
    datatype: str
    array: np.ndarray
    where: str                      # "inputs[0]"


@dataclass(frozen=True)
class Request:
    inputs: list[Input]
    outputs: list[str] = field(default_factory=list)   # requested names; empty = all
    signature: str = ""
    id: str = ""


@dataclass(frozen=True)
class Output:
    name: str
    datatype: str
    array: np.ndarray


@dataclass(frozen=True)
class Answer:
    model: str
    version: int
    outputs: list[Output]


def parse_version(text: str | None) -> int | None:
    """A version from a URL or `model_version`: "" or None = the newest AVAILABLE."""
    if text is None or text == "":
        return None
    if not text.isascii() or not text.isdigit() or int(text) > INT64_MAX:
        raise InvalidInput(f"model_version '{text[:40]}' must be a non-negative integer "
                           "(as a string).")
    return int(text)


def resolve(service: InferenceService, model: str, version: str | None) -> ModelVersion:
    return service.resolve(model, parse_version(version))


def versions(service: InferenceService, model: str) -> list[int]:
    return sorted(s.version for s in service.model_status(model) if s.state == "AVAILABLE")


def is_ready(service: InferenceService, model: str, version: str | None) -> bool:
    """True when the model (version) can serve; False when unknown or not loaded."""
    try:
        resolve(service, model, version)
    except (NotFound, Unavailable):
        return False
    return True


def infer(service: InferenceService, model: str, version: str | None,
          decode: Callable[[], Request], timeout_s: float | None = None,
          transport: str = "rest") -> Answer:
    """Decode, check against the signature, run through the core."""
    started = time.perf_counter()
    try:
        wanted_version = parse_version(version)
        req = decode()
        mv = service.resolve(model, wanted_version)
        # No signature named: the one the metadata describes (serving_default).
        sig = service.signature(mv, req.signature or default_signature(mv).name)
        feeds = _check_inputs(mv, sig, req)
        requested = _check_outputs(mv, sig, req.outputs)
    except GatewayError as exc:
        service.record_rejected(model, PROTOCOL, transport, exc.code, time.perf_counter() - started)
        raise
    result = service.predict(
        PredictCall(model=mv.name, version=mv.version, signature=sig.name, inputs=feeds,
                    output_filter=tuple(requested), protocol=PROTOCOL, transport=transport,
                    resolved=mv),
        timeout_s=timeout_s)
    names = requested or sorted(result.outputs)
    outputs = []
    for name in names:
        arr = result.outputs[name]
        spec = sig.outputs.get(name)
        datatype = oip_datatype(spec.dtype if spec is not None else "", arr)
        outputs.append(Output(name, datatype, arr))
    return Answer(result.model, result.version, outputs)


def _check_inputs(mv: ModelVersion, sig: SignatureSpec, req: Request) -> dict[str, np.ndarray]:
    expected = ", ".join(sorted(sig.inputs))
    where_sig = f"model '{mv.name}' signature '{sig.name}'"
    feeds: dict[str, np.ndarray] = {}
    for inp in req.inputs:
        spec = sig.inputs.get(inp.name)
        if spec is None:
            raise InvalidInput(f"{inp.where}.name '{inp.name[:80]}' is not an input of "
                               f"{where_sig}; expected: {expected}.")
        if inp.name in feeds:
            raise InvalidInput(f"{inp.where}.name '{inp.name}' is given twice.")
        want = BY_TF.get(spec.dtype)
        if want is None or want.oip is None:
            raise InvalidInput(f"{inp.where}: input '{inp.name}' has dtype {spec.dtype}, "
                               "which the Open Inference Protocol cannot carry.")
        if inp.datatype != want.oip:
            raise InvalidInput(f"{inp.where}.datatype is {inp.datatype} but input "
                               f"'{inp.name}' of {where_sig} expects {want.oip}.")
        shape = inp.array.shape
        if spec.shape is not None and len(spec.shape) == 1 and len(shape) == 2 \
                and shape[1] == 1 and batchable(sig):
            # [N, 1] for a batch-only input: the shape the metadata describes (Triton's
            # reshape of `dims: [1]` to `[]`, serving/protocols/v2/config.py).
            inp = replace(inp, array=inp.array.reshape(shape[0]))
            shape = inp.array.shape
        if spec.shape is not None and (len(shape) != len(spec.shape) or any(
                d is not None and d != got for d, got in zip(spec.shape, shape, strict=True))):
            want_shape = [-1 if d is None else d for d in spec.shape]
            raise InvalidInput(f"{inp.where}.shape {list(shape)} does not match input "
                               f"'{inp.name}' of {where_sig}, shape {want_shape} (-1: any "
                               "size; the first dim is the batch).")
        feeds[inp.name] = inp.array
    missing = [n for n in sorted(sig.inputs) if n not in feeds]
    if missing:
        raise InvalidInput(f"inputs lacks '{missing[0]}'; {where_sig} needs: {expected}.")
    return feeds


def _check_outputs(mv: ModelVersion, sig: SignatureSpec, names: list[str]) -> list[str]:
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name not in sig.outputs:
            raise InvalidInput(f"outputs[{i}].name '{name[:80]}' is not an output of model "
                               f"'{mv.name}' signature '{sig.name}'; it has: "
                               f"{', '.join(sorted(sig.outputs))}.")
        if name in seen:
            raise InvalidInput(f"outputs[{i}].name '{name}' is requested twice.")
        seen.add(name)
    return list(names)


def signature_name(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string naming a signature (default "
                           f"{DEFAULT_SIGNATURE}).")
    return value


