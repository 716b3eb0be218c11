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

import os
from pathlib import Path

import numpy as np

from training.data.examples import Examples
from training.data.files import CSV_SUFFIXES, DataFileError, csv_rows, number_field, read_picture
from training.models.price.model import metadata_vector
from training.room import FileLoader

COLUMNS = ("brand", "condition", "age_years", "description", "image", "price")
IMAGE_SIZE = 32


def load_price(path: str | os.PathLike, image_size: int = IMAGE_SIZE) -> Examples:
    path = Path(path)
    meta, texts, pictures, prices = [], [], [], []
    for line, row in csv_rows(path, COLUMNS):
        condition = number_field(path, line, "condition", row["condition"], 0.0, 1.0)
        age = number_field(path, line, "age_years", row["age_years"], 0.0)
        prices.append(number_field(path, line, "price", row["price"], 0.0))
        meta.append(metadata_vector(row["brand"].strip().lower(), condition, age))
        texts.append(row["description"])
        pictures.append(read_picture(path, line, "image", row["image"], image_size))
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
