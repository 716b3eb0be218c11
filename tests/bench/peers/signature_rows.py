"""What every peer of `make bench` does per request: TF Serving row-format instances in, the
loaded signature called once, every head per row out (`{"predictions": [...]}` rows).

One copy for the FastAPI app (the project's environment) and the KServe and LitServe
servers (their own locked environments, which import this file by path and nothing else
of the project): the peers differ only in the framework around these lines.
"""

from __future__ import annotations

from typing import Any


def feeds(fn: Any, instances: list[Any]) -> dict[str, Any]:
    """One tensor per input of the signature `fn` from row-format instances (a bare value
    per row when the signature has one input)."""
    import tensorflow as tf

    specs = fn.structured_input_signature[1]
    names = list(specs)
    rows = [i if isinstance(i, dict) else {names[0]: i} for i in instances]
    return {n: tf.constant([r[n] for r in rows], dtype=specs[n].dtype) for n in names}


def predict_rows(fn: Any, instances: list[Any]) -> list[dict[str, Any]]:
    """The predictions of `instances`: one call of `fn`, one dict of every head per row."""
    out = {k: v.numpy() for k, v in fn(**feeds(fn, instances)).items()}
    return [{k: (v[i].decode() if isinstance(v[i], bytes) else v[i].tolist())
             for k, v in out.items()} for i in range(len(instances))]
