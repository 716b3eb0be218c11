"""The typed vocabulary every layer of the gateway shares.

Specs of signatures and tensors, model versions and their status: backends build
them, the core validates against them, and each protocol renders them in its own
wire format. Nothing here knows about HTTP, gRPC or TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# TF Serving's model version states (tensorflow_serving/apis/get_model_status.proto).
VERSION_STATES = ("UNKNOWN", "START", "LOADING", "AVAILABLE", "UNLOADING", "END")


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
    card: Mapping[str, Any] | None = None
    labels: Mapping[str, int] = field(default_factory=dict)  # version label -> version
