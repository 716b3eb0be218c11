"""The similarity model's frozen word vectors: pretrained English token embeddings.

WordLlama (the `wordllama` package, MIT) ships, inside its wheel, a 32,000 x 256 table of
token embeddings trained for sentence similarity (Llama 2's tokenizer; its
`weights/l2_supercat_256.safetensors` and `tokenizers/l2_supercat_tokenizer_config.json`).
A word's vector is the mean of its tokens' rows, as WordLlama pools a text: "laptop" is one
token, "pancakes" three. The files are read from the installed package (safetensors,
tokenizers); nothing is downloaded (WordLlama's own loader would try to, for a file name
its wheel spells differently).

Where WordNet's synset vectors (training/data/wordnet_vectors.py) know the synonyms
WordNet lists, these know what English usage puts together: price and cost, bill and
pay, forty and 40. Kept frozen, they also hold for words no training pair uses, so the
vocabulary takes everyday words beyond the training data (`everyday_words`). Measured
on the everyday pairs' dev half: docs/wordnet-pairs.md.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from training.data.english import Inflector, add_s

WEIGHTS = "weights/l2_supercat_256.safetensors"
TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
DIM = 256
_WORD = re.compile("[a-z]+")


def _package_dir() -> Path:
    # find_spec does not import wordllama (whose import pulls in its download helpers)
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the wordllama package is not installed (make install)")
    return Path(next(iter(spec.submodule_search_locations)))


@lru_cache(maxsize=1)
def _table():
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    root = _package_dir()
    (weights,) = load_file(str(root / WEIGHTS)).values()
    return weights.astype(np.float32), Tokenizer.from_file(str(root / TOKENIZER))


def word_vectors(vocab: list[str], scale: float = 0.05) -> np.ndarray:
    """[len(vocab), DIM] float32: row i for vocab[i], the mean of its tokens' embeddings,
    scaled as wordnet_vectors.word_vectors scales (`scale` per component); zeros for a word
    with no token (the padding entry "")."""
    table, tok = _table()
    out = np.zeros((len(vocab), DIM), dtype=np.float32)
    for i, word in enumerate(vocab):
        ids = tok.encode(word, add_special_tokens=False).ids if word else []
        if ids:
            v = table[ids].mean(0)
            out[i] = v / max(float(np.linalg.norm(v)), 1e-9)
    return out * np.float32(scale * np.sqrt(DIM))


# regular inflections per WordNet part of speech ("s": adjective satellite)
_SUFFIXES = {"n": ("s",), "v": ("s", "ed", "ing"), "a": ("er", "est"), "s": ("er", "est")}


def _inflect(lemma: str, suffix: str) -> str:
    if suffix == "s":
        return add_s(lemma)
    consonant_y = lemma.endswith("y") and lemma[-2:-1] not in "aeiou"
    if lemma.endswith("e"):
        return lemma[:-1] + suffix
    return lemma[:-1] + "i" + suffix if consonant_y and suffix != "ing" else lemma + suffix


def everyday_words() -> list[str]:
    """Everyday English beyond any training data, most frequent first: WordNet's lemmas
    that its sense-tagged corpus uses, by tag count, each with its inflections (WordNet's
    exception lists and the regular ones), then the whole-word tokens of WordLlama's
    tokenizer that WordNet knows."""
    from training.data import wordnet
    from training.data.wordnet_vectors import lemmas

    wn = wordnet.load()
    counts: dict[tuple[str, str], int] = {}
    for (lemma, key), count in wn.sense_counts.items():
        if count > 0 and lemma.isalpha():
            counts[(lemma, key[0])] = counts.get((lemma, key[0]), 0) + count
    inflector = Inflector(wn)
    out: dict[str, None] = {}
    for (lemma, pos), _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out[lemma] = None
        head = "a" if pos == "s" else pos
        out.update(dict.fromkeys(inflector.irregular_forms(head, lemma)))
        # the regular forms too ("makes", "making" beside "made"); a wrong one ("maked")
        # only takes a row no text uses
        out.update(dict.fromkeys(_inflect(lemma, s) for s in _SUFFIXES.get(pos, ())))
    _, tok = _table()
    pieces = sorted((i, p[1:]) for p, i in tok.get_vocab().items() if re.fullmatch("▁[a-z]{2,}", p))
    out.update(dict.fromkeys(w for _, w in pieces if lemmas(wn, w)))
    # what text standardization leaves (training/text.py strips punctuation)
    return [w for w in out if _WORD.fullmatch(w)]
