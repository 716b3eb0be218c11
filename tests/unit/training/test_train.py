"""Training behaviour: held-out metrics beat the baselines, run dir contents, resume."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import keras
import pytest

from tests.unit.training.conftest import tiny
from training.callbacks import ProgressLine
from training.train import roc_auc, train

pytestmark = pytest.mark.slow


def _test_metrics(trained_runs, name):
    run = trained_runs[name]
    return run["test"], run["baseline"]


def test_similarity_beats_baseline(trained_runs):
    m, _ = _test_metrics(trained_runs, "similarity")
    assert m["similarity_auc"] >= 0.85


def test_profiler_beats_baselines(trained_runs):
    m, base = _test_metrics(trained_runs, "profiler")
    assert m["gender_accuracy"] >= 0.80
    assert m["income_accuracy"] >= 2 * base["income_accuracy"]
    assert m["age_mae"] <= 0.7 * base["age_mae"]


def test_qa_beats_baseline(trained_runs):
    m, base = _test_metrics(trained_runs, "qa")
    assert m["answer_accuracy"] >= 0.5 > 4 * base["answer_accuracy"]


def test_headline_beats_baseline(trained_runs):
    m, _ = _test_metrics(trained_runs, "headline")
    assert m["main_output_auc"] >= 0.8


@pytest.mark.parametrize("name", ["qa", "profiler", "similarity", "headline"])
def test_run_directory_holds_everything(trained_runs, name):
    run_dir = Path(trained_runs[name]["run_dir"])
    for f in ("config.json", "vocab.txt", "best.weights.h5", "history.csv", "metrics.json",
              "examples.json"):
        assert (run_dir / f).is_file(), f
    assert list((run_dir / "logs").rglob("events.out.tfevents.*")), "no TensorBoard events"
    assert not (run_dir / "backup").exists()  # removed after a finished run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) >= {"validation", "test", "baseline", "data"}
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    assert len(rows) == metrics["epochs"] >= 2
    assert "val_loss" in rows[0]
    vocab = (run_dir / "vocab.txt").read_text().split("\n")
    assert vocab[:2] == ["", "[UNK]"]


def test_roc_auc_matches_definition():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


class _Interrupt(keras.callbacks.Callback):
    """Stands in for a killed process: raises after `after` epochs."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after:
            raise KeyboardInterrupt("interrupted for the test")


def test_interrupted_run_resumes_from_last_epoch(tmp_path):
    cfg = tiny("headline", examples=300, epochs=4, batch_size=32, early_stopping_patience=10)
    with pytest.raises(KeyboardInterrupt):
        train("headline", cfg=cfg, out=tmp_path, verbose=False, extra_callbacks=[_Interrupt(2)])
    run_dir = tmp_path / "headline"
    assert (run_dir / "backup").is_dir()
    out = io.StringIO()
    seen = ProgressLine("watch", {"main_output": {}, "aux_output": {}}, stream=out)
    result = train("headline", cfg=cfg, out=tmp_path, verbose=False, extra_callbacks=[seen])
    assert result.epochs_run == [2, 3]
    assert seen.epochs_seen == [2, 3]
    rows = list(csv.DictReader((run_dir / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert not (run_dir / "backup").exists()
    # The progress line names every head's metrics, train/validation.
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[watch] epoch 3/4")
    for part in ("main_output: accuracy", "auc", "aux_output: accuracy"):
        assert part in lines[0]
