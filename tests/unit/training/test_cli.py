from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training.cli import build_parser, main
from training.config import save_config
from training.models import config_for

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "training", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)


def test_parser_knows_the_commands():
    args = build_parser().parse_args(
        ["train", "--model", "profiler", "--epochs", "3", "--batch-size", "8", "--set",
         "units=8", "--set", "loss_weights.age=1", "--distribute", "mirrored"])
    assert (args.model, args.epochs, args.batch_size, args.set, args.distribute) == (
        "profiler", 3, 8, ["units=8", "loss_weights.age=1"], "mirrored")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--model", "nope"])


def test_bad_override_is_one_clear_error(capsys, tmp_path):
    assert main(["train", "--model", "qa", "--set", "unitz=3", "--out", str(tmp_path)]) == 2
    assert "qa has no config field 'unitz'" in capsys.readouterr().err
    assert main(["export", "--run", str(tmp_path / "missing")]) == 2
    assert "is not a finished run" in capsys.readouterr().err
    assert main(["all", "--models", "qa,nope"]) == 2


@pytest.mark.slow
def test_train_from_a_file_with_a_config_then_export(tmp_path, capsys):
    from training.models import generate

    ex = generate("similarity", 360, seed=5)
    data = tmp_path / "pairs.csv"
    with data.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["question1", "question2", "is_duplicate"])
        for a, b, y in zip(ex.inputs["left"], ex.inputs["right"], ex.targets["similarity"],
                           strict=True):
            w.writerow([a, b, int(y)])
    cfg = config_for("similarity", "test")
    cfg.units = 8
    save_config(cfg, tmp_path / "cfg.json")
    proc = _run("train", "--model", "similarity", "--data", str(data), "--epochs", "2",
                "--batch-size", "32", "--config", str(tmp_path / "cfg.json"), "--set",
                "dense_units=8", "--out", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[similarity] epoch 2/2" in proc.stdout and "similarity: accuracy" in proc.stdout
    run_dir = tmp_path / "runs" / "similarity"
    saved = json.loads((run_dir / "config.json").read_text())
    assert (saved["units"], saved["dense_units"], saved["epochs"]) == (8, 8, 2)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["data"]["train_examples"] == 252
    # export in this process (the command line's parsing is the same `main`): one
    # TensorFlow start-up less
    assert main(["export", "--run", str(run_dir), "--model-dir", str(tmp_path / "models")]) == 0
    printed = capsys.readouterr().out
    assert "exported similarity version 1" in printed
    assert "signatures: serving_default, ids" in printed
    assert (tmp_path / "models" / "similarity" / "1" / "saved_model.pb").is_file()


def test_the_cli_hides_tensorflows_startup_lines_and_keeps_its_errors(tmp_path):
    from serving.tfnoise import NOISE

    env = {k: v for k, v in os.environ.items() if k != "MULTIHEAD_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT)
    missing = tmp_path / "missing"
    done = subprocess.run([sys.executable, "-m", "training", "report", "--run", str(missing)],
                          capture_output=True, timeout=120, cwd=ROOT, env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert not [line for line in lines if NOISE.search(line)], lines
    assert lines[-1].decode() == f"error: {missing} is not a run directory: config.json is " \
                                 "missing", lines
