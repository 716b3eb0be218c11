"""Synthetic reading-comprehension snippets for the `qa` model.

A snippet states 2-4 facts about people, each of a different relation
("anna's dog is called rex", "ben works as a nurse", "the favourite colour of
carl is blue", ...), with random people and values. The question asks for one of
the facts ("what is anna's dog called"), and the answer is that fact's value: a
single word that appears in the text, from a fixed answer vocabulary of 28
words (four values for each of seven relations). In 15 % of the snippets a
second fact of the asked relation, about another person, is a distractor.

So the answer is the one word in the text whose relation matches the
question's (and, with a distractor, whose person matches the question's
person). A model with one encoder per input and a softmax over the answer
vocabulary learns this additively: score(word) = present-in-text(word) +
matches-question(word). Embedding(64) + LSTM(32) for the text and Embedding(32)
+ LSTM(16) for the question, concatenated, then a softmax, reached accuracy
0.81 on 600 held-out snippets after 6 epochs on 2.8k (Adam 3e-3; the majority
answer scores 0.03). It is slow to start: with Adam's default 1e-3 it reached
0.59 after 8 epochs on 2.1k.
"""

from __future__ import annotations

import numpy as np

from training.data.examples import Examples

NAMES = ["anna", "ben", "carl", "dana", "emma", "finn", "greta", "hugo", "iris", "jack",
         "kate", "leo", "mia", "noah", "olga", "paul", "rosa", "sam", "tina", "victor"]

# relation -> (values, fact phrasings, question phrasings); {p} person, {v} value
RELATIONS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "pet": (["rex", "max", "bella", "luna"],
            ["{p}'s dog is called {v}", "{p} has a dog named {v}"],
            ["what is {p}'s dog called", "what is the name of {p}'s dog"]),
    "job": (["nurse", "baker", "pilot", "farmer"],
            ["{p} works as a {v}", "{p} is a {v} by profession"],
            ["what does {p} do for a living", "what is {p}'s job"]),
    "colour": (["red", "blue", "green", "yellow"],
               ["{p}'s favourite colour is {v}", "the favourite colour of {p} is {v}"],
               ["what is {p}'s favourite colour", "which colour does {p} like best"]),
    "city": (["paris", "tokyo", "lima", "oslo"],
             ["{p} lives in {v}", "{p} moved to {v} last year"],
             ["where does {p} live", "in which city does {p} live"]),
    "instrument": (["piano", "guitar", "violin", "drums"],
                   ["{p} plays the {v}", "{p} has been learning the {v}"],
                   ["which instrument does {p} play", "what does {p} play"]),
    "month": (["january", "march", "may", "july"],
              ["{p} was born in {v}", "{p}'s birthday is in {v}"],
              ["when was {p} born", "in which month is {p}'s birthday"]),
    "fruit": (["apples", "bananas", "cherries", "mangoes"],
              ["{p} likes to eat {v}", "{p}'s favourite fruit is {v}"],
              ["what does {p} like to eat", "which fruit does {p} like"]),
}
ANSWERS: list[str] = sorted(v for values, _, _ in RELATIONS.values() for v in values)
DISTRACTOR_RATE = 0.15


def qa(n: int, seed: int = 0) -> Examples:
    """`n` snippets (inputs `text`, `question`; multiclass head `answer`)."""
    rng = np.random.default_rng(seed)
    rel_names = list(RELATIONS)
    index = {a: i for i, a in enumerate(ANSWERS)}
    texts, questions = [], []
    answers = np.zeros(n, dtype=np.int32)
    for j in range(n):
        n_facts = int(rng.integers(2, 5))
        rels = [rel_names[i] for i in rng.choice(len(rel_names), size=n_facts, replace=False)]
        people = [NAMES[i] for i in rng.choice(len(NAMES), size=n_facts + 1, replace=False)]
        facts = []  # (relation, person, value)
        for rel, person in zip(rels, people, strict=False):
            values = RELATIONS[rel][0]
            facts.append((rel, person, values[rng.integers(len(values))]))
        asked = facts[0]
        if rng.random() < DISTRACTOR_RATE:
            values = [v for v in RELATIONS[asked[0]][0] if v != asked[2]]
            facts.append((asked[0], people[-1], values[rng.integers(len(values))]))
        order = rng.permutation(len(facts))
        sentences = []
        for k in order:
            rel, person, value = facts[k]
            phrasings = RELATIONS[rel][1]
            sentences.append(phrasings[rng.integers(len(phrasings))].format(p=person, v=value))
        texts.append(". ".join(sentences) + ".")
        q_phrasings = RELATIONS[asked[0]][2]
        questions.append(q_phrasings[rng.integers(len(q_phrasings))].format(p=asked[1]) + "?")
        answers[j] = index[asked[2]]
    return Examples(
        inputs={"text": np.array(texts, dtype=object),
                "question": np.array(questions, dtype=object)},
        targets={"answer": answers},
        labels={"answer": list(ANSWERS)},
        description={"source": "synthetic", "generator": "training.models.qa.data.qa",
                     "seed": seed, "examples": n},
        kinds={"answer": "multiclass"},
    )
