"""The `headline` model's config (headline engagement): its defaults and the test suite's preset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from training.config import ModelConfig


@dataclass
class HeadlineConfig(ModelConfig):
    model: ClassVar[str] = "headline"
    embedding_dim: int = 32
    units: int = 32
    dense_units: int = 32
    dense_layers: int = 2
    aux_dim: int = 5
    max_tokens: dict[str, int] = field(default_factory=lambda: {"headline": 24})
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {"main_output": 1.0, "aux_output": 0.2}
    )
    epochs: int = 8


# Smaller data and fewer epochs for the test suite; still enough to beat the
# acceptance thresholds (tests/unit/training/test_train.py).
TEST_PRESET: dict[str, Any] = {"examples": 1500, "epochs": 5}
