"""`Examples`: the in-memory training set every generator and loader returns.

Inputs and targets are plain numpy arrays keyed by the model's input and head
names (the same names the Keras model, the export signatures and the requests
use), so that a data set never has to know which architecture consumes it.

TensorFlow is imported only inside `to_dataset`: generating or loading data, and
the tests of that, should not pay TensorFlow's start-up time.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

HEAD_KINDS = ("regression", "binary", "multiclass")


@dataclass(eq=False)  # numpy fields: compare arrays explicitly, not with ==
class Examples:
    """Named inputs and targets of `n` examples.

    - ``inputs``: text input -> 1-D object array of ``str``; float input -> float32 ``[n, d]``.
    - ``targets``: head -> float32 ``[n]`` (regression, binary) or int32 ``[n]``
      class index into ``labels[head]`` (multiclass).
    - ``labels``: head -> class labels (multiclass, or binary with two named labels
      where target 1.0 means ``labels[1]``), else ``None``.
    - ``description``: where the data came from (goes into the model card).
    - ``kinds``: head -> ``regression | binary | multiclass``; optional, inferred
      from the target dtype and labels when left empty.
    """

    inputs: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    labels: dict[str, list[str] | None]
    description: dict
    kinds: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.inputs = {k: _as_input(k, v) for k, v in self.inputs.items()}
        self.targets = {k: _as_target(k, v) for k, v in self.targets.items()}
        sizes = {len(v) for v in (*self.inputs.values(), *self.targets.values())}
        if len(sizes) > 1:
            raise ValueError(f"inputs and targets must all have the same length, got {sizes}")
        for head in self.targets:
            self.labels.setdefault(head, None)
            if head not in self.kinds:
                self.kinds[head] = _infer_kind(self.targets[head], self.labels[head])
            if self.kinds[head] not in HEAD_KINDS:
                raise ValueError(f"kind of head {head!r} must be one of {HEAD_KINDS}")
            labels = self.labels[head]
            if self.kinds[head] == "multiclass":
                if labels is None:
                    raise ValueError(f"multiclass head {head!r} needs labels")
                t = self.targets[head]
                if len(t) and (t.min() < 0 or t.max() >= len(labels)):
                    raise ValueError(
                        f"targets of head {head!r} must index its {len(labels)} labels"
                    )

    def __len__(self) -> int:
        for arr in (*self.inputs.values(), *self.targets.values()):
            return len(arr)
        return 0

    def subset(self, idx: np.ndarray) -> Examples:
        """The examples at ``idx`` (an index array or boolean mask), in that order."""
        idx = np.asarray(idx)
        return Examples(
            inputs={k: v[idx] for k, v in self.inputs.items()},
            targets={k: v[idx] for k, v in self.targets.items()},
            labels={k: (list(v) if v is not None else None) for k, v in self.labels.items()},
            description=copy.deepcopy(self.description),
            kinds=dict(self.kinds),
        )

    def split(
        self, validation: float = 0.15, test: float = 0.15, seed: int = 0
    ) -> tuple[Examples, Examples, Examples]:
        """(train, validation, test): disjoint, after one shuffle fixed by ``seed``."""
        if validation < 0 or test < 0 or validation + test >= 1:
            raise ValueError("validation and test must be fractions >= 0 that sum to less than 1")
        n = len(self)
        order = np.random.default_rng(seed).permutation(n)
        n_val, n_test = round(n * validation), round(n * test)
        return (
            self.subset(order[n_val + n_test :]),
            self.subset(order[:n_val]),
            self.subset(order[n_val : n_val + n_test]),
        )

    def baseline(self, reference: Examples | None = None) -> dict[str, float]:
        """What a model that ignores its inputs scores on these examples.

        Regression: ``{head}_mae`` of predicting the reference (e.g. training)
        mean; classification: ``{head}_accuracy`` of predicting the reference's
        most common class. The model card reports these next to the real metrics.
        """
        ref = reference if reference is not None else self
        out: dict[str, float] = {}
        for head, y in self.targets.items():
            r = ref.targets[head]
            if self.kinds[head] == "regression":
                out[f"{head}_mae"] = float(np.mean(np.abs(y - r.mean())))
            elif self.kinds[head] == "multiclass":
                majority = np.bincount(r, minlength=len(self.labels[head] or [])).argmax()
                out[f"{head}_accuracy"] = float(np.mean(y == majority))
            else:
                majority = float(np.mean(r) >= 0.5)
                out[f"{head}_accuracy"] = float(np.mean((y >= 0.5) == majority))
        return out

    def to_dataset(
        self,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        vectorize: Callable[[dict[str, tf.Tensor]], dict[str, tf.Tensor]] | None = None,
        repeat: bool = False,
    ) -> tf.data.Dataset:
        """A ``tf.data.Dataset`` of ``(inputs, targets)`` dict batches.

        ``vectorize`` maps one example's inputs dict (scalar ``tf.string`` per text
        input) to tensors, e.g. token-id sequences; sequences of different lengths
        are padded with 0 per batch (0 is the padding id of ``TextVectorization``).
        """
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices((dict(self.inputs), dict(self.targets)))
        if shuffle:
            ds = ds.shuffle(max(len(self), 1), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        if vectorize is not None:
            ds = ds.map(
                lambda x, y: (vectorize(x), y),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
        return ds.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def summary(self) -> dict[str, Any]:
        """Sizes and class balance, for logs and the model card."""
        heads: dict[str, Any] = {}
        for head, y in self.targets.items():
            if self.kinds[head] == "multiclass":
                counts = np.bincount(y, minlength=len(self.labels[head] or []))
                heads[head] = dict(zip(self.labels[head] or [], counts.tolist(), strict=True))
            else:
                heads[head] = {"mean": float(y.mean()) if len(y) else None}
        return {"examples": len(self), "inputs": sorted(self.inputs), "heads": heads}


def _as_input(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind in "OUS":
        if arr.ndim != 1:
            raise ValueError(f"text input {name!r} must be 1-D, got shape {arr.shape}")
        if arr.dtype.kind != "O":
            arr = arr.astype(str).astype(object)
        return arr
    if arr.dtype.kind in "fiu":
        if arr.ndim != 2:
            raise ValueError(f"float input {name!r} must be 2-D [n, d], got shape {arr.shape}")
        return arr.astype(np.float32, copy=False)
    raise ValueError(f"input {name!r} must hold strings or numbers, got dtype {arr.dtype}")


def _as_target(name: str, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise ValueError(f"targets of head {name!r} must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int32, copy=False)
    if arr.dtype.kind in "fb":
        return arr.astype(np.float32, copy=False)
    raise ValueError(f"targets of head {name!r} must be numbers, got dtype {arr.dtype}")


def _infer_kind(targets: np.ndarray, labels: list[str] | None) -> str:
    if targets.dtype == np.int32:
        return "multiclass"
    if labels is not None or (len(targets) and targets.min() >= 0 and targets.max() <= 1):
        return "binary"
    return "regression"
