"""The similarity model's frozen English vectors (WordLlama's table, read from its wheel)
and the vocabulary they let it take beyond the training data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from training.data import english_vectors
from training.models import config_for
from training.models.similarity.model import build_model, complete_vocabulary, initialize

pytestmark = pytest.mark.timeout(300)


def _cos(v: np.ndarray, a: int, b: int) -> float:
    return float(v[a] @ v[b] / (np.linalg.norm(v[a]) * np.linalg.norm(v[b])))


def test_usage_puts_related_words_together() -> None:
    words = ["", "price", "cost", "dog", "forty", "40", "pancakes"]
    v = english_vectors.word_vectors(words)
    assert v.shape == (len(words), english_vectors.DIM) and v.dtype == np.float32
    assert not v[0].any()  # padding has no token
    # scaled like the WordNet start vectors: 0.05 a component on average
    assert np.linalg.norm(v[1:], axis=1) == pytest.approx(0.05 * 16, rel=1e-4)
    assert _cos(v, 1, 2) > 0.5 > 0.1 > _cos(v, 1, 3)  # price ~ cost, not dog
    assert _cos(v, 4, 5) > 0.5 > 0.1 > _cos(v, 4, 3)  # forty ~ 40
    assert v[6].any()  # several tokens ("▁p", "anc", "akes"), one mean


def test_everyday_words_are_frequent_first_and_inflected() -> None:
    words = english_vectors.everyday_words()
    assert len(words) == len(set(words)) > 40000
    assert all(w.isalpha() and w == w.lower() for w in words)
    rank = {w: i for i, w in enumerate(words)}
    assert rank["have"] < rank["ticket"] < rank["laptop"]
    # WordNet's exception lists and the regular forms
    assert {"went", "children", "better", "tickets", "makes", "making", "cities"} <= set(words)


def test_the_vocabulary_keeps_the_data_first_and_tops_up_to_vocab_size() -> None:
    cfg = dataclasses.replace(config_for("similarity"), vocab_size=1000, everyday_vocab=600)
    adapted = ["", "[UNK]"] + [f"tok{i}" for i in range(900)] + ["have"]
    vocab = complete_vocabulary(cfg, adapted)
    assert len(vocab) == len(set(vocab)) == 1000
    assert vocab[:400] == adapted[:400]  # the data's most frequent tokens, in order
    assert "tok400" not in vocab and "have" in vocab[400:]
    off = dataclasses.replace(cfg, everyday_vocab=0)
    assert complete_vocabulary(off, adapted) == adapted


def test_the_embedding_starts_from_them_and_needs_their_size() -> None:
    cfg = dataclasses.replace(config_for("similarity"), vocab_size=8)
    vocab = ["", "[UNK]", "price", "cost", "dog", "cat", "forty", "40"]
    model = build_model(cfg)
    initialize(model, cfg, vocab)
    (weights,) = model.get_layer("encoder").get_layer("embedding").get_weights()
    np.testing.assert_allclose(weights, english_vectors.word_vectors(vocab))
    assert not model.get_layer("encoder").get_layer("embedding").trainable
    small = dataclasses.replace(cfg, embedding_dim=64)
    with pytest.raises(ValueError, match="embedding_dim 256"):
        initialize(build_model(small), small, vocab)
