"""The typed tasks (similarity, profile, answer): their rules, and per-head formatting.

A task's arguments arrive as the wire gave them (`SimilarityTask`, ...); `*_call` checks
them (the same rules and messages on every protocol) and builds the `PredictCall` of its
model's default signature, which takes the one predict path (serving/core/service.py);
the reader (`similarity_scores`, `profiles`, `answers`) turns the result into typed values
with the labels of the model card (or the graph's `H_label` outputs). Rooms only convert
those values to their wire format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from serving.core.calls import ModelRef, OutputFilter, PredictCall, PredictResult, arrays
from serving.errors import InvalidInput
from serving.metrics import Metrics
from serving.types import (
    ClassScore,
    HeadInfo,
    InputCard,
    InputInfo,
    ModelCard,
    Profile,
    ScoredAnswer,
)

# The task rules, the same on every protocol.
DEFAULT_TOP_K = 5
MAX_TOP_K = 1000
PROFILE_HEADS = ("age", "income", "gender")


def head_labels(card: ModelCard | None, head: str, width: int = 0) -> list[str]:
    """Labels of a class head from the card; index names where the card has none."""
    info = card.head(head) if card is not None else None
    return info.label_names(width) if info is not None else [str(i) for i in range(width)]


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _string_list(field: str, value: Any, max_items: int) -> list[str]:
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidInput(f"Field '{field}' must be a non-empty list.")
    if len(value) > max_items:
        raise InvalidInput(f"Field '{field}' has {len(value)} items; at most {max_items} "
                           "(max_batch_size) are accepted per request.")
    return list(value)


@dataclass(frozen=True)
class SimilarityTask:
    model: ModelRef
    pairs: Any                          # as the wire gave it: checked by `similarity_call`


@dataclass(frozen=True)
class ProfileTask:
    model: ModelRef
    authors: Any


@dataclass(frozen=True)
class AnswerTask:
    model: ModelRef
    text: Any
    question: Any
    top_k: Any = DEFAULT_TOP_K


def similarity_call(task: SimilarityTask, max_items: int) -> PredictCall:
    items = _string_list("pairs", task.pairs, max_items)
    lefts, rights = [], []
    for i, pair in enumerate(items):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2
                and all(isinstance(s, str) for s in pair)):
            raise InvalidInput(f"Field 'pairs[{i}]' must be a list of two strings.")
        lefts.append(pair[0])
        rights.append(pair[1])
    return PredictCall(task.model, arrays({"left": np.array(lefts, dtype=object),
                                           "right": np.array(rights, dtype=object)}),
                       outputs=OutputFilter(("similarity",)))


def similarity_scores(task: SimilarityTask, result: PredictResult) -> list[float]:
    return [float(x) for x in np.ravel(result.outputs["similarity"])]


def _labelled(result: PredictResult, head: str, i: int) -> ClassScore:
    """The best label, its probability and the distribution for example i of a class head."""
    probs = np.asarray(result.outputs[head][i], dtype=np.float64)
    if probs.ndim == 0:  # binary head: the probability of labels[1]
        labels = head_labels(result.card, head, 2)
        p = float(probs)
        dist = {labels[0]: 1.0 - p, labels[1]: p}
    else:
        labels = head_labels(result.card, head, probs.shape[0])
        dist = {labels[j]: float(probs[j]) for j in range(min(len(labels), probs.shape[0]))}
    if head + "_label" in result.outputs:
        best = _text(result.outputs[head + "_label"][i])
    else:
        best = max(dist, key=dist.__getitem__)
    return ClassScore(best, float(dist.get(best, 0.0)), dist)


def profile_call(task: ProfileTask, max_items: int) -> PredictCall:
    items = _string_list("authors", task.authors, max_items)
    texts = []
    for i, posts in enumerate(items):
        if not (isinstance(posts, (list, tuple)) and posts
                and all(isinstance(p, str) for p in posts)):
            raise InvalidInput(f"Field 'authors[{i}]' must be a non-empty list of post strings.")
        texts.append("\n".join(posts))
    return PredictCall(task.model, arrays({"posts": np.array(texts, dtype=object)}))


def profiles(task: ProfileTask, result: PredictResult) -> list[Profile]:
    for head in PROFILE_HEADS:
        if head not in result.outputs:
            raise InvalidInput(f"Model '{result.model}' has no '{head}' head; profile needs "
                               "age, income and gender.")
    n = len(result.outputs["age"])
    return [Profile(age=float(np.ravel(result.outputs["age"][i])[0]),
                    income=_labelled(result, "income", i),
                    gender=_labelled(result, "gender", i))
            for i in range(n)]


def answer_call(task: AnswerTask, max_items: int) -> PredictCall:
    for field, value in (("text", task.text), ("question", task.question)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"Field '{field}' must be a non-empty string.")
    top_k = task.top_k
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"Field 'top_k' must be a positive integer, at most {MAX_TOP_K}.")
    return PredictCall(task.model, arrays({"text": np.array([task.text], dtype=object),
                                           "question": np.array([task.question],
                                                                dtype=object)}),
                       outputs=OutputFilter(("answer",)))


def answers(task: AnswerTask, result: PredictResult) -> list[ScoredAnswer]:
    probs = np.asarray(result.outputs["answer"][0], dtype=np.float64).ravel()
    labels = head_labels(result.card, "answer", probs.shape[0])
    order = np.argsort(-probs, kind="stable")[:min(task.top_k, probs.shape[0], len(labels))]
    return [ScoredAnswer(labels[j], float(probs[j])) for j in order]


def record_heads(metrics: Metrics, model: str, card: ModelCard | None,
                 outputs: Mapping[str, np.ndarray]) -> None:
    """Feed head_predictions_total / head_value from one result (card heads only)."""
    for h in card.heads if card is not None else ():
        if h.name not in outputs:
            continue
        name, labels = h.name, list(h.labels)
        values = np.asarray(outputs[name])
        if labels and values.dtype.kind == "f":
            if name + "_label" in outputs:
                got = [_text(x) for x in np.ravel(outputs[name + "_label"])]
            elif values.ndim >= 2:
                got = [labels[j] if j < len(labels) else "other"
                       for j in np.argmax(values.reshape(values.shape[0], -1), axis=1)]
            else:
                got = [labels[int(p >= 0.5)] if len(labels) == 2 else "other"
                       for p in values.ravel()]
            # Bound the label set to the card's so a model cannot blow up cardinality.
            known = set(labels)
            metrics.record_labels(model, name, (g if g in known else "other" for g in got))
        elif values.dtype.kind in "fiu":
            metrics.record_values(model, name, values.ravel())


def list_inputs(card: ModelCard | None, spec: Any) -> tuple[InputInfo, ...]:
    """The inputs of the model listing, from the signature and the card."""
    cards = dict(card.inputs) if card is not None else {}
    # The card's order (the model's), then any input the card does not describe.
    names = [n for n in cards if n in spec.inputs] + [n for n in spec.inputs if n not in cards]
    out = []
    for name in names:
        t, info = spec.inputs[name], cards.get(name) or InputCard(name)
        kind = info.kind or {"DT_STRING": "string", "DT_BOOL": "bool"}.get(
            t.dtype, "float" if t.dtype in ("DT_FLOAT", "DT_DOUBLE", "DT_HALF") else "int")
        shape = None if t.shape is None else tuple(-1 if d is None else d for d in t.shape)
        out.append(InputInfo(name, t.dtype, kind, shape, info.max_tokens, info.description))
    return tuple(out)


def list_heads(card: ModelCard | None, outputs: Sequence[str]) -> tuple[HeadInfo, ...]:
    """The heads of the model listing: the card's, else one per output (not `H_label`)."""
    if card is not None and card.heads:
        return tuple(card.heads)
    names = set(outputs)
    return tuple(HeadInfo(o) for o in sorted(outputs)
                 if not (o.endswith("_label") and o[:-len("_label")] in names))
