"""Hyper-parameter search with keras-tuner: `python -m training tune --model NAME`.

The search space is made of the sizes the model's config exposes (training/
config.py): every `units`/`*_units`, `embedding_dim`, `*filters` field tries
half, the default and double; `*_layers`/`*_blocks` the default -1, 0, +1;
`dropout` 0-0.5 when the config has it; `learning_rate` log-uniform
1e-4..1e-2. Each trial trains on the same training split with EarlyStopping on
`val_loss`, and the trial's score is its best `val_loss`; one progress line per
trial.

The result, in the tuning run's directory (`runs/NAME-tune/` by default):
`best_config.json`, `{"config": {...}, "hyperparameters": {...}, "val_loss": ...,
"test": {...}, "trials": [...]}`, which `train --config` reads as it is; and
`tuner/`, keras-tuner's own trial records. The held-out test split is used
once, for the best trial only: choosing among trials on validation data makes
the best validation score an optimistic estimate (the course's warning), so
the test metric is the honest one, and looking at every trial's test score
would turn the test split into a second validation split.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import keras
import keras_tuner as kt

from training.config import ModelConfig
from training.models import build_model, default_config, room
from training.prepare import load_data, prepare
from training.train import compile_model, evaluate, predict

ALGORITHMS = ("random", "bayesian", "hyperband")
BEST_CONFIG = "best_config.json"
# Fields that are sizes of the architecture (tuned), as opposed to data shapes
# (vocab_size, max_tokens, image_size: fixed by the data) and training knobs.
_WIDTH_SUFFIXES = ("units", "embedding_dim", "filters")
_DEPTH_SUFFIXES = ("_layers", "_blocks")


def search_space(cfg: ModelConfig) -> dict[str, dict[str, Any]]:
    """Config field -> keras-tuner hyperparameter spec, from the config's own defaults."""
    space: dict[str, dict[str, Any]] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(value, int) and f.name.endswith(_WIDTH_SUFFIXES):
            space[f.name] = {"type": "choice", "values": sorted({max(2, value // 2), value,
                                                                 value * 2})}
        elif isinstance(value, int) and f.name.endswith(_DEPTH_SUFFIXES):
            space[f.name] = {"type": "choice", "values": sorted({max(1, value - 1), value,
                                                                 value + 1})}
        elif f.name == "dropout":
            space[f.name] = {"type": "float", "min": 0.0, "max": 0.5, "step": 0.1}
    space["learning_rate"] = {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"}
    return space


def _hp_value(hp: kt.HyperParameters, name: str, spec: dict[str, Any]) -> Any:
    if spec["type"] == "choice":
        return hp.Choice(name, spec["values"])
    return hp.Float(name, spec["min"], spec["max"], step=spec.get("step"),
                    sampling=spec.get("sampling", "linear"))


def config_from_hp(base: ModelConfig, values: dict[str, Any]) -> ModelConfig:
    known = {f.name for f in dataclasses.fields(base)}
    return dataclasses.replace(base, **{k: v for k, v in values.items() if k in known})


@dataclass
class TuneResult:
    model: str
    run_dir: Path
    best_config: ModelConfig
    best_hyperparameters: dict[str, Any]
    best_val_loss: float
    test: dict[str, float]
    baseline: dict[str, float]
    trials: list[dict[str, Any]]
    seconds: float


def _tuner_class(algorithm: str, stream: TextIO, name: str, max_trials: int):
    base = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization,
            "hyperband": kt.Hyperband}[algorithm]

    class ProgressTuner(base):  # type: ignore[misc, valid-type]
        """keras-tuner's tuner plus one line per finished trial."""

        def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
            super().on_trial_end(trial)
            done = len([t for t in self.oracle.trials.values()
                        if t.status in ("COMPLETED", "INVALID", "FAILED")])
            hp = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.hyperparameters.values.items()
                           if not k.startswith("tuner/"))
            score = "-" if trial.score is None else f"{trial.score:.4f}"
            best = self.oracle.get_best_trials(1)
            best_score = best[0].score if best and best[0].score is not None else None
            print(f"[{name}] trial {done}/{max_trials} {trial.status.lower()} "
                  f"val_loss {score} (best {_fmt(best_score)}) | {hp}", file=stream, flush=True)

    return ProgressTuner


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def tune(model: str, *, cfg: ModelConfig | None = None, data_path: str | Path | None = None,
         out: str | Path = "runs", run_name: str | None = None, max_trials: int = 10,
         algorithm: str = "random", epochs: int | None = None, seed: int | None = None,
         verbose: bool = True) -> TuneResult:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; expected one of {ALGORITHMS}")
    if max_trials < 1:
        raise ValueError(f"--max-trials must be at least 1, got {max_trials}")
    started = time.monotonic()
    stream: TextIO = sys.stdout if verbose else _Null()
    r = room(model)
    heads = dict(r.heads)
    base = cfg or default_config(model)
    overrides = {k: v for k, v in {"epochs": epochs, "seed": seed}.items() if v is not None}
    base = dataclasses.replace(base, **overrides)
    keras.utils.set_random_seed(base.seed)
    run_dir = Path(out) / (run_name or f"{model}-tune")
    run_dir.mkdir(parents=True, exist_ok=True)

    # The data, split, target scaling and vectorizer are fixed across trials (the same
    # preparation as `train`'s): trials differ only in the hyper-parameters.
    prep = prepare(model, base, load_data(model, base, data_path))
    base, vectorizer = prep.cfg, prep.vectorizer
    train_ds, val_ds, train_ex, test_ex = prep.train_ds, prep.val_ds, prep.train, prep.test

    space = search_space(base)

    def build(hp: kt.HyperParameters) -> keras.Model:
        trial_cfg = config_from_hp(base, {n: _hp_value(hp, n, s) for n, s in space.items()})
        m = build_model(model, trial_cfg)
        if r.initialize is not None:  # as `train` does (similarity: WordNet vectors)
            r.initialize(m, trial_cfg, list(vectorizer.get_vocabulary()))
        compile_model(m, trial_cfg, heads)
        return m

    common = {"objective": "val_loss", "directory": str(run_dir), "project_name": "tuner",
              "overwrite": True, "seed": base.seed}
    cls = _tuner_class(algorithm, stream, model, max_trials)
    if algorithm == "hyperband":
        tuner = cls(build, max_epochs=base.epochs, factor=3, **common)
        tuner.oracle.max_trials = max_trials  # Hyperband has no max_trials argument
    else:
        tuner = cls(build, max_trials=max_trials, **common)
    if verbose:
        print(f"[{model}] {algorithm} search, {max_trials} trial(s) over "
              f"{', '.join(space)}", file=stream, flush=True)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss",
                                         patience=base.early_stopping_patience,
                                         restore_best_weights=True)
    tuner.search(train_ds, validation_data=val_ds, epochs=base.epochs, callbacks=[stop],
                 verbose=0)

    best_trial = tuner.oracle.get_best_trials(1)[0]
    values = {k: v for k, v in best_trial.hyperparameters.values.items()
              if not k.startswith("tuner/")}
    best_cfg = config_from_hp(base, values)
    with warnings.catch_warnings():
        # The rebuilt model has a fresh optimizer; its saved slots are of no use here.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        best_model = tuner.get_best_models(1)[0]
    # The only look at the test split: the chosen trial's held-out metric.
    test = evaluate(heads, test_ex.targets, predict(best_model, best_cfg, vectorizer,
                                                    test_ex.inputs))
    trials = [{"trial": t.trial_id, "status": t.status, "val_loss": t.score,
               "hyperparameters": {k: v for k, v in t.hyperparameters.values.items()
                                   if not k.startswith("tuner/")}}
              for t in tuner.oracle.trials.values()]
    result = TuneResult(model, run_dir, best_cfg, values, float(best_trial.score), test,
                        test_ex.baseline(train_ex), trials, time.monotonic() - started)
    write_best(result, run_dir / BEST_CONFIG, algorithm)
    return result


def write_best(result: TuneResult, path: Path, algorithm: str) -> None:
    # labels/target_scaling are re-derived from the data by `train`.
    cfg = {k: v for k, v in result.best_config.to_dict().items()
           if k not in ("labels", "target_scaling")}
    doc = {"config": cfg, "hyperparameters": result.best_hyperparameters,
           "val_loss": result.best_val_loss, "test": result.test,
           "baseline": {"test": result.baseline}, "algorithm": algorithm,
           "trials": result.trials}
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=float) + "\n")


def format_result(result: TuneResult) -> list[str]:
    hp = ", ".join(f"{k}={_fmt(v)}" for k, v in result.best_hyperparameters.items())
    test = ", ".join(f"{k} {v:.3f}" for k, v in sorted(result.test.items()))
    base = ", ".join(f"{k} {v:.3f}" for k, v in sorted(result.baseline.items()))
    return [f"best of {len(result.trials)} trial(s): val_loss {result.best_val_loss:.4f} | {hp}",
            f"  held-out test (best trial only): {test}",
            f"  baseline (test): {base}",
            f"  best config: {result.run_dir / BEST_CONFIG} "
            f"(python -m training train --model {result.model} "
            f"--config {result.run_dir / BEST_CONFIG})",
            f"  {result.seconds:.0f}s"]


class _Null:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass


__all__: Sequence[str] = ("ALGORITHMS", "BEST_CONFIG", "TuneResult", "search_space", "tune")
