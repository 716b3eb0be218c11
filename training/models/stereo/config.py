"""The `stereo` model's config: its defaults and the test suite's preset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from training.config import ModelConfig


@dataclass
class StereoConfig(ModelConfig):
    """Dual-camera model (model.py); not one of the default four."""

    model: ClassVar[str] = "stereo"
    image_size: int = 32        # both views are resized to image_size x image_size RGB
    # The shared vision model: "small" (a few convolutions; trains in about a minute on
    # 2 CPUs) or "xception" (keras.applications.Xception's convolutional base, weights=None:
    # 21M weights, nothing downloaded; views smaller than 71 pixels are enlarged to 71).
    base: str = "small"
    filters: int = 16           # the small base's first convolution (then 2x)
    match_filters: int = 32     # convolution over both views' merged features
    match_width: int = 5        # its horizontal extent in feature-map cells
    units: int = 64
    dropout: float = 0.0
    # Both heads matter: disparity learnt at std 1, same_object's crossentropy ~0.7 at start.
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {"disparity": 1.0, "same_object": 1.0})
    learning_rate: float = 2e-3
    epochs: int = 12
    batch_size: int = 32
    examples: int = 3000
    vocab_size: int = 2        # no text inputs: the (empty) vocabulary every export tracks


# Fewer pairs and epochs for the test suite: about 15 s on 2 loaded cores, disparity MAE
# ~0.4 px against the mean's ~2 (same_object barely starts to learn in 4 epochs).
TEST_PRESET: dict[str, Any] = {"examples": 1000, "epochs": 4}
