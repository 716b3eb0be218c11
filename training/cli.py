"""`python -m training train|export|all|tune|report|models` — see README.md ("Training").

The model names come from the rooms under training/models/ (`training.models.rooms`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from training.config import PRESETS, apply_overrides
from training.distribute import STRATEGIES
from training.models import DEFAULT_MODELS, MODELS, config_for, load_config, rooms


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training",
                                description="Train and export multihead's models.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one model into a run directory")
    t.add_argument("--model", required=True, choices=MODELS)
    t.add_argument("--data", help="training file (CSV/TSV/JSONL); synthetic data when omitted")
    t.add_argument("--epochs", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--out", default="runs", help="parent of the run directory (runs/)")
    t.add_argument("--run-name", help="run directory name under --out (default: the model); "
                   "training again into an interrupted run resumes it")
    t.add_argument("--config", help="config JSON (a run's config.json, a tuner's best config)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. units=64 or loss_weights.age=0.5")
    t.add_argument("--preset", choices=PRESETS, default="default")
    t.add_argument("--distribute", choices=STRATEGIES)
    t.add_argument("--seed", type=int)
    t.add_argument("--export-to", metavar="MODEL_DIR", help="export the run when done")

    e = sub.add_parser("export", help="export a run as models/NAME/VERSION/")
    e.add_argument("--run", required=True, help="run directory (runs/NAME)")
    e.add_argument("--model-dir", default="models")
    e.add_argument("--name", help="served model name (default: the run's model)")

    a = sub.add_parser("all", help="train and export every default model")
    a.add_argument("--model-dir", default="models")
    a.add_argument("--out", default="runs")
    a.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated subset of " + ",".join(DEFAULT_MODELS))
    a.add_argument("--preset", choices=PRESETS, default="default")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--with", dest="extra", default="", metavar="NAMES",
                   help="also train and export these models trained on request, "
                        "comma-separated (e.g. price,stereo)")

    # training/tune.py, training/report.py
    u = sub.add_parser("tune", help="hyper-parameter search with keras-tuner")
    u.add_argument("--model", required=True, choices=MODELS)
    u.add_argument("--max-trials", type=int, default=10)
    u.add_argument("--algorithm", choices=("random", "bayesian", "hyperband"), default="random")
    u.add_argument("--data", help="training file; synthetic data when omitted")
    u.add_argument("--epochs", type=int, help="most epochs per trial (early stopping on val_loss)")
    u.add_argument("--out", default="runs")
    u.add_argument("--run-name", help="directory under --out (default: NAME-tune)")
    u.add_argument("--config", help="base config JSON the search varies")
    u.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    u.add_argument("--preset", choices=PRESETS, default="default")
    u.add_argument("--seed", type=int)

    r = sub.add_parser("report", help="per-head metrics, best epoch and plots of a run")
    r.add_argument("--run", required=True, help="run directory (runs/NAME)")

    sub.add_parser("models", help="every model (room) with its inputs, heads and description")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace) -> int:
    from training.train import train

    cfg = load_config(args.config, args.model) if args.config else config_for(args.model,
                                                                               args.preset)
    cfg = apply_overrides(cfg, args.set)
    run = train(args.model, cfg=cfg, data_path=args.data, out=args.out, run_name=args.run_name,
                epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                distribute=args.distribute)
    print(f"run {run.run_dir}: {run.metrics['epochs']} epochs, {run.seconds:.0f}s")
    for split in ("validation", "test"):
        shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(run.metrics[split].items()))
        print(f"  {split}: {shown}")
    base = ", ".join(f"{k} {v:.3f}" for k, v in sorted(run.metrics["baseline"]["test"].items()))
    print(f"  baseline (test): {base}")
    if args.export_to:
        from training.export import export_run

        res = export_run(run.run_dir, args.export_to)
        print(f"exported {res.name} version {res.version} -> {res.path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from training.export import export_run

    res = export_run(args.run, args.model_dir, name=args.name)
    print(f"exported {res.name} version {res.version} -> {res.path}")
    print(f"  signatures: {', '.join(res.signatures)}")
    shown = ", ".join(f"{k} {v:.3f}" for k, v in sorted(res.card["metrics"]["validation"].items()))
    print(f"  validation: {shown}")
    return 0


def _all(args: argparse.Namespace) -> int:
    from training.pipeline import train_and_export

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    models += [m.strip() for m in args.extra.split(",") if m.strip() and m.strip() not in models]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"--models/--with: unknown model(s) {unknown}; expected some of "
                         f"{list(MODELS)}")
    start = time.monotonic()
    results = train_and_export(args.model_dir, args.out, models=models, preset=args.preset,
                               seed=args.seed)
    print(f"{len(results)} model(s) exported into {args.model_dir} "
          f"in {time.monotonic() - start:.0f}s")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from training.tune import format_result, tune

    cfg = load_config(args.config, args.model) if args.config else config_for(args.model,
                                                                               args.preset)
    result = tune(args.model, cfg=apply_overrides(cfg, args.set), data_path=args.data,
                  out=args.out, run_name=args.run_name, max_trials=args.max_trials,
                  algorithm=args.algorithm, epochs=args.epochs, seed=args.seed)
    print("\n".join(format_result(result)))
    return 0


def _report(args: argparse.Namespace) -> int:
    from training.report import build_report, format_report

    print(format_report(build_report(args.run)))
    return 0


def _models(args: argparse.Namespace) -> int:
    for name, r in rooms().items():
        trained = "default" if r.default else "on request"
        inputs = ", ".join(f"{n} ({s['kind']})" for n, s in r.inputs.items())
        heads = ", ".join(f"{n} ({s['kind']})" for n, s in r.heads.items())
        print(f"{name} [{trained}]: {r.description}\n  inputs: {inputs}\n  heads: {heads}")
    return 0


_COMMANDS = {"train": _train, "export": _export, "all": _all, "tune": _tune,
             "report": _report, "models": _models}
