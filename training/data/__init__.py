"""Training data: the `Examples` container, file-reading helpers and the English data
(WordNet lexicon, sentence templates, evaluation sets) the text rooms share.

Each model's own generator and file loader live in its room (training/models/NAME/);
`training.models.generate` and `load_file` find them by name. Importing this package
does not import TensorFlow (only `Examples.to_dataset` does).
"""

from __future__ import annotations

from training.data.examples import Examples
from training.data.files import DataFileError

__all__ = ["DataFileError", "Examples"]
