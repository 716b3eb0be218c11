"""`python -m training report --run DIR`: what a finished run learnt, in one table.

Reads the run directory `training.train` leaves (`config.json`, `metrics.json`,
`history.csv`, `plots/`, `logs/`) and prints the per-head validation metrics
next to the held-out test metrics and the input-ignoring baseline, the best
epoch (lowest `val_loss`, the one `best.weights.h5` holds), and the paths of
the plots and TensorBoard logs. Learning curves missing from an older run are
drawn from its `history.csv` on the way. For a `similarity` run it also scores the
hand-written real-English pairs of `training/data/eval/similarity_eval.tsv` (ROC AUC),
which no generator produced and no training saw; without them (a broken install) it
fails with `EvalSetMissing` rather than leave the figure out. For a `similarity` or `qa`
run it prints the figures on the dev and the test half of the larger hand-written sets
(training/evaluation.py) and their gap: the test half is read here and by one test only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.data.evalsets import SIMILARITY_EVAL, eval_file
from training.evaluation import DEV, HELDOUT, TEST, SplitScore, heldout_scores
from training.monitoring import PLOTS_DIR, plot_learning_curves, read_history


@dataclass
class RunReport:
    run_dir: Path
    model: str
    rows: list[dict[str, Any]]            # head, metric, validation, test, baseline
    best_epoch: int | None                # 1-based
    best_val_loss: float | None
    epochs: int
    plots: list[Path] = field(default_factory=list)
    logs: Path | None = None
    real_english_auc: float | None = None   # similarity: AUC on the SIMILARITY_EVAL pairs
    heldout: list[SplitScore] = field(default_factory=list)  # dev and test halves


def real_english_auc(run_dir: str | Path, pairs: str | Path | None = None) -> float:
    """ROC AUC of a similarity run's best weights on the hand-written pairs (Quora's
    columns; by default the SIMILARITY_EVAL set shipped with `training`)."""
    from training.export import load_run
    from training.models import load_file
    from training.text import make_vectorizer
    from training.train import predict, roc_auc

    pairs = pairs if pairs is not None else eval_file(SIMILARITY_EVAL)  # before the model
    cfg, model, vocab = load_run(Path(run_dir))
    ex = load_file("similarity", pairs)
    scores = predict(model, cfg, make_vectorizer(cfg.vocab_size, vocabulary=vocab), ex.inputs)
    return roc_auc(ex.targets["similarity"], scores["similarity"])


def build_report(run_dir: str | Path) -> RunReport:
    run_dir = Path(run_dir)
    config_path, metrics_path = run_dir / "config.json", run_dir / "metrics.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory: config.json is missing")
    config = json.loads(config_path.read_text())
    model = config.get("model", run_dir.name)
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    validation, test = metrics.get("validation", {}), metrics.get("test", {})
    baseline = metrics.get("baseline", {}).get("test", {})
    heads = _heads(model)
    rows = []
    for key in sorted(set(validation) | set(test)):
        head = next((h for h in sorted(heads, key=len, reverse=True)
                     if key.startswith(h + "_")), key.split("_")[0])
        rows.append({"head": head, "metric": key[len(head) + 1:],
                     "unit": heads.get(head, {}).get("unit", ""),
                     "validation": validation.get(key), "test": test.get(key),
                     "baseline": baseline.get(key)})
    history = read_history(run_dir / "history.csv")
    best_epoch = best_loss = None
    scored = [(r["val_loss"], int(r.get("epoch", i)) + 1) for i, r in enumerate(history)
              if "val_loss" in r]
    if scored:
        best_loss, best_epoch = min(scored)
    plot_dir = run_dir / PLOTS_DIR
    if history and heads and not list(plot_dir.glob("learning_curve_*.png")):
        scales = {h: s[1] for h, s in (config.get("target_scaling") or {}).items()}
        plot_learning_curves(run_dir / "history.csv", heads, plot_dir, scales)
    plots = sorted(plot_dir.glob("*.png")) if plot_dir.is_dir() else []
    logs = run_dir / "logs"
    auc, heldout = None, []
    if (run_dir / "best.weights.h5").is_file():
        if model == "similarity":
            auc = real_english_auc(run_dir)
        heldout = heldout_scores(run_dir, model)
    return RunReport(run_dir, model, rows, best_epoch, best_loss, len(history), plots,
                     logs if logs.is_dir() else None, auc, heldout)


def _heads(model: str) -> dict[str, dict]:
    try:
        from training.models import room

        return dict(room(model).heads)
    except ValueError:  # a run of a model this checkout no longer has
        return {}


def format_report(rep: RunReport) -> str:
    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.4g}"

    table = [("head", "metric", "validation", "test", "baseline")]
    for r in rep.rows:
        metric = f"{r['metric']} ({r['unit']})" if r["unit"] and r["metric"] == "mae" \
            else r["metric"]
        table.append((r["head"], metric, num(r["validation"]), num(r["test"]),
                      num(r["baseline"])))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    lines = [f"run {rep.run_dir} ({rep.model}, {rep.epochs} epoch(s))"]
    for i, row in enumerate(table):
        lines.append("  " + "  ".join(c.ljust(w) if j < 2 else c.rjust(w)
                                      for j, (c, w) in enumerate(zip(row, widths, strict=True))))
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    if rep.best_epoch is not None:
        lines.append(f"best epoch: {rep.best_epoch} (val_loss {rep.best_val_loss:.4g}; "
                     "best.weights.h5 holds it)")
    else:
        lines.append("best epoch: - (no history.csv)")
    if rep.real_english_auc is not None:
        lines.append(f"real English pairs ({SIMILARITY_EVAL}, tuned on): ROC AUC "
                     f"{rep.real_english_auc:.3f}")
    if rep.heldout:
        name, figure = HELDOUT[rep.model]
        by = {s.split: s for s in rep.heldout}
        dev, test = by[DEV], by[TEST]
        lines.append(f"hand-written {name}: {figure} dev {dev.value:.3f} ({dev.n}), "
                     f"test {test.value:.3f} ({test.n}), gap {dev.value - test.value:+.3f}")
    lines.append("plots:" if rep.plots else "plots: none")
    lines += [f"  {p}" for p in rep.plots]
    if rep.logs is not None:
        lines.append(f"tensorboard: {rep.logs} (make tensorboard, or tensorboard --logdir "
                     f"{rep.logs} --host 127.0.0.1)")
    return "\n".join(lines)
