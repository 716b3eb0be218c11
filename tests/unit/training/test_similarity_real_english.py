"""The default `similarity` model (default preset, as `make models` trains it) on real English.

Reads the default preset's run, trained beside the session (tests/background_runs.py;
about 75 s of CPU time: 60k WordNet pairs, 3 epochs), unless MULTIHEAD_SIMILARITY_RUN
names a finished run of it (e.g. `runs/similarity` after `make models`). The pairs in
training/data/eval/similarity_eval.tsv were written by hand and are held out of the
training pairs (the generator was tuned on them);
`test_the_report_scores_the_hand_written_pairs` is the one test that reads the test half
of similarity_everyday.tsv (training/evaluation.py), which decides nothing else.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from training.models import config_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# similarity_eval.tsv (the 120 pairs the generator's first weights were tuned on): measured
# 0.865, 0.839, 0.871, 0.888, 0.858 (seeds 0-4; without dropout 0.859-0.888, with WordNet's
# start vectors 0.792-0.876; 0.886 before the operation weights were chosen on the everyday
# pairs' dev half); the synthetic-vocabulary model scored 0.47.
MIN_AUC = 0.80
# The everyday pairs' test half, the issue's target: measured 0.914, 0.940, 0.930, 0.908,
# 0.886 (dev 0.922, 0.923, 0.925, 0.920, 0.908; seeds 0-4; this session's run is seed 0).
# Without dropout 0.806-0.860, before the everyday and contrast intents 0.695-0.807, with
# WordNet's start vectors 0.631-0.725, before the alignment model 0.530, before that 0.336.
MIN_TEST_AUC = 0.88


@pytest.fixture(scope="module")
def default_run(request: pytest.FixtureRequest) -> Path:
    given = os.environ.get("MULTIHEAD_SIMILARITY_RUN")
    if given:
        from training.models import load_config

        cfg, default = load_config(Path(given) / "config.json"), config_for("similarity")
        for name in ("source", "examples", "embedding_init", "vocab_size", "seed"):
            assert getattr(cfg, name) == getattr(default, name), \
                f"MULTIHEAD_SIMILARITY_RUN={given} is not a default-preset run ({name})"
        return Path(given)
    # config_for("similarity"), trained beside the session (tests/background_runs.py)
    return request.getfixturevalue("default_runs").result("similarity")


@pytest.fixture(scope="module")
def scorer(default_run: Path):
    from training.evaluation import RunScorer

    return RunScorer(default_run)


@pytest.fixture(scope="module")
def score(scorer):
    def run(left: list[str], right: list[str]) -> np.ndarray:
        return scorer.similarity(left, right)

    return run


def test_the_report_scores_the_hand_written_pairs(default_run: Path, scorer) -> None:
    # The one test that reads the everyday pairs' test half (through the report).
    from training.evaluation import DEV, TEST
    from training.report import build_report, format_report, real_english_auc

    auc = real_english_auc(default_run)
    assert auc >= MIN_AUC
    rep = build_report(default_run)
    assert rep.real_english_auc == pytest.approx(auc)
    dev, test = rep.heldout
    assert (dev.split, test.split) == (DEV, TEST) and dev.n + test.n >= 400
    assert dev.value == pytest.approx(scorer.similarity_auc(DEV).value)
    assert test.value >= MIN_TEST_AUC
    assert dev.value - test.value < 0.03  # what dev chose holds on the half it never saw
    assert f"ROC AUC dev {dev.value:.3f} ({dev.n}), test {test.value:.3f}" in format_report(rep)


def test_the_sdk_examples(score) -> None:
    same, other = score(["How old are you?", "How old are you?"],
                        ["What is your age?", "Where do you live?"])
    assert same > 0.5 > other
    # symmetric, as the Siamese model is
    assert score(["What is your age?"], ["How old are you?"])[0] == pytest.approx(same, abs=1e-5)


# Every similarity pair the demo (`make demo` and README's curl block print the room's
# demo requests, training/models/similarity/__init__.py), the playground's defaults, the
# integration samples and README's SDK lines show, with the verdict they show it with
# (True: a paraphrase).
SHOWN = {
    ("how do i learn python quickly", "what is the best way to study python"): True,
    ("how can i learn piano fast", "what is the best way to master piano"): True,
    ("where can i buy a cheap laptop", "how do i fix a broken bike"): False,
    ("is tokyo a good place to live", "what is the weather like in tokyo"): False,
    ("How old are you?", "What is your age?"): True,
    ("How old are you?", "Where do you live?"): False,
    ("how do i learn python", "best way to study python"): True,  # README's grpcurl line
}


def _shown_pairs() -> set[tuple[str, str]]:
    from tests.integration.conftest import SAMPLES
    from training.models import room

    pairs: set[tuple[str, str]] = set()
    for body in (e.body for e in room("similarity").examples):
        if "inputs" in body:
            pairs |= set(zip(body["inputs"]["left"], body["inputs"]["right"], strict=True))
        pairs |= {tuple(p) for p in body.get("pairs", [])}
    pairs |= set(zip(SAMPLES["similarity"]["left"], SAMPLES["similarity"]["right"],
                     strict=True))
    page = (Path(__file__).resolve().parents[3] / "serving" / "ui" / "static" /
            "index.html").read_text(encoding="utf-8")
    left, right = (re.search(rf'id="sim-{side}" type="text" value="([^"]+)"', page).group(1)
                   for side in ("left", "right"))
    return pairs | {(left, right)}


def test_every_shown_pair_has_a_verdict() -> None:
    assert _shown_pairs() <= set(SHOWN)


def test_the_shown_pairs_get_the_verdict_they_are_shown_with(score) -> None:
    pairs = list(SHOWN)
    got = score([a for a, _ in pairs], [b for _, b in pairs])
    wrong = [(p, round(float(g), 3)) for p, g in zip(pairs, got, strict=True)
             if (g > 0.5) != SHOWN[p]]
    assert not wrong


def test_the_word_vectors_stay_the_pretrained_ones(default_run: Path, scorer) -> None:
    # Frozen through training, over the training pairs' tokens and everyday words beyond them.
    from training.data.english_vectors import word_vectors
    from training.text import load_vocabulary

    vocab = load_vocabulary(default_run / "vocab.txt")
    assert 45000 < len(vocab) <= scorer.cfg.vocab_size and {"headache", "tickets"} <= set(vocab)
    (weights,) = scorer.model.get_layer("encoder").get_layer("embedding").get_weights()
    np.testing.assert_allclose(weights[: len(vocab)], word_vectors(vocab), atol=1e-6)
