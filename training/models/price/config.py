"""The `price` model's config: its defaults and the test suite's preset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from training.config import ModelConfig


@dataclass
class PriceConfig(ModelConfig):
    """Multimodal price model (model.py); not one of the default four."""

    model: ClassVar[str] = "price"
    # The description's Conv1D + GlobalMaxPooling1D sees padding positions, so every
    # path (training batches, Keras predict, the exported graph) pads to max_tokens.
    pad_to_max: ClassVar[bool] = True
    vocab_size: int = 500
    embedding_dim: int = 16
    units: int = 32            # Dense units after merging the three branches
    text_filters: int = 16     # Conv1D filters over the description
    metadata_units: int = 16
    image_size: int = 32       # pictures are resized to image_size x image_size RGB
    inception_filters: int = 8
    residual_filters: int = 16
    residual_blocks: int = 1
    dense_layers: int = 1
    dropout: float = 0.0
    max_tokens: dict[str, int] = field(default_factory=lambda: {"description": 16})
    loss_weights: dict[str, float] = field(default_factory=lambda: {"price": 1.0})
    epochs: int = 8
    examples: int = 2000


# Smaller data and fewer epochs for the test suite; still enough to beat the
# acceptance thresholds (tests/unit/training/test_train.py).
TEST_PRESET: dict[str, Any] = {"examples": 1200, "epochs": 6}
