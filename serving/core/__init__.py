"""Transport-free core: model registry access, validation, batching, head formatting."""

from __future__ import annotations

from serving.core.service import InferenceService, PredictCall, PredictResult

__all__ = ["InferenceService", "PredictCall", "PredictResult"]
