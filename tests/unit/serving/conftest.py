"""Tiny SavedModels built by the tests themselves, and a running service over them.

- `half_plus_two`: TF Serving's classic test model (tf.Module, `serving_default`
  x: DT_FLOAT [-1] -> y = 0.5 x + 2), no model card: a foreign SavedModel.
- `pairs`: string inputs `left`, `right` and a float input `aux` [-1, 5];
  heads `size` (regression), `match` (binary, labels no/yes, + `match_label`),
  `kind` (multiclass, + `kind_label`); an `ids` signature with padded id
  sequences; a model card and a warm-up file. `bias` shifts `size`, so two
  versions answer differently.
- `similarity`, `profiler`, `qa`: the task models' contracts in miniature.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from serving.config import Settings

PAIRS_CARD = {
    "name": "pairs", "description": "Test model: two strings and five floats, three heads.",
    "inputs": [
        {"name": "left", "kind": "text", "dtype": "string", "max_tokens": 8},
        {"name": "right", "kind": "text", "dtype": "string", "max_tokens": 8},
        {"name": "aux", "kind": "floats", "dtype": "float32"},
    ],
    "id_inputs": [
        {"name": "left", "dtype": "int32", "padded_sequence": True, "max_tokens": 8},
        {"name": "right", "dtype": "int32", "padded_sequence": True, "max_tokens": 8},
    ],
    "heads": [
        {"name": "size", "kind": "regression", "labels": None},
        {"name": "match", "kind": "binary", "labels": ["no", "yes"]},
        {"name": "kind", "kind": "multiclass", "labels": ["left", "right", "neither"]},
    ],
    "signatures": ["serving_default", "ids"],
}


def _string_len(t):  # noqa: ANN001, ANN202 - tf tensors
    import tensorflow as tf

    return tf.cast(tf.strings.length(t), tf.float32)


def save_module(path: str, signatures: dict[str, tuple[list, Callable]],
                card: dict | None = None, warmup: list[tuple[str, dict]] | None = None,
                variables: dict | None = None) -> str:
    """Export a tf.Module whose signatures are `name -> (input specs, fn)`."""
    import tensorflow as tf

    module = tf.Module()
    for k, v in (variables or {}).items():
        setattr(module, k, v)
    concrete = {name: tf.function(fn, input_signature=specs).get_concrete_function()
                for name, (specs, fn) in signatures.items()}
    tf.saved_model.save(module, path, signatures=concrete)
    extra = os.path.join(path, "assets.extra")
    if card is not None or warmup:
        os.makedirs(extra, exist_ok=True)
    if card is not None:
        with open(os.path.join(extra, "model_card.json"), "w") as fh:
            json.dump(card, fh)
    if warmup:
        write_warmup(os.path.join(extra, "tf_serving_warmup_requests"), warmup)
    return path


def write_warmup(path: str, requests: list[tuple[str, dict]]) -> None:
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    with tf.io.TFRecordWriter(path) as writer:
        for signature, inputs in requests:
            req = predict_pb2.PredictRequest()
            req.model_spec.signature_name = signature
            for k, v in inputs.items():
                req.inputs[k].CopyFrom(tf.make_tensor_proto(v))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=req))
            writer.write(log.SerializeToString())


def export_half_plus_two(path: str) -> str:
    import tensorflow as tf

    a, b = tf.Variable(0.5), tf.Variable(2.0)
    return save_module(path, {"serving_default": (
        [tf.TensorSpec([None], tf.float32, name="x")], lambda x: {"y": a * x + b})},
        variables={"a": a, "b": b})


def export_pairs(path: str, bias: float = 0.0, warmup: list | None = None) -> str:
    import tensorflow as tf

    w, b = tf.Variable(0.25), tf.Variable(bias)
    match_labels = tf.constant(["no", "yes"])
    kind_labels = tf.constant(["left", "right", "neither"])

    def heads(ll, rl, aux):  # noqa: ANN001, ANN202
        match = tf.sigmoid(w * (ll - rl))
        kind = tf.nn.softmax(w * tf.stack([ll, rl, tf.ones_like(ll)], axis=1))
        return {"size": ll + rl + tf.reduce_sum(aux, axis=1) + b, "match": match,
                "match_label": tf.gather(match_labels, tf.cast(match >= 0.5, tf.int32)),
                "kind": kind, "kind_label": tf.gather(kind_labels, tf.argmax(kind, axis=1))}

    def ids_len(t):  # noqa: ANN001, ANN202 - pad-invariant: counts non-zero ids
        return tf.reduce_sum(tf.cast(tf.not_equal(t, 0), tf.float32), axis=1)

    text = [tf.TensorSpec([None], tf.string, name="left"),
            tf.TensorSpec([None], tf.string, name="right"),
            tf.TensorSpec([None, 5], tf.float32, name="aux")]
    ids = [tf.TensorSpec([None, None], tf.int32, name="left"),
           tf.TensorSpec([None, None], tf.int32, name="right"),
           tf.TensorSpec([None, 5], tf.float32, name="aux")]
    default_warmup = [("serving_default", {
        "left": np.array([b"ab"]), "right": np.array([b"c"]),
        "aux": np.zeros((1, 5), np.float32)})] * 2
    return save_module(path, {
        "serving_default": (text, lambda left, right, aux: heads(
            _string_len(left), _string_len(right), aux)),
        "ids": (ids, lambda left, right, aux: heads(ids_len(left), ids_len(right), aux)),
    }, card=PAIRS_CARD, warmup=default_warmup if warmup is None else warmup,
        variables={"w": w, "b": b})


def export_task_models(root: str) -> None:
    import tensorflow as tf

    """similarity, profiler and qa, version 1 each, under `root`."""
    w = tf.Variable(0.1)
    s = tf.TensorSpec([None], tf.string)
    save_module(os.path.join(root, "similarity", "1"), {"serving_default": (
        [tf.TensorSpec([None], tf.string, name="left"),
         tf.TensorSpec([None], tf.string, name="right")],
        lambda left, right: {"similarity": tf.sigmoid(
            -w * tf.square(_string_len(left) - _string_len(right)))})},
        card={"name": "similarity", "heads": [
            {"name": "similarity", "kind": "binary", "labels": None}]},
        variables={"w": w})
    bands = ["low", "lower-middle", "upper-middle", "high"]
    genders = ["female", "male"]

    def profiler(posts):  # noqa: ANN001, ANN202
        n = _string_len(posts)
        income = tf.nn.softmax(w * tf.stack([n, 10 * tf.ones_like(n), 5 - n, -n], axis=1))
        gender = tf.sigmoid(w * (n - 10))
        return {"age": 20 + n / 10, "income": income,
                "income_label": tf.gather(tf.constant(bands), tf.argmax(income, axis=1)),
                "gender": gender, "gender_label": tf.gather(
                    tf.constant(genders), tf.cast(gender >= 0.5, tf.int32))}

    save_module(os.path.join(root, "profiler", "1"), {"serving_default": (
        [tf.TensorSpec(s.shape, tf.string, name="posts")], profiler)},
        card={"name": "profiler", "heads": [
            {"name": "age", "kind": "regression", "labels": None},
            {"name": "income", "kind": "multiclass", "labels": bands},
            {"name": "gender", "kind": "binary", "labels": genders}]},
        variables={"w": w})
    words = ["paris", "blue", "seven", "yes"]

    def qa(text, question):  # noqa: ANN001, ANN202
        lt, lq = _string_len(text), _string_len(question)
        answer = tf.nn.softmax(w * tf.stack([lt, lq, lt - lq, tf.zeros_like(lt)], axis=1))
        return {"answer": answer,
                "answer_label": tf.gather(tf.constant(words), tf.argmax(answer, axis=1))}

    save_module(os.path.join(root, "qa", "1"), {"serving_default": (
        [tf.TensorSpec([None], tf.string, name="text"),
         tf.TensorSpec([None], tf.string, name="question")], qa)},
        card={"name": "qa", "heads": [{"name": "answer", "kind": "multiclass",
                                       "labels": words}]},
        variables={"w": w})


@pytest.fixture(scope="session")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Exports built once per session; tests copy them into their own repositories."""
    root = tmp_path_factory.mktemp("exports")
    paths = {
        "half_plus_two": export_half_plus_two(str(root / "half_plus_two")),
        "pairs_v1": export_pairs(str(root / "pairs_v1"), bias=0.0),
        "pairs_v2": export_pairs(str(root / "pairs_v2"), bias=100.0),
    }
    export_task_models(str(root / "tasks"))
    paths["tasks"] = str(root / "tasks")
    return paths


def install(export: str, repo: str, name: str, version: int) -> str:
    """Copy an export into repo/name/version the way the exporter does: write a
    temporary dir next to it, then rename (a poller never sees half a version)."""
    model_dir = os.path.join(repo, name)
    os.makedirs(model_dir, exist_ok=True)
    tmp = os.path.join(model_dir, f".tmp-export-{version}")
    shutil.copytree(export, tmp)
    final = os.path.join(model_dir, str(version))
    os.rename(tmp, final)
    return final


def settings_for(repo: str, **overrides: object) -> Settings:
    base = {"model_dir": repo, "poll_interval_s": 0.1, "batch_timeout_micros": 2000}
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def make_service() -> Iterator[Callable[..., object]]:
    """make_service(repo, **settings) -> started, ready InferenceService; stopped after."""
    from serving.backends.embedded import EmbeddedBackend
    from serving.core.service import InferenceService
    from serving.metrics import Metrics

    started = []

    def make(repo: str, wait: bool = True, **overrides: object) -> InferenceService:
        settings = settings_for(repo, **overrides)
        backend = EmbeddedBackend(settings)
        service = InferenceService(settings, backend, Metrics())
        service.start()
        started.append(service)
        if wait:
            assert backend.wait_ready(60), backend.readiness()
        return service

    yield make
    for service in started:
        service.stop()


def predict_call(model: str, inputs: dict, *, version: int | None = None,
                 label: str | None = None, signature: str = "",
                 heads: tuple[str, ...] = ()):  # noqa: ANN201
    """A PredictCall of arrays the test built itself (the core's own decoder)."""
    from serving.core.calls import ModelRef, OutputFilter, PredictCall, arrays

    return PredictCall(ModelRef(model, version, label), arrays(inputs), signature,
                       OutputFilter(tuple(heads)))


def origin(protocol: str = "multihead", transport: str = "rest", timeout_s: float = 30.0):  # noqa: ANN201
    """Where a test's request comes from, with a fresh deadline."""
    from serving.core.calls import Origin
    from serving.core.deadline import Deadline

    return Origin(protocol, transport, Deadline.start(timeout_s))
