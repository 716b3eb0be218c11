"""Evaluation sets shipped with `training` (package data under `training/data/eval/`).

They are written by hand, never generated, and no training run sees them: they measure
what a model learnt on sentences of the real world. A generator whose templates could
produce one of their pairs drops it (training/data/wordnet_pairs.py), so the figure
stays a held-out one.

- `similarity_eval.tsv`: 120 pairs of everyday English in Quora's columns
  (`question1, question2, is_duplicate`), half paraphrases and half non-paraphrases
  that share words. The WordNet generator's operation weights were chosen on them, so
  they are dev data now; `python -m training report` still scores a similarity run on it.
- `similarity_everyday.tsv` and `qa_everyday.tsv`: larger sets split once into a dev and
  a test half (training/evaluation.py says how they were written and split).

An installed `training` has these files (pyproject.toml's package-data); one that does
not is broken, and asking for a set raises `EvalSetMissing` instead of reporting nothing.
"""

from __future__ import annotations

from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent / "eval"
SIMILARITY_EVAL = "similarity_eval.tsv"
SIMILARITY_EVERYDAY = "similarity_everyday.tsv"
QA_EVERYDAY = "qa_everyday.tsv"


class EvalSetMissing(FileNotFoundError):
    """An evaluation set that should ship with `training` is not there."""


def eval_file(name: str, directory: Path | None = None) -> Path:
    """The path of the evaluation set `name` (in EVAL_DIR unless `directory` is given);
    raises EvalSetMissing when it is absent."""
    path = (directory or EVAL_DIR) / name
    if not path.is_file():
        raise EvalSetMissing(
            f"evaluation set {path} is missing: it ships with the training package "
            "(pyproject.toml package-data, training/data/eval/); reinstall the package "
            "or restore the file")
    return path
