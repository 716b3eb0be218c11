"""The everyday-English lexicon behind the WordNet-backed generators: WordNet 3.0's
synsets grouped into vocabulary classes, with sampling weights.

training/data/wordnet.py reads Debian's `wordnet-base` files (nothing is downloaded).
A class is the hyponym closure of a few root synsets (a `job` is a hyponym of
*worker* or *professional*, a `thing` of *device*, *container*, *vehicle*, *clothing*,
*furniture* or *equipment*), the instances under a root (`country`, `city`: proper
nouns), or the verbs with a sentence frame (`act`: "Somebody ----s"); `noun`, `verb`
and `adj` hold every everyday one. Concepts and their words are drawn by how often the
Semantic Concordance tagged them, so "phone" and "doctor" come up far more than
"gyrocompass".

A synset is rendered only by the words for which it is an everyday sense: the word's
first sense, or one tagged at least a fifth as often as its most tagged sense
(`Lexicon.frequent`, from cntlist.rev's counts). "dull" renders *boring* (tagged 2
times against 5) but "slow" does not, nor does "sad" render *deplorable* (a sense never
tagged), so that a rare sense's word never stands in for a synonym. Two kinds of near
synonyms WordNet keeps in other synsets are added, rarer than the synset's own words:
informal terms (the hyponym "an informal term for a mother" gives "mom", "mum" to
*mother*) and the adjectives it says to "see also" ("smart" -> "intelligent").

Used by training/data/wordnet_pairs.py (similarity pairs) and
training/models/qa/wordnet.py (qa snippets about real things).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

from training.data import wordnet as wordnet_mod
from training.data.english import Inflector
from training.data.wordnet import INFORMAL, Synset, WordNet

# class -> [(root lemma, sense number 1-based)]; members are the roots' hyponym closure.
NOUN_CLASSES: dict[str, list[tuple[str, int]]] = {
    "job": [("worker", 1), ("professional", 1)],
    "relative": [("relative", 1)],
    "thing": [("device", 1), ("container", 1), ("vehicle", 1), ("clothing", 1),
              ("furniture", 1), ("equipment", 1)],
    "food": [("food", 2), ("dish", 2), ("beverage", 1), ("fruit", 1), ("vegetable", 1)],
    "animal": [("animal", 1)],
    "place": [("building", 1), ("facility", 1), ("establishment", 4), ("room", 1),
              ("geographical area", 1)],
    "language": [("natural language", 1)],
    "activity": [("sport", 1), ("musical instrument", 1), ("discipline", 1), ("game", 2)],
    "event": [("social event", 1), ("meeting", 1), ("show", 1)],
    "feeling": [("feeling", 1)],
}
# class -> roots whose instance hyponyms (proper nouns) are its members
INSTANCE_CLASSES: dict[str, list[tuple[str, int]]] = {
    "country": [("country", 1), ("country", 2)],
    "city": [("city", 1)],
}
# Verb sentence frames (wndb(5WN)): 2 = "Somebody ----s", 8 = "Somebody ----s something".
VERB_CLASSES: dict[str, int] = {"act": 2, "do": 8}
# verb.stative (42) and verb.weather (43) make odd activities; verb.body (29) has the
# everyday smile, sleep, cry, exercise / work out, dress, wash.
_VERB_LEXNAMES = set(range(29, 42))
_WEATHER_LEXNAME = 43
_PERSON_LEXNAME = 18
_GENERIC = ("noun", "verb", "adj")
_NOT_MEASURES = {"amount", "visual property", "temporal arrangement", "quality"}
# A word a sentence may hold: lower case letters, apostrophes, hyphens, spaces.
WORD = re.compile(r"^[a-z][a-z' -]*[a-z]$")
# A rarer sense of a word is used when tagged at least this share of its first sense.
SENSE_SHARE = 0.2
# Sampling weight of a near synonym (a synset word never tagged has 0.3).
NEAR_WEIGHT = 0.3


@dataclass
class Concept:
    """One slot filler: a synset and the words that may render it."""

    cls: str
    synset: Synset
    words: list[str]
    weights: np.ndarray
    # attribute adjectives: the noun synset's words ("age")
    nouns: list[str] | None = None


class Lexicon:
    """WordNet's synsets grouped into the template classes, with sampling weights."""

    def __init__(self, wn: WordNet) -> None:
        self.wn = wn
        self.inflect = Inflector(wn)
        self.classes: dict[str, list[Concept]] = {}
        self.near = self._near_words()
        for cls, roots in NOUN_CLASSES.items():
            seen: set[tuple[str, int]] = set()
            stack = [wn.lemma_synsets(lemma, "n")[sense - 1] for lemma, sense in roots]
            members = []
            while stack:
                syn = stack.pop()
                if syn.key in seen:
                    continue
                seen.add(syn.key)
                members.append(syn)
                stack.extend(wn.hyponyms(syn))
            self.classes[cls] = self._concepts(cls, members, min_count=1)
        for cls, roots in INSTANCE_CLASSES.items():
            # named places (France, Spain; Paris, Madrid): instances under the roots,
            # sharing a hypernym (European country) with their siblings
            stack = [wn.lemma_synsets(lemma, "n")[sense - 1] for lemma, sense in roots]
            seen, members = set(), []
            while stack:
                syn = stack.pop()
                if syn.key in seen:
                    continue
                seen.add(syn.key)
                members += [wn.synset(k) for k in syn.targets("~i")]
                stack.extend(wn.synset(k) for k in syn.targets("~"))
            unique = list({s.key: s for s in members}.values())
            self.classes[cls] = self._concepts(cls, unique, min_count=1)
        verbs = [s for s in wn.synsets.values() if s.pos == "v"]
        for cls, frame in VERB_CLASSES.items():
            self.classes[cls] = self._concepts(
                cls, [s for s in verbs if frame in s.frames and s.lexname in _VERB_LEXNAMES],
                min_count=2)
        self.classes["weather"] = self._concepts(
            "weather", [s for s in verbs if s.lexname == _WEATHER_LEXNAME], min_count=1)
        adjectives = [s for s in wn.synsets.values() if s.pos == "a"]
        self.classes["adj"] = self._concepts("adj", adjectives, min_count=2)
        self.classes["manner"] = self._concepts(
            "manner", [s for s in wn.synsets.values() if s.pos == "r"
                       and any(w.endswith("ly") for w in s.words)], min_count=2)
        self.classes["attr"] = self._attributes(adjectives)
        # "she sings beautifully" <-> "she is a beautiful singer": activity verbs with an
        # agent noun (WordNet's derivation pointer to a noun.person synset: sing ->
        # singer) and manner adverbs with the adjective they pertain to (beautifully ->
        # beautiful)
        self.agents = {c.synset.key: a for c in self.classes["act"]
                       if (a := self._agent(c.synset))}
        self.pertains = {c.synset.key: a for c in self.classes["manner"]
                         if (a := self._pertainym(c.synset))}
        # Any everyday noun or verb, for the generic templates: these carry most of the
        # vocabulary.
        self.classes["noun"] = self._concepts(
            "noun", [s for s in wn.synsets.values() if s.pos == "n"], min_count=2)
        self.classes["verb"] = self._concepts(
            "verb", [s for s in verbs if s.lexname in _VERB_LEXNAMES], min_count=2)
        # WordNet example sentences of everyday synsets, with the concept they illustrate
        self.examples = [(c, ex) for cls in ("adj", "verb", "noun") for c in self.classes[cls]
                         for ex in c.synset.examples if 3 <= ex.count(" ") + 1 <= 14]
        self._sibling_cache: dict[tuple[str, tuple[str, int]],
                                  tuple[list[Concept], np.ndarray]] = {}
        self.by_key = {(c.cls, c.synset.key): c for cs in self.classes.values() for c in cs}
        # Concepts are drawn by tagged frequency to the power 0.75 (word2vec's unigram
        # smoothing): everyday words dominate, rarer ones still come up.
        # The generic classes are drawn flatter (power 0.5), to cover more words.
        self.cum = {cls: np.cumsum([c.weights.sum() ** (0.5 if cls in _GENERIC else 0.75)
                                    for c in cs])
                    for cls, cs in self.classes.items()}

    def frequent(self, word: str, syn: Synset) -> bool:
        """Whether `syn` is one of `word`'s everyday senses: its first sense, or one tagged
        at least SENSE_SHARE as often as its most tagged sense. "dull" renders *boring*
        (tagged 2 times of its most tagged sense's 5) but "slow" does not, so "the book is
        slow" never stands for "the book is boring"."""
        keys = self.wn.senses.get((word, syn.pos), [])
        if not keys or keys[0] == syn.key:
            return True
        n = self.wn.sense_counts.get((word, syn.key), 0)
        top = max(self.wn.sense_counts.get((word, k), 0) for k in keys)
        return n >= 1 and n >= SENSE_SHARE * top

    def _concepts(self, cls: str, synsets: list[Synset], min_count: int) -> list[Concept]:
        out = []
        for syn in synsets:
            words = [w for w in dict.fromkeys(syn.words)
                     if WORD.match(w) and w.count(" ") <= 1]
            counts = np.array([self.wn.sense_counts.get((w, syn.key), 0) for w in words],
                              dtype=np.float64)
            if not words or counts.max() < min_count:
                continue
            keep = [i for i, w in enumerate(words) if self.frequent(w, syn)]
            if not keep:
                continue
            words, weights = [words[i] for i in keep], counts[keep] + 0.3
            # Near synonyms WordNet keeps in other synsets: informal terms ("mom" for
            # *mother*) and, for adjectives, the synsets it says to "see also" ("smart"
            # for *intelligent*), rarer than the synset's own words.
            extra = [w for w in self.near.get(syn.key, []) if w not in words]
            if extra:
                words = words + extra
                weights = np.concatenate([weights, np.full(len(extra), NEAR_WEIGHT)])
            out.append(Concept(cls, syn, words, weights))
        return out

    def _near_words(self) -> dict[tuple[str, int], list[str]]:
        near: dict[tuple[str, int], list[str]] = {}
        for syn in self.wn.synsets.values():
            if syn.pos == "n" and INFORMAL.search(syn.definition):
                for h in self.wn.hypernyms(syn):
                    near.setdefault(h.key, []).extend(
                        w for w in syn.words if WORD.match(w) and " " not in w)
            elif syn.pos == "a" and syn.targets("^"):
                for t in syn.targets("^"):
                    other = self.wn.synset(t)
                    near.setdefault(syn.key, []).extend(
                        w for w in other.words[:2] if WORD.match(w) and " " not in w
                        and self.wn.senses.get((w, "a"), [None])[0] == other.key)
        return {k: list(dict.fromkeys(v)) for k, v in near.items()}

    def _attributes(self, adjectives: list[Synset]) -> list[Concept]:
        out = []
        for syn in adjectives:
            targets = syn.targets("=")
            if not targets or not self._measurable(self.wn.synset(targets[0])):
                continue
            nouns = [w for w in self.wn.synset(targets[0]).words if WORD.match(w)]
            nouns = sorted(nouns, key=lambda w: -self.wn.counts.get(w, 0))[:2]
            words = [w for w in syn.words if WORD.match(w) and " " not in w
                     and self.frequent(w, syn)]
            counts = np.array([self.wn.sense_counts.get((w, syn.key), 0) for w in words],
                              dtype=np.float64)
            if words and nouns and counts.max() >= 5:
                out.append(Concept("attr", syn, words, counts + 0.3, nouns))
        return out

    def _agent(self, verb: Synset) -> str | None:
        lemma = verb.words[0]
        for target, _, dst in verb.pointers.get("+", []):
            noun = self.wn.synset(target)
            if noun.lexname != _PERSON_LEXNAME:
                continue
            words = [noun.words[dst - 1]] if dst else noun.words
            for w in words:
                if WORD.match(w) and " " not in w and w[:3] == lemma[:3] \
                        and w.endswith(("er", "or", "ist")) and self.frequent(w, noun) \
                        and self.wn.counts.get(w, 0) >= 2:
                    return w
        return None

    def _pertainym(self, adverb: Synset) -> tuple[str, str] | None:
        """(adverb, adjective) of an -ly adverb and the adjective it is made from."""
        for target, src, dst in adverb.pointers.get("\\", []):
            adj = self.wn.synset(target)
            w = adj.words[dst - 1] if dst else adj.words[0]
            ly = adverb.words[src - 1] if src else adverb.words[0]
            if WORD.match(w) and " " not in w and self.frequent(w, adj) \
                    and ly.endswith("ly") and ly.startswith(w[:max(3, len(w) - 2)]):
                return ly, w
        return None

    def _measurable(self, noun: Synset) -> bool:
        """An attribute a "how ADJ is X" question asks about: a property or measure
        (age, size, height, depth, speed), not a count, colour value or quality."""
        above: set[str] = set()
        stack = [noun]
        while stack:
            s = stack.pop()
            for h in self.wn.hypernyms(s):
                above.update(h.words)
                stack.append(h)
        return bool(above & {"property", "measure"}) and not above & _NOT_MEASURES

    def sample(self, rng: np.random.Generator, cls: str) -> Concept:
        cum = self.cum[cls]
        return self.classes[cls][int(np.searchsorted(cum, rng.random() * cum[-1]))]

    def word(self, rng: np.random.Generator, c: Concept, avoid: str | None = None) -> str:
        """One of c's words by its tagged frequency in c's sense (not `avoid`)."""
        choices = [i for i, w in enumerate(c.words) if w != avoid] or list(range(len(c.words)))
        cum = np.cumsum(c.weights[choices])
        return c.words[choices[min(int(np.searchsorted(cum, rng.random() * cum[-1])),
                                   len(choices) - 1)]]

    def sibling(self, rng: np.random.Generator, c: Concept) -> Concept | None:
        """Another concept of c's class that shares no word with it, under c's hypernym
        when it has such a sibling (half the time), else anywhere in the class."""
        words = set(c.words)
        if rng.random() < 0.5:
            sibs, cum = self._siblings(c)
            if sibs:
                return sibs[min(int(np.searchsorted(cum, rng.random() * cum[-1])),
                                len(sibs) - 1)]
        for _ in range(20):
            other = self.sample(rng, c.cls)
            if not words & set(other.words) and (c.nouns is None or other.nouns != c.nouns):
                return other
        return None

    def _siblings(self, c: Concept) -> tuple[list[Concept], np.ndarray]:
        key = (c.cls, c.synset.key)
        if key not in self._sibling_cache:
            words = set(c.words)
            sibs = [self.by_key.get((c.cls, h.key)) for p in self.wn.hypernyms(c.synset)
                    for h in self.wn.hyponyms(p) if h.key != c.synset.key]
            sibs = [s for s in sibs if s is not None and not words & set(s.words)]
            # by frequency, like every other draw: rare siblings would teach "an
            # unfamiliar word means another meaning" instead of the relation
            cum = np.cumsum([s.weights.sum() ** 0.75 for s in sibs])
            self._sibling_cache[key] = (sibs, cum)
        return self._sibling_cache[key]

    def antonym(self, rng: np.random.Generator, c: Concept, word: str) -> str | None:
        syn = c.synset
        if word not in syn.words:  # a near synonym: its antonym is another synset's
            return None
        idx = syn.words.index(word) + 1
        found = self.wn.antonyms(syn, idx)
        if not found:  # any word of the synset with an antonym, e.g. "shut" -> "open"
            found = [a for i in range(1, len(syn.words) + 1) for a in self.wn.antonyms(syn, i)]
        found = [a for a in found if WORD.match(a)]
        return found[int(rng.integers(len(found)))] if found else None


@functools.lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    return Lexicon(wordnet_mod.load())

