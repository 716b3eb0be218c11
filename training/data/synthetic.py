"""Synthetic training data for the four default models, generated at run time.

Nothing is downloaded: each generator builds examples with a learnable
structure from word lists and a seeded numpy ``Generator``, so the same
``(n, seed)`` always gives the same examples and a different seed different
ones. Each generator's module docstring says how the targets depend on the
inputs and what a small model reaches on held-out examples:

- `qa`: snippets of facts and a question about one (synthetic_qa.py); the default `qa`
  model also trains on snippets about real things (wordnet_qa.py, `source="mixed"`);
- `profiler`: an author's posts -> age, income band, gender (synthetic_profiler.py);
- `similarity`: paraphrase / unrelated / near-miss question pairs (synthetic_similarity.py);
  the default `similarity` model trains on WordNet-backed everyday English instead
  (wordnet_pairs.py, `source="wordnet"`);
- `headline`: headline words and five aux numbers -> two binary heads (synthetic_headline.py);
- `price`: metadata, description and a coloured-shape picture -> price (synthetic_price.py).
"""

from __future__ import annotations

from collections.abc import Callable

from training.data.examples import Examples
from training.data.synthetic_headline import headline
from training.data.synthetic_price import price
from training.data.synthetic_profiler import profiler
from training.data.synthetic_qa import qa
from training.data.synthetic_similarity import similarity
from training.data.wordnet_pairs import similarity as wordnet_similarity
from training.data.wordnet_qa import mixed as mixed_qa

__all__ = ["GENERATORS", "generate", "headline", "price", "profiler", "qa", "similarity"]

GENERATORS: dict[str, Callable[[int, int], Examples]] = {
    "qa": qa,
    "profiler": profiler,
    "similarity": similarity,
    "headline": headline,
    "price": price,
}


# Other generators of a model's default data, by source name (config field `source`).
SOURCES: dict[str, dict[str, Callable[[int, int], Examples]]] = {
    "similarity": {"synthetic": similarity, "wordnet": wordnet_similarity},
    "qa": {"synthetic": qa, "mixed": mixed_qa},
}


def generate(model: str, n: int, seed: int = 0, source: str | None = None) -> Examples:
    """`n` generated examples for `model` (one of GENERATORS), fixed by `seed`.

    `source` picks another generator where the model has several (SOURCES); None or
    "synthetic" is the model's synthetic generator.
    """
    if source not in (None, "synthetic"):
        choices = SOURCES.get(model, {})
        if source not in choices:
            raise ValueError(f"no {source!r} data for model {model!r}; expected one of "
                             f"{sorted(choices) or ['synthetic']}")
        if n < 1:
            raise ValueError(f"n must be a positive number of examples, got {n}")
        return choices[source](n, seed)
    if model not in GENERATORS:
        raise ValueError(
            f"no synthetic data for model {model!r}; expected one of {sorted(GENERATORS)}"
        )
    if n < 1:
        raise ValueError(f"n must be a positive number of examples, got {n}")
    return GENERATORS[model](n, seed)
