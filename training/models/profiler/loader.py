"""`profiler` data files: ``.jsonl``, ``{"posts": [str, ...], "age": years, "income": band
label or index, "gender": "female" | "male" | 0 | 1}`` (the posts are joined by newlines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data.examples import Examples
from training.data.files import JSONL_SUFFIXES, describe, jsonl_records, show
from training.models.profiler.data import GENDERS, INCOME_BANDS
from training.room import FileLoader

MAX_AGE = 130.0
_PROFILER_FIELDS = "fields posts, age, income, gender"


def load_profiler(path: Path) -> Examples:
    posts, ages, incomes, genders = [], [], [], []
    bands = {b: i for i, b in enumerate(INCOME_BANDS)}
    for at, rec in jsonl_records(path, _PROFILER_FIELDS):
        value = at.get(rec, "posts")
        if isinstance(value, str):
            value = [value]
        if (not isinstance(value, list) or not value
                or not all(isinstance(p, str) for p in value)):
            raise at.error(f"field 'posts' must be a non-empty list of strings, got {show(value)}")
        posts.append("\n".join(value))
        age = at.number(at.get(rec, "age"), "age")
        if not 0 <= age <= MAX_AGE:
            raise at.error(
                f"field 'age' must be a number of years from 0 to {MAX_AGE:g}, got {age:g}"
            )
        ages.append(age)
        income = at.get(rec, "income")
        if isinstance(income, str) and income.strip().lower() in bands:
            incomes.append(bands[income.strip().lower()])
        elif type(income) is int and 0 <= income < len(INCOME_BANDS):
            incomes.append(income)
        else:
            raise at.error(f"field 'income' must be one of {INCOME_BANDS} or an index "
                           f"0-{len(INCOME_BANDS) - 1}, got {show(income)}")
        gender = at.get(rec, "gender")
        if isinstance(gender, str) and gender.strip().lower() in GENDERS:
            genders.append(GENDERS.index(gender.strip().lower()))
        elif type(gender) is int and gender in (0, 1):
            genders.append(gender)
        else:
            raise at.error(f"field 'gender' must be 'female', 'male', 0 or 1, got {show(gender)}")
    return Examples(
        inputs={"posts": np.array(posts, dtype=object)},
        targets={"age": np.array(ages, np.float32), "income": np.array(incomes, np.int32),
                 "gender": np.array(genders, np.float32)},
        labels={"age": None, "income": list(INCOME_BANDS), "gender": list(GENDERS)},
        description=describe(path, "jsonl", len(posts)),
        kinds={"age": "regression", "income": "multiclass", "gender": "binary"},
    )


LOADER = FileLoader(JSONL_SUFFIXES, load_profiler)
