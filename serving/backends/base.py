"""The one interface every model runtime implements.

A transport never calls a backend directly: `serving/core/` does. A backend knows
nothing about HTTP or the gateway's gRPC API; it raises `serving.errors` types.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from serving.backends.model_config import ModelEntry
from serving.errors import Unimplemented

# The typed values live in serving/types.py; re-exported for the backends' convenience.
from serving.types import (  # noqa: F401
    VERSION_STATES,
    ModelVersion,
    SignatureSpec,
    TensorSpec,
    VersionStatus,
)

# `listener(digest, problems)`: this process applied the config file whose bytes have that
# digest; `problems` names, per configured model, versions that failed to load.
ConfigListener = Callable[[str, Mapping[str, Sequence[str]]], None]


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

    # -- model management (optional: serving/core/management.py) -----------------------
    def reconfigure(self, current: Mapping[str, ModelEntry],
                    new: Mapping[str, ModelEntry], timeout_s: float) -> None:
        """Accept `new` in place of `current` before the gateway writes it, or raise the
        runtime's error for it (TF Serving's rules: a version label names an AVAILABLE
        version). A backend whose runtime holds its own config hands `new` over here."""
        raise Unimplemented(f"The {self.name} backend does not support model management.")

    def apply_config(self) -> str:
        """Bring this process in line with the config file now (load, unload, relabel);
        returns the digest of the file it applied ("" when there is none)."""
        raise Unimplemented(f"The {self.name} backend does not support model management.")

    def add_config_listener(self, listener: ConfigListener) -> None:
        """Call `listener` each time this process has applied the config file (a backend
        without model management never does)."""
        return None
