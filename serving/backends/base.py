"""The one interface every model runtime implements.

A transport never calls a backend directly: `serving/core/` does. A backend knows
nothing about HTTP or the gateway's gRPC API; it raises `serving.errors` types.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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


class Backend(abc.ABC):
    """A model runtime. All methods are thread-safe."""

    name: str = "base"

    @abc.abstractmethod
    def start(self) -> None:
        """Begin loading models (called in each worker after fork, never in a master)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop background work and release models; idempotent."""

    @abc.abstractmethod
    def readiness(self) -> list[str]:
        """Reasons the backend is not ready; an empty list means ready."""

    def wait_ready(self, timeout: float = 60.0) -> bool:
        """Block until the initial load is over, at most `timeout` seconds; True when ready.

        Over means ready, or failed for good (then `readiness()` says why and the backend
        keeps retrying in the background). This default knows no failure: it waits for
        readiness or the timeout; backends that can tell a failure end the wait sooner.
        """
        deadline = time.monotonic() + timeout
        while self.readiness() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.readiness()

    @abc.abstractmethod
    def list_models(self) -> list[str]:
        """Names of the configured models, sorted."""

    @abc.abstractmethod
    def model_status(self, name: str, version: int | None = None,
                     label: str | None = None) -> list[VersionStatus]:
        """Status of every version of `name` (or of the one chosen). NotFound if unknown."""

    @abc.abstractmethod
    def resolve(self, name: str, version: int | None = None,
                label: str | None = None) -> ModelVersion:
        """The servable version: the given one, the label's, or the newest AVAILABLE.

        NotFound for an unknown model or version; InvalidInput for an unknown label;
        Unavailable if the model has no AVAILABLE version yet.
        """

    @abc.abstractmethod
    def predict(self, model: ModelVersion, signature: str,
                inputs: Mapping[str, np.ndarray], output_filter: Sequence[str] = (),
                timeout_s: float | None = None) -> dict[str, np.ndarray]:
        """Run one signature on already-validated named arrays; returns named arrays.

        An empty `output_filter` means every output.
        """
