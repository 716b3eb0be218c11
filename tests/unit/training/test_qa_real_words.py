"""The `qa` model's real-word snippets (training/data/wordnet_qa.py) and the default model.

The generator tests need only Debian's wordnet-base. The last test takes the default
`qa` preset's run (synthetic and real-word snippets mixed; trained beside the session,
tests/background_runs.py) and asks it questions about real things written here by hand, with words
and sentences the generator does not use ("The tea is hot" is not one of its facts:
it says "the tea is hot" only if it draws "tea", and never "The ... and the ...").
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from training.models import config_for, generate
from training.models.qa import data as synthetic_qa
from training.models.qa import wordnet as wordnet_qa

pytestmark = pytest.mark.timeout(600)


def test_real_snippets_answer_with_the_asked_property() -> None:
    props = wordnet_qa.properties()
    # WordNet's attribute relation: how-adjectives of their properties
    assert props["age"][0] == "old" and {"old", "new", "young"} <= set(props["age"][1])
    assert {"hot", "cold"} <= set(props["temperature"][1])
    assert {"red", "blue"} <= set(props["colour"][1])
    texts, questions, answers = wordnet_qa.real_qa(400, seed=3)
    for text, question, answer in zip(texts, questions, answers, strict=True):
        thing = re.search(r"the ([a-z'-]+)(?: like)?\?$", question)
        assert thing, question
        # the answer is said of the asked thing in the text
        facts = [f for f in text.rstrip(".").split(". ")
                 if f.startswith(f"the {thing.group(1)} ")]
        assert any(f.endswith(f" {answer}") for f in facts), (text, question, answer)


def test_mixed_is_seeded_and_keeps_the_synthetic_answers() -> None:
    a, b, c = (generate("qa", 300, seed=s, source="mixed") for s in (1, 1, 2))
    assert list(a.inputs["text"]) == list(b.inputs["text"])
    assert list(a.inputs["text"]) != list(c.inputs["text"])
    labels = a.labels["answer"]
    assert set(synthetic_qa.ANSWERS) <= set(labels) and set(wordnet_qa.answers()) <= set(labels)
    names = set(synthetic_qa.NAMES)
    real = [q for q in a.inputs["question"] if not names & set(re.findall(r"[a-z]+", q))]
    assert 0.3 < len(real) / len(a) < 0.5
    # the test preset stays on the synthetic snippets (the test suite's model repository)
    assert config_for("qa", "test").source == "synthetic"
    assert config_for("qa").source == "mixed"


# Hand-written: (text, question, answer). The first eight, which the qa choices were made
# on; the larger set with a dev and a test half is training/data/eval/qa_everyday.tsv.
REAL_QUESTIONS = [
    ("The tea is hot. The road is very long.", "How long is the road?", "long"),
    ("The tea is hot. The road is very long.", "How hot is the tea?", "hot"),
    ("My car is red. The box is heavy.", "What colour is the car?", "red"),
    ("My car is red. The box is heavy.", "How heavy is the box?", "heavy"),
    ("The river is wide. The house is old. The apple is green.",
     "What is the age of the house?", "old"),
    ("The river is wide. The house is old. The apple is green.",
     "What color is the apple?", "green"),
    ("The horse is fast. The bread is dry.", "How fast is the horse?", "fast"),
    ("The shirt is white. The horse is slow.", "What is the speed of the horse?", "slow"),
]


@pytest.mark.slow
def test_default_qa_answers_real_word_questions(default_runs) -> None:  # noqa: ANN001
    import json

    from training.export import load_run
    from training.text import make_vectorizer
    from training.train import predict

    run_dir = default_runs.result("qa")  # config_for("qa"), trained beside the session
    metrics = json.loads((run_dir / "metrics.json").read_text())
    # held-out mixed snippets: measured 0.75 (the majority answer: 0.03)
    assert metrics["test"]["answer_accuracy"] > 0.65
    cfg, model, vocab = load_run(run_dir)
    derived = {"labels": None, "target_scaling": None}  # from the data
    assert cfg.to_dict() | derived == config_for("qa").to_dict() | derived
    vec = make_vectorizer(cfg.vocab_size, vocabulary=vocab)

    def answer(texts, questions) -> list[str]:
        probs = predict(model, cfg, vec, {"text": np.array(texts, dtype=object),
                                          "question": np.array(questions, dtype=object)})
        return [cfg.labels["answer"][i] for i in np.argmax(probs["answer"], axis=-1)]

    # the synthetic snippets are still answered (measured 0.83; the synthetic-only
    # default reached 0.84)
    syn = synthetic_qa.qa(300, seed=99)
    truth = [syn.labels["answer"][i] for i in syn.targets["answer"]]
    got = answer(syn.inputs["text"], syn.inputs["question"])
    assert np.mean([g == t for g, t in zip(got, truth, strict=True)]) > 0.65
    # the hand-written real ones: measured 7 of 8 (the synthetic-only default: 2, the
    # colours it guesses from "colour")
    texts, questions, expected = zip(*REAL_QUESTIONS, strict=True)
    got = answer(texts, questions)
    right = sum(g == e for g, e in zip(got, expected, strict=True))
    assert right >= 6, list(zip(questions, got, strict=True))
    # The 80 hand-written questions of training/data/eval/qa_everyday.tsv, through the
    # report (the one test that reads their test half): measured dev 0.50, test 0.60.
    from training.report import build_report

    dev, test = build_report(run_dir).heldout
    assert (dev.n, test.n) == (40, 40) and dev.value >= 0.4 and test.value >= 0.45
