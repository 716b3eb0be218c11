"""Validation against signature specs and the model card: no TensorFlow needed."""

from __future__ import annotations

import numpy as np
import pytest

from serving.backends.base import ModelVersion, SignatureSpec, TensorSpec
from serving.core.calls import OutputFilter
from serving.core.validation import build_plan, resolve_filter, validate
from serving.errors import InvalidInput
from serving.types import ModelCard
from tests.unit.serving.conftest import PAIRS_CARD


def _spec(name: str, inputs: dict, outputs: dict) -> SignatureSpec:
    return SignatureSpec(name, {k: TensorSpec(k, d, s) for k, (d, s) in inputs.items()},
                         {k: TensorSpec(k, d, s) for k, (d, s) in outputs.items()})


OUTPUTS = {"size": ("DT_FLOAT", (None,)), "match": ("DT_FLOAT", (None,)),
           "match_label": ("DT_STRING", (None,)), "kind": ("DT_FLOAT", (None, 3)),
           "kind_label": ("DT_STRING", (None,))}
SIGS = {
    "serving_default": _spec("serving_default", {
        "left": ("DT_STRING", (None,)), "right": ("DT_STRING", (None,)),
        "aux": ("DT_FLOAT", (None, 5))}, OUTPUTS),
    "ids": _spec("ids", {
        "left": ("DT_INT32", (None, None)), "right": ("DT_INT32", (None, None)),
        "aux": ("DT_FLOAT", (None, 5))}, OUTPUTS),
    "misc": _spec("misc", {
        "n": ("DT_INT32", (None,)), "flag": ("DT_BOOL", (None,)),
        "m": ("DT_INT32", (None, None)), "x": ("DT_DOUBLE", (None,))},
        {"y": ("DT_FLOAT", (None,))}),
    "scalar": _spec("scalar", {"x": ("DT_FLOAT", (None,))}, {"y": ("DT_FLOAT", ())}),
}
MV = ModelVersion("pairs", 1, SIGS, card=ModelCard.from_json(PAIRS_CARD))
MAX_BATCH = 4


def good(sig: str = "serving_default", **changes: object) -> dict:
    base = {
        "serving_default": {"left": ["ab", "c"], "right": ["c", "abcd"],
                            "aux": [[1, 2, 3, 4, 5], [0.5, 0, 0, 0, 0]]},
        "ids": {"left": [[3, 4], [5]], "right": [[7], [2, 3, 4]], "aux": np.ones((2, 5))},
        "misc": {"n": [1, 2], "flag": [True, False], "m": [[1, 2], [3, 4]], "x": [0.5, 1]},
    }[sig]
    base.update(changes)
    return base


BAD = [
    # (signature, inputs, words the message must contain)
    ("serving_default", good(extra=[1, 2]), ["Unknown input 'extra'", "left, right"]),
    ("serving_default", {"left": ["a"], "aux": [[0] * 5]}, ["Missing input 'right'"]),
    ("serving_default", good(left=[1, 2]), ["Input 'left' must hold strings", "got integers"]),
    ("serving_default", good(left=[b"a", 3]), ["Input 'left' must hold strings"]),
    ("serving_default", good(aux=[["a"] * 5] * 2), ["Input 'aux' must hold numbers",
                                                    "got strings"]),
    ("serving_default", good(aux=[[True] * 5] * 2), ["Input 'aux'", "got booleans"]),
    ("serving_default", good(aux=[[1, 2, 3, 4, None]] * 2), ["Input 'aux'", "got null"]),
    ("serving_default", good(aux=[[0] * 4] * 2),
     ["Input 'aux' must have shape [batch, 5]; got [2, 4]."]),
    ("serving_default", good(aux=[0] * 5), ["Input 'aux' must have shape [batch, 5]; got [5]."]),
    ("serving_default", good(aux=[[float("nan")] * 5] * 2), ["Input 'aux'", "finite"]),
    ("serving_default", good(aux=[[float("inf")] * 5] * 2), ["Input 'aux'", "finite"]),
    ("serving_default", good(aux=[[1e300] * 5] * 2), ["Input 'aux'", "finite"]),
    ("serving_default", good(right=["x", "y", "z"]),
     ["same batch size", "'right' has 3", "'left' has 2"]),
    ("serving_default", {"left": [], "right": [], "aux": np.zeros((0, 5))},
     ["is empty", "at least one example"]),
    ("serving_default", {"left": ["a"] * 5, "right": ["b"] * 5, "aux": np.zeros((5, 5))},
     ["has 5 examples", "at most 4 (max_batch_size)"]),
    ("serving_default", good(left=[["a", "b"], ["c"]]), ["Input 'left' is ragged"]),
    ("serving_default", good(left=[["a"], ["b"]]),
     ["Input 'left' must have shape [batch]; got [2, 1]."]),
    ("serving_default", good(left="a"), ["Input 'left' must have shape [batch]",
                                         "got a single value"]),
    ("ids", good("ids", left=[[1] * 9, [2]]), ["Input 'left' has a sequence of 9 tokens",
                                               "at most 8 (max_tokens)"]),
    ("ids", good("ids", left=[[1.5, 2], [3]]), ["Input 'left' must hold integers (DT_INT32)",
                                                "fraction"]),
    ("ids", good("ids", left=[["a"], ["b"]]), ["Input 'left' must hold integers", "strings"]),
    ("ids", good("ids", left=[1, 2]), ["Input 'left' must be a list of token-id sequences"]),
    ("ids", good("ids", left=[[[1]], [[2]]]), ["Input 'left'", "nested deeper"]),
    ("misc", good("misc", n=[2 ** 40, 1]), ["Input 'n' holds values outside the DT_INT32"]),
    ("misc", good("misc", n=[float("nan"), 1]), ["Input 'n' must hold integers",
                                                 "NaN or infinity"]),
    ("misc", good("misc", flag=[1, 0]), ["Input 'flag' must hold booleans", "got integers"]),
    ("misc", good("misc", m=[[1, 2], [3]]), ["Input 'm' is ragged"]),
    ("misc", good("misc", x=["1.0", "2"]), ["Input 'x' must hold numbers (DT_DOUBLE)"]),
]


@pytest.mark.parametrize("sig,inputs,words", BAD, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD)])
def test_bad_input_names_the_field(sig: str, inputs: dict, words: list[str]) -> None:
    plan = build_plan(MV, SIGS[sig])
    with pytest.raises(InvalidInput) as err:
        validate(plan, inputs, MAX_BATCH)
    message = err.value.message
    for word in words:
        assert word in message, message
    assert message.endswith(".") and message.count(". ") == 0, message  # one sentence
    assert err.value.status == 400


def test_good_inputs_are_converted_to_the_signature_dtypes() -> None:
    checked = validate(build_plan(MV, SIGS["serving_default"]),
                       good(left=["ab", b"\xc3\xa9"], right=np.array(["é", "x"])), MAX_BATCH)
    assert checked.batch_size == 2
    assert checked.arrays["left"].dtype == object
    assert list(checked.arrays["left"]) == [b"ab", b"\xc3\xa9"]
    assert list(checked.arrays["right"]) == ["é".encode(), b"x"]
    assert checked.arrays["aux"].dtype == np.float32  # ints accepted for a float input
    assert checked.arrays["aux"][0].tolist() == [1, 2, 3, 4, 5]


def test_ragged_ids_are_padded_with_zeros_only_where_the_card_allows() -> None:
    plan = build_plan(MV, SIGS["ids"])
    assert plan.inputs["left"].padded and not build_plan(MV, SIGS["misc"]).inputs["m"].padded
    checked = validate(plan, good("ids", left=[[3, 4.0], [5]]), MAX_BATCH)
    assert checked.arrays["left"].dtype == np.int32
    assert checked.arrays["left"].tolist() == [[3, 4], [5, 0]]
    assert checked.arrays["right"].tolist() == [[7, 0, 0], [2, 3, 4]]
    # Trailing padding beyond max_tokens is not content: accepted.
    padded = np.zeros((2, 12), np.int32)
    padded[:, :3] = 1
    assert validate(plan, good("ids", left=padded), MAX_BATCH).arrays["left"].shape == (2, 12)


def test_without_card_padding_is_not_allowed() -> None:
    plan = build_plan(ModelVersion("foreign", 1, SIGS), SIGS["ids"])
    with pytest.raises(InvalidInput, match="Input 'left' is ragged"):
        validate(plan, good("ids"), MAX_BATCH)


def test_output_filter_resolution() -> None:
    plan = build_plan(MV, SIGS["serving_default"])
    assert resolve_filter(plan, OutputFilter()) == ()
    assert resolve_filter(plan, OutputFilter(("match",))) == ("match", "match_label")
    assert resolve_filter(plan, OutputFilter(("size", "size"))) == ("size",)
    with pytest.raises(InvalidInput, match="Unknown head 'nope' in the output filter"):
        resolve_filter(plan, OutputFilter(("nope",)))


def test_output_filter_of_exact_names() -> None:
    """OIP v2 and TF Serving's gRPC API answer exactly the names asked for and reject a
    repeat, in their own words; the rule is the same one."""
    plan = build_plan(MV, SIGS["serving_default"])
    exact = OutputFilter(("match", "size"), with_labels=False, allow_duplicates=False)
    assert resolve_filter(plan, exact) == ("match", "size")
    with pytest.raises(InvalidInput, match="named twice"):
        resolve_filter(plan, OutputFilter(("size", "size"), allow_duplicates=False))


def test_batchability_follows_the_specs() -> None:
    assert build_plan(MV, SIGS["serving_default"]).batchable
    assert not build_plan(MV, SIGS["scalar"]).batchable  # output without a batch dim
    shape_key = validate(build_plan(MV, SIGS["ids"]), good("ids"), MAX_BATCH).shape_key
    assert shape_key == (("aux", (5,)),)  # padded inputs do not split batches
