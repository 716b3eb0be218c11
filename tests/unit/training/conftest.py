"""Helpers for the training tests: tiny configs and Keras-side predictions of a run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from training.config import ModelConfig
from training.models import config_for

# The head and input names of ARCHITECTURE.md's model table.
TABLE = {
    "qa": ({"text", "question"}, {"answer"}),
    "profiler": ({"posts"}, {"age", "income", "gender"}),
    "similarity": ({"left", "right"}, {"similarity"}),
    "headline": ({"headline", "aux"}, {"main_output", "aux_output"}),
}
LABELS = {"qa": {"answer": [f"w{i}" for i in range(7)]},
          "profiler": {"income": ["low", "lower-middle", "upper-middle", "high"],
                       "gender": ["female", "male"]}}


def tiny(model: str, **overrides) -> ModelConfig:
    """A config with labels filled in, as training leaves it, for building models."""
    cfg = config_for(model, "test")
    cfg.labels = dict(LABELS.get(model, {}))
    return dataclasses.replace(cfg, **overrides)


@pytest.fixture(scope="session")
def keras_side():
    """run_dir -> function(inputs dict of raw arrays) -> (Keras predictions, token ids)."""
    from training.export import load_run
    from training.text import make_vectorizer
    from training.train import predict, vectorize_arrays

    cache: dict[Path, tuple] = {}

    def side(run_dir: str | Path, inputs: dict[str, np.ndarray]):
        run_dir = Path(run_dir)
        if run_dir not in cache:
            cfg, model, vocab = load_run(run_dir)
            cache[run_dir] = (cfg, model, make_vectorizer(cfg.vocab_size, vocabulary=vocab))
        cfg, model, vec = cache[run_dir]
        ids = {k: v for k, v in vectorize_arrays(cfg, vec, inputs).items() if v.dtype != object}
        return predict(model, cfg, vec, inputs), ids

    return side
