"""Hand-written evaluation sets of real English, split once into a dev and a test half.

`training/data/eval/` (training/data/evalsets.py) holds sentences written by hand to
measure what a trained model does on the real world. No generator produced them, none
was written from the generators' templates or vocabulary, and no training run sees them
(the generators drop a pair or snippet that holds one; tests/unit/training/
test_evaluation.py checks the default training data).

- ``similarity_everyday.tsv``: 546 pairs in Quora's columns (``question1, question2,
  is_duplicate``) plus ``kind, group, split``: 273 groups of an everyday sentence or
  question, a paraphrase of it, and a hard non-paraphrase that shares most of its words
  (another number, place, time or object, a negation, swapped roles, another question on
  the same topic), over 18 kinds: facts, howto, opinion, shopping, health, travel, work,
  numbers (and units), time, negation, comparison, food, home, money, tech, school,
  weather, people.
- ``qa_everyday.tsv``: 80 questions (``text, question, answer, group, split``) on 40
  short texts about real things, answered by an adjective of the `qa` model's answer
  vocabulary ("My sister's car is red." / "What colour is her car?" / "red").

Both were split once, by group (a sentence never lands in both halves), with
``random.Random(22)``: the similarity groups of each kind shuffled, the first half
(rounded down) dev and the rest test; the 40 qa texts likewise, 20 and 20. The ``split``
column records it and the files are never re-split. Every choice (data, operations,
architecture, weights) is made on DEV; TEST decides nothing: only `python -m training
report` and one test read it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data.evalsets import QA_EVERYDAY, SIMILARITY_EVERYDAY, eval_file

DEV, TEST = "dev", "test"
SPLITS = (DEV, TEST)


@dataclass(frozen=True)
class PairRow:
    left: str
    right: str
    paraphrase: bool
    kind: str
    group: str


@dataclass(frozen=True)
class QuestionRow:
    text: str
    question: str
    answer: str
    group: str


@dataclass(frozen=True)
class SplitScore:
    split: str
    value: float          # ROC AUC (similarity) or accuracy (qa)
    n: int                # pairs or questions


def _rows(name: str, split: str) -> list[dict[str, str]]:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    with open(eval_file(name), encoding="utf-8", newline="") as f:
        return [r for r in csv.DictReader(f, delimiter="\t") if r["split"] == split]


def similarity_pairs(split: str) -> list[PairRow]:
    return [PairRow(r["question1"], r["question2"], r["is_duplicate"] == "1", r["kind"],
                    r["group"]) for r in _rows(SIMILARITY_EVERYDAY, split)]


def qa_questions(split: str) -> list[QuestionRow]:
    return [QuestionRow(r["text"], r["question"], r["answer"], r["group"])
            for r in _rows(QA_EVERYDAY, split)]


def similarity_sentences() -> set[str]:
    """Every sentence of the similarity set, both halves (no training pair may hold one)."""
    return {s for split in SPLITS for p in similarity_pairs(split) for s in (p.left, p.right)}


def qa_items() -> set[tuple[str, str]]:
    """Every (text, question) of the qa set, both halves (no training snippet may be one)."""
    return {(q.text, q.question) for split in SPLITS for q in qa_questions(split)}


class RunScorer:
    """One trained run (its best weights), loaded once, scoring the hand-written sets."""

    def __init__(self, run_dir: str | Path) -> None:
        from training.export import load_run
        from training.text import make_vectorizer

        self.cfg, self.model, vocab = load_run(Path(run_dir))
        self.vectorizer = make_vectorizer(self.cfg.vocab_size, vocabulary=vocab)

    def _predict(self, inputs: dict[str, list[str]]) -> dict[str, np.ndarray]:
        from training.train import predict

        return predict(self.model, self.cfg, self.vectorizer,
                       {k: np.array(v, dtype=object) for k, v in inputs.items()})

    def similarity(self, left: list[str], right: list[str]) -> np.ndarray:
        return self._predict({"left": left, "right": right})["similarity"]

    def answers(self, texts: list[str], questions: list[str]) -> list[str]:
        probs = self._predict({"text": texts, "question": questions})["answer"]
        labels = self.cfg.labels["answer"]
        return [labels[i] for i in np.argmax(probs, axis=-1)]

    def pair_scores(self, rows: list[PairRow]) -> np.ndarray:
        return self.similarity([r.left for r in rows], [r.right for r in rows])

    def similarity_auc(self, split: str) -> SplitScore:
        from training.train import roc_auc

        rows = similarity_pairs(split)
        auc = roc_auc(np.array([r.paraphrase for r in rows], dtype=np.float32),
                      self.pair_scores(rows))
        return SplitScore(split, auc, len(rows))

    def qa_accuracy(self, split: str) -> SplitScore:
        rows = qa_questions(split)
        got = self.answers([r.text for r in rows], [r.question for r in rows])
        right = sum(g == r.answer for g, r in zip(got, rows, strict=True))
        return SplitScore(split, right / len(rows), len(rows))

    def misses(self, split: str, n: int = 10) -> list[tuple[float, PairRow]]:
        """The `n` pairs of `split` the run gets most wrong (score, pair)."""
        rows = similarity_pairs(split)
        scores = self.pair_scores(rows)
        wrong = [(float(s), r) for s, r in zip(scores, rows, strict=True)
                 if (s > 0.5) != r.paraphrase]
        return sorted(wrong, key=lambda t: -abs(t[0] - 0.5))[:n]


# model -> (the set its run is scored on, the figure)
HELDOUT = {"similarity": (SIMILARITY_EVERYDAY, "ROC AUC"), "qa": (QA_EVERYDAY, "accuracy")}


def heldout_scores(run_dir: str | Path, model: str) -> list[SplitScore]:
    """Dev and test figures of a `similarity` (ROC AUC) or `qa` run (accuracy); none for
    another model."""
    if model not in HELDOUT:
        return []
    eval_file(HELDOUT[model][0])  # a missing set fails before the model loads
    scorer = RunScorer(run_dir)
    score = scorer.similarity_auc if model == "similarity" else scorer.qa_accuracy
    return [score(s) for s in SPLITS]
