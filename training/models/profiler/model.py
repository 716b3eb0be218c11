"""`profiler`: one text in, three heads out (age, income band, gender).

The course's multi-output model: Embedding + a Conv1D/MaxPooling1D stack +
GlobalMaxPooling1D + Dense, then one head per target, each with its own loss
and a configurable loss weight (age 0.25, income 1, gender 10 by default).
The `age` head is trained on normalized ages; the export de-normalizes it.

`conv_layers` Conv1D layers with a MaxPooling1D between each two. The course
stacks five convolutions and two MaxPooling1D(5); on these small data sets
and a few epochs (measured on the synthetic profiler data, 2.1k authors) that
stack, and ReLU, learned only the gender head: gender's loss weight 10 steers
the shared filters first, and ReLU filters it does not need die behind the
global max pool. One convolution with ELU, a Dense layer and a higher learning
rate learn all three heads; `--set conv_layers=3` gives the deeper stack.
Inputs are padded to a fixed length (max_tokens) in the graph either way.
"""

from __future__ import annotations

import keras
from keras import layers

from training.models.profiler.config import ProfilerConfig

DESCRIPTION = "Author profiling from posts: age, income band, gender."
INPUTS = {"posts": {"kind": "text",
                    "description": "the author's posts, joined by newlines"}}
HEADS = {
    "age": {"kind": "regression", "unit": "years", "description": "the author's age"},
    "income": {"kind": "multiclass", "description": "the author's income band"},
    "gender": {"kind": "binary", "description": "the author's gender"},
}


def min_tokens(cfg: ProfilerConfig) -> int:
    """Shortest padded input the conv stack accepts (>= 1 step after the last conv)."""
    n = cfg.kernel_size
    for _ in range(cfg.conv_layers - 1):
        n = n * cfg.pool_size + cfg.kernel_size - 1
    return n


def build_inputs(cfg: ProfilerConfig) -> dict[str, keras.KerasTensor]:
    return {"posts": keras.Input((cfg.max_tokens["posts"],), dtype="int32", name="posts")}


def encode(ids: keras.KerasTensor, cfg: ProfilerConfig) -> keras.KerasTensor:
    x = layers.Embedding(cfg.vocab_size, cfg.embedding_dim, name="embedding")(ids)
    for i in range(cfg.conv_layers):
        if i:
            x = layers.MaxPooling1D(cfg.pool_size, name=f"pool{i}")(x)
        x = layers.Conv1D(cfg.filters, cfg.kernel_size, activation=cfg.activation,
                          name=f"conv{i + 1}")(x)
    x = layers.GlobalMaxPooling1D(name="global_pool")(x)
    x = layers.Dense(cfg.units, activation=cfg.activation, name="dense")(x)
    # Gender (weight 10) overfits first and would make val_loss, which picks the
    # checkpoint, rise while age and income are still learning.
    return layers.Dropout(cfg.dropout, name="dropout")(x)


def build_model(cfg: ProfilerConfig) -> keras.Model:
    need = min_tokens(cfg)
    if cfg.max_tokens["posts"] < need:
        raise ValueError(f"profiler max_tokens.posts must be >= {need} for its conv stack "
                         f"(kernel {cfg.kernel_size}, pool {cfg.pool_size})")
    inputs = build_inputs(cfg)
    x = encode(inputs["posts"], cfg)
    n_bands = len(cfg.labels.get("income") or []) or 4
    outputs = {
        "age": layers.Dense(1, name="age")(x),
        "income": layers.Dense(n_bands, activation="softmax", name="income")(x),
        "gender": layers.Dense(1, activation="sigmoid", name="gender")(x),
    }
    return keras.Model(inputs, outputs, name="profiler")
