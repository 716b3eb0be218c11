"""TF Serving's warm-up file: `assets.extra/tf_serving_warmup_requests`.

A TFRecord file of `tensorflow.serving.PredictionLog` records, each holding a
`PredictRequest` that TF Serving replays once after loading a version, before
it reports the version AVAILABLE (tensorflow_serving/servables/tensorflow/
saved_model_warmup_util.cc). The embedded runtime replays the same file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

WARMUP_FILE = "tf_serving_warmup_requests"


def _as_array(values: Sequence[Any]) -> np.ndarray:
    if values and isinstance(values[0], str):
        return np.array(values, dtype=object)
    return np.asarray(values, dtype=np.float32)


def make_requests(model_name: str, examples: Mapping[str, Sequence[Any]],
                  signature: str = "serving_default") -> list[prediction_log_pb2.PredictionLog]:
    """One batch-1 request per example, then one with all of them as a batch."""
    n = min((len(v) for v in examples.values()), default=0)
    batches = [slice(i, i + 1) for i in range(n)] + ([slice(0, n)] if n > 1 else [])
    logs = []
    for batch in batches:
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature))
        for name, values in examples.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(_as_array(list(values)[batch])))
        logs.append(prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write_warmup(path: str | Path, model_name: str, examples: Mapping[str, Sequence[Any]],
                 signature: str = "serving_default") -> int:
    logs = make_requests(model_name, examples, signature)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return len(logs)


def read_warmup(path: str | Path) -> list[prediction_log_pb2.PredictionLog]:
    """Parse every record; raises on a record that is not a PredictionLog."""
    out = []
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw)
        out.append(log)
    return out


def request_inputs(log: prediction_log_pb2.PredictionLog) -> dict[str, np.ndarray]:
    """The named input arrays of a warm-up record's PredictRequest."""
    return {name: tf.make_ndarray(t) for name, t in log.predict_log.request.inputs.items()}
