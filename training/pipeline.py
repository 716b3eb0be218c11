"""Train and export several models in one go (`python -m training all`, `make models`).

`tests/conftest.py`'s `model_repo` fixture calls `train_and_export` with the
"test" preset; `python -m training all` with the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import config_for
from training.export import ExportResult, export_run
from training.models import DEFAULT_MODELS
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
                     models: Sequence[str] = DEFAULT_MODELS, preset: str = "default",
                     seed: int = 0, verbose: bool = True, plot: bool = True) -> list[Trained]:
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


