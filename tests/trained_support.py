"""One trained and exported model per test session for the models the session's
`model_repo` leaves out (`price`, `stereo`): the "test" preset, trained once (beside the
session when its tests were collected, else on first use) and shared by unit, integration
and browser tests. The files live in a temporary directory
removed at exit; tests treat them as read-only.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainedExport:
    run_dir: Path
    model_dir: Path          # holds NAME/1
    export_dir: Path         # model_dir/NAME/1
    metrics: dict

    @property
    def epochs(self) -> int:
        return self.metrics["epochs"]


@functools.cache
def trained_export(model: str) -> TrainedExport:
    """The model's export made beside the session (tests/background_runs.py) when there is
    one, else trained here."""
    from tests import background_runs
    from training.export import export_run
    from training.models import config_for
    from training.train import train

    out = background_runs.made(model)
    if out is not None:
        run_dir, model_dir = out / model, out / f"{model}-models"
        return TrainedExport(run_dir, model_dir, model_dir / model / "1",
                             json.loads((run_dir / "metrics.json").read_text()))

    root = Path(tempfile.mkdtemp(prefix=f"mh-{model}-"))
    atexit.register(shutil.rmtree, root, True)
    run = train(model, cfg=config_for(model, "test"), out=root / "runs", verbose=False)
    exported = export_run(run.run_dir, root / "models")
    return TrainedExport(run.run_dir, root / "models", exported.path, run.metrics)
