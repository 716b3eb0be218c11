"""`python -m training report --run DIR`: per-head metrics, best epoch, plot paths."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.price_support import trained_price


def test_report_of_a_trained_run(capsys) -> None:
    from training import cli
    from training.monitoring import read_history
    from training.report import build_report

    run = trained_price()
    rep = build_report(run.run_dir)
    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert rep.model == "price" and rep.epochs == run.epochs
    (row,) = rep.rows
    assert (row["head"], row["metric"], row["unit"]) == ("price", "mae", "EUR")
    assert row["validation"] == metrics["validation"]["price_mae"]
    assert row["test"] == metrics["test"]["price_mae"]
    assert row["baseline"] == metrics["baseline"]["test"]["price_mae"]
    history = read_history(run.run_dir / "history.csv")
    best = min(range(len(history)), key=lambda i: history[i]["val_loss"])
    assert rep.best_epoch == best + 1
    assert run.run_dir / "plots" / "learning_curve_price.png" in rep.plots

    assert cli.main(["report", "--run", str(run.run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"best epoch: {best + 1} " in out
    assert "price  mae (EUR)" in out
    assert f"{metrics['validation']['price_mae']:.4g}" in out
    assert "learning_curve_price.png" in out and "tensorboard:" in out


def test_report_draws_missing_learning_curves(tmp_path) -> None:
    from training.report import build_report

    run = trained_price()
    copy = tmp_path / "price"
    shutil.copytree(run.run_dir, copy, ignore=shutil.ignore_patterns("logs", "plots", "backup"))
    rep = build_report(copy)
    assert rep.plots == [copy / "plots" / "learning_curve_price.png"]
    assert rep.logs is None


def test_report_of_a_multi_head_run_without_history(tmp_path) -> None:
    from training.report import build_report, format_report

    (tmp_path / "config.json").write_text(json.dumps({"model": "profiler"}))
    (tmp_path / "metrics.json").write_text(json.dumps({
        "validation": {"age_mae": 4.5, "income_accuracy": 0.9, "gender_auc": 0.97},
        "test": {"age_mae": 4.7, "income_accuracy": 0.88, "gender_auc": 0.96},
        "baseline": {"test": {"age_mae": 13.8, "income_accuracy": 0.25}}}))
    rep = build_report(tmp_path)
    assert [(r["head"], r["metric"]) for r in rep.rows] == [
        ("age", "mae"), ("gender", "auc"), ("income", "accuracy")]
    text = format_report(rep)
    assert "age     mae (years)" in text and "best epoch: - (no history.csv)" in text
    assert "plots: none" in text


def test_report_of_a_directory_that_is_no_run(tmp_path) -> None:
    from training import cli

    assert cli.main(["report", "--run", str(tmp_path / "nothing")]) == 2


@pytest.mark.parametrize("argv", [["report"]])
def test_report_needs_a_run(argv) -> None:
    from training import cli

    with pytest.raises(SystemExit):
        cli.main(argv)


def test_a_missing_evaluation_set_fails_the_report_loudly(tmp_path, monkeypatch, capsys) -> None:
    # A similarity run whose report needs the hand-written pairs, in an install that lacks
    # them: one clear error (the CLI's exit 2), not a report without the real-English AUC.
    from training import cli
    from training.data import evalsets
    from training.report import build_report

    (tmp_path / "config.json").write_text(json.dumps({"model": "similarity"}))
    (tmp_path / "best.weights.h5").write_bytes(b"")
    monkeypatch.setattr(evalsets, "EVAL_DIR", tmp_path / "eval")
    with pytest.raises(evalsets.EvalSetMissing, match="similarity_eval.tsv is missing"):
        build_report(tmp_path)
    assert cli.main(["report", "--run", str(tmp_path)]) == 2
    assert "similarity_eval.tsv is missing" in capsys.readouterr().err
