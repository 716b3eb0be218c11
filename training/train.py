"""Train one model into a run directory.

`train("profiler", out="runs")` generates (or loads) the data, splits it into
train / validation / held-out test, adapts the vectorizer on the training
split, fits with the callbacks of `training.callbacks`, and leaves in
`runs/profiler/`:

    config.json       the config, with labels and target scaling from the data
    vocab.txt         the vectorizer's vocabulary, one token per line (line = id)
    best.weights.h5   best weights on val_loss
    history.csv       per-epoch metrics;  logs/  TensorBoard
    metrics.json      validation and held-out test metrics per head, and baselines
    examples.json     a few raw validation inputs (the export's warm-up requests)

Starting `train` again on a run directory whose `backup/` survived an
interruption resumes it (BackupAndRestore), with the run's saved config and
vocabulary so the weights still fit.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training import callbacks as cb
from training import config as config_mod
from training import drift_stats
from training.config import ModelConfig
from training.data.examples import Examples
from training.distribute import make_strategy
from training.models import build_model, model_module
from training.text import fit_length, load_vocabulary, make_vectorizer, save_vocabulary

LOSSES = {"regression": "mse", "binary": "binary_crossentropy",
          "multiclass": "sparse_categorical_crossentropy"}
CONFIG_JSON, VOCAB_TXT, METRICS_JSON, EXAMPLES_JSON = (
    "config.json", "vocab.txt", "metrics.json", "examples.json")


@dataclass
class RunResult:
    model: str
    run_dir: Path
    config: ModelConfig
    metrics: dict[str, Any]
    epochs_run: list[int]     # 0-based epochs this call ran (a resumed run skips the done ones)
    seconds: float


def head_metrics(kind: str) -> list[keras.metrics.Metric]:
    if kind == "regression":
        return [keras.metrics.MeanAbsoluteError(name="mae")]
    if kind == "multiclass":
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    return [keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")]


def compile_model(model: keras.Model, cfg: ModelConfig, heads: dict[str, dict]) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(cfg.learning_rate),
        loss={h: LOSSES[spec["kind"]] for h, spec in heads.items()},
        loss_weights={h: float(cfg.loss_weights.get(h, 1.0)) for h in heads},
        metrics={h: head_metrics(spec["kind"]) for h, spec in heads.items()},
    )


def load_data(model: str, cfg: ModelConfig, data_path: str | Path | None) -> Examples:
    if data_path is not None:
        from training.data.loaders import load_file

        return load_file(model, data_path)
    from training.data.synthetic import generate

    return generate(model, cfg.examples, seed=cfg.seed, source=getattr(cfg, "source", None))


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


def predict(model: keras.Model, cfg: ModelConfig, vectorizer, inputs: dict[str, np.ndarray],
            batch_size: int = 256) -> dict[str, np.ndarray]:
    """Keras predictions in the export's units: squeezed scalars, de-normalized regression."""
    raw = model.predict(vectorize_arrays(cfg, vectorizer, inputs), batch_size=batch_size,
                        verbose=0)
    out = {}
    for head, value in raw.items():
        value = np.asarray(value)
        if value.ndim == 2 and value.shape[1] == 1:
            value = value[:, 0]
        if head in cfg.target_scaling:
            mean, std = cfg.target_scaling[head]
            value = value * std + mean
        out[head] = value
    return out


def train(model: str, *, cfg: ModelConfig | None = None, data: Examples | None = None,
          data_path: str | Path | None = None, out: str | Path = "runs",
          run_name: str | None = None, epochs: int | None = None,
          batch_size: int | None = None, seed: int | None = None,
          distribute: str | None = None, verbose: bool = True,
          extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> RunResult:
    started = time.monotonic()
    module = model_module(model)
    heads: dict[str, dict] = module.HEADS
    run_dir = Path(out) / (run_name or model)
    run_dir.mkdir(parents=True, exist_ok=True)
    resuming = (run_dir / cb.BACKUP_DIR).is_dir() and (run_dir / CONFIG_JSON).is_file()
    if resuming:
        # The backup's weights only fit the config and vocabulary they were made with.
        cfg = config_mod.load_config(run_dir / CONFIG_JSON, model)
        if verbose:
            print(f"[{model}] resuming the interrupted run in {run_dir}", flush=True)
    else:
        cfg = cfg or config_mod.default_config(model)
        overrides = {k: v for k, v in
                     {"epochs": epochs, "batch_size": batch_size, "seed": seed}.items()
                     if v is not None}
        cfg = dataclasses.replace(cfg, **overrides)
    keras.utils.set_random_seed(cfg.seed)

    examples = data if data is not None else load_data(model, cfg, data_path)
    missing = (set(module.INPUTS) - set(examples.inputs)) | (set(heads) - set(examples.targets))
    if missing:
        raise ValueError(f"data for {model} lacks {sorted(missing)}")
    train_ex, val_ex, test_ex = examples.split(cfg.validation_split, cfg.test_split, cfg.seed)
    text_inputs = [n for n, s in module.INPUTS.items() if s["kind"] == "text"]

    if resuming:
        vectorizer = make_vectorizer(cfg.vocab_size,
                                     vocabulary=load_vocabulary(run_dir / VOCAB_TXT))
    else:
        cfg.labels = {h: examples.labels.get(h) for h in heads}
        cfg.target_scaling = {
            h: [float(train_ex.targets[h].mean()),
                float(train_ex.targets[h].std() or 1.0) / cfg.regression_target_std]
            for h, s in heads.items() if s["kind"] == "regression"
        }
        vectorizer = make_vectorizer(cfg.vocab_size, [train_ex.inputs[n] for n in text_inputs])
        save_vocabulary(vectorizer, run_dir / VOCAB_TXT)
        config_mod.save_config(cfg, run_dir / CONFIG_JSON)
        for stale in (cb.HISTORY_CSV, cb.BEST_WEIGHTS):
            (run_dir / stale).unlink(missing_ok=True)
    _write_examples(run_dir / EXAMPLES_JSON, val_ex)

    vectorize = make_vectorize(cfg, vectorizer, text_inputs)
    train_ds = normalize_targets(train_ex, cfg.target_scaling).to_dataset(
        cfg.batch_size, shuffle=True, seed=cfg.seed, vectorize=vectorize)
    val_ds = normalize_targets(val_ex, cfg.target_scaling).to_dataset(
        cfg.batch_size, shuffle=False, vectorize=vectorize)

    strategy = make_strategy(distribute)
    with strategy.scope():
        keras_model = build_model(model, cfg)
        # A model may start some weights from its data (similarity: WordNet word
        # vectors); a resumed run gets its weights from the backup instead.
        initialize = getattr(module, "initialize", None)
        if initialize is not None and not resuming:
            initialize(keras_model, cfg, list(vectorizer.get_vocabulary()))
        compile_model(keras_model, cfg, heads)
    scales = {h: s[1] for h, s in cfg.target_scaling.items()}
    callbacks = cb.make_callbacks(run_dir, cfg, heads, scales,
                                  progress_stream=None if verbose else _NullStream(),
                                  validation_data=val_ds)
    progress = callbacks[-1]
    with warnings.catch_warnings():
        # Keras warns that shuffle=True is ignored for datasets; ours shuffle themselves.
        warnings.filterwarnings("ignore", message=".*shuffle.*", category=UserWarning)
        keras_model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs,
                        callbacks=[*callbacks, *extra_callbacks], verbose=0)

    if (run_dir / cb.BEST_WEIGHTS).is_file():
        keras_model.load_weights(run_dir / cb.BEST_WEIGHTS)
    val_predictions = predict(keras_model, cfg, vectorizer, val_ex.inputs)
    metrics = {
        "validation": evaluate(heads, val_ex.targets, val_predictions),
        "test": evaluate(
            heads, test_ex.targets, predict(keras_model, cfg, vectorizer, test_ex.inputs)),
        "baseline": {"validation": val_ex.baseline(train_ex), "test": test_ex.baseline(train_ex)},
        "data": {**examples.description, "train_examples": len(train_ex),
                 "validation_examples": len(val_ex), "test_examples": len(test_ex)},
        "epochs": _epochs_in_history(run_dir / cb.HISTORY_CSV),
        "replicas": strategy.num_replicas_in_sync,
        # What the heads predict on the validation split: the card's drift reference.
        "drift": drift_stats.card_section(
            heads, cfg.labels, val_predictions, {n: val_ex.inputs[n] for n in text_inputs},
            list(vectorizer.get_vocabulary())),
    }
    (run_dir / METRICS_JSON).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return RunResult(model, run_dir, cfg, metrics, list(progress.epochs_seen),
                     time.monotonic() - started)


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half)."""
    y = np.asarray(y) >= 0.5
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p), dtype=np.float64)
    sorted_p = np.asarray(p)[order]
    # Average ranks over runs of equal scores.
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def evaluate(heads: dict[str, dict], targets: dict[str, np.ndarray],
             predictions: dict[str, np.ndarray]) -> dict[str, float]:
    """Per-head metrics in the head's own unit: `H_mae`, `H_accuracy`, `H_auc`."""
    out: dict[str, float] = {}
    for head, spec in heads.items():
        y, p = targets[head], predictions[head]
        if spec["kind"] == "regression":
            out[f"{head}_mae"] = float(np.mean(np.abs(y - p)))
        elif spec["kind"] == "multiclass":
            out[f"{head}_accuracy"] = float(np.mean(np.argmax(p, axis=-1) == y))
        else:
            out[f"{head}_auc"] = roc_auc(y, p)
            out[f"{head}_accuracy"] = float(np.mean((p >= 0.5) == (y >= 0.5)))
    return out


def _write_examples(path: Path, ex: Examples, n: int = 3) -> None:
    rows = {name: (arr[:n].tolist()) for name, arr in ex.inputs.items()}
    path.write_text(json.dumps(rows, indent=1) + "\n")


def _epochs_in_history(path: Path) -> int:
    if not path.is_file():
        return 0
    return max(0, len(path.read_text().strip().splitlines()) - 1)


class _NullStream:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass
