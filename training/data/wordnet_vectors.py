"""Starting word embeddings from WordNet's synsets (no corpus, nothing downloaded).

Each synset gets a fixed random direction; a word's vector is the sum of its
synsets' directions weighted by how often the word was tagged in that sense (so
the everyday sense dominates), plus a small random part of its own. Synonyms
therefore start close together ("film" and "movie" share the synset *movie*;
"begin" and "start" the synset *begin*) while words of different synsets, antonyms
and siblings included, start about orthogonal. Inflected forms ("kids", "began",
"closest") get their lemma's vector through WordNet's morphology: its exception
lists and the suffix rules of its `morphy` (wnintro(3WN)). Words WordNet does not
have ("the", "you", "what") get a random vector of their own.

A model trained on generated pairs sees each synonym pair only a few times; with
this start it needs to learn how to compare sentences, not every synonym from
scratch. `training/models/similarity/model.py` loads these into its shared encoder's
embedding before training (config field ``embedding_init``).
"""

from __future__ import annotations

import zlib

import numpy as np

from training.data.wordnet import INFORMAL, WordNet

# morphy's detachment rules: (suffix, replacement) per part of speech
_RULES = {
    "n": [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
          ("men", "man"), ("ies", "y")],
    "v": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""),
          ("ing", "e"), ("ing", ""), ("ied", "y")],  # the last is ours: "tried" -> "try"
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "r": [],
}
OWN = 0.1  # weight of a word's own random part against its senses
SIMILAR = 0.6  # weight of an adjective satellite's head synset


def lemmas(wn: WordNet, word: str) -> list[tuple[str, str]]:
    """(lemma, pos) pairs WordNet knows for `word`, itself or a base form of it."""
    out = []
    for pos in ("n", "v", "a", "r"):
        found = []
        if (word, pos) in wn.senses:
            found.append(word)
        found += [b for b in wn.exceptions.get(pos, {}).get(word, []) if (b, pos) in wn.senses]
        if not found:
            for suffix, repl in _RULES[pos]:
                if word.endswith(suffix) and len(word) > len(suffix) + 1:
                    base = word[: -len(suffix)] + repl
                    if (base, pos) in wn.senses:
                        found.append(base)
                        break
        out += [(b, pos) for b in dict.fromkeys(found)]
    return out


def _direction(key: str, dim: int) -> np.ndarray:
    v = np.random.default_rng(zlib.crc32(key.encode("utf-8"))).standard_normal(dim)
    return v / np.linalg.norm(v)


def word_vectors(wn: WordNet, vocab: list[str], dim: int, scale: float = 0.05) -> np.ndarray:
    """[len(vocab), dim] float32: row i for vocab[i]; rows 0 (padding) and 1 (OOV) random.

    `scale` is the standard deviation per component (Keras' default uniform(-0.05, 0.05)
    initializer has about 0.03).
    """
    out = np.zeros((len(vocab), dim), dtype=np.float64)
    for i, word in enumerate(vocab):
        v = OWN * _direction("word:" + word, dim)
        for lemma, pos in lemmas(wn, word):
            keys = wn.senses[(lemma, pos)]
            weights = np.array([wn.sense_counts.get((lemma, k), 0) + 0.2 / (j + 1)
                                for j, k in enumerate(keys)])
            weights /= weights.sum()
            for k, w in zip(keys, weights, strict=True):
                v = v + w * _direction(f"synset:{k[0]}{k[1]}", dim)
                # An adjective satellite ("excellent", "great") leans towards its head
                # synset ("good"), which its similar satellites share, and an adjective
                # towards those WordNet says to "see also" ("smart" -> "intelligent");
                # an informal term ("mom") towards what it names (*mother*).
                syn = wn.synset(k)
                near = syn.targets("&") + syn.targets("^") if pos == "a" else []
                if pos == "n" and INFORMAL.search(syn.definition):
                    near = syn.targets("@")
                for head in near:
                    v = v + SIMILAR * w * _direction(f"synset:{head[0]}{head[1]}", dim)
        out[i] = v / np.linalg.norm(v)
    return (out * scale * np.sqrt(dim)).astype(np.float32)
