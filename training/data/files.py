"""Reading user data files: one error type and the pieces every room's loader shares.

Every problem in a file raises `DataFileError` whose message starts with
``<path>:<line>: `` and names the field and what was expected, so the CLI can print
it as the one line a user needs to fix the file. Each room's `loader.py` reads its
own format with these helpers (training/room.py's `FileLoader`).
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


def show(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut at 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class Line:
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
            raise self.error(f"field {name!r} must be a string, got {show(value)}")
        return value

    def number(self, value: Any, name: str) -> float:
        # bool is an int subclass in Python, but `true` is no number in a data file
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"field {name!r} must be a number, got {show(value)}")
        if not math.isfinite(value):
            raise self.error(f"field {name!r} must be a number, got {show(value)}")
        return float(value)

    def binary(self, value: Any, name: str) -> float:
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, int | float) and value in (0, 1):
            return float(value)
        raise self.error(f"field {name!r} must be 0 or 1, got {show(value)}")


def jsonl_records(path: Path, what: str) -> Iterator[tuple[Line, dict]]:
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
            at = Line(path, lineno)
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise at.error(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
            if not isinstance(record, dict):
                raise at.error(f"expected a JSON object with {what}, got {show(record)}")
            seen = True
            yield at, record
    if not seen:
        raise DataFileError(
            path, 1, f"file has no examples; expected one JSON object per line with {what}"
        )



def csv_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: raw value}) of each non-blank row of a CSV (``.tsv``: tab
    separated) whose header holds `columns` (others are ignored)."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = [c.strip() for c in next(reader, [])]
            missing = [c for c in columns if c not in header]
            if missing:
                raise DataFileError(path, 1, f"header lacks column(s) {', '.join(missing)}; "
                                             f"expected {', '.join(columns)}")
            col = {c: header.index(c) for c in columns}
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                short = [c for c in columns if col[c] >= len(row)]
                if short:
                    raise DataFileError(path, reader.line_num,
                                        f"field {short[0]!r} is missing: the row has "
                                        f"{len(row)} columns, the header {len(header)}")
                yield reader.line_num, {c: row[col[c]] for c in columns}
    except csv.Error as exc:
        raise DataFileError(path, None, f"malformed CSV: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataFileError(path, None, f"is not UTF-8 text ({exc.reason})") from exc


def number_field(path: Path, line: int, name: str, raw: str, lo: float,
                 hi: float = math.inf) -> float:
    """A CSV field that must be a number in [lo, hi]."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not lo <= value <= hi:  # also rejects nan
        limit = f"from {lo:g} to {hi:g}" if hi != math.inf else f">= {lo:g}"
        raise DataFileError(path, line, f"field {name!r} must be a number {limit}, "
                                        f"got {raw[:40]!r}")
    return value


def read_picture(path: Path, line: int, name: str, raw: str, size: int) -> Any:
    """Field `name` of a data file's row: a JPEG or PNG file's path (relative to the data
    file's folder, or absolute), decoded and resized as the exported model does it
    (training/images.py): float32 [size * size * 3] in 0..1."""
    import tensorflow as tf

    from training.images import decode_picture

    if not raw.strip():
        raise DataFileError(path, line, f"field {name!r} is empty; expected a picture file path")
    file = Path(raw) if os.path.isabs(raw) else path.parent / raw
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise DataFileError(path, line, f"field {name!r}: cannot read {str(file)!r} "
                                        f"({exc.strerror or exc})") from exc
    try:
        return decode_picture(tf.constant(data), size).numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as exc:
        raise DataFileError(path, line, f"field {name!r}: {str(file)!r} is not a JPEG or PNG "
                                        "picture") from exc


def describe(path: Path, fmt: str, n: int) -> dict:
    """The `Examples.description` of data read from a file (it goes into the model card)."""
    return {"source": "file", "path": str(path), "format": fmt, "examples": n}
