"""Text vectorization: Keras `TextVectorization` for training, the same ids in a SavedModel.

Training adapts one `TextVectorization` per model on the training split (all of
the model's text inputs share its vocabulary: the Siamese encoder must see the
same ids on both sides). Ids: 0 = padding, 1 = out-of-vocabulary.

The export graph does not embed the Keras layer: it looks the same vocabulary
up from a vocabulary file tracked as a SavedModel asset (so it lands in
`assets/`, where TF Serving expects vocabularies), after exactly the layer's
standardization and whitespace split. `tests/unit/training/test_export.py`
checks that both give the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

# keras/src/layers/preprocessing/text_vectorization.py, "lower_and_strip_punctuation".
STRIP_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
PAD_ID = 0
OOV_ID = 1


def standardize(text: tf.Tensor) -> tf.Tensor:
    return tf.strings.regex_replace(tf.strings.lower(text), STRIP_PUNCTUATION, "")


def make_vectorizer(vocab_size: int, texts: Iterable[np.ndarray] | None = None,
                    vocabulary: list[str] | None = None) -> keras.layers.TextVectorization:
    """A TextVectorization adapted on `texts` (arrays of str), or set to `vocabulary`.

    The output is ragged-free int ids padded per call to the longest sequence; the
    caller truncates or pads to the model's `max_tokens` (`fit_length`).
    """
    layer = keras.layers.TextVectorization(
        max_tokens=vocab_size, output_mode="int", standardize="lower_and_strip_punctuation",
        split="whitespace",
    )
    if vocabulary is not None and len(vocabulary) > 2:
        # get_vocabulary() starts with "" (pad) and "[UNK]" (OOV); set_vocabulary adds them.
        layer.set_vocabulary([t for t in vocabulary[2:]])
    elif texts is not None or vocabulary is not None:
        # A model without text inputs (or without any token) still gets a vocabulary, the
        # two reserved ids, which set_vocabulary refuses as empty: adapt on nothing.
        arrays = [np.asarray(t, dtype=object) for t in texts or []]
        corpus = np.concatenate(arrays) if arrays else np.array([""], dtype=object)
        layer.adapt(tf.constant(corpus.astype(str)), batch_size=512)
    # adapt() leaves built == False; build before anything tracks it.
    layer.build((None,))
    return layer


def save_vocabulary(layer: keras.layers.TextVectorization, path: str | Path) -> list[str]:
    vocab = list(layer.get_vocabulary())
    # One token per line; line number == id (line 0 is the empty padding token).
    Path(path).write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return vocab


def load_vocabulary(path: str | Path) -> list[str]:
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def fit_length(ids: tf.Tensor, max_tokens: int, pad: bool) -> tf.Tensor:
    """Truncate [batch, n] (or [n]) ids to max_tokens; with pad, also pad to exactly that.

    Without pad, sequences are still padded to at least one step: a batch of empty or
    punctuation-only texts would otherwise be [batch, 0], which an LSTM cannot run on
    (one masked padding step gives the encoder's initial state instead).
    """
    ids = ids[..., :max_tokens]
    length = tf.shape(ids)[-1]
    target = max_tokens if pad else tf.maximum(length, 1)
    paddings = tf.concat(
        [tf.zeros([tf.rank(ids) - 1, 2], tf.int32), [[0, target - length]]], axis=0
    )
    ids = tf.pad(ids, paddings, constant_values=PAD_ID)
    if pad:
        ids = tf.ensure_shape(ids, [None] * (ids.shape.rank - 1) + [max_tokens])
    return ids


# Line 0 of the asset vocabulary. The lookup-table initializer rejects empty
# lines, and a bracketed token can never come out of the punctuation stripping.
PAD_TOKEN = "[PAD]"


def write_lookup_vocabulary(vocab: list[str], path: str | Path) -> None:
    """The vocabulary file `VocabularyLookup` reads: line number == id."""
    lines = [PAD_TOKEN if i == PAD_ID else t for i, t in enumerate(vocab)]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


class VocabularyLookup(tf.Module):
    """In-graph tokenizer over a vocabulary file tracked as a SavedModel asset."""

    def __init__(self, vocab_path: str | Path, name: str | None = None) -> None:
        super().__init__(name=name)
        self.vocab_file = tf.saved_model.Asset(str(vocab_path))
        initializer = tf.lookup.TextFileInitializer(
            self.vocab_file,
            key_dtype=tf.string, key_index=tf.lookup.TextFileIndex.WHOLE_LINE,
            value_dtype=tf.int64, value_index=tf.lookup.TextFileIndex.LINE_NUMBER,
        )
        self.table = tf.lookup.StaticHashTable(initializer, default_value=OOV_ID)

    def __call__(self, text: tf.Tensor) -> tf.Tensor:
        """[batch] strings -> [batch, longest] int32 ids, 0-padded."""
        tokens = tf.strings.split(standardize(text))
        ids = tf.ragged.map_flat_values(self.table.lookup, tokens)
        return tf.cast(ids.to_tensor(default_value=PAD_ID), tf.int32)
