"""Training data: the `Examples` container, synthetic generators and file loaders.

Importing this package does not import TensorFlow (only `Examples.to_dataset` does).
"""

from __future__ import annotations

from training.data.examples import Examples
from training.data.loaders import DataFileError, load_file
from training.data.synthetic import GENERATORS, generate

__all__ = ["GENERATORS", "DataFileError", "Examples", "generate", "load_file"]
