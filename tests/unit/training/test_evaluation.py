"""The hand-written evaluation sets (training/evaluation.py): their shape, their fixed split,
and that no sentence of them is in the data the default models train on.

The leak check generates the default presets' training data (60,000 WordNet pairs and
5,000 qa snippets, about 30 s on two idle cores, most of it reading WordNet).
"""

from __future__ import annotations

import collections
import re

import pytest

from training import evaluation
from training.models import config_for, generate


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


def test_similarity_set_is_balanced_tagged_and_split_by_group() -> None:
    dev, test = (evaluation.similarity_pairs(s) for s in evaluation.SPLITS)
    rows = dev + test
    assert len(rows) >= 400
    assert sum(r.paraphrase for r in rows) * 2 == len(rows)
    kinds = collections.Counter(r.kind for r in rows)
    assert len(kinds) >= 10 and min(kinds.values()) >= 20
    # every kind in both halves, every group (an anchor, its paraphrase and its hard
    # non-paraphrase) in one half only
    assert {r.kind for r in dev} == {r.kind for r in test} == set(kinds)
    assert not {r.group for r in dev} & {r.group for r in test}
    for half in (dev, test):
        by_group = collections.defaultdict(list)
        for r in half:
            by_group[r.group].append(r)
        assert all(sorted(p.paraphrase for p in g) == [False, True]
                   for g in by_group.values())
    assert len(test) >= len(dev) >= 200


def test_hard_non_paraphrases_share_most_words() -> None:
    def overlap(a: str, b: str) -> float:
        x, y = set(_normal(a).split()), set(_normal(b).split())
        return len(x & y) / len(x | y)

    rows = [r for s in evaluation.SPLITS for r in evaluation.similarity_pairs(s)]
    hard = [overlap(r.left, r.right) for r in rows if not r.paraphrase]
    para = [overlap(r.left, r.right) for r in rows if r.paraphrase]
    # Word overlap alone would rank them backwards: the non-paraphrases share more.
    assert sum(hard) / len(hard) > 0.5 > sum(para) / len(para)


def test_qa_set_answers_from_the_text_within_the_answer_vocabulary() -> None:
    from training.models.qa import data, wordnet

    labels = set(data.ANSWERS) | set(wordnet.answers())
    dev, test = (evaluation.qa_questions(s) for s in evaluation.SPLITS)
    assert len(dev) >= 40 and len(test) >= 40
    assert not {q.group for q in dev} & {q.group for q in test}
    for q in dev + test:
        assert q.answer in labels and q.answer in _normal(q.text).split(), q


def test_a_split_name_is_checked() -> None:
    with pytest.raises(ValueError, match="split"):
        evaluation.similarity_pairs("train")


def _default_data(model: str):
    cfg = config_for(model)
    return generate(model, cfg.examples, seed=cfg.seed, source=cfg.source).inputs


@pytest.mark.slow
def test_no_eval_sentence_is_in_the_default_similarity_training_pairs() -> None:
    inputs = _default_data("similarity")
    generated = {_normal(s) for side in ("left", "right") for s in inputs[side]}
    assert not sorted({_normal(s) for s in evaluation.similarity_sentences()} & generated)


def test_no_eval_text_is_in_the_default_qa_training_snippets() -> None:
    inputs = _default_data("qa")
    texts = {_normal(t) for t in inputs["text"]}
    items = set(zip(map(_normal, inputs["text"]), map(_normal, inputs["question"]),
                    strict=True))
    for text, question in evaluation.qa_items():
        assert _normal(text) not in texts
        assert (_normal(text), _normal(question)) not in items
