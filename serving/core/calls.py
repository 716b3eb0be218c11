"""What a protocol room hands the core, and what it gets back: one typed request per call.

A room parses only its wire format. It describes where a request came from (`Origin`:
protocol, transport, deadline), which model it asks for, and hands over a *decoder*
that turns its wire tensors into named arrays once the core has resolved the signature
(TF Serving passes a signature callback into its JSON decoder the same way,
tensorflow_serving/model_servers/http_rest_api_handler.cc). The core does the rest, in
one place for every protocol (serving/core/service.py).

The rules that used to live in several rooms live here: which versions a request may
name (`check_version`), how an output filter reads (`OutputFilter`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from serving.core.deadline import Deadline
from serving.errors import InvalidInput, quote
from serving.request_context import RequestRecord

if TYPE_CHECKING:
    from serving.core.validation import SignaturePlan
    from serving.types import ModelCard, SignatureSpec

INT64_MAX = 2**63 - 1


def check_version(value: Any, field_name: str = "version") -> int | None:
    """The one version rule: a version is an int64 >= 0 (TF Serving's: version 0 names the
    directory `0` like any other number), given as an integer or as decimal text; None
    and "" mean "the label's, or the newest AVAILABLE"."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise InvalidInput(f"{field_name} '{value[:40]}' must be a non-negative integer.")
        value = int(value)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field_name} must be a non-negative integer.")
    if not 0 <= value <= INT64_MAX:
        raise InvalidInput(f"{field_name} {value} must be a non-negative integer that fits "
                           "in int64.")
    return value


@dataclass(frozen=True)
class ModelRef:
    """The model a request asks for: a name and at most one of a version or a label."""

    name: str
    version: int | None = None     # None: the label's, or the newest AVAILABLE
    label: str | None = None

    @classmethod
    def check(cls, name: Any, version: Any = None, label: Any = None,
              fields: tuple[str, str, str] = ("model", "version", "label")) -> ModelRef:
        """The one check of a model reference from any wire; `fields` are that wire's
        names for the three (the gateway's gRPC API says `model_spec.name`, ...)."""
        name_field, version_field, label_field = fields
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{name_field} must be a non-empty string naming a served "
                               "model.")
        version = check_version(version, version_field)
        if label is not None and (not isinstance(label, str) or not label):
            raise InvalidInput(f"{label_field} must be a non-empty string when it is set.")
        if version is not None and label is not None:
            raise InvalidInput(f"Give at most one of {version_field} and {label_field}.")
        return cls(name, version, label)


@dataclass(frozen=True)
class Origin:
    """Where a request came from: the metric labels and the deadline of every call, and
    the request's record (its id, trace headers and outcome: serving/request_context.py)."""

    protocol: str       # tfserving | v2 | multihead
    transport: str      # rest | grpc
    deadline: Deadline
    record: RequestRecord = field(default_factory=RequestRecord, compare=False)


class FilterWording:
    """The sentences of a rejected output filter. A room whose protocol fixes its own
    wording (TF Serving's gRPC API) overrides them; the rule stays the core's."""

    def unknown(self, index: int, name: str, plan: SignaturePlan) -> str:
        return (f"Unknown head {quote(name)} in the output filter; model '{plan.model}' "
                f"has: {', '.join(plan.outputs)}.")

    def duplicate(self, index: int, name: str) -> str:
        return f"Head {quote(name)} is named twice in the output filter."


@dataclass(frozen=True)
class OutputFilter:
    """Which outputs to compute and answer; empty means every output.

    `with_labels`: a head `H` brings its `H_label` output along (the "heads" extension of
    the REST API and the gateway's gRPC API); protocols that answer exactly the names
    asked for (OIP v2, TF Serving's gRPC `output_filter`) turn it off.
    `allow_duplicates`: a repeated name is dropped instead of rejected.
    """

    names: tuple[str, ...] = ()
    with_labels: bool = True
    allow_duplicates: bool = True
    wording: FilterWording = field(default_factory=FilterWording, compare=False)


Decoder = Callable[["SignaturePlan"], Mapping[str, Any]]


@dataclass(frozen=True)
class PredictCall:
    """One predict: the model (version or label), signature ("" = the default rule,
    serving/core/signatures.py), the room's decoder, and the output filter."""

    model: ModelRef
    decode: Decoder
    signature: str = ""
    outputs: OutputFilter = OutputFilter()


def arrays(inputs: Mapping[str, Any]) -> Decoder:
    """A decoder for inputs that are arrays already (the typed tasks, warm-up, tests)."""
    return lambda plan: inputs


@dataclass(frozen=True)
class PredictResult:
    model: str
    version: int
    signature: str                      # resolved name
    outputs: dict[str, np.ndarray]      # output name -> array, batch first (filtered)
    card: ModelCard | None = None       # the version's model card, for formatting
    spec: SignatureSpec | None = None   # the signature that ran (output dtypes)
