"""`qa` data files: ``.jsonl``, ``{"text": str, "question": str, "answer": str}``; the
labels are the file's distinct answers, sorted."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data.examples import Examples
from training.data.files import JSONL_SUFFIXES, describe, jsonl_records
from training.room import FileLoader


def load_qa(path: Path) -> Examples:
    texts, questions, answers = [], [], []
    for at, rec in jsonl_records(path, "fields text, question, answer"):
        texts.append(at.text(rec, "text"))
        questions.append(at.text(rec, "question"))
        answer = at.text(rec, "answer").strip()
        if not answer:
            raise at.error("field 'answer' must be a non-empty string")
        answers.append(answer)
    labels = sorted(set(answers))
    index = {a: i for i, a in enumerate(labels)}
    return Examples(
        inputs={"text": np.array(texts, dtype=object),
                "question": np.array(questions, dtype=object)},
        targets={"answer": np.array([index[a] for a in answers], np.int32)},
        labels={"answer": labels},
        description=describe(path, "jsonl", len(texts)),
        kinds={"answer": "multiclass"},
    )


LOADER = FileLoader(JSONL_SUFFIXES, load_qa)
