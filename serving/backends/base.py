"""The one interface every model runtime implements.

A transport never calls a backend directly: `serving/core/` does. A backend knows
nothing about HTTP or the gateway's gRPC API; it raises `serving.errors` types.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

import numpy as np

# The typed values live in serving/types.py; re-exported for the backends' convenience.
from serving.types import (  # noqa: F401
    VERSION_STATES,
    ModelVersion,
    SignatureSpec,
    TensorSpec,
    VersionStatus,
)


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
