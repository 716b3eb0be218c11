"""`similarity`: a Siamese model, one shared LSTM encoder applied to both texts.

The encoder is a model of its own (`build_encoder`) and one instance of it is
called on `left` and on `right`, so both sides are encoded by the same weights.
Because similarity is symmetric, the encodings a and b are merged with
symmetric operations, |a - b| and a * b, rather than concatenated: swapping the
inputs gives exactly the same output. The encoder's sentence vector is the LSTM's
last state, by default concatenated with the mean of the word vectors
(`cfg.pooling`, "last+mean"): the default model's vectors start from WordNet's
synsets, and their mean keeps what the LSTM's last state blurs, which words, and so
which synonyms, a sentence holds.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from training.models.similarity.config import SimilarityConfig

DESCRIPTION = "Semantic similarity of two short texts (paraphrase probability)."
INPUTS = {
    "left": {"kind": "text", "description": "one text"},
    "right": {"kind": "text", "description": "the other text"},
}
HEADS = {"similarity": {"kind": "binary", "description": "probability that both say the same"}}


def build_inputs(cfg: SimilarityConfig) -> dict[str, keras.KerasTensor]:
    return {name: keras.Input((None,), dtype="int32", name=name) for name in INPUTS}


class MaskedMax(layers.Layer):
    """Max over the unmasked time steps ([batch, time, d] -> [batch, d])."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            inputs = ops.where(ops.expand_dims(ops.cast(mask, "bool"), -1), inputs, -1e4)
        return ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None


def build_encoder(cfg: SimilarityConfig) -> keras.Model:
    ids = keras.Input((None,), dtype="int32", name="ids")
    emb = layers.Embedding(cfg.vocab_size, cfg.embedding_dim, mask_zero=True,
                           trainable=cfg.embedding_trainable, name="embedding")(ids)
    pooling = cfg.pooling.split("+")
    parts = []
    if "max" in pooling:
        seq, last, _ = layers.LSTM(cfg.units, return_sequences=True, return_state=True,
                                   name="lstm")(emb)
        parts += [last, MaskedMax(name="max")(seq)]
    elif "bi" in pooling:
        parts.append(layers.Bidirectional(layers.LSTM(cfg.units), name="lstm")(emb))
    else:
        parts.append(layers.LSTM(cfg.units, name="lstm")(emb))
    if "mean" in pooling:
        parts.append(layers.GlobalAveragePooling1D(name="mean")(emb))
    x = parts[0] if len(parts) == 1 else layers.Concatenate(name="pool")(parts)
    return keras.Model(ids, x, name="encoder")


def encode(inputs: dict[str, keras.KerasTensor], encoder: keras.Model) -> keras.KerasTensor:
    a, b = encoder(inputs["left"]), encoder(inputs["right"])
    return layers.Concatenate(name="merge")([ops.abs(a - b), a * b])


def initialize(model: keras.Model, cfg: SimilarityConfig, vocabulary: list[str]) -> None:
    """Start the shared embedding from WordNet synset vectors (cfg.embedding_init)."""
    if cfg.embedding_init == "random":
        return
    if cfg.embedding_init != "wordnet":
        raise ValueError(
            f"embedding_init must be 'wordnet' or 'random', got {cfg.embedding_init!r}")
    from training.data import wordnet
    from training.data.wordnet_vectors import word_vectors

    embedding = model.get_layer("encoder").get_layer("embedding")
    (weights,) = embedding.get_weights()
    vectors = word_vectors(wordnet.load(), vocabulary[: weights.shape[0]], weights.shape[1])
    weights[: len(vectors)] = vectors
    embedding.set_weights([weights])


def build_model(cfg: SimilarityConfig) -> keras.Model:
    inputs = build_inputs(cfg)
    x = encode(inputs, build_encoder(cfg))
    x = layers.Dense(cfg.dense_units, activation="relu", name="dense")(x)
    similarity = layers.Dense(1, activation="sigmoid", name="similarity")(x)
    return keras.Model(inputs, {"similarity": similarity}, name="similarity")
