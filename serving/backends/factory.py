"""Pick the model runtime named by `settings.backend`.

Backends are imported lazily: the `tfserving` backend pulls in gRPC stubs, the
embedded one TensorFlow (and only in its `start()`), and neither belongs in a
process that does not use it.
"""

from __future__ import annotations

from serving.backends.base import Backend
from serving.config import Settings

BACKENDS = ("embedded", "tfserving")


def create_backend(settings: Settings) -> Backend:
    """A backend for `settings.backend`; nothing is loaded until its `start()`."""
    if settings.backend == "embedded":
        from serving.backends.embedded import EmbeddedBackend

        return EmbeddedBackend(settings)
    if settings.backend == "tfserving":
        from serving.backends.tfserving import TFServingBackend

        return TFServingBackend(settings)
    raise ValueError(f"MULTIHEAD_BACKEND must be one of {', '.join(BACKENDS)}; "
                     f"got {settings.backend!r}.")
