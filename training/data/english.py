"""English inflection for sentences filled with WordNet lemmas (base forms).

WordNet stores lemmas; its ``*.exc`` files map irregular inflected forms back to
them ("children" -> "child", "stopped" -> "stop"). Read backwards, together with
the regular spelling rules and a short table of irregular past tenses (the
exception files do not say which of "began" / "begun" is the past), they give the
forms a template needs: plural, third person, past, -ing.
"""

from __future__ import annotations

import re

from training.data.wordnet import WordNet

IRREGULAR_PAST = {
    "be": "was", "begin": "began", "break": "broke", "bring": "brought", "build": "built",
    "buy": "bought", "catch": "caught", "choose": "chose", "come": "came", "cut": "cut",
    "do": "did", "draw": "drew", "drink": "drank", "drive": "drove", "eat": "ate",
    "fall": "fell", "feel": "felt", "fight": "fought", "find": "found", "fly": "flew",
    "forget": "forgot", "get": "got", "give": "gave", "go": "went", "grow": "grew",
    "have": "had", "hear": "heard", "hide": "hid", "hit": "hit", "hold": "held",
    "hurt": "hurt", "keep": "kept", "know": "knew", "lead": "led", "leave": "left",
    "lend": "lent", "let": "let", "lie": "lay", "lose": "lost", "make": "made",
    "mean": "meant", "meet": "met", "pay": "paid", "put": "put", "read": "read",
    "ride": "rode", "ring": "rang", "rise": "rose", "run": "ran", "say": "said",
    "see": "saw", "sell": "sold", "send": "sent", "set": "set", "shake": "shook",
    "shoot": "shot", "shut": "shut", "sing": "sang", "sit": "sat", "sleep": "slept",
    "speak": "spoke", "spend": "spent", "stand": "stood", "steal": "stole", "swim": "swam",
    "take": "took", "teach": "taught", "tear": "tore", "tell": "told", "think": "thought",
    "throw": "threw", "understand": "understood", "wake": "woke", "wear": "wore",
    "win": "won", "write": "wrote", "bite": "bit", "blow": "blew", "feed": "fed",
    "freeze": "froze", "hang": "hung", "light": "lit", "quit": "quit", "seek": "sought",
    "shine": "shone", "sink": "sank", "slide": "slid", "spin": "spun", "strike": "struck",
    "sweep": "swept", "swing": "swung", "bend": "bent", "bet": "bet", "bind": "bound",
    "dig": "dug", "forgive": "forgave", "sting": "stung", "stick": "stuck",
}
# Comparatives WordNet's adj.exc does not give as "-er" forms.
IRREGULAR_COMPARATIVE = {"bad": "worse", "far": "farther", "little": "less", "many": "more",
                         "much": "more", "ill": "worse"}
_VOWELS = set("aeiou")


class Inflector:
    def __init__(self, wn: WordNet) -> None:
        self._reverse: dict[str, dict[str, list[str]]] = {}
        for pos, table in wn.exceptions.items():
            rev: dict[str, list[str]] = {}
            for form, bases in table.items():
                for base in bases:
                    rev.setdefault(base, []).append(form)
            self._reverse[pos] = rev

    def irregular_forms(self, pos: str, base: str) -> list[str]:
        """The inflected forms WordNet's exception file of `pos` lists for `base`."""
        return self._reverse.get(pos, {}).get(base, [])

    def plural(self, noun: str) -> str:
        *head, last = noun.split(" ")
        forms = [f for f in self.irregular_forms("n", last) if not f.endswith("'s")]
        if forms:
            return " ".join([*head, forms[0]])
        return " ".join([*head, add_s(last)])

    def third(self, verb: str) -> str:
        first, *rest = verb.split(" ")
        form = {"be": "is", "have": "has", "do": "does", "go": "goes"}.get(first)
        return " ".join([form or add_s(first), *rest])

    def past(self, verb: str) -> str:
        first, *rest = verb.split(" ")
        if first in IRREGULAR_PAST:
            form = IRREGULAR_PAST[first]
        else:
            doubled = first + first[-1] + "ed"
            if doubled in self.irregular_forms("v", first):
                form = doubled
            elif first.endswith("e"):
                form = first + "d"
            elif first.endswith("y") and len(first) > 1 and first[-2] not in _VOWELS:
                form = first[:-1] + "ied"
            else:
                form = first + "ed"
        return " ".join([form, *rest])

    def ing(self, verb: str) -> str:
        first, *rest = verb.split(" ")
        doubled = first + first[-1] + "ing"
        if doubled in self.irregular_forms("v", first):
            form = doubled
        elif first.endswith("ie"):
            form = first[:-2] + "ying"
        elif first.endswith("e") and not first.endswith(("ee", "ye", "oe")) and len(first) > 2:
            form = first[:-1] + "ing"
        else:
            form = first + "ing"
        return " ".join([form, *rest])


    def comparative(self, adjective: str) -> str:
        """"bigger", "better", "happier", "more careful": WordNet's exception forms
        first (adj.exc: "bigger" -> "big"), then the suffix rules of one- and two-syllable
        adjectives ending in -y, else "more"."""
        forms = [f for f in self.irregular_forms("a", adjective) if f.endswith("er")]
        if adjective in IRREGULAR_COMPARATIVE:
            return IRREGULAR_COMPARATIVE[adjective]
        if forms:
            return forms[0]
        syllables = len(re.findall(r"[aeiouy]+", adjective.rstrip("e")))
        if " " in adjective or syllables > 2 or syllables == 2 and not adjective.endswith("y"):
            return f"more {adjective}"
        if adjective.endswith("y") and adjective[-2:-1] not in _VOWELS:
            return adjective[:-1] + "ier"
        return adjective + ("r" if adjective.endswith("e") else "er")


def add_s(word: str) -> str:
    """The regular -s form: a plural noun, a third-person verb."""
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    if word.endswith("y") and len(word) > 1 and word[-2] not in _VOWELS:
        return word[:-1] + "ies"
    return word + "s"


def article(word: str) -> str:
    """'a' or 'an' before `word` (by its first letter)."""
    return "an" if word[:1] in _VOWELS else "a"
