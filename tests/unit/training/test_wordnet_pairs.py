"""The WordNet reader and the WordNet-backed similarity pairs (no TensorFlow, no model).

Needs Debian's wordnet-base (scripts/install-system-deps.sh, part of `make setup`).
"""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from training.data import evalsets, wordnet, wordnet_pairs
from training.data.english import Inflector
from training.data.wordnet_lexicon import lexicon
from training.data.wordnet_templates import templates
from training.data.wordnet_vectors import lemmas
from training.models import generate

pytestmark = pytest.mark.timeout(300)

EVAL = evalsets.eval_file(evalsets.SIMILARITY_EVAL)


@pytest.fixture(scope="module")
def wn() -> wordnet.WordNet:
    return wordnet.load()


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", s.lower()).split())


def test_reader_finds_synonyms_antonyms_and_attributes(wn) -> None:
    old = wn.lemma_synsets("old", "a")[0]  # most frequent sense first
    assert "how old are you?" in old.examples
    assert wn.antonyms(old, old.words.index("old") + 1) == ["young"]
    assert [wn.synset(k).words[0] for k in old.targets("=")] == ["age"]
    tall = wn.lemma_synsets("tall", "a")[0]
    assert "height" in wn.synset(tall.targets("=")[0]).words
    movie = wn.lemma_synsets("movie", "n")[0]
    assert "film" in movie.words
    buy = wn.lemma_synsets("buy", "v")[0]
    assert "purchase" in buy.words and 8 in buy.frames  # "Somebody ----s something"
    assert wn.sense_counts[("buy", buy.key)] > wn.sense_counts.get(("purchase", buy.key), 0)


def test_missing_wordnet_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(wordnet.WordNetMissing, match="wordnet-base"):
        wordnet.load(str(tmp_path))


def test_inflections(wn) -> None:
    inf = Inflector(wn)
    assert [inf.plural(w) for w in ("child", "box", "city", "dog")] == [
        "children", "boxes", "cities", "dogs"]
    assert [inf.past(w) for w in ("begin", "stop", "cook", "try")] == [
        "began", "stopped", "cooked", "tried"]
    assert [inf.ing(w) for w in ("make", "run", "cook")] == ["making", "running", "cooking"]
    assert inf.third("go") == "goes" and inf.third("teach") == "teaches"


def test_same_seed_same_pairs_other_seed_others() -> None:
    a, b, c = (wordnet_pairs.wordnet_pairs(300, s) for s in (1, 1, 2))
    assert a[0] == b[0] and a[1] == b[1] and np.array_equal(a[2], b[2])
    assert a[0] != c[0]
    ex = generate("similarity", 50, seed=1, source="wordnet")
    assert ex.description["source"] == "wordnet" and len(ex) == 50
    assert list(ex.inputs["left"]) == a[0][:50]


def test_every_operation_occurs_and_half_are_paraphrases() -> None:
    left, right, y, ops = wordnet_pairs.wordnet_pairs(3000, 0)
    drawn = {o for o, w in wordnet_pairs.WEIGHTS.items() if w > 0}
    assert set(wordnet_pairs.WEIGHTS) == set(wordnet_pairs.OPERATIONS)
    assert set(ops) == drawn and {"synonym", "example"} - drawn
    assert 0.45 < y.mean() < 0.55
    for op, target in zip(ops, y, strict=True):
        assert target == (op in wordnet_pairs.POSITIVE)
    # hard negatives keep most words: half of them share at least half their words
    def overlap(a: str, b: str) -> float:
        sa, sb = set(a.split()), set(b.split())
        return len(sa & sb) / len(sa | sb)

    hard = [overlap(a, b) for a, b, o in zip(left, right, ops, strict=True)
            if o in ("antonym", "sibling", "order")]
    assert np.median(hard) >= 0.5


def test_attribute_paraphrases_use_wordnet_attribute_relation() -> None:
    left, right, _, ops = wordnet_pairs.wordnet_pairs(3000, 0)
    pairs = {(a, b) for a, b, o in zip(left, right, ops, strict=True) if o == "attribute"}
    # "how old are you" / "what is your age" itself is an eval pair, held out
    assert any(("how old" in a and "age" in b.split()) or ("how old" in b and "age" in a.split())
               for a, b in pairs)
    noun_forms = 0
    for a, b in pairs:
        if ("how " in a) == ("how " in b):
            continue  # "how large is the x" / "do you know how large the x is"
        question, other = (a, b) if "how " in a else (b, a)
        adjective = question.split("how ")[1].split()[0]
        assert adjective not in other.split()  # the noun form replaces it
        noun_forms += 1
    assert noun_forms > len(pairs) / 3


def test_gloss_pairs_put_a_noun_against_its_own_or_a_siblings_definition(wn) -> None:
    from training.data.wordnet_templates import templates

    frames = [re.compile("^" + re.escape(f).replace(re.escape("{x}"), "an? (.+)") + "$")
              for f in templates().gloss_frames]
    left, right, _, ops = wordnet_pairs.wordnet_pairs(3000, 0)
    seen = {"gloss": 0, "gloss_swap": 0}
    for a, b, o in zip(left, right, ops, strict=True):
        if o not in seen:
            continue
        # one frame ("i saw {x} yesterday") on both sides, {x} a noun or a definition
        frame = next(f for f in frames if f.match(a) and f.match(b))
        x, y = frame.match(a).group(1), frame.match(b).group(1)

        def defines(phrase: str, word: str) -> bool:
            # a whole-word ending: "a woman salesperson" is no definition of "man salesperson"
            return any(d == phrase or d.endswith(" " + phrase)
                       for d in {s.definition for s in wn.lemma_synsets(word, "n")})

        # either side may be the noun: "turkey cock" is as long as "male turkey"
        assert (defines(x, y) or defines(y, x)) == (o == "gloss"), (a, b)
        seen[o] += 1
    assert min(seen.values()) > 20


def test_antonym_negatives_swap_one_word_for_its_antonym(wn) -> None:
    left, right, _, ops = wordnet_pairs.wordnet_pairs(2000, 3)
    checked = 0
    for a, b, o in zip(left, right, ops, strict=True):
        # words, not the vectorizer's tokens: "don't hope--help is on the way!" swaps "hope"
        wa, wb = re.findall(r"[a-z']+", a.lower()), re.findall(r"[a-z']+", b.lower())
        if o != "antonym" or len(wa) != len(wb):
            continue
        diff = [i for i, (x, y) in enumerate(zip(wa, wb, strict=True)) if x != y]
        if len(diff) != 1:
            continue
        i = diff[0]
        x, y = wa[i], wb[i]  # possibly inflected: "attracts" / "repels"
        if (i and (f"{wa[i - 1]} {x}", "v") in wn.senses
                and (f"{wb[i - 1]} {y}", "v") in wn.senses):
            x, y = f"{wa[i - 1]} {x}", f"{wb[i - 1]} {y}"  # "pull out" / "pull in"

        def opposites(word: str) -> set[str]:
            """Antonyms of the words of every synset `word` is in ("race" is in the
            synset of "rush", whose antonym is "linger")."""
            return {ant for w in lemmas(wn, word) for s in wn.lemma_synsets(*w)
                    for i in range(1, len(s.words) + 1) for ant in wn.antonyms(s, i)}

        base = {lemma for lemma, _ in lemmas(wn, x)} | {lemma for lemma, _ in lemmas(wn, y)}
        assert base & (opposites(x) | opposites(y)), (a, b)
        checked += 1
    assert checked > 20


def test_eval_set_is_balanced_hand_written_and_never_generated() -> None:
    rows = list(csv.DictReader(EVAL.open(encoding="utf-8"), delimiter="\t"))
    assert len(rows) >= 100
    labels = [int(r["is_duplicate"]) for r in rows]
    assert sum(labels) == len(labels) - sum(labels)
    # every hard non-paraphrase shares words with its pair
    for r in rows:
        if r["is_duplicate"] == "0":
            assert set(_norm(r["question1"]).split()) & set(_norm(r["question2"]).split())
    # the default model's training pairs (config examples, seed 0) hold no eval pair
    from training.models import config_for

    cfg = config_for("similarity")
    left, right, _, _ = wordnet_pairs.wordnet_pairs(cfg.examples, cfg.seed)
    generated = {frozenset((_norm(a), _norm(b))) for a, b in zip(left, right, strict=True)}
    evals = {frozenset((_norm(r["question1"]), _norm(r["question2"]))) for r in rows}
    assert evals == wordnet_pairs.held_out_pairs()
    assert not generated & evals


def test_rare_senses_do_not_render_a_concept_and_near_synonyms_do(wn) -> None:
    lex = wordnet_pairs.lexicon()
    boring = next(c for c in lex.classes["adj"] if "boring" in c.words)
    # "dull" is tagged in the *boring* sense; "slow" (mostly: not fast) never is
    assert "dull" in boring.words and "slow" not in boring.words
    assert lex.frequent("sad", wn.lemma_synsets("sad", "a")[0])
    assert not lex.frequent("sad", wn.lemma_synsets("sad", "a")[2])  # "deplorable, sad"
    # informal terms ("an informal term for a mother") render their hypernym
    mother = next(c for c in lex.classes["relative"] if c.words[0] == "mother")
    assert {"mom", "mum"} <= set(mother.words)
    assert mother.weights[mother.words.index("mom")] < mother.weights[0]
    # WordNet's "see also" between adjectives
    smart = next(c for c in lex.classes["adj"] if c.synset == wn.lemma_synsets("smart", "a")[0])
    assert "intelligent" in smart.words
    # named places are siblings under their hypernym (France / Spain: European countries)
    france = next(c for c in lex.classes["country"] if c.words[0] == "france")
    assert "spain" in {w for s in lex._siblings(france)[0] for w in s.words}


def test_negation_and_manner_operations() -> None:
    left, right, y, ops = wordnet_pairs.wordnet_pairs(4000, 5)
    rows = [(a, b, o) for a, b, o in zip(left, right, ops, strict=True)]
    negation = [(a, b) for a, b, o in rows if o == "negation"]
    negated = [(a, b) for a, b, o in rows if o == "negated"]
    assert negation and negated
    for a, b in negation:  # one side negated, with the antonym: "big" / "not small"
        neg = sum(bool(re.search(r"\bnot\b|n't\b", s)) for s in (a, b))
        assert neg == 1 and set(a.split()) != set(b.split()), (a, b)
    manner = [(a, b) for a, b, o in rows if o == "manner"]
    agents = set(wordnet_pairs.lexicon().agents.values())
    # "she sings beautifully" / "she is a beautiful singer" or "... in a beautiful way"
    for a, b in manner:
        assert any(re.search(r"\w+ly\b", s) for s in (a, b)), (a, b)
        assert any(" way" in s or " manner" in s or set(s.split()) & agents
                   for s in (a, b)), (a, b)
    assert any(o == "manner_swap" for _, _, o in rows)


def test_comparatives(wn) -> None:
    inf = Inflector(wn)
    assert [inf.comparative(a) for a in ("big", "good", "bad", "happy", "large", "tall",
                                         "expensive", "careful")] == [
        "bigger", "better", "worse", "happier", "larger", "taller", "more expensive",
        "more careful"]


def test_numbers_and_clock_times_in_words_and_digits() -> None:
    rng = np.random.default_rng(0)
    assert [wordnet_pairs.number_words(n) for n in (7, 15, 40, 25, 200, 250)] == [
        "seven", "fifteen", "forty", "twenty five", "two hundred", "two hundred and fifty"]
    # 26 quarter hours: half past six, said three ways
    assert {wordnet_pairs.clock_time(26, rng) for _ in range(50)} == {
        "half past six", "six thirty", "6:30"}
    assert "quarter to eight" in {wordnet_pairs.clock_time(31, rng) for _ in range(50)}
    assert {wordnet_pairs.number(12, rng) for _ in range(20)} == {"12", "twelve"}


def _count(sentence: str) -> str:
    """The count or clock time a count pair says, in digits ("two" -> "2", "t26")."""
    clock = {}
    for q in range(4, 52):
        rng = np.random.default_rng(q)
        clock |= {wordnet_pairs.clock_time(q, rng): f"t{q}" for _ in range(40)}
    said = re.search(r"\b(?:at|from) (.+)$", sentence)
    if said and said.group(1) in clock:  # the clock frames end on the time
        return clock[said.group(1)]
    for n in range(999, 0, -1):  # "twenty five" before "twenty" and "five"
        sentence = re.sub(rf"\b{wordnet_pairs.number_words(n)}\b", str(n), sentence)
    return " ".join(re.findall(r"\b\d+\b", sentence))


def test_count_and_compare_operations() -> None:
    left, right, _, ops = wordnet_pairs.wordnet_pairs(4000, 3)
    rows = list(zip(left, right, ops, strict=True))
    count = [(a, b) for a, b, o in rows if o == "count"]
    count_swap = [(a, b) for a, b, o in rows if o == "count_swap"]
    assert len(count) > 50 and len(count_swap) > 50
    # a paraphrase keeps the count (in words or digits), its counterpart changes it
    assert all(_count(a) == _count(b) != "" for a, b in count), count[:5]
    assert all(_count(a) != _count(b) for a, b in count_swap), count_swap[:5]
    assert sum(re.search(r"\d", a) is None != (re.search(r"\d", b) is None)
               for a, b in count) > len(count) / 4  # often one side in words only
    compare = [(a, b) for a, b, o in rows if o == "compare"]
    compare_swap = [(a, b) for a, b, o in rows if o == "compare_swap"]
    assert len(compare) > 30 and len(compare_swap) > 30
    # "x is bigger than y" / "y is smaller than x": the antonym with x and y swapped
    turned = [(a, b) for a, b in compare if " than " in a and " than " in b]
    assert turned and all(a.split(" than ")[1] != b.split(" than ")[1] for a, b in turned)
    # the counterparts keep the frame and change the order or one adjective
    for a, b in compare_swap:
        assert len(set(a.split()) ^ set(b.split())) <= 4 and a != b, (a, b)


def test_intents_of_one_family_never_share_a_phrasing() -> None:
    # the `question` operation pairs two intents of a family as a non-paraphrase: one
    # phrasing in both would make a sentence its own non-paraphrase
    tpl = templates()
    for family, members in tpl.families().items():
        said = [p for k in members for p in tpl.intents[k].phrasings]
        assert len(said) == len(set(said)), family


def test_contrast_families_make_hard_negatives_that_differ_where_the_meaning_does() -> None:
    # "she always ..." / "she never ...", "my sister helped me" / "i helped my sister":
    # intents of one family that differ only there, paired by the `question` operation
    gen = wordnet_pairs._Pairs(lexicon(), templates(), np.random.default_rng(0))
    questions = [p for p in (gen.question() for _ in range(4000)) if p]

    def contrast(words: tuple[str, str]) -> bool:
        return any(words[0] in a.split() and words[1] in b.split()
                   or words[1] in a.split() and words[0] in b.split() for a, b in questions)

    assert contrast(("always", "never")) and contrast(("passed", "failed"))
    assert contrast(("morning", "evening")) and contrast(("tomorrow", "yesterday"))
