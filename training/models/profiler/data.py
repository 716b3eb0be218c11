"""Synthetic authors for the `profiler` model: posts -> age, income band, gender.

Each author has a hidden age (uniform 18-75 years), income band (uniform over
four bands) and gender (50/50). Their 2-6 posts (40-200 tokens in all) are
mostly everyday filler words, mixed with a few indicative words:

- age: 4-8 words from six life-stage vocabularies (students' "dorm", parents'
  "daycare", retirees' "pension", ...); each word's stage is drawn with weight
  exp(-(age - stage centre)^2 / 2*6^2), so the mix of stages shifts smoothly
  with age and neighbouring stages overlap;
- income: 3-6 words, 75 % from the author's band ("coupon" ... "yacht"), 25 %
  from an adjacent band;
- gender: 3-5 words, 90 % from the author's gender's vocabulary, 10 % from the
  other's.

Indicative words are what a Conv1D + GlobalMaxPool model detects (presence of
a word anywhere in the text). Such a model (Embedding 64, Conv1D 128, MaxPool 5,
Conv1D 128, GlobalMaxPool, Dense 64; 300 tokens) trained 8 epochs on 2.1k
authors reached on 450 held-out authors: gender accuracy 0.94-0.97 (majority 0.55),
income accuracy 0.92 (majority 0.23), age MAE 4.5-4.7 years (predicting the
training mean: 13.8). The Bayes limits are below perfect because of the
cross-gender, adjacent-band and overlapping-stage words.

Mind the loss scale: age is in years, so its MSE starts near 2000 and swamps
the other heads unless its loss weight is tiny (0.002 above, with income and
gender at 1) or the model predicts a standardized age and rescales it; with
weights 0.25 / 1 / 10 and raw years only the age head learned in 8 epochs.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from training.data.examples import Examples

INCOME_BANDS = ["low", "lower-middle", "upper-middle", "high"]
GENDERS = ["female", "male"]

AGE_RANGE = (18.0, 75.0)
AGE_SIGMA = 6.0
# (centre of the life stage in years, its words)
AGE_STAGES: list[tuple[float, list[str]]] = [
    (20.0, ["exam", "campus", "dorm", "roommate", "semester", "festival", "freshman",
            "hangover", "internship", "lecture", "gaming", "tiktok"]),
    (29.0, ["wedding", "startup", "apartment", "commute", "brunch", "dating", "crossfit",
            "podcast", "roadtrip", "coworkers", "engagement", "flatmate"]),
    (39.0, ["toddler", "daycare", "mortgage", "preschool", "diapers", "playdate",
            "babysitter", "bedtime", "nanny", "stroller", "nursery", "lunchbox"]),
    (49.0, ["teenager", "tuition", "prom", "curfew", "orthodontist", "midlife", "cholesterol",
            "golf", "homework", "sabbatical", "marathon", "learners"]),
    (60.0, ["retirement", "pension", "reunion", "gardening", "cruise", "arthritis",
            "bifocals", "downsizing", "allotment", "greenhouse", "grandchild", "annuity"]),
    (71.0, ["grandkids", "retired", "medicare", "bingo", "crossword", "caregiver",
            "pharmacy", "hearing", "birdwatching", "widowed", "walker", "dentures"]),
]
INCOME_WORDS: list[list[str]] = [
    ["coupon", "paycheck", "overtime", "bus", "layoff", "thrift", "foodbank", "payday",
     "secondhand", "shifts", "landlord", "budget"],
    ["sedan", "outlet", "takeout", "motel", "lottery", "installments", "mall", "campground",
     "fastfood", "carpool", "bowling", "warehouse"],
    ["suv", "organic", "condo", "skiing", "hybrid", "kayak", "bistro", "stocks",
     "wine", "realtor", "pilates", "remodel"],
    ["yacht", "penthouse", "chauffeur", "caviar", "mansion", "champagne", "jet", "polo",
     "sommelier", "concierge", "villa", "portfolio"],
]
GENDER_WORDS: list[list[str]] = [
    ["husband", "boyfriend", "pregnancy", "makeup", "lipstick", "manicure", "purse",
     "dress", "heels", "bridesmaid", "sorority", "mascara", "bra", "girls"],
    ["wife", "girlfriend", "beard", "shaving", "groomsmen", "fraternity", "tie", "cologne",
     "razor", "aftershave", "moustache", "tuxedo", "boxers", "lads"],
]
FILLER = (
    "the a and to of in it is was i you we my so but just really today yesterday "
    "tomorrow week weekend morning night time day good great fun nice bad tired happy "
    "busy love like think know want need going got went made said back home work out "
    "with for on at about this that what when again still never always maybe "
    "lol ok thanks friends family weather rain sun coffee tea dinner lunch breakfast "
    "movie music book news game show phone email walk run drive shop store food "
    "cooked watched read played tried started finished feel feeling hope wish "
    "new old big small long short early late first last best worst favourite "
    "city town park beach street house room kitchen garden dog cat car train"
).split()


def _age_stage_weights(ages: np.ndarray) -> np.ndarray:
    centres = np.array([c for c, _ in AGE_STAGES])
    w = np.exp(-((ages[:, None] - centres[None, :]) ** 2) / (2 * AGE_SIGMA**2))
    return w / w.sum(axis=1, keepdims=True)


def profiler(n: int, seed: int = 0) -> Examples:
    """`n` authors (input `posts`; heads `age`, `income`, `gender`)."""
    rng = np.random.default_rng(seed)
    ages = rng.uniform(*AGE_RANGE, size=n)
    incomes = rng.integers(len(INCOME_BANDS), size=n)
    genders = rng.integers(2, size=n)
    totals = rng.integers(40, 201, size=n)
    n_age, n_inc, n_gen = rng.integers(4, 9, n), rng.integers(3, 7, n), rng.integers(3, 6, n)
    # Every author's words are drawn at once for all authors (flat arrays with
    # an owner index): a per-author loop of numpy calls was 10x slower.
    authors = np.arange(n)
    owner_age, owner_inc = np.repeat(authors, n_age), np.repeat(authors, n_inc)
    owner_gen = np.repeat(authors, n_gen)
    owner_fil = np.repeat(authors, totals - n_age - n_inc - n_gen)

    stage_cum = np.cumsum(_age_stage_weights(ages), axis=1)[owner_age]
    stages = (rng.random(len(owner_age))[:, None] > stage_cum).sum(axis=1)
    stages = np.minimum(stages, len(AGE_STAGES) - 1)
    # income words: own band, or a neighbour (clipped at the ends)
    shift = rng.choice([-1, 0, 1], size=len(owner_inc), p=[0.125, 0.75, 0.125])
    bands = np.clip(incomes[owner_inc] + shift, 0, len(INCOME_BANDS) - 1)
    sexes = genders[owner_gen] ^ (rng.random(len(owner_gen)) < 0.1)

    age_words = np.array([w for _, w in AGE_STAGES], dtype=object)  # [stage, word]
    income_words = np.array(INCOME_WORDS, dtype=object)
    gender_words = np.array(GENDER_WORDS, dtype=object)
    filler = np.array(FILLER, dtype=object)
    tokens = np.concatenate([
        age_words[stages, rng.integers(age_words.shape[1], size=len(stages))],
        income_words[bands, rng.integers(income_words.shape[1], size=len(bands))],
        gender_words[sexes, rng.integers(gender_words.shape[1], size=len(sexes))],
        filler[rng.integers(len(filler), size=len(owner_fil))],
    ])
    owners = np.concatenate([owner_age, owner_inc, owner_gen, owner_fil])
    # group by author, random order within an author
    tokens = tokens[np.lexsort((rng.random(len(tokens)), owners))].tolist()

    # 2-6 posts per author: cut points at least 5 tokens from either end
    n_posts = rng.integers(2, 7, size=n)
    cut_at = 5 + (np.sort(rng.random((n, 5)), axis=1) * (totals[:, None] - 10)).astype(int)
    ends = np.cumsum(totals)
    posts = []
    for j in range(n):
        mine = tokens[ends[j] - totals[j] : ends[j]]
        bounds = [0, *sorted(set(cut_at[j, : n_posts[j] - 1].tolist())), len(mine)]
        posts.append("\n".join(" ".join(mine[a:b]) for a, b in pairwise(bounds)))

    return Examples(
        inputs={"posts": np.array(posts, dtype=object)},
        targets={"age": ages.astype(np.float32), "income": incomes.astype(np.int32),
                 "gender": genders.astype(np.float32)},
        labels={"age": None, "income": list(INCOME_BANDS), "gender": list(GENDERS)},
        description={"source": "synthetic", "generator": "training.models.profiler.data.profiler",
                     "seed": seed, "examples": n},
        kinds={"age": "regression", "income": "multiclass", "gender": "binary"},
    )
