"""The sentence templates of the WordNet similarity pairs, read from a data file.

`templates/wordnet_pairs.yaml` holds the intents (slots, paraphrased phrasings, family,
the operation they stand for) and the frames of the negation, manner and gloss operations;
this module reads it once and renders a phrasing with slot words. What the operations
do with them is training/data/wordnet_pairs.py.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from training.data.english import article
from training.data.wordnet_lexicon import Concept, Lexicon

TEMPLATES = Path(__file__).resolve().parent / "templates" / "wordnet_pairs.yaml"
# {slot} or {slot:form}; form is one of a (with article), pl, 3 (third person), past,
# ing, er (comparative), noun (attribute noun).
_SLOT = re.compile(r"\{(\w+)(?::(\w+))?\}")


@dataclass(frozen=True)
class Intent:
    slots: dict[str, str]          # slot name -> class
    phrasings: tuple[str, ...]     # paraphrases of each other
    family: str = ""               # intents of one family ask other questions on the same slots
    op: str = "rephrase"           # the positive operation its paraphrases stand for


@dataclass(frozen=True)
class Templates:
    intents: tuple[Intent, ...]
    negation_frames: tuple[tuple[str, str], ...]
    negation_subjects: tuple[str, ...]
    manner_frames: tuple[tuple[str, str], ...]
    manner_subjects: tuple[str, ...]
    gloss_frames: tuple[str, ...]
    gloss_classes: tuple[str, ...]
    count_frames: tuple[tuple[str, ...], ...]
    count_classes: dict[str, str]
    compare_frames: tuple[tuple[str, str], ...]
    compare_subjects: dict[str, str]

    def family(self, name: str) -> list[int]:
        """Indices of the intents of one family."""
        return [k for k, i in enumerate(self.intents) if i.family == name]

    def families(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for k, intent in enumerate(self.intents):
            if intent.family:
                out.setdefault(intent.family, []).append(k)
        return out

    def by_op(self, op: str) -> list[int]:
        """Indices of the intents whose paraphrases stand for operation `op`."""
        return [k for k, i in enumerate(self.intents) if i.op == op]


@functools.lru_cache(maxsize=1)
def templates(path: Path = TEMPLATES) -> Templates:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    intents = tuple(Intent(dict(i["slots"]), tuple(i["phrasings"]), i.get("family", ""),
                           i.get("op", "rephrase")) for i in doc["intents"])
    return Templates(intents,
                     tuple((a, b) for a, b in doc["negation_frames"]),
                     tuple(doc["negation_subjects"]),
                     tuple((a, b) for a, b in doc["manner_frames"]),
                     tuple(doc["manner_subjects"]),
                     tuple(doc["gloss_frames"]), tuple(doc["gloss_classes"]),
                     tuple(tuple(g) for g in doc["count_frames"]), dict(doc["count_classes"]),
                     tuple((a, b) for a, b in doc["compare_frames"]),
                     dict(doc["compare_subjects"]))


def render(lex: Lexicon, phrasing: str, fill: dict[str, str], concepts: dict[str, Concept],
           rng: np.random.Generator) -> str:
    """`phrasing` with each slot replaced by its word of `fill` in the slot's form."""
    inf = lex.inflect

    def sub(m: re.Match[str]) -> str:
        name, form = m.group(1), m.group(2)
        if form == "noun":
            nouns = concepts[name].nouns or [fill[name]]
            return nouns[int(rng.integers(len(nouns)))] if len(nouns) > 1 and \
                rng.random() < 0.3 else nouns[0]
        w = fill[name]
        if form == "a":
            return f"{article(w)} {w}"
        if form == "pl":
            return inf.plural(w)
        if form == "3":
            return inf.third(w)
        if form == "past":
            return inf.past(w)
        if form == "ing":
            return inf.ing(w)
        if form == "er":
            return inf.comparative(w)
        return w

    return _SLOT.sub(sub, phrasing)
