"""A small reader of WordNet 3.0's own database files (Debian's `wordnet-base`).

`scripts/install-system-deps.sh` installs the package; its files are in
``/usr/share/wordnet`` (``MULTIHEAD_WORDNET_DIR`` points elsewhere). Nothing is
downloaded. The format is the one `wndb(5WN)` documents: one synset per line of
``data.{noun,verb,adj,adv}``::

    offset lex_filenum ss_type w_cnt(hex) word lex_id ... p_cnt ptr... [frames] | gloss

where each pointer is ``symbol offset pos source/target(hex)`` (``0000`` = between
synsets, else word number in source and target), and the gloss is a definition
followed by quoted example sentences separated by ``;``. ``index.<pos>`` lists a
lemma's synsets in sense order, and ``cntlist.rev`` the number of times each sense
was tagged in the Semantic Concordance (how the frequency of a word in ordinary text
is estimated here). Only what the pair generators use is kept.
"""

from __future__ import annotations

import functools
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DIR = "/usr/share/wordnet"
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
# Adjective syntactic markers: "galore(ip)", "elect(p)".
_MARKER = re.compile(r"\((?:a|p|ip)\)$")
_EXAMPLE = re.compile(r'"([^"]+)"')
# The gloss of a synset of informal words for its hypernym ("informal terms for a
# mother": mom, mum, ...).
INFORMAL = re.compile(r"^(?:an? )?informal (?:british |american )?(?:terms?|words?|names?) for")


class WordNetMissing(FileNotFoundError):
    """WordNet's database files are not where they were looked for."""


@dataclass
class Synset:
    pos: str                   # n, v, a (satellites too), r
    offset: int
    lexname: int               # lex_filenum: noun.person = 18, noun.food = 13, ...
    words: list[str]           # lemmas, lower case, spaces for underscores
    definition: str
    examples: list[str]
    # symbol -> [(target key, source word index or 0, target word index or 0)]
    pointers: dict[str, list[tuple[tuple[str, int], int, int]]] = field(default_factory=dict)
    # verbs: sentence frames (2 = "Somebody ----s", 8 = "Somebody ----s something", ...)
    frames: set[int] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, int]:
        return (self.pos, self.offset)

    def targets(self, symbol: str) -> list[tuple[str, int]]:
        """Synsets this one points to with `symbol` (synset-level and word-level)."""
        return [t for t, _, _ in self.pointers.get(symbol, [])]


@dataclass
class WordNet:
    synsets: dict[tuple[str, int], Synset]
    # (lemma, pos) -> synset keys in sense order (most frequent sense first)
    senses: dict[tuple[str, str], list[tuple[str, int]]]
    # lemma -> tagged occurrences in the Semantic Concordance, all senses and parts of speech
    counts: dict[str, int]
    # (lemma, synset key) -> tagged occurrences of the lemma in that sense
    sense_counts: dict[tuple[str, tuple[str, int]], int]
    # inflected form -> base forms, per pos (noun.exc, verb.exc, adj.exc)
    exceptions: dict[str, dict[str, list[str]]]

    def synset(self, key: tuple[str, int]) -> Synset:
        return self.synsets[key]

    def lemma_synsets(self, lemma: str, pos: str) -> list[Synset]:
        return [self.synsets[k] for k in self.senses.get((lemma, pos), [])]

    def antonyms(self, syn: Synset, word_index: int) -> list[str]:
        """Word-level antonyms of `syn.words[word_index]` (1-based index as in the file)."""
        out = []
        for target, src, dst in syn.pointers.get("!", []):
            if src == word_index and dst:
                out.append(self.synsets[target].words[dst - 1])
        return out

    def hyponyms(self, syn: Synset) -> list[Synset]:
        return [self.synsets[k] for k in syn.targets("~") + syn.targets("~i")]

    def hypernyms(self, syn: Synset) -> list[Synset]:
        return [self.synsets[k] for k in syn.targets("@") + syn.targets("@i")]


def wordnet_dir() -> Path:
    return Path(os.environ.get("MULTIHEAD_WORDNET_DIR", DEFAULT_DIR))


@functools.lru_cache(maxsize=2)
def load(directory: str | None = None) -> WordNet:
    """Parse WordNet's database in `directory` (default: `wordnet_dir()`), once per process."""
    root = Path(directory) if directory else wordnet_dir()
    missing = [f"data.{n}" for n in POS_FILES.values() if not (root / f"data.{n}").is_file()]
    if missing:
        raise WordNetMissing(
            f"WordNet's database files ({', '.join(missing)}) are not in {root}; install "
            "Debian's wordnet-base (scripts/install-system-deps.sh) or set "
            "MULTIHEAD_WORDNET_DIR to the folder that holds them"
        )
    synsets: dict[tuple[str, int], Synset] = {}
    for name in POS_FILES.values():
        with open(root / f"data.{name}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):  # the license header
                    continue
                syn = _parse_synset(line)
                synsets[syn.key] = syn
    senses: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for pos, name in POS_FILES.items():
        with open(root / f"index.{name}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                parts = line.split()
                lemma, n_syn, n_ptr = parts[0], int(parts[2]), int(parts[3])
                offsets = parts[4 + n_ptr + 2:4 + n_ptr + 2 + n_syn]
                keys = []
                for o in offsets:
                    key = (pos, int(o))
                    keys.append(key)
                senses[(lemma.replace("_", " "), pos)] = keys
    counts: dict[str, int] = defaultdict(int)
    sense_counts: dict[tuple[str, tuple[str, int]], int] = {}
    cntlist = root / "cntlist.rev"
    if cntlist.is_file():
        with open(cntlist, encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) != 3:
                    continue
                # sense key "lemma%ss_type:lex_filenum:lex_id:head:head_id"; ss_type 1-5 is
                # n, v, a, r, s (satellites are adjectives); the sense number indexes the
                # lemma's synsets in index.<pos> order.
                lemma, _, rest = parts[0].partition("%")
                lemma = lemma.replace("_", " ")
                pos = "nvara"[int(rest[0]) - 1]
                n = int(parts[2])
                counts[lemma] += n
                keys = senses.get((lemma, pos), [])
                number = int(parts[1])
                if 0 < number <= len(keys):
                    sense_counts[(lemma, keys[number - 1])] = n
    exceptions: dict[str, dict[str, list[str]]] = {}
    for pos, name in POS_FILES.items():
        table: dict[str, list[str]] = {}
        path = root / f"{name}.exc"
        if path.is_file():
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    table[parts[0].replace("_", " ")] = [p.replace("_", " ") for p in parts[1:]]
        exceptions[pos] = table
    return WordNet(synsets, senses, dict(counts), sense_counts, exceptions)


def _parse_synset(line: str) -> Synset:
    data, _, gloss = line.partition(" | ")
    parts = data.split()
    offset, lexname, ss_type = int(parts[0]), int(parts[1]), parts[2]
    pos = "a" if ss_type == "s" else ss_type
    n_words = int(parts[3], 16)
    words = []
    for i in range(n_words):
        word = _MARKER.sub("", parts[4 + 2 * i]).replace("_", " ").lower()
        words.append(word)
    at = 4 + 2 * n_words
    n_ptr = int(parts[at])
    pointers: dict[str, list[tuple[tuple[str, int], int, int]]] = {}
    for i in range(n_ptr):
        symbol, target, tpos, st = parts[at + 1 + 4 * i: at + 5 + 4 * i]
        tpos = "a" if tpos == "s" else tpos
        pointers.setdefault(symbol, []).append(
            ((tpos, int(target)), int(st[:2], 16), int(st[2:], 16)))
    frames = set()
    rest = parts[at + 1 + 4 * n_ptr:]
    if pos == "v" and rest:
        for i in range(int(rest[0])):
            frames.add(int(rest[2 + 3 * i]))
    gloss = gloss.strip()
    examples = _EXAMPLE.findall(gloss)
    definition = gloss.split(';')[0].split('"')[0].strip()
    return Synset(pos, offset, lexname, words, definition, examples, pointers, frames)
