"""The training callbacks, all writing into the run directory.

- `ModelCheckpoint`: best weights on `val_loss` to `best.weights.h5`
  (`save_weights_only=True`: without it a `.weights.h5` name silently gets a
  legacy full-model file that `load_weights` cannot read);
- `EarlyStopping` and `ReduceLROnPlateau` on `val_loss`;
- `CSVLogger` to `history.csv` (appending, so a resumed run keeps its rows);
- `TensorBoard` into `logs/`;
- `BackupAndRestore` into `backup/`: a run interrupted after epoch k and started
  again with the same run directory resumes at epoch k+1;
- `ProgressLine`: one line per epoch with every head's metrics;
- training/monitoring.py's `HeadBoard` (per-head TensorBoard scalars in the
  head's unit, weight histograms, the graph), `LearningCurves` (plots/ from
  history.csv) and, given validation data, `PredictionPlot` (predicted vs true
  for regression heads, one PNG per epoch);
- given the run's vocabulary, training/projector.py's `EmbeddingProjector`
  (TensorBoard's embedding projector over the word embeddings, each epoch).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, TextIO

import keras

from training.config import ModelConfig

BEST_WEIGHTS = "best.weights.h5"
HISTORY_CSV = "history.csv"
BACKUP_DIR = "backup"
LOG_DIR = "logs"


class ProgressLine(keras.callbacks.Callback):
    """`[profiler] epoch 3/10 12.1s loss 1.234/1.301 | age mae 5.1/5.6 years | ...`

    Each metric shows train/validation. Regression metrics are trained on
    normalized targets; `scales` (head -> std) turns them back into the head's unit.
    """

    def __init__(self, name: str, heads: dict[str, dict], scales: dict[str, float] | None = None,
                 stream: TextIO | None = None) -> None:
        super().__init__()
        self.name, self.heads, self.scales = name, heads, scales or {}
        self.stream = stream or sys.stdout
        self.epochs_seen: list[int] = []
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        self.epochs_seen.append(epoch)
        total = self.params.get("epochs", "?") if self.params else "?"
        parts = [f"[{self.name}] epoch {epoch + 1}/{total} {time.monotonic() - self._start:.1f}s"
                 f" loss {_pair(logs, 'loss')}"]
        single = len(self.heads) == 1
        for head, spec in self.heads.items():
            prefix = "" if single else f"{head}_"
            metrics = sorted(
                k[len(prefix):] for k in logs
                if k.startswith(prefix) and not k.startswith("val_")
                and not k.endswith("loss") and k != "learning_rate"
            )
            scale = self.scales.get(head, 1.0)
            unit = f" {spec['unit']}" if spec.get("unit") else ""
            shown = [
                f"{m} {_pair(logs, prefix + m, scale if m == 'mae' else 1.0)}"
                + (unit if m == "mae" else "")
                for m in metrics
            ]
            parts.append(f"{head}: " + ", ".join(shown))
        print(" | ".join(parts), file=self.stream, flush=True)


def _pair(logs: dict, key: str, scale: float = 1.0) -> str:
    def fmt(v: object) -> str:
        return "-" if v is None else f"{float(v) * scale:.3f}"

    return f"{fmt(logs.get(key))}/{fmt(logs.get('val_' + key))}"


def make_callbacks(run_dir: Path, cfg: ModelConfig, heads: dict[str, dict],
                   scales: dict[str, float] | None = None,
                   progress_stream: TextIO | None = None,
                   validation_data: Any = None,
                   vocabulary: list[str] | None = None) -> list[keras.callbacks.Callback]:
    # training/monitoring.py: per-head TensorBoard scalars, weight histograms and the
    # graph; learning-curve PNGs; predicted-vs-true PNGs when validation_data is given.
    from training.monitoring import monitoring_callbacks

    monitoring = monitoring_callbacks(run_dir, heads, scales, HISTORY_CSV, LOG_DIR,
                                      validation_data, cfg.target_scaling)
    if vocabulary:
        from training.projector import EmbeddingProjector

        monitoring.append(EmbeddingProjector(run_dir / LOG_DIR, vocabulary))
    return [
        keras.callbacks.BackupAndRestore(str(run_dir / BACKUP_DIR)),
        keras.callbacks.ModelCheckpoint(
            str(run_dir / BEST_WEIGHTS), monitor="val_loss", save_best_only=True,
            save_weights_only=True,
        ),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=cfg.early_stopping_patience,
            restore_best_weights=True,
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.5, patience=cfg.reduce_lr_patience, min_lr=1e-5,
        ),
        keras.callbacks.CSVLogger(str(run_dir / HISTORY_CSV), append=True),
        keras.callbacks.TensorBoard(log_dir=str(run_dir / LOG_DIR), write_graph=False,
                                    profile_batch=0),
        *monitoring,
        ProgressLine(cfg.model, heads, scales, progress_stream),  # last: train.py reads it
    ]
