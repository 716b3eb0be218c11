"""Read a real `price` data set: a CSV of listings plus their picture files.

``.csv`` (or ``.tsv``) with a header row and the columns

    brand, condition, age_years, description, image, price

- ``brand``: any text; brands outside `training.models.price.BRANDS` count as "other";
- ``condition``: a number from 0 (worn out) to 1 (new); ``age_years``: a number >= 0;
- ``description``: the seller's text;
- ``image``: path of a JPEG or PNG file, relative to the CSV file's folder (or absolute);
- ``price``: the target, a number >= 0 (euros).

Other columns are ignored. Pictures are decoded and resized exactly as the
exported model does it (`training.images.decode_picture`, through
`training.data.files.read_picture`), so training sees
what serving will. Problems raise `DataFileError` ``"<file>:<line>: field
'<name>' ..."``.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from training.data.examples import Examples
from training.data.files import CSV_SUFFIXES, DataFileError, read_picture
from training.models.price.model import metadata_vector
from training.room import FileLoader

COLUMNS = ("brand", "condition", "age_years", "description", "image", "price")
IMAGE_SIZE = 32


def _number(path: Path, line: int, name: str, raw: str, lo: float,
            hi: float = math.inf) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not lo <= value <= hi:  # also rejects nan
        limit = f"from {lo:g} to {hi:g}" if hi != math.inf else f">= {lo:g}"
        raise DataFileError(path, line, f"field {name!r} must be a number {limit}, "
                                        f"got {raw[:40]!r}")
    return value


def load_price(path: str | os.PathLike, image_size: int = IMAGE_SIZE) -> Examples:
    path = Path(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    meta, texts, pictures, prices = [], [], [], []
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, delimiter=delimiter)
            header = [c.strip() for c in next(reader, [])]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise DataFileError(path, 1, f"header lacks column(s) {', '.join(missing)}; "
                                             f"expected {', '.join(COLUMNS)}")
            col = {c: header.index(c) for c in COLUMNS}
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                line = reader.line_num
                short = [c for c in COLUMNS if col[c] >= len(row)]
                if short:
                    raise DataFileError(path, line, f"field {short[0]!r} is missing: the row "
                                                    f"has {len(row)} columns, the header "
                                                    f"{len(header)}")
                condition = _number(path, line, "condition", row[col["condition"]], 0.0, 1.0)
                age = _number(path, line, "age_years", row[col["age_years"]], 0.0)
                prices.append(_number(path, line, "price", row[col["price"]], 0.0))
                meta.append(metadata_vector(row[col["brand"]].strip().lower(), condition, age))
                texts.append(row[col["description"]])
                pictures.append(read_picture(path, line, "image", row[col["image"]], image_size))
    except csv.Error as exc:
        raise DataFileError(path, None, f"malformed CSV: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataFileError(path, None, f"is not UTF-8 text ({exc.reason})") from exc
    if not prices:
        raise DataFileError(path, 2, "file has a header but no listings")
    return Examples(
        inputs={"metadata": np.array(meta, np.float32),
                "description": np.array(texts, dtype=object),
                "picture": np.stack(pictures).astype(np.float32)},
        targets={"price": np.array(prices, np.float32)},
        labels={"price": None},
        kinds={"price": "regression"},
        description={"source": "file", "path": str(path), "format": "price-csv",
                     "examples": len(prices), "image_size": image_size},
    )


LOADER = FileLoader(CSV_SUFFIXES, load_price)
