"""The models: one room (package) per model under training/models/, found by discovery.

Every package here that binds `ROOM` (a `training.room.Room`) is a model; nothing else
lists them. What the rest of `training` asks about a model by name is answered here:
its room, its config (by preset, or from a JSON file), its Keras model, its data
(generated, or read from a user's file). `MODELS` is every room, `DEFAULT_MODELS` those
`python -m training all` trains (`Room.default`), both sorted by name.

Modules that are not packages (blocks.py: layers several rooms share) are not rooms.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from pathlib import Path
from typing import Any

from training.config import ModelConfig, from_dict, read_config_json, with_preset
from training.data.examples import Examples
from training.data.files import DataFileError
from training.room import SYNTHETIC, Room


@functools.cache
def rooms() -> dict[str, Room]:
    """Every room, by name (sorted)."""
    found: dict[str, Room] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        room_ = getattr(module, "ROOM", None)
        if not isinstance(room_, Room):
            raise TypeError(f"{module.__name__} is a package under training/models but binds "
                            "no ROOM = training.room.Room(...)")
        if room_.name != info.name:
            raise ValueError(f"{module.__name__}: ROOM.name is {room_.name!r}; a room is named "
                             "after its folder")
        found[room_.name] = room_
    return found


def room(name: str) -> Room:
    try:
        return rooms()[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of {list(rooms())}") from None


def __getattr__(name: str) -> Any:
    # Module attributes computed on first use, so that importing this package imports no room.
    if name == "MODELS":
        return tuple(rooms())
    if name == "DEFAULT_MODELS":
        return tuple(n for n, r in rooms().items() if r.default)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_model(name: str, cfg: ModelConfig) -> Any:
    """The room's Keras model for `cfg`."""
    r = room(name)
    if cfg.model != name:
        raise ValueError(f"config is for model {cfg.model!r}, not {name!r}")
    return r.build(cfg)


# -- configs ----------------------------------------------------------------------------------


def default_config(name: str) -> ModelConfig:
    return room(name).config()


def config_for(name: str, preset: str = "default") -> ModelConfig:
    """The model's config in one of training.config.PRESETS."""
    r = room(name)
    return with_preset(r.config(), preset, dict(r.test_preset))


def config_from_dict(data: dict[str, Any], model: str | None = None) -> ModelConfig:
    """A config from a dict such as `to_dict()` wrote (its "model" field, else `model`)."""
    name = data.get("model") or model
    if name is None:
        raise ValueError("config has no 'model' field and no model was given")
    if model is not None and name != model:
        raise ValueError(f"config is for model {name!r}, not {model!r}")
    return from_dict(room(name).config, data)


def load_config(path: str | Path, model: str | None = None) -> ModelConfig:
    """A config JSON file (a run's config.json, a tuner's best_config.json)."""
    return config_from_dict(read_config_json(path), model)


# -- data -------------------------------------------------------------------------------------


def generate(name: str, n: int, seed: int = 0, source: str | None = None) -> Examples:
    """`n` generated examples for model `name`, fixed by `seed`, from one of its room's
    sources (None: the synthetic generator)."""
    sources = room(name).sources
    source = source or SYNTHETIC
    if source not in sources:
        raise ValueError(f"no {source!r} data for model {name!r}; expected one of "
                         f"{sorted(sources)}")
    if n < 1:
        raise ValueError(f"n must be a positive number of examples, got {n}")
    return sources[source](n, seed)


def load_file(name: str, path: str | os.PathLike) -> Examples:
    """Examples for model `name` read from `path` by its room's loader."""
    loader = room(name).loader
    if loader is None:
        with_loader = sorted(n for n, r in rooms().items() if r.loader is not None)
        raise ValueError(f"no file format for model {name!r}; expected one of {with_loader}")
    path = Path(path)
    if path.suffix.lower() not in loader.suffixes:
        got = repr(path.suffix) if path.suffix else "no suffix"
        raise DataFileError(path, None, f"model {name!r} reads "
                                        f"{' or '.join(loader.suffixes)} files, got {got}")
    return loader.read(path)


__all__ = ["DEFAULT_MODELS", "MODELS", "build_model", "config_for", "config_from_dict",
           "default_config", "generate", "load_config", "load_file", "room", "rooms"]
