"""The model card's `drift` section: what each head predicted on the validation split, and
the validation split's input statistics, binned the way the gateway bins live traffic
(serving/drift.py, the one home of the bins and the PSI).

- multiclass heads: counts of the predicted class (argmax), one bin per label;
- binary heads: counts of the probability in fixed bins (edges 0.1 .. 0.9);
- regression heads: counts in the deciles of the validation predictions (ten bins of
  equal mass; equal edges merged);
- text inputs: token counts (deciles) and out-of-vocabulary rates (fixed edges).

`train` stores the section in metrics.json (`drift`), where the validation predictions
are at hand; `export` copies it into the card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from serving.drift import BINARY_EDGES, OOV_EDGES, quantile_edges, text_statistics


def _counts(bins: np.ndarray, n_bins: int) -> list[int]:
    return np.bincount(np.asarray(bins, dtype=np.int64), minlength=n_bins)[:n_bins].tolist()


def _histogram(values: np.ndarray, edges: Sequence[float]) -> dict[str, Any]:
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64),
                           np.asarray(values, dtype=np.float64).ravel(), side="right")
    return {"edges": [float(e) for e in edges], "counts": _counts(bins, len(edges) + 1)}


def head_section(kind: str, labels: Sequence[str] | None, predicted: np.ndarray
                 ) -> dict[str, Any]:
    predicted = np.asarray(predicted)
    if kind == "multiclass":
        width = predicted.shape[-1]
        names = list(labels or [])[:width] + [str(i) for i in range(len(labels or []), width)]
        return {"kind": kind, "labels": names,
                "counts": _counts(np.argmax(predicted.reshape(len(predicted), -1), axis=1),
                                  width)}
    edges = BINARY_EDGES if kind == "binary" else quantile_edges(predicted)
    return {"kind": kind, **_histogram(predicted, edges)}


def card_section(heads: Mapping[str, Mapping[str, Any]], labels: Mapping[str, Any],
                 predictions: Mapping[str, np.ndarray], text_inputs: Mapping[str, np.ndarray],
                 vocabulary: Sequence[str]) -> dict[str, Any]:
    """The `drift` section from the validation split's predictions and text inputs."""
    vocab = frozenset(vocabulary)
    inputs = {}
    for name, texts in text_inputs.items():
        stats = text_statistics(np.asarray(texts).ravel(), vocab)
        inputs[name] = {"tokens": _histogram(stats["tokens"], quantile_edges(stats["tokens"])),
                        "oov_rate": _histogram(stats["oov_rate"], OOV_EDGES)}
    return {"split": "validation", "examples": int(len(next(iter(predictions.values())))),
            "heads": {head: head_section(spec["kind"], labels.get(head), predictions[head])
                      for head, spec in heads.items()},
            "inputs": inputs}
