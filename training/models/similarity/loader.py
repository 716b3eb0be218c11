"""`similarity` data files: ``.csv`` or ``.tsv`` with a header row, either Quora's columns
``question1, question2, is_duplicate`` (0/1) or STS-B's ``sentence1, sentence2, score``
(0-5; the target is score/5). Other columns (Quora's id, qid1, qid2) are ignored."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from training.data.examples import Examples
from training.data.files import CSV_SUFFIXES, DataFileError, Line, describe, show
from training.room import FileLoader

STSB_MAX_SCORE = 5.0
QUORA_COLUMNS = ("question1", "question2", "is_duplicate")
STSB_COLUMNS = ("sentence1", "sentence2", "score")


def load_similarity(path: Path) -> Examples:
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
                at = Line(path, reader.line_num)
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
            raise not_utf8(path, exc) from exc
    if not targets:
        raise DataFileError(path, 2, f"file has a header but no examples; expected {fmt} rows")
    return Examples(
        inputs={"left": np.array(left, dtype=object), "right": np.array(right, dtype=object)},
        targets={"similarity": np.array(targets, np.float32)},
        labels={"similarity": None},
        description=describe(path, fmt, len(targets)),
        kinds={"similarity": "binary"},
    )


def _read_header(path: Path, delimiter: str) -> list[str] | None:
    with open(path, encoding="utf-8-sig", newline="") as f:
        try:
            row = next(csv.reader(f, delimiter=delimiter), None)
        except csv.Error as exc:
            raise DataFileError(path, 1, f"unreadable header: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise not_utf8(path, exc) from exc
    return [c.strip() for c in row] if row else None


def not_utf8(path: Path, exc: UnicodeDecodeError) -> DataFileError:
    """The error for the first line that is not UTF-8 (csv decodes in chunks)."""
    line = 1
    with open(path, "rb") as f:
        for line, data in enumerate(f, start=1):  # noqa: B007 - the line is the result
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                break
    return DataFileError(path, line, f"is not UTF-8 text ({exc.reason})")


def _quora_target(at: Line, raw: str) -> float:
    if raw not in ("0", "1"):
        raise at.error(f"field 'is_duplicate' must be 0 or 1, got {show(raw)}")
    return float(raw)


def _stsb_target(at: Line, raw: str) -> float:
    try:
        score = float(raw)
    except ValueError:
        score = math.nan
    if not 0 <= score <= STSB_MAX_SCORE:  # also rejects nan
        raise at.error(
            f"field 'score' must be a number from 0 to {STSB_MAX_SCORE:g}, got {show(raw)}"
        )
    return score / STSB_MAX_SCORE


LOADER = FileLoader(CSV_SUFFIXES, load_similarity)
