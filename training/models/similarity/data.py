"""Synthetic sentence pairs for the `similarity` model (Quora-duplicates style).

Every sentence is a question of one *intent* ("where can I buy a cheap
<device>") rendered from one of the intent's phrasings, with each marked word
replaced by a random synonym and each slot filled by a concept (a `<device>` is
"phone", "smartphone" or "cellphone" for the same concept). Pairs:

- 50 % paraphrases (target 1): same intent and slot concepts, independently
  chosen phrasings and synonyms, so they share few surface words;
- 30 % unrelated (target 0): two different intents;
- 20 % hard negatives (target 0): same intent, same phrasing family, one slot
  concept swapped for another of the same type ("... cheap phone" vs
  "... cheap laptop"), so word overlap alone cannot tell them apart.

The vocabulary is ~200 words. A Siamese Embedding(32) + LSTM(32) encoder with a
Dense head on [|a-b|, a*b], trained 6 epochs on 2.1k pairs (Adam 1e-3), reached
ROC AUC 0.98 on 450 held-out pairs (measured once, seed 0): intents
are separable by their words, and synonyms of the same concept are exchanged
often enough that the embedding learns to map them close together while
swapped concepts (the hard negatives) stay apart. Without learning synonyms
a model would score paraphrases with different wording as unrelated, and
without learning slot identity it would score hard negatives as paraphrases
(AUC would stay near 0.6 * 1 + 0.4 * 0.5 = 0.8).
"""

from __future__ import annotations

import re

import numpy as np

from training.data.examples import Examples

# A [group] in a phrasing is replaced by one of its words at random.
WORDS: dict[str, list[str]] = {
    "learn": ["learn", "study", "master"],
    "quickly": ["quickly", "fast", "rapidly"],
    "best": ["best", "top", "finest"],
    "buy": ["buy", "purchase", "get"],
    "cheap": ["cheap", "inexpensive", "affordable"],
    "visit": ["visit", "see", "explore"],
    "places": ["places", "sights", "spots"],
    "good": ["good", "great", "decent"],
    "eat": ["eat", "have", "try"],
    "fix": ["fix", "repair", "mend"],
    "broken": ["broken", "damaged", "faulty"],
    "become": ["become", "train as", "qualify as"],
    "earn": ["earn", "make", "take home"],
    "care": ["take care of", "look after", "care for"],
    "cook": ["make", "cook", "prepare"],
    "home": ["at home", "myself", "in my kitchen"],
    "live": ["live", "settle", "reside"],
    "better": ["better", "easier", "more useful"],
    "lose": ["lose", "shed", "drop"],
    "weight": ["weight", "pounds", "fat"],
    "sleep": ["sleep", "rest", "nap"],
    "money": ["money", "cash", "savings"],
    "save": ["save", "put aside", "keep"],
}

# A <type> (or <type#2>) slot is filled with one concept of that type; each
# concept is rendered as one of its synonyms.
SLOTS: dict[str, list[list[str]]] = {
    "device": [["phone", "smartphone", "cellphone"], ["laptop", "notebook computer"],
               ["car", "automobile"], ["bike", "bicycle"], ["tv", "television"],
               ["camera"], ["watch", "wristwatch"], ["printer"]],
    "city": [["paris"], ["london"], ["tokyo"], ["berlin"], ["rome"], ["madrid"],
             ["new york", "nyc"], ["los angeles", "la"], ["chicago"], ["sydney"]],
    "food": [["pizza"], ["sushi"], ["pasta", "spaghetti"], ["tacos"], ["ramen", "noodle soup"],
             ["curry"], ["burgers", "hamburgers"], ["dumplings"]],
    "job": [["doctor", "physician"], ["lawyer", "attorney"], ["teacher", "educator"],
            ["nurse"], ["engineer"], ["chef"], ["pilot"], ["plumber"]],
    "skill": [["python"], ["java"], ["guitar"], ["piano"], ["french"], ["spanish"],
              ["chess"], ["painting"], ["photography"], ["coding", "programming"]],
    "pet": [["dog", "puppy"], ["cat", "kitten"], ["rabbit", "bunny"], ["parrot"],
            ["hamster"], ["goldfish"], ["turtle", "tortoise"]],
}

# Each intent's phrasings are paraphrases of each other.
INTENTS: list[list[str]] = [
    ["how can i [learn] <skill> [quickly]", "what is the [best] way to [learn] <skill>",
     "how do i [learn] <skill> [quickly]"],
    ["where can i [buy] a [cheap] <device>", "what is the [best] shop to [buy] a [cheap] <device>",
     "where do people [buy] [cheap] <device> deals"],
    ["how do i [fix] a [broken] <device>", "what should i do if my <device> is [broken]",
     "how can i [fix] my [broken] <device>"],
    ["what are the [best] [places] to [visit] in <city>",
     "which [places] should i [visit] in <city>",
     "what should a tourist [visit] in <city>"],
    ["where can i [eat] [good] <food> in <city>", "what is the [best] <food> restaurant in <city>",
     "which place in <city> serves the [best] <food>"],
    ["how do i [become] a <job>", "what does it take to [become] a <job>",
     "what are the steps to [become] a <job>"],
    ["how much does a <job> [earn]", "what is the salary of a <job>",
     "how much money does a <job> [earn] per year"],
    ["how do i [care] a <pet>", "what is the [best] way to [care] a <pet>",
     "how should i [care] my new <pet>"],
    ["how do i [cook] <food> [home]", "what is the [best] recipe for <food>",
     "how can i [cook] [good] <food> [home]"],
    ["is <city> a [good] place to [live]", "what is it like to [live] in <city>",
     "should i move to <city> to [live]"],
    ["should i [learn] <skill> or <skill#2>", "is it [better] to [learn] <skill> or <skill#2>",
     "which is [better] to [learn] <skill> or <skill#2>"],
    ["how can a <job> find work in <city>", "is it hard to find a <job> job in <city>",
     "what is the job market for a <job> in <city>"],
    ["what is the [best] way to [lose] [weight]", "how can i [lose] [weight] [quickly]",
     "how do i [lose] [weight] without dieting"],
    ["how can i [sleep] [better] at night", "what helps you [sleep] [better]",
     "why can i not [sleep] well at night"],
    ["how can i [save] [money] every month", "what are [good] ways to [save] [money]",
     "how do i [save] more [money]"],
]

_TOKEN = re.compile(r"\[(\w+)\]|<(\w+)(?:#(\d))?>")
_ARTICLE = re.compile(r"\ba (?=[aeiou])")


def _slots_of(intent: list[str]) -> list[tuple[str, str]]:
    """(slot key, slot type) pairs of an intent, e.g. ("skill#2", "skill")."""
    keys = {}
    for m in _TOKEN.finditer(intent[0]):
        if m.group(2):
            keys[m.group(2) + (f"#{m.group(3)}" if m.group(3) else "")] = m.group(2)
    return list(keys.items())


def _pick_concepts(rng: np.random.Generator, slots: list[tuple[str, str]]) -> dict[str, int]:
    concepts: dict[str, int] = {}
    for key, kind in slots:
        taken = {c for k, c in concepts.items() if k.split("#")[0] == kind}
        choices = [i for i in range(len(SLOTS[kind])) if i not in taken]
        concepts[key] = int(rng.choice(choices))
    return concepts


def _render(rng: np.random.Generator, phrasing: str, concepts: dict[str, int]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1):
            words = WORDS[m.group(1)]
            return words[rng.integers(len(words))]
        key = m.group(2) + (f"#{m.group(3)}" if m.group(3) else "")
        forms = SLOTS[m.group(2)][concepts[key]]
        return forms[rng.integers(len(forms))]

    return _ARTICLE.sub("an ", _TOKEN.sub(sub, phrasing))


def _sentence(rng: np.random.Generator, intent: int, concepts: dict[str, int]) -> str:
    phrasings = INTENTS[intent]
    return _render(rng, phrasings[rng.integers(len(phrasings))], concepts)


def similarity(n: int, seed: int = 0) -> Examples:
    """`n` labelled pairs (inputs `left`, `right`; binary head `similarity`)."""
    rng = np.random.default_rng(seed)
    slots = [_slots_of(intent) for intent in INTENTS]
    with_slots = [i for i, s in enumerate(slots) if s]
    left, right = [], []
    target = np.zeros(n, dtype=np.float32)
    kinds = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    for j in range(n):
        if kinds[j] == 2:  # hard negative: one concept swapped
            a = int(rng.choice(with_slots))
            ca = _pick_concepts(rng, slots[a])
            key, kind = slots[a][rng.integers(len(slots[a]))]
            taken = {c for k, c in ca.items() if k.split("#")[0] == kind}
            others = [i for i in range(len(SLOTS[kind])) if i not in taken]
            cb = {**ca, key: int(rng.choice(others))}
            b = a
        else:
            a = int(rng.integers(len(INTENTS)))
            ca = _pick_concepts(rng, slots[a])
            if kinds[j] == 0:
                b, cb = a, ca
                target[j] = 1.0
            else:
                b = int(rng.choice([i for i in range(len(INTENTS)) if i != a]))
                cb = _pick_concepts(rng, slots[b])
        pair = [_sentence(rng, a, ca), _sentence(rng, b, cb)]
        if rng.random() < 0.5:
            pair.reverse()
        left.append(pair[0])
        right.append(pair[1])
    return Examples(
        inputs={"left": np.array(left, dtype=object), "right": np.array(right, dtype=object)},
        targets={"similarity": target},
        labels={"similarity": None},
        description={"source": "synthetic", "generator": "training.models.similarity.data.similarity",
                     "seed": seed, "examples": n},
        kinds={"similarity": "binary"},
    )
