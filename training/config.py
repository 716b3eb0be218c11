"""The config every model's dataclass extends: sizes, sequence lengths, loss weights,
training knobs.

Each room (training/models/NAME/config.py) subclasses `ModelConfig` with its
architecture's sizes and declares `TEST_PRESET`. A config is plain data: `to_dict()` /
`from_dict()` round-trip through JSON (a run's `config.json`, `train --config FILE.json`,
a tuner's best config), and `apply_overrides(cfg, ["units=64", "loss_weights.age=0.5"])`
is what the CLI's `--set` does. Two presets per model: the defaults (what `python -m
training all` trains, a few tens of seconds per model on 2 CPU cores) and "test"
(smaller still, for the test suite's session fixture); `training.models.config_for(NAME,
preset)` looks a model's up by name.

`labels` and `target_scaling` are filled in from the training data by
`training.train` (class labels per head; mean and std of each regression target,
which the model learns normalized and the export de-normalizes), so that a
run's `config.json` alone rebuilds the model for export.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass
class ModelConfig:
    """Fields every model shares; subclasses add their architecture's sizes."""

    model: ClassVar[str] = ""
    # Pad every text input to exactly max_tokens (the Conv1D stack needs a fixed
    # length); models with masked LSTMs only truncate.
    pad_to_max: ClassVar[bool] = False

    vocab_size: int = 2000
    embedding_dim: int = 32
    units: int = 32
    max_tokens: dict[str, int] = field(default_factory=dict)
    loss_weights: dict[str, float] = field(default_factory=dict)
    learning_rate: float = 3e-3
    epochs: int = 8
    batch_size: int = 64
    # Synthetic examples generated when no --data file is given (train+val+test).
    examples: int = 3000
    validation_split: float = 0.15
    test_split: float = 0.15
    early_stopping_patience: int = 3
    # Regression targets are trained as (y - mean) / std * regression_target_std.
    regression_target_std: float = 1.0
    reduce_lr_patience: int = 2
    seed: int = 0
    # Filled from the data by training.train.
    labels: dict[str, list[str] | None] = field(default_factory=dict)
    target_scaling: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, **dataclasses.asdict(self)}

    def fixed_sizes(self) -> frozenset[str]:
        """Size fields this config's other choices fix (a search leaves them as they are)."""
        return frozenset()


PRESETS = ("default", "test")


def with_preset(cfg: ModelConfig, preset: str, test_preset: dict[str, Any]) -> ModelConfig:
    """`cfg` in one of PRESETS ("test" applies the room's `test_preset`)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {PRESETS}")
    return dataclasses.replace(cfg, **test_preset) if preset == "test" else cfg


def from_dict(cls: type[ModelConfig], data: dict[str, Any]) -> ModelConfig:
    """A `cls` config from a dict such as `to_dict()` wrote; unknown keys are an error."""
    data = dict(data)
    name = data.pop("model", None) or cls.model
    if name != cls.model:
        raise ValueError(f"config is for model {name!r}, not {cls.model!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown config field(s) for {name}: {', '.join(unknown)}")
    base = dataclasses.asdict(cls())
    for key, value in data.items():
        # Partial dicts (e.g. only one loss weight) update the defaults.
        if isinstance(base.get(key), dict) and isinstance(value, dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return cls(**base)


def read_config_json(path: str | Path) -> dict[str, Any]:
    """A config file's dict; a tuner's result file wraps it: {"config": {...}, ...}."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if "config" in data and isinstance(data["config"], dict):
        data = data["config"]
    return data


def save_config(cfg: ModelConfig, path: str | Path) -> None:
    Path(path).write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n")


def apply_overrides(cfg: ModelConfig, assignments: list[str]) -> ModelConfig:
    """`["units=64", "loss_weights.age=0.5", "max_tokens.posts=400"]` applied to cfg.

    Values are parsed as JSON when they parse (numbers, lists, true), else kept as
    strings.
    """
    data = cfg.to_dict()
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        target = data
        *parents, leaf = key.split(".")
        for p in parents:
            if not isinstance(target.get(p), dict):
                raise ValueError(f"--set {item!r}: {p!r} is not a dict field of {cfg.model}")
            target = target[p]
        if not parents and leaf not in data:
            raise ValueError(f"--set {item!r}: {cfg.model} has no config field {leaf!r}")
        target[leaf] = value
    return from_dict(type(cfg), data)
