"""The shared defences against hostile input, without a server (the barrage in
tests/integration/test_bad_input_barrage.py runs them through real gateways)."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest

from serving import jsonio
from serving.backends.base import ModelVersion, SignatureSpec, TensorSpec
from serving.core.validation import MAX_CLAIMED_ELEMENTS, build_plan, checked_shape, validate
from serving.errors import QUOTE_LIMIT, InvalidInput, NotFound, quote, safe_text
from serving.grpc.decode import Undecodable, guard_handler
from serving.protocols.multihead._gen import gateway_pb2 as pb
from serving.protocols.tfserving import codec
from serving.types import ModelCard


def test_messages_never_carry_unencodable_text():
    err = NotFound("Model '\ud800\n' not found.")
    assert err.message == "Model '\\ud800\\x0a' not found."
    json.dumps(err.to_json(), ensure_ascii=False).encode("utf-8")  # would raise before
    assert quote("posts") == "'posts'"
    assert quote("é✓") == "'é✓'"  # printable non-ASCII stays as it is
    long = quote("x" * 5000)
    assert long == "'" + "x" * QUOTE_LIMIT + "...(5000 characters)'"
    assert safe_text("fine text") == "fine text"


@pytest.mark.parametrize("body", [b'{"instances": ["\\ud800"]}', b'{"\\udc00": 1}',
                                  b'{"instances": [NaN], "heads": ["\\ud800"]}'])
def test_lone_surrogates_are_invalid_json(body):
    with pytest.raises(InvalidInput, match="lone UTF-16 surrogate"):
        jsonio.loads(body)


def test_a_surrogate_pair_and_nan_literals_still_parse():
    assert jsonio.loads(b'["\\ud83d\\ude00"]') == ["\U0001f600"]
    assert np.isnan(jsonio.loads(b"[NaN]")[0])


def _sig(inputs: dict) -> SignatureSpec:
    return SignatureSpec("s", {k: TensorSpec(k, d, s) for k, (d, s) in inputs.items()},
                         {"y": TensorSpec("y", "DT_FLOAT", (None,))})


def test_a_400_digit_integer_in_a_float_input_is_invalid_input():
    sig = _sig({"x": ("DT_FLOAT", (None,))})
    body = codec.parse_predict_body(b'{"instances": [1' + b"0" * 400 + b"]}")
    plan = build_plan(ModelVersion("m", 1, {"s": sig}), sig)
    with pytest.raises(InvalidInput, match="401 digits, too large for DT_FLOAT"):
        codec.decode_inputs(body, plan)
    with pytest.raises(InvalidInput, match="too large"):
        validate(plan, {"x": [1.5, 10**400]}, 8)


CARD = {"inputs": [{"name": "text", "kind": "text", "vocab_size": 50}],
        "id_inputs": [{"name": "text", "dtype": "int32", "padded_sequence": True,
                       "max_tokens": 8},
                      {"name": "tags", "dtype": "int32", "padded_sequence": True,
                       "vocab_size": 7}]}


@pytest.mark.parametrize(("name", "ids", "bad", "size"), [
    ("text", [[1, 50]], 50, 50), ("text", [[-1, 3]], -1, 50),
    ("text", [[2**31 - 1]], 2**31 - 1, 50), ("tags", [[7]], 7, 7)])
def test_token_ids_outside_the_vocabulary_are_rejected(name, ids, bad, size):
    sig = _sig({"text": ("DT_INT32", (None, None)), "tags": ("DT_INT32", (None, None))})
    plan = build_plan(ModelVersion("m", 1, {"s": sig}, card=ModelCard.from_json(CARD)), sig)
    inputs = {"text": [[1, 2]], "tags": [[1]]} | {name: ids}
    with pytest.raises(InvalidInput) as err:
        validate(plan, inputs, 8)
    assert err.value.message == (f"Input '{name}' holds token id {bad}, outside the "
                                 f"vocabulary; ids must be in [0, {size}) (vocab_size of "
                                 "the model card).")
    ok = validate(plan, {"text": [[49, 0], [1]], "tags": [[6]] * 2}, 8)
    assert ok.arrays["text"].tolist() == [[49, 0], [1, 0]]


@pytest.mark.parametrize("dims", [[2**62], [2**62, 0], [2**62, 2**62, 0], [2**31, 0],
                                  [-1, 2], [1] * 33])
def test_claimed_shapes_are_checked_before_allocation(dims):
    with pytest.raises(InvalidInput, match=r"inputs\['x'\]"):
        checked_shape("inputs['x']", dims)


def test_plausible_shapes_pass():
    assert checked_shape("t", [3, 0, 5]) == (3, 0, 5)
    assert checked_shape("t", [MAX_CLAIMED_ELEMENTS], MAX_CLAIMED_ELEMENTS)
    with pytest.raises(InvalidInput, match="needs 6 values, got 5"):
        checked_shape("t", [2, 3], 5)


class _Context:
    def __init__(self) -> None:
        self.aborted: tuple | None = None

    def abort(self, code, message):  # noqa: ANN001, ANN201 - grpc's signature
        self.aborted = (code, message)
        raise RuntimeError("aborted")


def test_undecodable_bytes_abort_invalid_argument_naming_the_message():
    seen = []
    handler = guard_handler(grpc.unary_unary_rpc_method_handler(
        lambda request, context: seen.append(request),
        request_deserializer=pb.PredictRequest.FromString))
    request = handler.request_deserializer(b"\xff\xff\xff")
    assert isinstance(request, Undecodable)
    context = _Context()
    with pytest.raises(RuntimeError, match="aborted"):
        handler.unary_unary(request, context)
    code, message = context.aborted
    assert code == grpc.StatusCode.INVALID_ARGUMENT and not seen
    assert message.startswith("The request is not a valid multihead.v1.PredictRequest message")
    good = pb.PredictRequest(model_spec=pb.ModelSpec(name="m")).SerializeToString()
    handler.unary_unary(handler.request_deserializer(good), _Context())
    assert seen[0].model_spec.name == "m"
