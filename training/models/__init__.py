"""Model registry: one module per architecture, each with build_model(cfg).

Every module also declares its DESCRIPTION, INPUTS (name -> kind text|float) and
HEADS (name -> kind regression|binary|multiclass); training, export and the
model card read the names from there, so one name is used everywhere.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import keras

from training.config import ModelConfig

DEFAULT_MODELS = ("qa", "profiler", "similarity", "headline")
# Every trainable model: the default four (`python -m training all`) plus the
# multimodal `price`, trained on request (`all --with-price`, `train --model price`).
MODELS = (*DEFAULT_MODELS, "price")


def model_module(name: str) -> ModuleType:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; expected one of {list(MODELS)}")
    return importlib.import_module(f"training.models.{name}")


def build_model(name: str, cfg: ModelConfig) -> keras.Model:
    module = model_module(name)
    if cfg.model != name:
        raise ValueError(f"config is for model {cfg.model!r}, not {name!r}")
    return module.build_model(cfg)


__all__ = ["DEFAULT_MODELS", "MODELS", "build_model", "model_module"]
