"""Reading-comprehension snippets in everyday English for the `qa` model, from WordNet.

The synthetic generator (data.py) asks about twenty invented people and 28
answer words. This one states facts about real things with the adjectives WordNet
links to the property they measure (its *attribute* relation, ``=``: size <-> big,
small; temperature <-> hot, cold; age <-> old, new, young; ...) and asks for one
of them, the way a person would:

    text:     "the soup is hot. the bridge is very long. the dog is black."
    question: "how long is the bridge?"   or "what is the length of the bridge?"
              or "what colour is the dog?" or "what is the soup like?"
    answer:   "long"                          "black"          "hot"

The things are WordNet nouns of everyday kinds (devices, vehicles, food, animals,
...: the `similarity` lexicon's classes, drawn by how often the Semantic
Concordance tagged them). Each fact of a snippet is of a different property, so the
answer is the word in the text of the property the question names ("how long" ->
length); in 15 % of the snippets a second fact of the asked property, about another
thing, makes the model find the thing too (as "what is the X like", 10 % of the
questions, always does). Colours are WordNet's chromatic and achromatic colours that
are also adjectives ("red", "gray").

`mixed` interleaves these with the synthetic snippets (2,000 real among 5,000 in the
default preset), so that the default `qa` model answers both; its answer vocabulary is
the union of both generators' (56 words). Seeded and deterministic.

What the default model reaches (measured once, seed 0, about 30 s on 2 cores): 0.75
accuracy on held-out mixed snippets (the majority answer 0.03), 0.83 on synthetic ones
(the synthetic-only default: 0.84), 0.70 on real-word ones; 7 of the 8 hand-written
questions of tests/unit/training/test_qa_real_words.py. The hard part is telling two
values of one property apart ("hot" or "cold" in the text), and "what is the X like",
which needs the thing found, not the property. Glosses are not used as facts: their
answers would not be single words of a small answer vocabulary.
"""

from __future__ import annotations

import functools

import numpy as np

from training.data.examples import Examples
from training.models.qa.data import qa as synthetic_qa

# property noun -> the adjective English asks "how ... is" with (it must be one of the
# adjectives WordNet links to the property)
PROPERTIES = {"size": "big", "temperature": "hot", "age": "old", "weight": "heavy",
              "speed": "fast", "length": "long", "width": "wide", "strength": "strong",
              "wetness": "wet", "cleanness": "clean"}
# {n} the thing, {h} the how-adjective, {a} the property noun
_PROPERTY_QUESTIONS = ("how {h} is the {n}", "what is the {a} of the {n}",
                       "what {a} is the {n}")
_COLOUR_QUESTIONS = ("what colour is the {n}", "what color is the {n}",
                     "what is the colour of the {n}")
_LIKE_QUESTIONS = ("what is the {n} like", "what can you tell me about the {n}")
_FACTS = ("the {n} is {v}", "the {n} is very {v}", "the {n} looks {v}")
_THING_CLASSES = ("thing", "food", "animal")
DISTRACTOR_RATE = 0.15
LIKE_RATE = 0.1
# An answer adjective is tagged at least this often in the Concordance (so "mature" and
# "dirty" are left out, and with "dirty" the cleanness property).
MIN_COUNT = 20


@functools.lru_cache(maxsize=1)
def properties() -> dict[str, tuple[str, list[str]]]:
    """property noun -> (its how-adjective, answer adjectives), from WordNet."""
    from training.data.wordnet_lexicon import lexicon

    wn = lexicon().wn
    out: dict[str, tuple[str, list[str]]] = {}
    seen: set[str] = set()
    for noun, how in PROPERTIES.items():
        syn = next(s for s in wn.lemma_synsets(noun, "n") if s.targets("="))
        values = [w for t in syn.targets("=") for w in wn.synset(t).words[:2]]
        values = [v for v in dict.fromkeys(values)
                  if " " not in v and wn.counts.get(v, 0) >= MIN_COUNT]
        # a word of two properties ("soft": loudness and hardness) answers neither
        values = [v for v in values if v not in seen]
        seen.update(values)
        if len(values) >= 2 and how in values:
            out[noun] = (how, values)
    colours = []
    for root in ("chromatic color", "achromatic color"):
        for h in wn.hyponyms(wn.lemma_synsets(root, "n")[0]):
            w = h.words[0]
            if " " not in w and (w, "a") in wn.senses and wn.counts.get(w, 0) >= MIN_COUNT \
                    and w not in seen:
                colours.append(w)
    out["colour"] = ("", sorted(dict.fromkeys(colours)))
    return out


def answers() -> list[str]:
    return sorted({v for _, values in properties().values() for v in values})


def real_qa(n: int, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    """(texts, questions, answer words) of `n` snippets about real things."""
    from training.data.wordnet_lexicon import lexicon

    lex = lexicon()
    props = properties()
    names = list(props)
    rng = np.random.default_rng(seed)
    texts, questions, answer_words = [], [], []
    for _ in range(n):
        k = int(rng.integers(2, 5))
        chosen = [names[i] for i in rng.choice(len(names), size=k, replace=False)]
        things: list[str] = []
        while len(things) < k + 1:
            cls = _THING_CLASSES[int(rng.integers(len(_THING_CLASSES)))]
            c = lex.sample(rng, cls)
            w = c.words[0]
            if w not in things and " " not in w:
                things.append(w)
        facts = []  # (property, thing, value)
        for prop, thing in zip(chosen, things, strict=False):
            values = props[prop][1]
            facts.append((prop, thing, values[int(rng.integers(len(values)))]))
        asked = facts[0]
        if rng.random() < DISTRACTOR_RATE:
            values = [v for v in props[asked[0]][1] if v != asked[2]]
            facts.append((asked[0], things[-1], values[int(rng.integers(len(values)))]))
        sentences = []
        for i in rng.permutation(len(facts)):
            prop, thing, value = facts[i]
            sentences.append(_FACTS[int(rng.integers(len(_FACTS)))].format(n=thing, v=value))
        prop, thing, value = asked
        if rng.random() < LIKE_RATE:
            pool = _LIKE_QUESTIONS
        else:
            pool = _COLOUR_QUESTIONS if prop == "colour" else _PROPERTY_QUESTIONS
        q = pool[int(rng.integers(len(pool)))]
        texts.append(". ".join(sentences) + ".")
        questions.append(q.format(n=thing, h=props[prop][0], a=prop) + "?")
        answer_words.append(value)
    return texts, questions, answer_words


def mixed(n: int, seed: int = 0, share: float = 0.4) -> Examples:
    """`n` qa snippets: a `share` of real-word ones (real_qa) among synthetic ones."""
    n_real = int(round(n * share))
    synthetic = synthetic_qa(n - n_real, seed)
    texts, questions, words = real_qa(n_real, seed)
    labels = sorted(set(synthetic.labels["answer"]) | set(answers()))
    index = {w: i for i, w in enumerate(labels)}
    old = synthetic.labels["answer"]
    all_text = list(synthetic.inputs["text"]) + texts
    all_q = list(synthetic.inputs["question"]) + questions
    all_a = [index[old[i]] for i in synthetic.targets["answer"]] + [index[w] for w in words]
    order = np.random.default_rng(seed + 1).permutation(n)
    return Examples(
        inputs={"text": np.array(all_text, dtype=object)[order],
                "question": np.array(all_q, dtype=object)[order]},
        targets={"answer": np.array(all_a, dtype=np.int32)[order]},
        labels={"answer": labels},
        description={"source": "mixed", "generator": "training.models.qa.wordnet.mixed",
                     "real_share": share, "seed": seed, "examples": n},
        kinds={"answer": "multiclass"},
    )
