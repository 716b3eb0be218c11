"""One preparation of a model's data for training, shared by `train` and `tune`.

`prepare(model, cfg, examples)` splits the examples into train / validation / held-out
test (fixed by `cfg.seed`), fills the config's data-derived fields (class labels per
head; mean and std of each regression target, std divided by
`cfg.regression_target_std`, so that the model learns targets of that std and the export
de-normalizes them), adapts the vectorizer on the training split's text, and builds the
training and validation datasets. A tuner's trials and a training run see exactly the
same targets: this is the one place that decides them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training.config import ModelConfig
from training.data.examples import Examples
from training.models import generate, load_file, room
from training.text import fit_length, make_vectorizer


@dataclass
class Prepared:
    cfg: ModelConfig                 # with labels and target_scaling from the data
    examples: Examples               # everything, before the split
    train: Examples
    validation: Examples
    test: Examples
    text_inputs: list[str]
    vectorizer: keras.layers.TextVectorization
    train_ds: tf.data.Dataset        # targets normalized, shuffled with cfg.seed
    val_ds: tf.data.Dataset


def load_data(model: str, cfg: ModelConfig, data_path: str | Path | None) -> Examples:
    """The user's file when given, else the room's generator named by `cfg.source`."""
    if data_path is not None:
        return load_file(model, data_path)
    return generate(model, cfg.examples, seed=cfg.seed, source=getattr(cfg, "source", None))


def target_scaling(cfg: ModelConfig, heads: dict[str, Any], train: Examples
                   ) -> dict[str, list[float]]:
    """[mean, std / regression_target_std] of each regression head's training targets."""
    return {h: [float(train.targets[h].mean()),
                float(train.targets[h].std() or 1.0) / cfg.regression_target_std]
            for h, s in heads.items() if s["kind"] == "regression"}


def prepare(model: str, cfg: ModelConfig, examples: Examples,
            vocabulary: list[str] | None = None) -> Prepared:
    """Split, scale, vectorize. With `vocabulary` (a resumed run) the config already holds
    the run's labels and scaling, and the vectorizer is set to that vocabulary."""
    r = room(model)
    missing = (set(r.inputs) - set(examples.inputs)) | (set(r.heads) - set(examples.targets))
    if missing:
        raise ValueError(f"data for {model} lacks {sorted(missing)}")
    train, validation, test = examples.split(cfg.validation_split, cfg.test_split, cfg.seed)
    text_inputs = r.inputs_of("text")
    if vocabulary is None:
        cfg = dataclasses.replace(
            cfg, labels={h: examples.labels.get(h) for h in r.heads},
            target_scaling=target_scaling(cfg, dict(r.heads), train))
        vectorizer = make_vectorizer(cfg.vocab_size, [train.inputs[n] for n in text_inputs])
        if r.complete_vocabulary is not None:
            vectorizer = make_vectorizer(cfg.vocab_size, vocabulary=r.complete_vocabulary(
                cfg, list(vectorizer.get_vocabulary())))
    else:
        vectorizer = make_vectorizer(cfg.vocab_size, vocabulary=vocabulary)
    vectorize = make_vectorize(cfg, vectorizer, text_inputs)
    train_ds = normalize_targets(train, cfg.target_scaling).to_dataset(
        cfg.batch_size, shuffle=True, seed=cfg.seed, vectorize=vectorize)
    val_ds = normalize_targets(validation, cfg.target_scaling).to_dataset(
        cfg.batch_size, shuffle=False, vectorize=vectorize)
    return Prepared(cfg, examples, train, validation, test, text_inputs, vectorizer,
                    train_ds, val_ds)


def make_vectorize(cfg: ModelConfig, vectorizer: keras.layers.TextVectorization,
                   text_inputs: Sequence[str]):
    """Per-example map for `Examples.to_dataset`: raw text -> ids fitted to max_tokens."""
    def vectorize(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        out = dict(inputs)
        for name in text_inputs:
            ids = tf.cast(vectorizer(tf.reshape(inputs[name], [1]))[0], tf.int32)
            out[name] = fit_length(ids, cfg.max_tokens[name], cfg.pad_to_max)
        return out

    return vectorize


def vectorize_arrays(cfg: ModelConfig, vectorizer: keras.layers.TextVectorization,
                     inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Whole input arrays -> model inputs (ids for text), as the Keras model takes them."""
    out = {}
    for name, arr in inputs.items():
        if arr.dtype == object:
            ids = tf.cast(vectorizer(tf.constant(arr.astype(str))), tf.int32)
            # Always the full max_tokens: one shape, so predict() traces once (the
            # masked LSTMs give the same result for any amount of padding).
            out[name] = fit_length(ids, cfg.max_tokens[name], pad=True).numpy()
        else:
            out[name] = arr
    return out


def normalize_targets(ex: Examples, scaling: dict[str, list[float]]) -> Examples:
    targets = dict(ex.targets)
    for head, (mean, std) in scaling.items():
        targets[head] = ((targets[head] - mean) / std).astype(np.float32)
    return dataclasses.replace(ex, targets=targets, labels=dict(ex.labels), kinds=dict(ex.kinds))
