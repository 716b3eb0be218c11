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

`--distributed` runs one process of a search spread over machines, keras-tuner's own
distributed mode: a chief oracle and N workers (training/tune_cluster.py).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import keras
import keras_tuner as kt

from training.config import ModelConfig
from training.models import build_model, default_config, room
from training.prepare import load_data, prepare
from training.train import compile_model, evaluate, predict
from training.tune_cluster import SearchRole, search_role

ALGORITHMS = ("random", "bayesian", "hyperband")
BEST_CONFIG = "best_config.json"
# Fields that are sizes of the architecture (tuned), as opposed to data shapes
# (vocab_size, max_tokens, image_size: fixed by the data) and training knobs.
_WIDTH_SUFFIXES = ("units", "embedding_dim", "filters")
_DEPTH_SUFFIXES = ("_layers", "_blocks")


def search_space(cfg: ModelConfig) -> dict[str, dict[str, Any]]:
    """Config field -> keras-tuner hyperparameter spec, from the config's own defaults."""
    space: dict[str, dict[str, Any]] = {}
    fixed = cfg.fixed_sizes()
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.name in fixed or isinstance(value, bool) or not isinstance(value, int | float):
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


def _tuner_class(algorithm: str, stream: TextIO, label: str, max_trials: int):
    base = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization,
            "hyperband": kt.Hyperband}[algorithm]

    class ProgressTuner(base):  # type: ignore[misc, valid-type]
        """keras-tuner's tuner plus one line per finished trial."""

        def on_trial_end(self, trial: kt.engine.trial.Trial) -> None:
            super().on_trial_end(trial)
            # Trial ids count from 0 in the order the oracle made them (a worker's oracle
            # is the chief's, over gRPC: it has no list of trials, only the best ones).
            number = int(trial.trial_id) + 1
            hp = ", ".join(f"{k}={_fmt(v)}" for k, v in trial.hyperparameters.values.items()
                           if not k.startswith("tuner/"))
            # The oracle's copy has the score (a worker's own trial object does not).
            score = self.oracle.get_trial(trial.trial_id).score
            score = "-" if score is None else f"{score:.4f}"
            best = self.oracle.get_best_trials(1)
            best_score = best[0].score if best and best[0].score is not None else None
            print(f"[{label}] trial {number}/{max_trials} {trial.status.lower()} "
                  f"val_loss {score} (best {_fmt(best_score)}) | {hp}", file=stream, flush=True)

    return ProgressTuner


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def tune(model: str, *, cfg: ModelConfig | None = None, data_path: str | Path | None = None,
         out: str | Path = "runs", run_name: str | None = None, max_trials: int = 10,
         algorithm: str = "random", epochs: int | None = None, seed: int | None = None,
         verbose: bool = True, distributed: bool = False) -> TuneResult | None:
    """Search, write `best_config.json`, return the result; with `distributed`, one
    process of a search over several (training/tune_cluster.py): a worker returns None,
    the chief the result of the whole search."""
    role = search_role(os.environ, distributed)
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

    # A worker must not wipe the directory the chief and the other workers share.
    common = {"objective": "val_loss", "directory": str(run_dir), "project_name": "tuner",
              "overwrite": role is None or role.chief, "seed": base.seed}
    label = model if role is None else f"{model} {role.tuner_id}"
    cls = _tuner_class(algorithm, stream, label, max_trials)
    if algorithm == "hyperband":
        tuner = cls(build, max_epochs=base.epochs, factor=3, **common)
        tuner.oracle.max_trials = max_trials  # Hyperband has no max_trials argument
    else:
        tuner = cls(build, max_trials=max_trials, **common)
    if verbose:
        print(f"[{label}] {_describe(role, algorithm, max_trials)} over {', '.join(space)}",
              file=stream, flush=True)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss",
                                         patience=base.early_stopping_patience,
                                         restore_best_weights=True)

    def search() -> None:
        tuner.search(train_ds, validation_data=val_ds, epochs=base.epochs, callbacks=[stop],
                     verbose=0)

    if role is not None and role.chief:
        serve_oracle(tuner.oracle, search)
    else:
        search()
        if role is not None:  # a worker: the chief holds the search's result
            return None

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


def serve_oracle(oracle: kt.Oracle, search: Callable[[], None], poll_s: float = 0.5) -> None:
    """The chief's part of a distributed search, until every worker has been told that no
    trial is left and none is still training.

    On the chief, keras-tuner's `search` is its oracle server, which checks that condition
    every 20 s once a worker is done (keras_tuner/src/distribute/oracle_chief.py): here it
    runs in a daemon thread, and the chief goes on as soon as the condition holds.
    """
    server = threading.Thread(target=search, name="keras-tuner-oracle", daemon=True)
    server.start()
    # len() of the oracle's dicts and sets is atomic; the gRPC threads change them.
    while server.is_alive() and not (oracle.trials and not oracle.ongoing_trials
                                     and not oracle.tuner_ids):
        server.join(poll_s)


def _describe(role: SearchRole | None, algorithm: str, max_trials: int) -> str:
    search = f"{algorithm} search, {max_trials} trial(s)"
    if role is None:
        return search
    if role.chief:
        return f"oracle of a {search}, listening on {role.oracle} for the workers;"
    return f"trials of a {search}, from the chief at {role.oracle};"


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
