"""Sentence pairs in everyday English for the `similarity` model, built from WordNet.

The synthetic generator (training/models/similarity/data.py) knows ~200 words, so a model trained
on it sees real sentences as mostly out-of-vocabulary. This one fills everyday sentence
templates (templates/wordnet_pairs.yaml, read by wordnet_templates.py) with WordNet
lemmas of the right kind, drawn by tagged frequency and only in a word's everyday
senses (wordnet_lexicon.py), and rewrites WordNet's own example sentences (about
48,000, e.g. "his mother is very old").

Every pair comes from one operation, drawn with the probabilities of `WEIGHTS` (half
of them paraphrases, target 1, `POSITIVE`; the others hard negatives that keep most
words, target 0). Each operation's docstring below gives an example;
docs/wordnet-pairs.md says what each teaches and what a model trained on the pairs
reaches on real English.

Seeded and deterministic: the same ``(n, seed)`` gives the same pairs (WordNet's files
and the templates are fixed). A generated pair that is one of the hand-written
evaluation pairs (training/data/eval/similarity_eval.tsv), or that holds a sentence of
the everyday pairs' dev or test half (similarity_everyday.tsv: "how can i learn french
quickly" is one the templates say too), is dropped, so that the evaluation measures
sentences the model never trained on.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from training.data import wordnet as wordnet_mod
from training.data.english import article
from training.data.evalsets import SIMILARITY_EVAL, SIMILARITY_EVERYDAY, eval_file
from training.data.examples import Examples
from training.data.wordnet_lexicon import WORD, Concept, Lexicon, lexicon
from training.data.wordnet_templates import Intent, Templates, render, templates

T = TypeVar("T")

OPERATIONS = ("rephrase", "synonym", "attribute", "request", "example", "negation", "manner",
              "gloss", "count", "compare", "antonym", "sibling", "question", "order",
              "unrelated", "negated", "manner_swap", "gloss_swap", "count_swap", "compare_swap")
POSITIVE = {"rephrase", "synonym", "attribute", "request", "example", "negation", "manner",
            "gloss", "count", "compare"}
# Sampling weights of the operations (drawn in proportion: about half paraphrases), chosen
# on the dev half of the everyday pairs (training/evaluation.py), where word overlap ranks
# pairs backwards: the pairs a person writes reword their paraphrases and change one word
# in their non-paraphrases. So no paraphrase here is one word exchanged for a WordNet
# synonym (`synonym`, `example`: weight 0): their synonyms are often rare senses ("slight"
# / "little"), and a model taught that one word may change freely calls "is london
# bigger than paris" / "... older than paris" the same (dev ROC AUC 0.59 with them at
# 0.03, 0.67 without); few `unrelated` negatives; the `count` and `compare` operations.
# docs/wordnet-pairs.md has each step.
WEIGHTS = {"rephrase": 0.26, "synonym": 0.0, "attribute": 0.07, "request": 0.04,
           "example": 0.0, "negation": 0.04, "manner": 0.03, "gloss": 0.05,
           "count": 0.04, "compare": 0.03,
           "antonym": 0.09, "sibling": 0.15, "question": 0.09, "order": 0.02,
           "unrelated": 0.03, "negated": 0.02, "manner_swap": 0.02, "gloss_swap": 0.05,
           "count_swap": 0.04, "compare_swap": 0.04}
# A WordNet definition short enough to stand for its noun in a sentence ("a young dog").
_DEFINITION = re.compile(r"^(?:an? |the )?([a-z][a-z' -]*[a-z])$")
_NOT_A_GLOSS = re.compile(r"\b(?:informal|term|word|name)\b|^(?:someone|something|one)\b")
_ANTONYM_CLASSES = ("adj", "do", "act", "verb")


class _Pairs:
    """The operations, drawing from one seeded generator."""

    def __init__(self, lex: Lexicon, tpl: Templates, rng: np.random.Generator) -> None:
        self.lex, self.tpl, self.rng = lex, tpl, rng
        self.examples = lex.examples
        self.intents = tpl.intents
        self.families = tpl.families()
        self.by_op = {op: tpl.by_op(op) for op in POSITIVE}
        self.swappable = tpl.family("order")
        # the intents with another question in their family, for `question` (a large
        # family weighs by its size, not as one of many two-intent families)
        self.questioned = [k for f, ks in self.families.items()
                           if len(ks) > 1 and f != "order" for k in ks]

    # -- helpers
    def one(self, items: Sequence[T]) -> T:
        return items[int(self.rng.integers(len(items)))]

    def pick_intent(self, pool: list[int] | None = None) -> int:
        pool = pool if pool is not None else list(range(len(self.intents)))
        return pool[int(self.rng.integers(len(pool)))]

    def concepts(self, intent: Intent) -> dict[str, Concept]:
        out: dict[str, Concept] = {}
        for name, cls in intent.slots.items():
            for _ in range(10):
                c = self.lex.sample(self.rng, cls)
                if all(c.synset.key != o.synset.key for o in out.values()):
                    break
            out[name] = c
        return out

    def words(self, concepts: dict[str, Concept]) -> dict[str, str]:
        return {n: self.lex.word(self.rng, c) for n, c in concepts.items()}

    def phrasing(self, intent: Intent, avoid: int | None = None) -> int:
        choices = [i for i in range(len(intent.phrasings)) if i != avoid]
        return choices[int(self.rng.integers(len(choices)))] if choices else 0

    def render(self, intent: Intent, p: int, fill: dict[str, str],
               concepts: dict[str, Concept]) -> str:
        return render(self.lex, intent.phrasings[p], fill, concepts, self.rng)

    # -- operations: each returns (left, right) or None when it does not apply
    def rephrase(self, pool: list[int] | None = None) -> tuple[str, str] | None:
        """"where can i buy a cheap phone" / "where can i get an inexpensive telephone": the
        same intent in another phrasing, each slot word possibly a synonym."""
        intent = self.intents[self.pick_intent(pool)]
        cs = self.concepts(intent)
        a = self.words(cs)
        b = {n: (self.lex.word(self.rng, c) if self.rng.random() < 0.5 else a[n])
             for n, c in cs.items()}
        pa = self.phrasing(intent)
        pb = self.phrasing(intent, avoid=pa)
        return self.render(intent, pa, a, cs), self.render(intent, pb, b, cs)

    def attribute(self) -> tuple[str, str] | None:
        """"how old are you" / "what is your age": an adjective question and its noun form
        through WordNet's attribute relation (old <-> age, deep <-> depth)."""
        return self.rephrase(self.by_op["attribute"])

    def request(self) -> tuple[str, str] | None:
        """"can you open the window" / "could you open the window, please": politeness forms."""
        return self.rephrase(self.by_op["request"])

    def synonym(self) -> tuple[str, str] | None:
        """"the exam was difficult" / "the exam was hard": one slot word exchanged for a
        synonym from its synset, nothing else changed."""
        intent = self.intents[self.pick_intent()]
        cs = self.concepts(intent)
        names = [n for n, c in cs.items() if len(c.words) > 1]
        if not names:
            return None
        a = self.words(cs)
        name = names[int(self.rng.integers(len(names)))]
        b = {**a, name: self.lex.word(self.rng, cs[name], avoid=a[name])}
        p = self.phrasing(intent)
        return self.render(intent, p, a, cs), self.render(intent, p, b, cs)

    def _swap(self, intent: Intent, cs: dict[str, Concept], replace: str,
              other: Concept | None, word: str | None = None) -> tuple[str, str] | None:
        if other is None and word is None:
            return None
        a = self.words(cs)
        cb = dict(cs)
        if other is not None:
            cb[replace] = other
        b = {**a, replace: word or self.lex.word(self.rng, other)}
        pa = self.phrasing(intent)
        pb = pa if self.rng.random() < 0.7 else self.phrasing(intent, avoid=pa)
        return self.render(intent, pa, a, cs), self.render(intent, pb, b, cb)

    def sibling(self) -> tuple[str, str] | None:
        """"i want to learn to cook" / "i want to learn to drive", "i live in france" / "i live
        in spain": one slot word exchanged for a sibling under the same hypernym (or another
        word of its class)."""
        intent = self.intents[self.pick_intent()]
        cs = self.concepts(intent)
        name = list(cs)[int(self.rng.integers(len(cs)))]
        return self._swap(intent, cs, name, self.lex.sibling(self.rng, cs[name]))

    def antonym(self) -> tuple[str, str] | None:
        """"the water is hot" / "the water is cold": one adjective or verb exchanged for its
        WordNet antonym."""
        pool = [k for k, i in enumerate(self.intents)
                if any(c in _ANTONYM_CLASSES for c in i.slots.values())]
        intent = self.intents[self.pick_intent(pool)]
        name = next(n for n, c in intent.slots.items() if c in _ANTONYM_CLASSES)
        for _ in range(30):  # most synsets have no antonym: look for one that has
            cs = self.concepts(intent)
            a = self.words(cs)
            opposite = self.lex.antonym(self.rng, cs[name], a[name])
            if opposite:
                p = self.phrasing(intent)
                b = {**a, name: opposite}
                return self.render(intent, p, a, cs), self.render(intent, p, b, cs)
        return None

    def question(self) -> tuple[str, str] | None:
        """"where do you swim" / "when do you swim": another question of the same family
        about the same filler."""
        ia = self.pick_intent(self.questioned)
        family = self.families[self.intents[ia].family]
        ib = self.pick_intent([k for k in family if k != ia])
        cs = self.concepts(self.intents[ia])
        a = self.words(cs)
        # The other question keeps the slots both intents have.
        cb = {n: cs.get(n) or self.lex.sample(self.rng, c)
              for n, c in self.intents[ib].slots.items()}
        b = {n: a.get(n) or self.lex.word(self.rng, c) for n, c in cb.items()}
        return (self.render(self.intents[ia], self.phrasing(self.intents[ia]), a, cs),
                self.render(self.intents[ib], self.phrasing(self.intents[ib]), b, cb))

    def order(self) -> tuple[str, str] | None:
        """"the dog chased the cat" / "the cat chased the dog": the two participants swapped."""
        intent = self.intents[self.pick_intent(self.swappable)]
        cs = self.concepts(intent)
        a = self.words(cs)
        first, second = list(intent.slots)
        p = self.phrasing(intent)
        b = {first: a[second], second: a[first]}
        cb = {first: cs[second], second: cs[first]}
        return self.render(intent, p, a, cs), self.render(intent, p, b, cb)

    def unrelated(self) -> tuple[str, str] | None:
        """Two sentences of different intents and fillers (the easy negatives)."""
        ia = self.pick_intent()
        ib = self.pick_intent([k for k in range(len(self.intents)) if k != ia])
        out = []
        for k in (ia, ib):
            intent = self.intents[k]
            cs = self.concepts(intent)
            out.append(self.render(intent, self.phrasing(intent), self.words(cs), cs))
        return out[0], out[1]

    def _adjective_with_antonym(self) -> tuple[str, str] | None:
        for _ in range(30):  # most adjectives have no direct antonym
            c = self.lex.sample(self.rng, "adj")
            w = self.lex.word(self.rng, c)
            idx = c.synset.words.index(w) + 1 if w in c.synset.words else 0
            found = [a for a in (self.lex.wn.antonyms(c.synset, idx) if idx else [])
                     if WORD.match(a) and " " not in a]
            if found:
                return w, found[int(self.rng.integers(len(found)))]
        return None

    def _negation_parts(self) -> tuple[str, str, str, str, str] | None:
        """(affirmative frame, negated frame, subject, adjective, its antonym), or None."""
        found = self._adjective_with_antonym()
        if found is None:
            return None
        aff, neg = self.one(self.tpl.negation_frames)
        cls = self.one(self.tpl.negation_subjects)
        subject = self.lex.word(self.rng, self.lex.sample(self.rng, cls))
        return aff, neg, subject, *found

    def negation(self) -> tuple[str, str] | None:
        """"the room is big" / "the room is not small": not + the antonym."""
        parts = self._negation_parts()
        if parts is None:
            return None
        aff, neg, subject, word, opposite = parts
        return (aff.format(s=subject, a=word, n=opposite),
                neg.format(s=subject, a=word, n=opposite))

    def negated(self) -> tuple[str, str] | None:
        """"the room is big" / "the room is not big"; or both negated, antonyms."""
        parts = self._negation_parts()
        if parts is None:
            return None
        aff, neg, subject, word, opposite = parts
        if self.rng.random() < 0.3:  # "not big" / "not small"
            return (neg.format(s=subject, n=word), neg.format(s=subject, n=opposite))
        return aff.format(s=subject, a=word), neg.format(s=subject, n=word)

    def _manner(self) -> tuple[str, str, dict[str, str]] | None:
        lex = self.lex
        for _ in range(30):
            v = lex.sample(self.rng, "act")
            m = lex.sample(self.rng, "manner")
            if v.synset.key in lex.agents and m.synset.key in lex.pertains:
                break
        else:
            return None
        a, b = self.one(self.tpl.manner_frames)
        subject = self.one(self.tpl.manner_subjects)
        subject = subject.replace("{r}", lex.word(self.rng, lex.sample(self.rng, "relative")))
        adverb, adjective = lex.pertains[m.synset.key]
        fill = {"s": subject, "v": v.synset.words[0], "m": adverb,
                "j": adjective, "g": lex.agents[v.synset.key],
                "vkey": v, "mkey": m}
        return a, b, fill

    def _manner_render(self, frame: str, fill: dict) -> str:
        words = {k: v for k, v in fill.items() if isinstance(v, str)}
        return render(self.lex, frame, words, {}, self.rng)

    def manner(self) -> tuple[str, str] | None:
        """"she sings beautifully" / "she is a beautiful singer" / "she sings in a
        beautiful way": an adverb and its adjective, a verb and its agent noun."""
        found = self._manner()
        if found is None:
            return None
        a, b, fill = found
        return self._manner_render(a, fill), self._manner_render(b, fill)

    def manner_swap(self) -> tuple[str, str] | None:
        """The manner paraphrase with another verb, or the adjective's antonym: "she
        sings beautifully" / "she is a beautiful dancer", "he works carefully" / "he is a
        careless worker"."""
        found = self._manner()
        if found is None:
            return None
        a, b, fill = found
        other = dict(fill)
        syn = self.lex.wn.lemma_synsets(fill["j"], "a")
        opposite = None
        if syn and fill["j"] in syn[0].words and self.rng.random() < 0.5:
            opposite = next((o for o in self.lex.wn.antonyms(syn[0], syn[0].words.index(
                fill["j"]) + 1) if WORD.match(o) and " " not in o), None)
        if opposite:
            # the adjective side says the opposite, the adverb side keeps its adverb
            other["j"] = opposite
            return (self._manner_render(a, fill if "{m}" in a else other),
                    self._manner_render(b, fill if "{m}" in b else other))
        for _ in range(20):
            v = self.lex.sample(self.rng, "act")
            g = self.lex.agents.get(v.synset.key)
            if g and g != fill["g"] and not set(v.synset.words) & set(fill["vkey"].synset.words):
                other["v"], other["g"] = v.synset.words[0], g
                break
        else:
            return None
        return self._manner_render(a, fill), self._manner_render(b, other)

    def _gloss_of(self, c: Concept) -> str | None:
        m = _DEFINITION.match(c.synset.definition.strip())
        if not m or not 2 <= m.group(1).count(" ") + 1 <= 6 or _NOT_A_GLOSS.search(m.group(1)):
            return None
        return f"{article(m.group(1))} {m.group(1)}"

    def _defines(self, gloss: str, word: str) -> bool:
        phrase = gloss.split(" ", 1)[1]
        return any(d == phrase or d.startswith(phrase + ";") or d.endswith(" " + phrase)
                   for d in (s.definition.strip() for s in self.lex.wn.lemma_synsets(word, "n")))

    def _gloss_pair(self, swap: bool) -> tuple[str, str] | None:
        for _ in range(30):  # most definitions are too long to stand in a sentence
            c = self.lex.sample(self.rng, self.one(self.tpl.gloss_classes))
            other = self.lex.sibling(self.rng, c) if swap else c
            gloss = self._gloss_of(other) if other is not None else None
            if gloss:
                word = self.lex.word(self.rng, c)
                if swap and self._defines(gloss, word):
                    continue  # "leg" / "a human limb": the sibling's definition is its own too
                frame = self.one(self.tpl.gloss_frames)
                return frame.format(x=f"{article(word)} {word}"), frame.format(x=gloss)
        return None

    def gloss(self) -> tuple[str, str] | None:
        """"i saw a puppy yesterday" / "i saw a young dog yesterday": a noun and WordNet's
        short definition of it."""
        return self._gloss_pair(swap=False)

    def gloss_swap(self) -> tuple[str, str] | None:
        """"i saw a puppy yesterday" / "i saw a young cat yesterday": a noun and the
        definition of a sibling."""
        return self._gloss_pair(swap=True)

    # -- counts and clock times, comparisons
    def _count_fill(self, frame: tuple[str, ...], count: int, other: int) -> dict[str, str]:
        fill = {n: self.lex.word(self.rng, self.lex.sample(self.rng, c))
                for n, c in self.tpl.count_classes.items() if "{" + n in "".join(frame)}
        return {**fill, "m": number(other, self.rng)}

    def _count_pair(self, same: bool) -> tuple[str, str] | None:
        frame = self.one(self.tpl.count_frames)
        clock = "{h}" in frame[0]
        draw = (lambda: int(self.rng.integers(4, 52))) if clock else \
            (lambda: int(self.one(COUNTS)))
        count, other = draw(), draw()
        while other == count:
            other = draw()
        fill = self._count_fill(frame, count, int(self.one(COUNTS[:12])))
        say = clock_time if clock else number
        pa = int(self.rng.integers(len(frame)))
        pb = pa if self.rng.random() < (0.3 if same else 0.7) else \
            int(self.rng.integers(len(frame)))
        key = "h" if clock else "n"
        a = {**fill, key: say(count, self.rng)}
        b = {**fill, key: say(count if same else other, self.rng)}
        return (render(self.lex, frame[pa], a, {}, self.rng),
                render(self.lex, frame[pb], b, {}, self.rng))

    def count(self) -> tuple[str, str] | None:
        """"i need two tickets" / "i would like 2 tickets", "the shop opens at half past six"
        / "the shop opens its doors at 6:30": a count or a clock time said another way."""
        return self._count_pair(same=True)

    def count_swap(self) -> tuple[str, str] | None:
        """"i need two tickets" / "i need 3 tickets", "the film starts at 6:30" / "the film
        starts at quarter past six": another count or time."""
        return self._count_pair(same=False)

    def _compared(self) -> tuple[str, str]:
        cls = self.one(list(self.tpl.compare_subjects))
        x = self.lex.sample(self.rng, cls)
        for _ in range(10):
            y = self.lex.sample(self.rng, cls)
            if y.synset.key != x.synset.key:
                break
        say = self.tpl.compare_subjects[cls]
        return (say.format(w=self.lex.word(self.rng, x)),
                say.format(w=self.lex.word(self.rng, y)))

    def _gradable(self) -> tuple[str, str] | None:
        """An adjective and its antonym, neither an inflected form ("better", "less")."""
        found = self._adjective_with_antonym()
        forms = self.lex.wn.exceptions.get("a", {})
        return None if found is None or any(w in forms for w in found) else found

    def compare(self) -> tuple[str, str] | None:
        """"my brother is taller than my sister" / "my sister is shorter than my brother",
        "which is bigger, peru or chile" / "is peru or chile bigger": a comparison turned
        round with the antonym, or asked another way."""
        found = self._gradable()
        if found is None:
            return None
        x, y = self._compared()
        fill = {"x": x, "y": y, "a": found[0], "b": found[1]}
        a, b = self.one(self.tpl.compare_frames)
        return (render(self.lex, a, fill, {}, self.rng),
                render(self.lex, b, fill, {}, self.rng))

    def compare_swap(self) -> tuple[str, str] | None:
        """"my brother is taller than my sister" / "my sister is taller than my brother" (the
        two swapped), "... is shorter than my sister" (the antonym) or "... is older than my
        sister" (another adjective)."""
        found, other = self._gradable(), self._gradable()
        if found is None or other is None or found[0] in other:
            return None
        x, y = self._compared()
        frame = self.one([a for a, _ in self.tpl.compare_frames if "{b" not in a])
        fill = {"x": x, "y": y, "a": found[0]}
        how = self.rng.random()
        if how < 0.4:
            changed = {**fill, "x": y, "y": x}
        elif how < 0.7:
            changed = {**fill, "a": found[1]}
        else:
            changed = {**fill, "a": other[0]}
        if frame.startswith("which") and how < 0.4:
            return None  # "which is bigger, x or y" asks the same as "..., y or x"
        return (render(self.lex, frame, fill, {}, self.rng),
                render(self.lex, frame, changed, {}, self.rng))

    def example(self) -> tuple[str, str] | None:
        """"his mother is very old" / "his mother is very aged": a WordNet example sentence and
        the same with its lemma exchanged for a synonym from the synset it illustrates."""
        c, ex = self.examples[int(self.rng.integers(len(self.examples)))]
        present = [w for w in c.words if re.search(rf"\b{re.escape(w)}\b", ex)]
        if not present or len(c.words) < 2:
            return None
        lemma = present[0]
        syn = self.lex.word(self.rng, c, avoid=lemma)
        return ex, _replace(ex, lemma, syn)

    def example_negative(self, kind: str) -> tuple[str, str] | None:
        """An example sentence with its lemma replaced by an antonym or a sibling."""
        c, ex = self.examples[int(self.rng.integers(len(self.examples)))]
        lemma = next((w for w in c.words if re.search(rf"\b{re.escape(w)}\b", ex)), None)
        if lemma is None:
            return None
        if kind == "antonym":
            other = self.lex.antonym(self.rng, c, lemma)
        else:
            sib = self.lex.sibling(self.rng, c)
            other = self.lex.word(self.rng, sib) if sib is not None else None
        if not other:
            return None
        return ex, _replace(ex, lemma, other)



# Counts the count operations draw from, and the words for them.
COUNTS = (2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15, 20, 25, 30, 40, 50, 60, 100, 200, 500)
_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
          "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> str:
    """0 <= n < 1000 in words: 25 -> "twenty five", 200 -> "two hundred"."""
    if n < 20:
        return _UNITS[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else f" {_UNITS[n % 10]}")
    rest = n % 100
    return f"{_UNITS[n // 100]} hundred" + (f" and {number_words(rest)}" if rest else "")


def number(n: int, rng: np.random.Generator) -> str:
    """`n` in digits or in words, at random."""
    return str(n) if rng.random() < 0.5 else number_words(n)


def clock_time(quarters: int, rng: np.random.Generator) -> str:
    """A time of day given in quarter hours (26 = 6:30), said one of the ways people say
    it: "half past six", "six thirty", "6:30"; "seven o'clock", "7", "7:00"."""
    hour, quarter = divmod(quarters, 4)
    hour = (hour - 1) % 12 + 1
    h = number_words(hour)
    if quarter == 0:
        ways = [f"{h} o'clock", f"{hour} o'clock", f"{hour}:00", h, str(hour)]
    elif quarter == 2:
        ways = [f"half past {h}", f"{h} thirty", f"{hour}:30"]
    elif quarter == 1:
        ways = [f"quarter past {h}", f"{h} fifteen", f"{hour}:15"]
    else:
        ways = [f"quarter to {number_words(hour % 12 + 1)}", f"{h} forty five", f"{hour}:45"]
    return ways[int(rng.integers(len(ways)))]


def _replace(sentence: str, word: str, new: str) -> str:
    """`sentence` with its first `word` replaced by `new`, "a"/"an" before it fixed."""
    def sub(m: re.Match[str]) -> str:
        return (f"{article(new)} " if m.group(1) else "") + new

    return re.sub(rf"\b(an? )?{re.escape(word)}\b", sub, sentence, count=1)


def _pair(gen: _Pairs, op: str) -> tuple[str, str] | None:
    if op in ("antonym", "sibling") and gen.rng.random() < 0.25:
        return gen.example_negative(op)
    return getattr(gen, op)()



def normalize(text: str) -> str:
    """Lower case, punctuation stripped, as the model's vectorizer sees a sentence."""
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())


@functools.lru_cache(maxsize=1)
def held_out_pairs() -> frozenset[frozenset[str]]:
    """The hand-written evaluation pairs, normalized; raises EvalSetMissing without them
    (the pairs would silently change if the file went missing)."""
    lines = eval_file(SIMILARITY_EVAL).read_text(encoding="utf-8").splitlines()[1:]
    return frozenset(frozenset(normalize(x) for x in line.split("\t")[:2])
                     for line in lines if line.strip())


@functools.lru_cache(maxsize=1)
def held_out_sentences() -> frozenset[str]:
    """Every sentence of the dev and test halves of the everyday pairs, normalized: a
    generated pair holding one is dropped, so that no evaluation sentence is trained on."""
    with open(eval_file(SIMILARITY_EVERYDAY), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return frozenset(normalize(r[c]) for r in rows for c in ("question1", "question2"))


def wordnet_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str], np.ndarray, list[str]]:
    """(left, right, target, operation) of `n` pairs, none of them an evaluation pair and
    none with a sentence of the everyday evaluation pairs."""
    lex = lexicon()
    held_out, held_out_sents = held_out_pairs(), held_out_sentences()
    rng = np.random.default_rng(seed)
    gen = _Pairs(lex, templates(), rng)
    ops = list(WEIGHTS)
    p = np.array([WEIGHTS[o] for o in ops])
    left, right, target, kinds = [], [], [], []
    while len(left) < n:
        op = ops[int(rng.choice(len(ops), p=p / p.sum()))]
        pair = _pair(gen, op)
        if pair is None or pair[0] == pair[1] and op not in POSITIVE:
            continue
        a, b = pair
        na, nb = normalize(a), normalize(b)
        if frozenset((na, nb)) in held_out or na in held_out_sents or nb in held_out_sents:
            continue
        if rng.random() < 0.5:
            a, b = b, a
        left.append(a)
        right.append(b)
        target.append(1.0 if op in POSITIVE else 0.0)
        kinds.append(op)
    return left, right, np.array(target, dtype=np.float32), kinds


def similarity(n: int, seed: int = 0) -> Examples:
    """`n` labelled WordNet pairs (inputs `left`, `right`; binary head `similarity`)."""
    left, right, target, _ = wordnet_pairs(n, seed)
    return Examples(
        inputs={"left": np.array(left, dtype=object), "right": np.array(right, dtype=object)},
        targets={"similarity": target},
        labels={"similarity": None},
        description={"source": "wordnet", "generator": "training.data.wordnet_pairs.similarity",
                     "wordnet": str(wordnet_mod.wordnet_dir()), "seed": seed, "examples": n},
        kinds={"similarity": "binary"},
    )
