"""What an OIP infer, ready, metadata or config call means, for both transports.

The REST views and the gRPC servicer decode their wire format into `Request`
(arrays already built by serving/protocols/v2/codec.py), call `infer`, and render
the `Answer`. Here the request is checked against the signature so that every
message names the OIP field (`inputs[1].datatype`, `outputs[0].name`), then the
core runs it: resolution, validation, batching and metrics live there.

Requested outputs go to the core as the call's `OutputFilter` (exactly those names, no
`H_label` companions, a repeat rejected), so the batcher keys merged calls by them
(kserve#3307 / MLServer#514 lose them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from serving.core.calls import (
    FilterWording,
    ModelRef,
    Origin,
    OutputFilter,
    PredictCall,
    check_version,
)
from serving.core.service import InferenceService
from serving.core.signatures import DEFAULT_SIGNATURE
from serving.core.validation import SignaturePlan
from serving.dtypes import BY_TF
from serving.errors import InvalidInput, NotFound, Unavailable
from serving.protocols.v2.codec import oip_datatype
from serving.types import ModelVersion

PROTOCOL = "v2"
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
    return check_version(text, "model_version")


def resolve(service: InferenceService, model: str, version: str | None) -> ModelVersion:
    return service.resolve(model, parse_version(version))


def is_ready(service: InferenceService, model: str, version: str | None) -> bool:
    """True when the model (version) can serve; False when unknown or not loaded."""
    try:
        resolve(service, model, version)
    except (NotFound, Unavailable):
        return False
    return True


class _OutputWording(FilterWording):
    def unknown(self, index: int, name: str, plan: SignaturePlan) -> str:
        return (f"outputs[{index}].name '{name[:80]}' is not an output of model "
                f"'{plan.model}' signature '{plan.signature}'; it has: "
                f"{', '.join(sorted(plan.spec.outputs))}.")

    def duplicate(self, index: int, name: str) -> str:
        return f"outputs[{index}].name '{name}' is requested twice."


def infer(service: InferenceService, origin: Origin, model: str, version: str | None,
          decode: Callable[[], Request]) -> Answer:
    """Decode (inside the core's counting), check against the signature, run."""
    parsed: dict[str, Request] = {}

    def call() -> PredictCall:
        ref = ModelRef(model, parse_version(version))
        req = parsed["request"] = decode()
        origin.record.adopt(req.id)  # OIP's id names the request when X-Request-ID did not
        # Exactly the outputs asked for, by name (kserve#3307 / MLServer#514 lose them);
        # the batcher keys merged calls by them.
        return PredictCall(ref, lambda plan: _check_inputs(plan, req), signature=req.signature,
                           outputs=OutputFilter(tuple(req.outputs), with_labels=False,
                                                allow_duplicates=False,
                                                wording=_OutputWording()))

    result = service.predict(origin, call)
    spec = result.spec
    outputs = []
    for name in parsed["request"].outputs or sorted(result.outputs):
        arr = result.outputs[name]
        tensor = spec.outputs.get(name) if spec is not None else None
        outputs.append(Output(name, oip_datatype(tensor.dtype if tensor else "", arr), arr))
    return Answer(result.model, result.version, outputs)


def _check_inputs(plan: SignaturePlan, req: Request) -> dict[str, np.ndarray]:
    sig = plan.spec
    expected = ", ".join(sorted(sig.inputs))
    where_sig = f"model '{plan.model}' signature '{sig.name}'"
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
                and shape[1] == 1 and plan.batchable:
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


def signature_name(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be a string naming a signature (default "
                           f"{DEFAULT_SIGNATURE}).")
    return value


