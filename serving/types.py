"""The typed vocabulary every layer of the gateway shares.

Specs of signatures and tensors, model versions and their status: backends build
them, the core validates against them, and each protocol renders them in its own
wire format. Nothing here knows about HTTP, gRPC or TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# TF Serving's model version states (tensorflow_serving/apis/get_model_status.proto).
VERSION_STATES = ("UNKNOWN", "START", "LOADING", "AVAILABLE", "UNLOADING", "END")
# The signature an empty signature name means (tensorflow/python/saved_model/
# signature_constants.py DEFAULT_SERVING_SIGNATURE_DEF_KEY); which one serves a request
# is serving/core/signatures.py's rule.
DEFAULT_SIGNATURE = "serving_default"


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output of a signature, as TF Serving's metadata describes it.

    dtype: TensorFlow's enum name ("DT_STRING", "DT_FLOAT", "DT_INT32", ...).
    shape: dims with None for unknown sizes (-1 on the wire); None for unknown rank.
    tensor_name: the graph tensor name TF Serving reports ("serving_default_posts:0").
    """

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None
    tensor_name: str = ""


@dataclass(frozen=True)
class SignatureSpec:
    name: str
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]
    method_name: str = "tensorflow/serving/predict"

    @property
    def batchable(self) -> bool:
        """Every input and output has a free leading dimension: the one the core batches
        over, and the one OIP's model configuration leaves out (max_batch_size > 0)."""
        tensors = [*self.inputs.values(), *self.outputs.values()]
        return bool(tensors) and all(t.shape is not None and len(t.shape) >= 1
                                     and t.shape[0] is None for t in tensors)


@dataclass(frozen=True)
class VersionStatus:
    version: int
    state: str = "AVAILABLE"
    error_code: str = "OK"
    error_message: str = ""


@dataclass(frozen=True)
class ModelVersion:
    """A loaded, servable model version: what the core needs to validate and format.

    card: the export's `assets.extra/model_card.json`, or None for a foreign
    SavedModel (then everything is described from its signatures).
    """

    name: str
    version: int
    signatures: Mapping[str, SignatureSpec]
    card: ModelCard | None = None  # parsed once when the version loads
    labels: Mapping[str, int] = field(default_factory=dict)  # version label -> version


# -- the model card ------------------------------------------------------------------------
HEAD_KINDS = ("regression", "binary", "multiclass")


@dataclass(frozen=True)
class HeadInfo:
    """One head of a model: its kind, class labels, unit (from the model card), or just an
    output name (`kind="output"`) for a SavedModel without a card."""

    name: str
    kind: str = "output"
    labels: tuple[str, ...] = ()
    unit: str = ""
    description: str = ""

    def label_names(self, width: int) -> list[str]:
        """Labels of a class head; index names for the classes the card does not name."""
        names = list(self.labels[:width])
        return names + [str(i) for i in range(len(names), width)]


@dataclass(frozen=True)
class InputCard:
    """What the card says about one input: text limits or a padded token-id sequence."""

    name: str
    kind: str = ""                     # text | floats | image | ... (the card's words)
    max_tokens: int | None = None
    vocab_size: int | None = None      # token ids are valid in [0, vocab_size)
    padded_sequence: bool = False
    description: str = ""


@dataclass(frozen=True)
class ModelCard:
    """`assets.extra/model_card.json`, parsed once when a version loads.

    `inputs` describe the raw (`serving_default`) inputs, `id_inputs` the token-id
    inputs of the `ids` signature; `raw` keeps the whole document for clients that
    want it verbatim (the gRPC metadata's `model_card_json`).
    """

    description: str = ""
    inputs: Mapping[str, InputCard] = field(default_factory=dict)
    id_inputs: Mapping[str, InputCard] = field(default_factory=dict)
    heads: tuple[HeadInfo, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def head(self, name: str) -> HeadInfo | None:
        return next((h for h in self.heads if h.name == name), None)

    @classmethod
    def from_json(cls, doc: Any) -> ModelCard | None:
        """The card of a parsed JSON document; None when it is not a card at all."""
        if not isinstance(doc, dict):
            return None
        return cls(description=str(doc.get("description") or ""),
                   inputs=_input_cards(doc.get("inputs")),
                   id_inputs=_input_cards(doc.get("id_inputs")),
                   heads=tuple(_head(h) for h in doc.get("heads") or []
                               if isinstance(h, dict) and isinstance(h.get("name"), str)),
                   raw=doc)


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else None


def _input_cards(items: Any) -> dict[str, InputCard]:
    cards = {}
    for item in items or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            cards[item["name"]] = InputCard(
                name=item["name"], kind=str(item.get("kind") or ""),
                max_tokens=_positive_int(item.get("max_tokens")),
                vocab_size=_positive_int(item.get("vocab_size")),
                padded_sequence=bool(item.get("padded_sequence")),
                description=str(item.get("description") or ""))
    return cards


def _head(doc: dict[str, Any]) -> HeadInfo:
    kind = doc.get("kind") if doc.get("kind") in HEAD_KINDS else "output"
    return HeadInfo(name=doc["name"], kind=kind,
                    labels=tuple(str(x) for x in doc.get("labels") or []),
                    unit=str(doc.get("unit") or ""),
                    description=str(doc.get("description") or ""))


# -- what the core answers (each protocol renders these in its own wire format) ------------


@dataclass(frozen=True)
class InputInfo:
    """One input of a model's default signature, as the model listing describes it."""

    name: str
    dtype: str                                  # TF enum name
    kind: str                                   # the card's word, else string | float | ...
    shape: tuple[int, ...] | None               # -1 for any size; None for unknown rank
    max_tokens: int | None = None               # text longer than this is truncated
    description: str = ""


@dataclass(frozen=True)
class ModelInfo:
    """One served model: versions, labels, inputs, heads (the card's, else its outputs)."""

    name: str
    versions: tuple[VersionStatus, ...] = ()
    labels: Mapping[str, int] = field(default_factory=dict)
    inputs: tuple[InputInfo, ...] = ()
    heads: tuple[HeadInfo, ...] = ()
    signatures: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class ClassScore:
    """A class head's answer for one example: the best label, its probability, all of them."""

    label: str
    probability: float
    distribution: Mapping[str, float]


@dataclass(frozen=True)
class Profile:
    """The profiler's answer for one author."""

    age: float                                  # years
    income: ClassScore
    gender: ClassScore


class ScoredAnswer(NamedTuple):
    """One answer word of the qa model with its probability (best first in a list)."""

    answer: str
    score: float
