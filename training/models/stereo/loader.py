"""`stereo` data files: a CSV (or TSV) of picture pairs.

Columns (a header row; others are ignored):

- ``left``, ``right``: paths of the two cameras' JPEG or PNG pictures, relative to the
  CSV file's folder (or absolute); decoded and resized as the exported model does it;
- ``disparity``: the horizontal shift of the object between the views, in pixels of the
  picture resized to the config's `image_size` (a number >= 0);
- ``same_object``: ``1``/``same`` when both pictures show the same object, ``0``/
  ``different`` otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data.examples import Examples
from training.data.files import CSV_SUFFIXES, DataFileError, csv_rows, number_field, read_picture
from training.models.stereo.data import IMAGE_SIZE, SAME_LABELS
from training.room import FileLoader

COLUMNS = ("left", "right", "disparity", "same_object")


def _same(path: Path, line: int, raw: str) -> float:
    value = raw.strip().lower()
    if value in ("1", SAME_LABELS[1]):
        return 1.0
    if value in ("0", SAME_LABELS[0]):
        return 0.0
    raise DataFileError(path, line, f"field 'same_object' must be 0, 1, 'same' or "
                                    f"'different', got {raw[:40]!r}")


def load_stereo(path: Path, image_size: int = IMAGE_SIZE) -> Examples:
    lefts, rights, disparities, same = [], [], [], []
    for line, row in csv_rows(path, COLUMNS):
        disparities.append(number_field(path, line, "disparity", row["disparity"], 0.0))
        same.append(_same(path, line, row["same_object"]))
        lefts.append(read_picture(path, line, "left", row["left"], image_size))
        rights.append(read_picture(path, line, "right", row["right"], image_size))
    if not same:
        raise DataFileError(path, 2, "file has a header but no picture pairs")
    return Examples(
        inputs={"left": np.stack(lefts).astype(np.float32),
                "right": np.stack(rights).astype(np.float32)},
        targets={"disparity": np.array(disparities, np.float32),
                 "same_object": np.array(same, np.float32)},
        labels={"disparity": None, "same_object": list(SAME_LABELS)},
        kinds={"disparity": "regression", "same_object": "binary"},
        description={"source": "file", "path": str(path), "format": "stereo-csv",
                     "examples": len(same), "image_size": image_size},
    )


LOADER = FileLoader(CSV_SUFFIXES, load_stereo)
