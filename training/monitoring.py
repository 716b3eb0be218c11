"""Watching a run train: TensorBoard extras, predicted-vs-true plots, learning curves.

Added to every run by `training.callbacks.make_callbacks`; all files go into the
run directory:

- `HeadBoard`: TensorBoard events next to Keras' own `logs/train` and
  `logs/validation`: `logs/heads/{train,validation}` hold one scalar per head and
  metric (`price/mae`, `age/mae`, `gender/auc`, `income/loss`), regression MAE in
  the head's unit (years, EUR) rather than the normalized one the model learns;
  `logs/weights` a histogram of every weight each epoch; and the model's graph
  (its call traced once), so `make tensorboard` shows the heads, the weights
  and the graph;
- `PredictionPlot`: the course's custom-callback example: after each epoch it
  predicts a fixed validation sample and draws predicted against true for every
  regression head, `plots/predicted_vs_true_epoch_NNN.png` (one per epoch);
- `LearningCurves`: at the end of training, `history.csv` (CSVLogger's) drawn
  as one learning-curve PNG per head, `plots/learning_curve_HEAD.png`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

PLOTS_DIR = "plots"
HEADS_LOG_DIR = "heads"
WEIGHTS_LOG_DIR = "weights"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and in tests
    import matplotlib.pyplot as plt

    return plt


def split_logs(logs: Mapping[str, Any], heads: Mapping[str, dict]) -> dict[str, dict[str, Any]]:
    """Keras' flat logs -> {"train"|"validation": {head: {metric: value}}}.

    A one-head model's keys carry no head prefix (`mae`, `val_mae`); a
    multi-head model's do (`age_mae`, `val_age_mae`); `loss` alone is the total.
    """
    out: dict[str, dict[str, Any]] = {"train": {}, "validation": {}}
    single = len(heads) == 1
    for key, value in logs.items():
        split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
        if name in ("learning_rate", "epoch"):  # "epoch": CSVLogger's first column
            continue
        if single:
            head, metric = next(iter(heads)), name
        else:
            head = next((h for h in sorted(heads, key=len, reverse=True)
                         if name.startswith(h + "_")), None)
            if head is None:
                continue  # the total loss
            metric = name[len(head) + 1:]
        out[split].setdefault(head, {})[metric] = float(value)
    return out


def in_unit(metric: str, value: float, scale: float) -> float:
    """Regression MAE/MSE learnt on normalized targets, back in the head's unit."""
    if metric == "mae":
        return value * scale
    if metric in ("mse", "loss"):
        return value * scale * scale
    return value


class HeadBoard(keras.callbacks.Callback):
    """Per-head scalars, weight histograms and the model graph for TensorBoard."""

    def __init__(self, log_dir: str | Path, heads: Mapping[str, dict],
                 scales: Mapping[str, float] | None = None, histograms: bool = True,
                 graph: bool = True) -> None:
        super().__init__()
        self.log_dir, self.heads = Path(log_dir), dict(heads)
        self.scales = dict(scales or {})
        self.histograms, self.graph = histograms, graph
        self._writers: dict[str, Any] = {}

    def _writer(self, name: str):
        if name not in self._writers:
            self._writers[name] = tf.summary.create_file_writer(str(self.log_dir / name))
        return self._writers[name]

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.graph:
            self._write_graph()

    def _write_graph(self) -> None:
        specs = tf.nest.map_structure(
            lambda t: tf.TensorSpec(t.shape, t.dtype, name=t.name), self.model.input)
        model = self.model
        concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(specs)
        with self._writer(HEADS_LOG_DIR + "/train").as_default():
            tf.summary.graph(concrete.graph)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for split, per_head in split_logs(logs or {}, self.heads).items():
            with self._writer(f"{HEADS_LOG_DIR}/{split}").as_default():
                for head, metrics in per_head.items():
                    scale = self.scales.get(head, 1.0)
                    for metric, value in metrics.items():
                        tf.summary.scalar(f"{head}/{metric}", in_unit(metric, value, scale),
                                          step=epoch)
        if self.histograms:
            with self._writer(WEIGHTS_LOG_DIR).as_default():
                for w in self.model.weights:
                    tf.summary.histogram(w.path, np.asarray(w.numpy()), step=epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()


class PredictionPlot(keras.callbacks.Callback):
    """Each epoch, predicted against true for the regression heads, one PNG per epoch.

    `data` is a batched `(inputs, targets)` dataset (the validation set) or a pair
    of dicts of arrays; at most `max_points` examples of it are plotted, the same
    ones every epoch. `scaling` (head -> [mean, std]) turns normalized targets
    and predictions back into the head's unit.
    """

    def __init__(self, plot_dir: str | Path, data: Any, heads: Mapping[str, dict],
                 scaling: Mapping[str, list[float]] | None = None,
                 max_points: int = 300) -> None:
        super().__init__()
        self.plot_dir = Path(plot_dir)
        self.heads = {h: s for h, s in heads.items() if s["kind"] == "regression"}
        self.scaling = dict(scaling or {})
        self.inputs, self.targets = _take(data, max_points)
        self.paths: list[Path] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.heads:
            return
        predicted = self.model.predict(self.inputs, verbose=0)
        if not isinstance(predicted, dict):
            predicted = {next(iter(self.heads)): predicted}
        plt = _pyplot()
        fig, axes = plt.subplots(1, len(self.heads), figsize=(4.5 * len(self.heads), 4.2),
                                 squeeze=False)
        for ax, (head, spec) in zip(axes[0], self.heads.items(), strict=True):
            mean, std = self.scaling.get(head, [0.0, 1.0])
            y = np.asarray(self.targets[head]).reshape(-1) * std + mean
            p = np.asarray(predicted[head]).reshape(-1) * std + mean
            lo, hi = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
            ax.scatter(y, p, s=8, alpha=0.6)
            ax.plot([lo, hi], [lo, hi], "k--", linewidth=1)
            unit = f" ({spec['unit']})" if spec.get("unit") else ""
            ax.set_xlabel(f"true {head}{unit}")
            ax.set_ylabel(f"predicted {head}{unit}")
            ax.set_title(f"{head}, epoch {epoch + 1}: MAE {np.mean(np.abs(y - p)):.2f}")
        fig.tight_layout()
        self.plot_dir.mkdir(parents=True, exist_ok=True)
        path = self.plot_dir / f"predicted_vs_true_epoch_{epoch + 1:03d}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        self.paths.append(path)


def _take(data: Any, n: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The first n examples of a batched (inputs, targets) dataset or of array dicts."""
    if isinstance(data, tf.data.Dataset):
        xs: dict[str, list] = {}
        ys: dict[str, list] = {}
        seen = 0
        for x, y in data.as_numpy_iterator():
            for k, v in x.items():
                xs.setdefault(k, []).append(v)
            for k, v in y.items():
                ys.setdefault(k, []).append(v)
            seen += len(next(iter(y.values())))
            if seen >= n:
                break
        # Text batches are padded per batch: pad every batch to the longest.
        inputs = {k: _concat(v)[:n] for k, v in xs.items()}
        return inputs, {k: np.concatenate(v)[:n] for k, v in ys.items()}
    x, y = data
    return ({k: np.asarray(v)[:n] for k, v in x.items()},
            {k: np.asarray(v)[:n] for k, v in y.items()})


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    if parts[0].ndim == 2 and parts[0].dtype.kind in "iu":
        width = max(p.shape[1] for p in parts)
        parts = [np.pad(p, ((0, 0), (0, width - p.shape[1]))) for p in parts]
    return np.concatenate(parts)


def read_history(path: str | Path) -> list[dict[str, float]]:
    """CSVLogger's rows as dicts of floats (empty cells dropped)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)]


def plot_learning_curves(history_csv: str | Path, heads: Mapping[str, dict],
                         plot_dir: str | Path,
                         scales: Mapping[str, float] | None = None) -> list[Path]:
    """One PNG per head: every metric of the head, train and validation, by epoch."""
    rows = read_history(history_csv)
    if not rows:
        return []
    plt = _pyplot()
    scales = dict(scales or {})
    plot_dir = Path(plot_dir)
    plot_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    epochs = [int(r.get("epoch", i)) + 1 for i, r in enumerate(rows)]
    series = [split_logs(r, heads) for r in rows]
    for head, spec in heads.items():
        metrics = sorted({m for s in series for m in s["train"].get(head, {})}
                         | {m for s in series for m in s["validation"].get(head, {})})
        if not metrics:
            continue
        fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.6),
                                 squeeze=False)
        for ax, metric in zip(axes[0], metrics, strict=True):
            for split, style in (("train", "-o"), ("validation", "--s")):
                ys = [s[split].get(head, {}).get(metric) for s in series]
                pts = [(e, in_unit(metric, y, scales.get(head, 1.0)))
                       for e, y in zip(epochs, ys, strict=True) if y is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), style, markersize=3, label=split)
            unit = f" ({spec['unit']})" if spec.get("unit") and metric == "mae" else ""
            ax.set_title(f"{head} {metric}{unit}")
            ax.set_xlabel("epoch")
            ax.legend()
        fig.tight_layout()
        path = plot_dir / f"learning_curve_{head}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths


class LearningCurves(keras.callbacks.Callback):
    """At the end of training, history.csv -> plots/learning_curve_HEAD.png."""

    def __init__(self, history_csv: str | Path, heads: Mapping[str, dict],
                 plot_dir: str | Path, scales: Mapping[str, float] | None = None) -> None:
        super().__init__()
        self.history_csv, self.heads = Path(history_csv), dict(heads)
        self.plot_dir, self.scales = Path(plot_dir), dict(scales or {})
        self.paths: list[Path] = []

    def on_train_end(self, logs: dict | None = None) -> None:
        self.paths = plot_learning_curves(self.history_csv, self.heads, self.plot_dir,
                                          self.scales)


def monitoring_callbacks(run_dir: Path, heads: Mapping[str, dict],
                         scales: Mapping[str, float] | None = None,
                         history_csv: str = "history.csv", log_dir: str = "logs",
                         validation_data: Any = None,
                         scaling: Mapping[str, list[float]] | None = None,
                         ) -> list[keras.callbacks.Callback]:
    """The monitoring callbacks of one run (PredictionPlot only with validation data)."""
    run_dir = Path(run_dir)
    out: list[keras.callbacks.Callback] = [
        HeadBoard(run_dir / log_dir, heads, scales),
        LearningCurves(run_dir / history_csv, heads, run_dir / PLOTS_DIR, scales),
    ]
    if validation_data is not None and any(s["kind"] == "regression" for s in heads.values()):
        out.append(PredictionPlot(run_dir / PLOTS_DIR, validation_data, heads, scaling))
    return out
