"""Calling a loaded SavedModel signature without TensorFlow's per-call argument binding.

`ConcreteFunction.__call__` binds its keyword arguments to the structured signature on
every call (an `inspect.Signature` bind, nest flattening, a spec check per input):
about a third of the Python time of a batch-1 call here (make profile). A serving
signature's inputs are flat named tensors, so their order is known once, at load:
`SignatureCall` converts each array to its input's dtype and calls the function's
inference graph (`ConcreteFunction.inference_fn`, tf.types.experimental) with the
tensors in that order followed by the captured inputs (variables, tables), which is the
call `__call__` ends in, and gets the same dict of outputs back. A signature whose shape
this cannot vouch for at load time (a parameter that is not one named tensor, a count
that does not add up) keeps the structured call; tests/unit/serving/test_embedded.py
checks both give the same outputs on every exported signature.

TensorFlow is imported lazily: this module is imported in gunicorn's master.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np


class SignatureCall:
    """One loaded signature function, called with named arrays, answering named tensors."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.dtypes = {k: t.dtype for k, t in fn.structured_input_signature[1].items()}
        self.order = flat_order(fn, set(self.dtypes))
        self._atomic = fn.inference_fn if self.order is not None else None

    @property
    def flat(self) -> bool:
        """Whether calls skip the structured binding."""
        return self._atomic is not None

    def __call__(self, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """The signature's outputs (tensors) for `arrays`; TensorFlow's errors as they come
        (a TypeError or ValueError for inputs the signature does not take)."""
        import tensorflow as tf

        tensors = {k: tf.convert_to_tensor(v, dtype=self.dtypes.get(k))
                   for k, v in arrays.items()}
        if self._atomic is None or tensors.keys() != self.dtypes.keys():
            return self.fn(**tensors)
        flat = [tensors[name] for name in self.order]
        flat.extend(self.fn.captured_inputs)
        return self._atomic.call_preflattened(flat)


def flat_order(fn: Any, names: set[str]) -> tuple[str, ...] | None:
    """The input names in the order of the function's flat arguments, when every parameter
    is one keyword tensor of the structured signature and the inference graph takes
    exactly those and the captures; else None (the structured call is kept)."""
    try:
        params = list(fn.function_type.parameters.values())
        atomic = fn.inference_fn
        n_args = len(atomic.cached_definition.signature.input_arg)
        n_captures = len(fn.captured_inputs)
    except (AttributeError, TypeError):
        return None
    order = tuple(p.name for p in params)
    if set(order) != names or len(order) != len(names) or \
            any(p.kind not in (inspect.Parameter.KEYWORD_ONLY,
                               inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in params) or \
            n_args != len(order) + n_captures or \
            not callable(getattr(atomic, "call_preflattened", None)):
        return None
    return order
