"""Synthetic news headlines for the `headline` model (the Keras functional-API
guide's example: a headline plus auxiliary data predict how a story does).

A headline is 6-12 words: topic and filler words plus 1-4 *hook* words, each
either catchy ("shocking", "secret", "revealed", ...) or dull ("quarterly",
"committee", "minutes", ...); a hidden per-headline appeal decides the mix.
The headline score `s` = (#catchy - #dull) words.

- `aux`: five standardized numbers about the story (think: author followers,
  hour of publication, section, length, day); aux[0] and aux[2] help, aux[1]
  hurts, aux[3] and aux[4] are noise.
- `aux_output` (binary, from the headline alone): 1 when s + noise > 0 —
  the auxiliary head the guide attaches right after the text encoder.
- `main_output` (binary): 1 when 0.8*s + aux[0] - aux[1] + 0.5*aux[2] + noise > 0,
  so it needs both the headline and `aux`.

An Embedding(64) + LSTM(32) headline encoder (with `aux_output` on it),
concatenated with `aux`, two Dense(64) and `main_output`, trained 6 epochs on
2.1k headlines, reached ROC AUC 0.98 for main_output and 0.97 for aux_output
on 450 held-out headlines. The true functions score main_output AUC 0.98
together, but only ~0.82 from `aux` alone or from the headline alone.
"""

from __future__ import annotations

import numpy as np

from training.data.examples import Examples

AUX_DIM = 5
AUX_WEIGHTS = np.array([1.0, -1.0, 0.5, 0.0, 0.0], dtype=np.float32)
HEADLINE_WEIGHT = 0.8
NOISE = 0.5

CATCHY = ["shocking", "secret", "revealed", "amazing", "exclusive", "incredible", "stunning",
          "unbelievable", "viral", "epic", "surprising", "hidden", "truth", "scandal",
          "heartwarming", "genius", "finally", "insane", "explosive", "legendary"]
DULL = ["quarterly", "committee", "minutes", "update", "notice", "procedures", "review",
        "guidelines", "annual", "statement", "amendment", "subcommittee", "schedule",
        "memorandum", "routine", "revised", "filing", "provisional", "consultation", "bylaws"]
TOPICS = ["election", "football", "economy", "weather", "market", "school", "hospital",
          "police", "court", "festival", "airport", "council", "river", "bridge", "museum",
          "startup", "team", "mayor", "concert", "storm", "budget", "company", "science",
          "space", "film", "island", "farm", "village", "stadium", "library"]
FILLER = ["the", "a", "of", "in", "on", "for", "to", "and", "after", "new", "local", "city",
          "says", "plans", "report", "year", "over", "as", "with", "why", "how", "what",
          "week", "first", "big", "small", "its", "from", "at", "this"]


def headline(n: int, seed: int = 0) -> Examples:
    """`n` headlines (inputs `headline`, `aux`; heads `main_output`, `aux_output`)."""
    rng = np.random.default_rng(seed)
    aux = rng.standard_normal((n, AUX_DIM)).astype(np.float32)
    appeal = rng.uniform(0.1, 0.9, size=n)  # P(a hook word is catchy)
    score = np.zeros(n, dtype=np.float32)
    headlines = []
    for j in range(n):
        n_hooks = int(rng.integers(1, 5))
        catchy = rng.random(n_hooks) < appeal[j]
        score[j] = catchy.sum() - (~catchy).sum()
        words = [CATCHY[rng.integers(len(CATCHY))] if c else DULL[rng.integers(len(DULL))]
                 for c in catchy]
        words += [TOPICS[i] for i in rng.integers(len(TOPICS), size=rng.integers(1, 3))]
        words += [FILLER[i] for i in rng.integers(len(FILLER), size=rng.integers(3, 7))]
        rng.shuffle(words)
        headlines.append(" ".join(words))
    aux_logit = score + NOISE * rng.standard_normal(n)
    main_logit = HEADLINE_WEIGHT * score + aux @ AUX_WEIGHTS + NOISE * rng.standard_normal(n)
    return Examples(
        inputs={"headline": np.array(headlines, dtype=object), "aux": aux},
        targets={"main_output": (main_logit > 0).astype(np.float32),
                 "aux_output": (aux_logit > 0).astype(np.float32)},
        labels={"main_output": None, "aux_output": None},
        description={"source": "synthetic", "generator": "training.models.headline.data.headline",
                     "seed": seed, "examples": n},
        kinds={"main_output": "binary", "aux_output": "binary"},
    )
