"""`similarity`: a Siamese model, one shared LSTM encoder applied to both texts.

The encoder is a model of its own (`build_encoder`) and one instance of it is
called on `left` and on `right`, so both sides are encoded by the same weights.
Because similarity is symmetric, whatever is built from the two encodings is merged
with symmetric operations (a sum, an absolute difference, a product) rather than
concatenated: swapping the inputs gives exactly the same output.

Two ways to compare (`cfg.compare`):
- "vectors": the encoder gives one sentence vector, the LSTM's last state, by default
  concatenated with the mean of the word vectors (`cfg.pooling`, "last+mean": the
  vectors are pretrained, and their mean keeps which words, and so which synonyms, a
  sentence holds); the head sees |a - b| and a * b.
- "align" (the default): the encoder gives a vector per token (its word vector and the
  LSTM's state there), and each token of one side attends over the other side's tokens
  (soft alignment, as ESIM does: Chen et al. 2017, "Enhanced LSTM for Natural Language
  Inference"). A token compared with what it aligns to, [x, x~, x - x~, x * x~], tells
  whether the other sentence says it too: "bigger" finds no match in "is london older
  than paris" however many other words the two share. Each side's comparisons are
  pooled (max and mean), and the two sides merged by their sum and absolute difference.
  On the dev half of the hand-written everyday pairs it scored 0.67 where "vectors"
  scored 0.59 on the same pairs (docs/wordnet-pairs.md).

The shared embedding holds pretrained English word vectors, frozen (`initialize`,
training/data/english_vectors.py), over the training data's tokens and everyday words
beyond them (`complete_vocabulary`).

Dropout on the word vectors the encoder reads (`cfg.embedding_dropout`) and on the
aligned comparisons (`cfg.compare_dropout`) keeps the model from fitting the generated
pairs' templates word for word: each step drops about a third of every word vector's
dimensions (a new draw for each side), so the few dimensions that set the templates' fillers
apart cannot decide alone. Inactive at inference: the export computes the same function.

`SimilarityModel` trains with the focal loss (`cfg.focal_gamma`; Lin et al. 2017,
"Focal Loss for Dense Object Detection"): each pair's cross-entropy is weighted by
(1 - p_t)^gamma, so the pairs the model already gets right count little and its
mistakes a lot: hard-example mining inside every batch.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from training.models.similarity.config import SimilarityConfig
from training.models.blocks import token_input

DESCRIPTION = "Semantic similarity of two short texts (paraphrase probability)."
INPUTS = {
    "left": {"kind": "text", "description": "one text"},
    "right": {"kind": "text", "description": "the other text"},
}
HEADS = {"similarity": {"kind": "binary", "description": "probability that both say the same"}}


def build_inputs(cfg: SimilarityConfig) -> dict[str, keras.KerasTensor]:
    return {name: token_input(name) for name in INPUTS}


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


class Align(layers.Layer):
    """Soft alignment: for each token of `x` ([batch, n, d]), the mean of the tokens of
    `y` ([batch, m, d]) weighted by the softmax of their dot products, over `y`'s unmasked
    tokens (`y_mask`, [batch, m])."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, y, y_mask):
        scores = ops.einsum("bid,bjd->bij", x, y)
        scores = ops.where(ops.expand_dims(y_mask, 1), scores, -1e9)
        return ops.einsum("bij,bjd->bid", ops.softmax(scores, axis=-1), y)

    def compute_mask(self, *args, **kwargs):
        return None


class MaskedMaxMean(layers.Layer):
    """[batch, n, d] -> [batch, 2d]: max and mean over the tokens `mask` keeps (zeros for a
    text with none)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, x, mask):
        keep = ops.expand_dims(mask, -1)
        count = ops.sum(ops.cast(keep, x.dtype), axis=1)
        mean = ops.sum(ops.where(keep, x, 0.0), axis=1) / ops.maximum(count, 1.0)
        top = ops.where(count > 0, ops.max(ops.where(keep, x, -1e4), axis=1), 0.0)
        return ops.concatenate([top, mean], axis=-1)

    def compute_mask(self, *args, **kwargs):
        return None


class SimilarityModel(keras.Model):
    """The Siamese model; trains with the focal loss when `focal_gamma` > 0 (validation
    and evaluation report the plain cross-entropy, so that the best epoch is chosen on
    it)."""

    focal_gamma: float = 0.0

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not self.focal_gamma or not training or sample_weight is not None:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        t = ops.reshape(ops.cast(y["similarity"], "float32"), (-1,))
        p = ops.clip(ops.reshape(y_pred["similarity"], (-1,)), 1e-7, 1.0 - 1e-7)
        p_t = t * p + (1.0 - t) * (1.0 - p)
        weight = ops.stop_gradient((1.0 - p_t) ** self.focal_gamma)
        # normalized to mean 1 in each batch: the loss keeps cross-entropy's scale
        return ops.mean(weight * -ops.log(p_t)) / ops.maximum(ops.mean(weight), 1e-7)


def build_encoder(cfg: SimilarityConfig) -> keras.Model:
    ids = keras.Input((None,), dtype="int32", name="ids")
    emb = layers.Embedding(cfg.vocab_size, cfg.embedding_dim, mask_zero=True,
                           trainable=cfg.embedding_trainable, name="embedding")(ids)
    if cfg.embedding_dropout:
        emb = layers.Dropout(cfg.embedding_dropout, name="embedding_dropout")(emb)
    if cfg.compare == "align":
        seq = layers.LSTM(cfg.units, return_sequences=True, name="lstm")(emb)
        tokens = layers.Concatenate(name="tokens")([emb, seq])
        return keras.Model(ids, tokens, name="encoder")
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


def encode(inputs: dict[str, keras.KerasTensor], encoder: keras.Model,
           cfg: SimilarityConfig) -> keras.KerasTensor:
    a, b = encoder(inputs["left"]), encoder(inputs["right"])
    if cfg.compare == "vectors":
        return layers.Concatenate(name="merge")([ops.abs(a - b), a * b])
    if cfg.compare != "align":
        raise ValueError(f"compare must be 'align' or 'vectors', got {cfg.compare!r}")
    mask_a, mask_b = ops.not_equal(inputs["left"], 0), ops.not_equal(inputs["right"], 0)
    align = Align(name="align")
    compared = layers.Dense(2 * cfg.dense_units, activation="relu", name="compare")
    pool = MaskedMaxMean(name="pool")
    drop = layers.Dropout(cfg.compare_dropout, name="compare_dropout") \
        if cfg.compare_dropout else None

    def side(x, aligned, mask):
        features = layers.Concatenate()([x, aligned, x - aligned, x * aligned])
        if drop is not None:
            features = drop(features)
        return pool(compared(features), mask)

    va = side(a, align(a, b, mask_b), mask_a)
    vb = side(b, align(b, a, mask_a), mask_b)
    return layers.Concatenate(name="merge")([va + vb, ops.abs(va - vb)])


def initialize(model: keras.Model, cfg: SimilarityConfig, vocabulary: list[str]) -> None:
    """Start the shared embedding from pretrained word vectors (cfg.embedding_init)."""
    if cfg.embedding_init == "random":
        return
    embedding = model.get_layer("encoder").get_layer("embedding")
    (weights,) = embedding.get_weights()
    vocab = vocabulary[: weights.shape[0]]
    if cfg.embedding_init == "wordllama":
        from training.data.english_vectors import DIM, word_vectors

        if weights.shape[1] != DIM:
            raise ValueError(f"embedding_init 'wordllama' needs embedding_dim {DIM}, "
                             f"got {weights.shape[1]}")
        vectors = word_vectors(vocab)
    elif cfg.embedding_init == "wordnet":
        from training.data import wordnet, wordnet_vectors

        vectors = wordnet_vectors.word_vectors(wordnet.load(), vocab, weights.shape[1])
    else:
        raise ValueError("embedding_init must be 'wordllama', 'wordnet' or 'random', "
                         f"got {cfg.embedding_init!r}")
    weights[: len(vectors)] = vectors
    embedding.set_weights([weights])


def complete_vocabulary(cfg: SimilarityConfig, vocabulary: list[str]) -> list[str]:
    """The training data's most frequent tokens (all but `everyday_vocab` rows), then
    everyday English words up to `vocab_size` (training/data/english_vectors.py)."""
    if cfg.everyday_vocab <= 0:
        return vocabulary
    from training.data.english_vectors import everyday_words

    kept = vocabulary[: max(cfg.vocab_size - cfg.everyday_vocab, 2)]
    have = set(kept)
    extra = [w for w in everyday_words() if w not in have]
    return kept + extra[: cfg.vocab_size - len(kept)]


def build_model(cfg: SimilarityConfig) -> keras.Model:
    inputs = build_inputs(cfg)
    x = encode(inputs, build_encoder(cfg), cfg)
    x = layers.Dense(cfg.dense_units, activation="relu", name="dense")(x)
    similarity = layers.Dense(1, activation="sigmoid", name="similarity")(x)
    model = SimilarityModel(inputs, {"similarity": similarity}, name="similarity")
    model.focal_gamma = float(cfg.focal_gamma)
    return model
