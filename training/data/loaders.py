"""Read user data files into `Examples` (``python -m training train --data FILE``).

- similarity: ``.csv`` or ``.tsv`` with a header row, either Quora's columns
  ``question1, question2, is_duplicate`` (0/1) or STS-B's ``sentence1, sentence2,
  score`` (0-5; the target is score/5). Other columns (Quora's id, qid1, qid2) are ignored.
- profiler: ``.jsonl``, ``{"posts": [str, ...], "age": years, "income": band label
  or index, "gender": "female" | "male" | 0 | 1}`` (the posts are joined by newlines).
- qa: ``.jsonl``, ``{"text": str, "question": str, "answer": str}``; the labels are
  the file's distinct answers, sorted.
- headline: ``.jsonl``, ``{"headline": str, "aux": [5 numbers], "main_output": 0 | 1,
  "aux_output": 0 | 1}``.

Every problem in a file raises `DataFileError` whose message starts with
``<path>:<line>: `` and names the field and what was expected, so the CLI can
print it as the one line a user needs to fix the file.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from training.data.examples import Examples
from training.data.synthetic_headline import AUX_DIM
from training.data.synthetic_profiler import GENDERS, INCOME_BANDS

MAX_AGE = 130.0
STSB_MAX_SCORE = 5.0
QUORA_COLUMNS = ("question1", "question2", "is_duplicate")
STSB_COLUMNS = ("sentence1", "sentence2", "score")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv", ".tsv")


class DataFileError(ValueError):
    """A data file that cannot be read; ``str(err)`` is ``"<path>:<line>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, line: int | None, reason: str) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


def load_file(model: str, path: str | os.PathLike) -> Examples:
    """Examples for `model` read from `path` (format chosen by model and suffix)."""
    if model == "price":  # CSV rows plus picture files: training/data/loaders_price.py
        from training.data.loaders_price import load_price

        return load_price(path)
    if model not in _LOADERS:
        raise ValueError(
            f"no file format for model {model!r}; expected one of {sorted(_LOADERS)}"
        )
    path = Path(path)
    suffixes = CSV_SUFFIXES if model == "similarity" else JSONL_SUFFIXES
    if path.suffix.lower() not in suffixes:
        got = repr(path.suffix) if path.suffix else "no suffix"
        raise DataFileError(
            path, None, f"model {model!r} reads {' or '.join(suffixes)} files, got {got}"
        )
    return _LOADERS[model](path)


# ---------------------------------------------------------------- helpers


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Line:
    """One record's location, for error messages."""

    def __init__(self, path: Path, line: int) -> None:
        self.path, self.line = path, line

    def error(self, reason: str) -> DataFileError:
        return DataFileError(self.path, self.line, reason)

    def get(self, record: dict, name: str) -> Any:
        if name not in record:
            raise self.error(f"field {name!r} is missing")
        return record[name]

    def text(self, record: dict, name: str) -> str:
        value = self.get(record, name)
        if not isinstance(value, str):
            raise self.error(f"field {name!r} must be a string, got {_show(value)}")
        return value

    def number(self, value: Any, name: str) -> float:
        # bool is an int subclass in Python, but `true` is no number in a data file
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"field {name!r} must be a number, got {_show(value)}")
        if not math.isfinite(value):
            raise self.error(f"field {name!r} must be a number, got {_show(value)}")
        return float(value)

    def binary(self, value: Any, name: str) -> float:
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, int | float) and value in (0, 1):
            return float(value)
        raise self.error(f"field {name!r} must be 0 or 1, got {_show(value)}")


def _jsonl(path: Path, what: str) -> Iterator[tuple[_Line, dict]]:
    """(location, object) per non-blank line; raises on an empty file."""
    seen = False
    # decoded line by line (not by the text layer's 8 KiB chunks) so that a bad
    # byte is reported on its own line
    with open(path, "rb") as f:
        for lineno, data in enumerate(f, start=1):
            try:
                raw = data.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataFileError(path, lineno, f"is not UTF-8 text ({exc.reason})") from exc
            if not raw.strip():
                continue
            at = _Line(path, lineno)
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise at.error(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
            if not isinstance(record, dict):
                raise at.error(f"expected a JSON object with {what}, got {_show(record)}")
            seen = True
            yield at, record
    if not seen:
        raise DataFileError(
            path, 1, f"file has no examples; expected one JSON object per line with {what}"
        )


# ---------------------------------------------------------------- JSONL models

_PROFILER_FIELDS = "fields posts, age, income, gender"


def _load_profiler(path: Path) -> Examples:
    posts, ages, incomes, genders = [], [], [], []
    bands = {b: i for i, b in enumerate(INCOME_BANDS)}
    for at, rec in _jsonl(path, _PROFILER_FIELDS):
        value = at.get(rec, "posts")
        if isinstance(value, str):
            value = [value]
        if (not isinstance(value, list) or not value
                or not all(isinstance(p, str) for p in value)):
            raise at.error(f"field 'posts' must be a non-empty list of strings, got {_show(value)}")
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
                           f"0-{len(INCOME_BANDS) - 1}, got {_show(income)}")
        gender = at.get(rec, "gender")
        if isinstance(gender, str) and gender.strip().lower() in GENDERS:
            genders.append(GENDERS.index(gender.strip().lower()))
        elif type(gender) is int and gender in (0, 1):
            genders.append(gender)
        else:
            raise at.error(f"field 'gender' must be 'female', 'male', 0 or 1, got {_show(gender)}")
    return Examples(
        inputs={"posts": np.array(posts, dtype=object)},
        targets={"age": np.array(ages, np.float32), "income": np.array(incomes, np.int32),
                 "gender": np.array(genders, np.float32)},
        labels={"age": None, "income": list(INCOME_BANDS), "gender": list(GENDERS)},
        description=_describe(path, "jsonl", len(posts)),
        kinds={"age": "regression", "income": "multiclass", "gender": "binary"},
    )


def _load_qa(path: Path) -> Examples:
    texts, questions, answers = [], [], []
    for at, rec in _jsonl(path, "fields text, question, answer"):
        texts.append(at.text(rec, "text"))
        questions.append(at.text(rec, "question"))
        answer = at.text(rec, "answer").strip()
        if not answer:
            raise at.error("field 'answer' must be a non-empty string")
        answers.append(answer)
    labels = sorted(set(answers))
    index = {a: i for i, a in enumerate(labels)}
    return Examples(
        inputs={"text": np.array(texts, dtype=object),
                "question": np.array(questions, dtype=object)},
        targets={"answer": np.array([index[a] for a in answers], np.int32)},
        labels={"answer": labels},
        description=_describe(path, "jsonl", len(texts)),
        kinds={"answer": "multiclass"},
    )


def _load_headline(path: Path) -> Examples:
    headlines, aux, main, aux_out = [], [], [], []
    for at, rec in _jsonl(path, "fields headline, aux, main_output, aux_output"):
        headlines.append(at.text(rec, "headline"))
        values = at.get(rec, "aux")
        if not isinstance(values, list) or len(values) != AUX_DIM:
            raise at.error(f"field 'aux' must be a list of {AUX_DIM} numbers, got {_show(values)}")
        aux.append([at.number(v, "aux") for v in values])
        main.append(at.binary(at.get(rec, "main_output"), "main_output"))
        aux_out.append(at.binary(at.get(rec, "aux_output"), "aux_output"))
    return Examples(
        inputs={"headline": np.array(headlines, dtype=object),
                "aux": np.array(aux, np.float32).reshape(-1, AUX_DIM)},
        targets={"main_output": np.array(main, np.float32),
                 "aux_output": np.array(aux_out, np.float32)},
        labels={"main_output": None, "aux_output": None},
        description=_describe(path, "jsonl", len(headlines)),
        kinds={"main_output": "binary", "aux_output": "binary"},
    )


# ---------------------------------------------------------------- similarity CSV/TSV


def _load_similarity(path: Path) -> Examples:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    expected = (f"a header with columns {', '.join(QUORA_COLUMNS)} (Quora) "
                f"or {', '.join(STSB_COLUMNS)} (STS-B)")
    header = _read_header(path, delimiter)
    if header is None:
        raise DataFileError(path, 1, f"file is empty; expected {expected}")
    if set(QUORA_COLUMNS) <= set(header):
        fmt, columns, target = "quora", QUORA_COLUMNS, _quora_target
    elif set(STSB_COLUMNS) <= set(header):
        fmt, columns, target = "stsb", STSB_COLUMNS, _stsb_target
    else:
        raise DataFileError(path, 1, f"expected {expected}, got columns {header}")
    # GLUE's STS-B .tsv files have unescaped quotes inside sentences, so their
    # readers use no quoting (transformers' DataProcessor._read_tsv,
    # quotechar=None); Quora's files quote fields that contain quotes or newlines.
    quoting = csv.QUOTE_NONE if delimiter == "\t" and fmt == "stsb" else csv.QUOTE_MINIMAL
    cols = [header.index(c) for c in columns]
    left, right, targets = [], [], []
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=quoting)
        try:
            next(reader)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                at = _Line(path, reader.line_num)
                if len(row) <= max(cols):
                    missing = [c for c, i in zip(columns, cols, strict=True) if i >= len(row)]
                    raise at.error(f"field {missing[0]!r} is missing: the row has {len(row)} "
                                   f"columns, the header {len(header)}")
                left.append(row[cols[0]])
                right.append(row[cols[1]])
                targets.append(target(at, row[cols[2]].strip()))
        except csv.Error as exc:
            raise DataFileError(path, reader.line_num, f"malformed {fmt} row: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from exc
    if not targets:
        raise DataFileError(path, 2, f"file has a header but no examples; expected {fmt} rows")
    return Examples(
        inputs={"left": np.array(left, dtype=object), "right": np.array(right, dtype=object)},
        targets={"similarity": np.array(targets, np.float32)},
        labels={"similarity": None},
        description=_describe(path, fmt, len(targets)),
        kinds={"similarity": "binary"},
    )


def _read_header(path: Path, delimiter: str) -> list[str] | None:
    with open(path, encoding="utf-8-sig", newline="") as f:
        try:
            row = next(csv.reader(f, delimiter=delimiter), None)
        except csv.Error as exc:
            raise DataFileError(path, 1, f"unreadable header: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from exc
    return [c.strip() for c in row] if row else None


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> DataFileError:
    """The error for the first line that is not UTF-8 (csv decodes in chunks)."""
    line = 1
    with open(path, "rb") as f:
        for line, data in enumerate(f, start=1):  # noqa: B007 - the line is the result
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                break
    return DataFileError(path, line, f"is not UTF-8 text ({exc.reason})")


def _quora_target(at: _Line, raw: str) -> float:
    if raw not in ("0", "1"):
        raise at.error(f"field 'is_duplicate' must be 0 or 1, got {_show(raw)}")
    return float(raw)


def _stsb_target(at: _Line, raw: str) -> float:
    try:
        score = float(raw)
    except ValueError:
        score = math.nan
    if not 0 <= score <= STSB_MAX_SCORE:  # also rejects nan
        raise at.error(
            f"field 'score' must be a number from 0 to {STSB_MAX_SCORE:g}, got {_show(raw)}"
        )
    return score / STSB_MAX_SCORE


def _describe(path: Path, fmt: str, n: int) -> dict:
    return {"source": "file", "path": str(path), "format": fmt, "examples": n}


_LOADERS: dict[str, Callable[[Path], Examples]] = {
    "qa": _load_qa,
    "profiler": _load_profiler,
    "similarity": _load_similarity,
    "headline": _load_headline,
}
