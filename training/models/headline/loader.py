"""`headline` data files: ``.jsonl``, ``{"headline": str, "aux": [5 numbers],
"main_output": 0 | 1, "aux_output": 0 | 1}``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.data.examples import Examples
from training.data.files import JSONL_SUFFIXES, describe, jsonl_records, show
from training.models.headline.data import AUX_DIM
from training.room import FileLoader


def load_headline(path: Path) -> Examples:
    headlines, aux, main, aux_out = [], [], [], []
    for at, rec in jsonl_records(path, "fields headline, aux, main_output, aux_output"):
        headlines.append(at.text(rec, "headline"))
        values = at.get(rec, "aux")
        if not isinstance(values, list) or len(values) != AUX_DIM:
            raise at.error(f"field 'aux' must be a list of {AUX_DIM} numbers, got {show(values)}")
        aux.append([at.number(v, "aux") for v in values])
        main.append(at.binary(at.get(rec, "main_output"), "main_output"))
        aux_out.append(at.binary(at.get(rec, "aux_output"), "aux_output"))
    return Examples(
        inputs={"headline": np.array(headlines, dtype=object),
                "aux": np.array(aux, np.float32).reshape(-1, AUX_DIM)},
        targets={"main_output": np.array(main, np.float32),
                 "aux_output": np.array(aux_out, np.float32)},
        labels={"main_output": None, "aux_output": None},
        description=describe(path, "jsonl", len(headlines)),
        kinds={"main_output": "binary", "aux_output": "binary"},
    )


LOADER = FileLoader(JSONL_SUFFIXES, load_headline)
