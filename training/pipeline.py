"""Train and export several models in one go (`python -m training all`, `make models`).

`tests/conftest.py`'s `model_repo` fixture calls `train_and_export` with the
"test" preset; `python -m training all` with the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.export import ExportResult, export_run
from training.models import config_for
from training.train import RunResult, train


@dataclass
class Trained:
    run: RunResult
    export: ExportResult

    def summary(self) -> dict[str, Any]:
        return {
            "model": self.export.name,
            "version": self.export.version,
            "path": str(self.export.path),
            "signatures": self.export.signatures,
            "validation": self.run.metrics["validation"],
            "test": self.run.metrics["test"],
            "baseline": self.run.metrics["baseline"]["test"],
            "run_dir": str(self.run.run_dir),
            "seconds": round(self.run.seconds, 1),
        }


def train_and_export(model_dir: str | Path, out: str | Path = "runs", *,
                     models: Sequence[str] | None = None, preset: str = "default",
                     seed: int = 0, verbose: bool = True, plot: bool = True) -> list[Trained]:
    """Train and export `models` (the default ones when None) into `model_dir`."""
    if models is None:
        from training.models import DEFAULT_MODELS

        models = DEFAULT_MODELS
    results = []
    for name in models:
        cfg = config_for(name, preset)
        cfg.seed = seed
        run = train(name, cfg=cfg, out=out, verbose=verbose)
        exported = export_run(run.run_dir, model_dir, plot=plot)
        results.append(Trained(run, exported))
        if verbose:
            print(format_summary(results[-1]), flush=True)
    return results


def format_summary(t: Trained) -> str:
    s = t.summary()
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(s["validation"].items()))
    base = ", ".join(f"{k} {v:.3f}" for k, v in sorted(s["baseline"].items()))
    return (f"exported {s['model']} version {s['version']} -> {s['path']}\n"
            f"  signatures: {', '.join(s['signatures'])}\n"
            f"  validation: {metrics}\n"
            f"  baseline (ignores its inputs): {base}\n"
            f"  trained in {s['seconds']}s ({t.run.metrics.get('epochs', '?')} epochs)")


