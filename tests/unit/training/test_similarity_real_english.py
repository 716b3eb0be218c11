"""The default `similarity` model (default preset, as `make models` trains it) on real English.

Trains the default preset once for this module (about 1-1.5 minutes on 2 idle cores:
60k WordNet pairs, 3 epochs) unless MULTIHEAD_SIMILARITY_RUN names a finished run of
it (e.g. `runs/similarity` after `make models`). The pairs in training/data/eval/
similarity_eval.tsv were written by hand and are held out of the training pairs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from training.config import config_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# Measured 0.886 (seed 0; 0.886 with seed 1 too); the synthetic-vocabulary model scored
# 0.47. The issue asks for 0.85.
MIN_AUC = 0.85


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("MULTIHEAD_SIMILARITY_RUN")
    if given:
        from training.config import load_config

        cfg, default = load_config(Path(given) / "config.json"), config_for("similarity")
        for name in ("source", "examples", "embedding_init", "vocab_size", "seed"):
            assert getattr(cfg, name) == getattr(default, name), \
                f"MULTIHEAD_SIMILARITY_RUN={given} is not a default-preset run ({name})"
        return Path(given)
    from training.train import train

    run = train("similarity", cfg=config_for("similarity"),
                out=tmp_path_factory.mktemp("similarity-default"), verbose=False)
    return run.run_dir


@pytest.fixture(scope="module")
def score(default_run: Path):
    from training.export import load_run
    from training.text import make_vectorizer
    from training.train import predict

    cfg, model, vocab = load_run(default_run)
    vec = make_vectorizer(cfg.vocab_size, vocabulary=vocab)

    def run(left: list[str], right: list[str]) -> np.ndarray:
        inputs = {"left": np.array(left, dtype=object), "right": np.array(right, dtype=object)}
        return predict(model, cfg, vec, inputs)["similarity"]

    return run


def test_auc_on_hand_written_pairs(default_run: Path) -> None:
    from training.report import build_report, real_english_auc

    auc = real_english_auc(default_run)
    assert auc >= MIN_AUC
    assert build_report(default_run).real_english_auc == pytest.approx(auc)


def test_the_sdk_examples(score) -> None:
    same, other = score(["How old are you?", "How old are you?"],
                        ["What is your age?", "Where do you live?"])
    assert same > 0.5 > other
    # symmetric, as the Siamese model is
    assert score(["What is your age?"], ["How old are you?"])[0] == pytest.approx(same, abs=1e-5)
